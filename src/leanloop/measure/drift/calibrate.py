"""Calibrated thresholds: learn each feature's threshold from the reference itself.

A fixed threshold means different things for different features and sample sizes:
alpha = 0.05 on KS flags almost every feature of a million rows; Wasserstein > 0.1
may never fire on a noisy one. Calibration asks the reference how large the
statistic gets *without* drift, at the size of the current sample (as NannyML's
standard-deviation thresholds do):

1. draw ``calibration_rounds`` chunks of the reference, each as large as the
   current sample, and compare each with the rest of the reference by the feature's
   method. A chunk is made of runs of :data:`RUN` consecutive rows picked at random
   (a block bootstrap, seeded with ``numpy.random.default_rng``): real data comes in
   clusters (households, sessions, batches) and a window of production is
   consecutive rows, so single random rows would understate how much the statistic
   moves without drift, while whole consecutive chunks would give only a handful of
   overlapping, correlated draws;
2. threshold = the k-th smallest of those K statistics, k = ceil((1 - rate) (K + 1)):
   a new statistic without drift exceeds it with probability (K + 1 - k) / (K + 1),
   at most ``false_alarm_rate`` (the conformal argument, free of any assumption on
   the statistic's law; 30 rounds and rate 0.05 give 1/31 = 3.2 %). With too few
   rounds for the rate, a gamma law fitted to the draws extrapolates (see
   :func:`_upper_quantile`). A mean + z·std rule would alarm too often: the
   statistics are skewed to the right and a threshold from a few draws is noisy;
3. when the reference holds fewer than twice the current rows, blocks are half the
   reference and the threshold is rescaled by how the statistic's noise grows with
   the sample sizes (``MethodSpec.noise_power``).

On drift-free data the share of features flagged then stays near
``false_alarm_rate`` whatever the method and the sample size.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from leanloop.measure.drift.engine import SPECS, Sample, _epoch_seconds, compare
from leanloop.measure.drift.result import DriftMethod, DriftOptions
from leanloop.measure.drift.samples import CategoricalSample, NumericSample, _labels, numeric_values
from leanloop.schema import FeatureKind

__all__ = ["RUN", "ReferenceRows", "calibrated_threshold"]

#: Rows per run of the block bootstrap: long enough to keep clusters of neighbouring
#: rows (a household, a session, a batch) together, short enough for many runs.
RUN = 50


@dataclass(frozen=True)
class ReferenceRows:
    """The reference's non-missing values in row order: floats (numeric, datetime as
    seconds) or category codes into ``labels``."""

    values: np.ndarray
    labels: list[str] | None = None

    @classmethod
    def of(cls, values: Any, kind: FeatureKind | str) -> ReferenceRows:
        """Keep ``values`` in row order, missing ones dropped, categories as codes."""
        kind = FeatureKind(kind)
        if kind is FeatureKind.DATETIME:
            values = _epoch_seconds(pd.Series(values))
        if kind in (FeatureKind.NUMERIC, FeatureKind.DATETIME):
            return cls(numeric_values(values, side="reference"))
        series = values if isinstance(values, pd.Series) else pd.Series(list(values), dtype=object)
        codes, uniques = pd.factorize(series.dropna(), sort=False)
        text = _labels(pd.Series(uniques)).to_numpy(dtype=str)
        labels, recode = np.unique(text, return_inverse=True)
        return cls(recode[codes], [str(v) for v in labels])

    @property
    def n(self) -> int:
        """How many values."""
        return int(self.values.size)

    def split(self, taken: np.ndarray) -> tuple[Sample, Sample]:
        """The rows marked in the boolean mask ``taken`` and the rest, as summaries."""
        if self.labels is None:
            return NumericSample(np.sort(self.values[taken])), NumericSample(np.sort(self.values[~taken]))
        total = np.bincount(self.values, minlength=len(self.labels))
        block = np.bincount(self.values[taken], minlength=len(self.labels))

        def table(counts: np.ndarray) -> CategoricalSample:
            keep = counts > 0
            return CategoricalSample([lab for lab, k in zip(self.labels or [], keep, strict=True) if k], counts[keep])

        return table(block), table(total - block)

    def draw(self, size: int, rng: np.random.Generator) -> np.ndarray:
        """A mask of ``size`` rows made of whole runs of :data:`RUN` consecutive rows,
        picked at random without replacement (a block bootstrap)."""
        starts = np.arange(0, self.n, RUN)
        picked = rng.permutation(starts)
        lengths = np.minimum(picked + RUN, self.n) - picked
        enough = int(np.searchsorted(np.cumsum(lengths), size)) + 1
        rows = np.concatenate([np.arange(a, a + k) for a, k in zip(picked[:enough], lengths[:enough], strict=True)])
        taken = np.zeros(self.n, dtype=bool)
        taken[rows[:size]] = True
        return taken


def _upper_quantile(values: np.ndarray, level: float, *, root: bool) -> float:
    """A threshold a new draw of the statistic without drift exceeds with probability
    at most ``1 - level``.

    With K draws, the k-th smallest (k = ceil(level * (K + 1))) is exceeded by one
    more exchangeable draw with probability (K + 1 - k) / (K + 1) <= 1 - level,
    whatever the statistic's law (the conformal argument). With too few draws for
    that (k > K), a gamma law (a scaled chi-square, the law of most of these
    statistics) fitted by moments — to the squares of ``root`` statistics —
    extrapolates beyond the largest draw.
    """
    ordered = np.sort(values)
    k = int(np.ceil(level * (len(ordered) + 1)))
    if k <= len(ordered):
        return float(ordered[k - 1])
    x = ordered**2 if root else ordered
    mean, var = float(x.mean()), float(x.var(ddof=1))
    from scipy.stats import gamma  # lazy: scipy.stats costs about a second to import
    fitted = float(gamma.ppf(level, mean**2 / var, scale=var / mean)) if var > 0 and mean > 0 else mean
    return max(float(np.sqrt(fitted)) if root else fitted, float(ordered[-1]))


def calibrated_threshold(feature: str, kind: FeatureKind | str, reference: ReferenceRows, current_size: int, *,
                         method: DriftMethod, options: DriftOptions) -> float:
    """The statistic's threshold for ``method`` on ``feature`` at ``current_size`` rows.

    Deterministic for a given ``options.seed`` (mixed with the feature name, so
    features get different but repeatable blocks).

    Examples
    --------
    >>> ref = ReferenceRows.of(np.random.default_rng(0).normal(size=4000), "numeric")
    >>> t = calibrated_threshold("x", "numeric", ref, 500, method=DriftMethod.KS, options=DriftOptions())
    >>> 0.03 < t < 0.09, t == calibrated_threshold("x", "numeric", ref, 500, method=DriftMethod.KS,
    ...                                            options=DriftOptions())
    (True, True)
    """
    n = reference.n
    size = min(current_size, n // 2)
    if size < 1:
        return float("inf")
    rng = np.random.default_rng([options.seed, *feature.encode()])
    stats = []
    for _ in range(options.calibration_rounds):
        block, rest = reference.split(reference.draw(size, rng))
        stats.append(compare(feature, kind, rest, block, method=method, options=options).statistic)
    spec = SPECS[DriftMethod(method)]
    threshold = _upper_quantile(np.asarray(stats), 1 - options.false_alarm_rate, root=spec.root)
    power = spec.noise_power
    scale = ((1 / current_size + 1 / n) / (1 / size + 1 / (n - size))) ** (power / 2)
    return threshold * scale
