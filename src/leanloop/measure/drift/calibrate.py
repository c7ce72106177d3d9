"""Calibrated thresholds: learn each feature's threshold from the reference itself.

A fixed threshold means different things for different features and sample sizes:
alpha = 0.05 on KS flags almost every feature of a million rows; Wasserstein > 0.1
may never fire on a noisy one. Calibration asks the reference how large the
statistic gets *without* drift, at the size of the current sample (as NannyML's
standard-deviation thresholds do):

1. draw ``calibration_rounds`` random chunks of the reference, each as large as
   the current sample (seeded: ``numpy.random.default_rng(seed)``), and compare
   each chunk with the rest of the reference by the feature's method;
2. threshold = max(mean + z * std, the (1 - rate) quantile) of those statistics,
   with z the standard normal (1 - ``false_alarm_rate``) quantile. Taking the larger
   of the two keeps the alarm rate at or below the configured rate although the
   statistics are skewed to the right;
3. when the reference holds fewer than twice the current rows, chunks are half the
   reference and the threshold is rescaled by how the statistic's noise grows with
   the sample sizes (``MethodSpec.noise_power``).

On drift-free data the share of features flagged then stays near
``false_alarm_rate`` whatever the method and the sample size.
"""

from __future__ import annotations

import numpy as np
from scipy.stats import norm

from leanloop.measure.drift.engine import SPECS, Sample, compare
from leanloop.measure.drift.result import DriftMethod, DriftOptions
from leanloop.measure.drift.samples import CategoricalSample, NumericSample
from leanloop.schema import FeatureKind

__all__ = ["calibrated_threshold"]


def _split(reference: Sample, size: int, rng: np.random.Generator) -> tuple[Sample, Sample]:
    """A random chunk of ``size`` values and the rest, both as summaries."""
    taken = np.zeros(reference.n, dtype=bool)
    taken[rng.choice(reference.n, size=size, replace=False)] = True
    if isinstance(reference, NumericSample):
        # Picking from a sorted array in index order keeps both parts sorted.
        return NumericSample(reference.values[taken]), NumericSample(reference.values[~taken])
    codes = np.repeat(np.arange(len(reference.labels)), reference.counts)
    chunk = np.bincount(codes[taken], minlength=len(reference.labels))
    rest = reference.counts - chunk

    def table(counts: np.ndarray) -> CategoricalSample:
        keep = counts > 0
        return CategoricalSample([lab for lab, k in zip(reference.labels, keep, strict=True) if k], counts[keep])

    return table(chunk), table(rest)


def calibrated_threshold(feature: str, kind: FeatureKind | str, reference: Sample, current_size: int, *,
                         method: DriftMethod, options: DriftOptions) -> float:
    """The statistic's threshold for ``method`` on ``feature`` at ``current_size`` rows.

    Deterministic for a given ``options.seed`` (the seed is mixed with the feature
    name, so features get different but repeatable chunks).

    Examples
    --------
    >>> ref = NumericSample.of(np.random.default_rng(0).normal(size=4000))
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
        chunk, rest = _split(reference, size, rng)
        stats.append(compare(feature, kind, rest, chunk, method=method, options=options).statistic)
    values = np.asarray(stats)
    z = norm.ppf(1 - options.false_alarm_rate)
    threshold = max(float(values.mean() + z * values.std(ddof=1)),
                    float(np.quantile(values, 1 - options.false_alarm_rate)))
    power = SPECS[DriftMethod(method)].noise_power
    scale = ((1 / current_size + 1 / n) / (1 / size + 1 / (n - size))) ** (power / 2)
    return threshold * scale
