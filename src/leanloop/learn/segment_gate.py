"""The gate's segment check: does the challenger lose significantly on any top segment?

A challenger can win on average and still break a group of customers. On the rows
both versions are judged on (the recent labelled rows), every row gets a paired gain,
challenger minus champion (better is positive): its KPI value (``[segments] metric =
"kpi"``) or its error avoided (``"error"``: the champion's 0/1 error, or absolute error,
minus the challenger's). The candidate segments are the single-feature slices of the
weak-segment finder (:func:`leanloop.measure.segments.single_slices`: each category,
each numeric bin cut at the champion's holdout quantiles, missing values) with at least
``[segments] min_support`` rows; the ``top_k`` largest are tested, chosen before
looking at any gain so the selection does not bias the test.

Each segment's mean gain gets a paired bootstrap (``[gate] resamples`` resamples of the
rows, seeded by ``model.seed``; a segment's mean in a resample is over the rows the
resample drew in it). Its one-sided p-value that the challenger is worse there is read
from the bootstrap's standard error, ``Phi(gain / se)``, because a percentile p-value
from R resamples cannot go below 1/R: too coarse for a multiple-comparison correction
across many segments. The p-values are adjusted across the segments with
``[segments] correction``, the finder's (BH by default: among the segments the gate
blames, the expected share of false ones is at most ``alpha``; ``holm`` bounds the
chance of any false blame instead), and the check fails when any adjusted p-value is
below ``[segments] alpha``, naming each such segment.

Examples
--------
>>> import numpy as np, pandas as pd
>>> from leanloop.config import GateConfig, SegmentsConfig
>>> rng = np.random.default_rng(0)
>>> frame = pd.DataFrame({"region": rng.choice(["north", "south", "east"], 3000)})
>>> champion = rng.normal(0.0, 1.0, 3000)
>>> challenger = champion + 0.5 - 2.0 * (frame["region"] == "east")   # better, except in the east
>>> found = segment_gains(frame, champion, challenger, segments=SegmentsConfig(), gate=GateConfig(), seed=0)
>>> [(s.segment, s.rows, round(s.difference, 2), s.regressed) for s in found]
[('region = east', 1043, -1.5, True), ('region = south', 995, 0.5, False), ('region = north', 962, 0.5, False)]
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict

from leanloop.measure.bootstrap import bootstrap_counts
from leanloop.measure.segments import adjust_p_values, single_slices

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

    from leanloop.config import GateConfig, SegmentsConfig

__all__ = ["SegmentGain", "segment_gains"]

#: Resamples are drawn in blocks of this many, so memory stays at block x rows counts.
_BLOCK = 100


class SegmentGain(BaseModel):
    """One segment's paired gain (challenger minus champion, better is positive)."""

    model_config = ConfigDict(frozen=True)

    segment: str
    rows: int
    champion: float
    challenger: float
    difference: float
    lower: float
    upper: float
    p_value: float
    adjusted_p_value: float
    regressed: bool


def _candidates(frame: pd.DataFrame, *, segments: SegmentsConfig,
                reference: pd.DataFrame | None) -> tuple[list[str], np.ndarray]:
    """The ``top_k`` largest single slices with enough rows (largest first, then
    by description), and their row masks as a ``(rows, segments)`` matrix."""
    import numpy as np

    n = len(frame)
    found = []
    for condition in single_slices(frame, bins=segments.bins, reference=reference):
        mask = condition.mask(frame)
        size = int(mask.sum())
        if segments.min_support <= size < n:
            found.append((size, condition.describe(), mask))
    found.sort(key=lambda f: (-f[0], f[1]))
    found = found[: segments.top_k]
    matrix = np.array([f[2] for f in found], dtype=float).reshape(len(found), n).T
    return [f[1] for f in found], matrix


def segment_gains(frame: pd.DataFrame, champion: Any, challenger: Any, *, segments: SegmentsConfig, gate: GateConfig,
                  seed: int, reference: pd.DataFrame | None = None) -> list[SegmentGain]:
    """Each candidate segment of ``frame`` (model form; numeric bins cut at ``reference``'s
    quantiles, else its own) with each side's mean per-row value (higher is better), the
    mean paired gain, its bootstrap interval and adjusted p-value (module docstring);
    largest segment first."""
    import numpy as np
    from scipy import stats

    first, second = np.asarray(champion, dtype=float), np.asarray(challenger, dtype=float)
    gain = second - first
    n = len(gain)
    frame = frame.reset_index(drop=True)
    names, masks = _candidates(frame, segments=segments, reference=reference)
    if not names:
        return []
    sizes = masks.sum(axis=0)
    observed = (gain @ masks) / sizes
    rng = np.random.default_rng(seed)
    resampled = []
    for start in range(0, gate.resamples, _BLOCK):
        block = min(_BLOCK, gate.resamples - start)
        counts = bootstrap_counts(n, block, rng)
        drawn = counts @ masks
        with np.errstate(invalid="ignore", divide="ignore"):
            resampled.append((counts @ (masks * gain[:, None])) / drawn)
    means = np.vstack(resampled)
    tail = (1 - gate.confidence) / 2
    se = np.nanstd(means, axis=0, ddof=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        z = np.where(se > 0, observed / np.where(se > 0, se, 1.0), np.where(observed < 0, -np.inf, np.inf))
    p_values = stats.norm.cdf(z)
    adjusted = adjust_p_values(p_values, segments.correction)
    out = []
    for k, name in enumerate(names):
        lower, upper = np.nanquantile(means[:, k], [tail, 1 - tail])
        out.append(SegmentGain(
            segment=name, rows=int(sizes[k]), champion=float(first @ masks[:, k] / sizes[k]),
            challenger=float(second @ masks[:, k] / sizes[k]), difference=float(observed[k]),
            lower=float(lower), upper=float(upper), p_value=float(p_values[k]),
            adjusted_p_value=float(adjusted[k]), regressed=bool(adjusted[k] < segments.alpha)))
    return out
