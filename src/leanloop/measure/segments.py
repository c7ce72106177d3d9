"""Weak segments: slices of labelled rows where the model does significantly worse.

A slice is a category value (``salary_range = 20K - 40K €``), a numeric range cut at
the *reference* data's quantiles (``car_value in [18000, 26000)``, left-closed; the
outer bins are open-ended), a missing value (``x is missing``), or a pair of those on
two different features. Each slice with at least ``min_support`` rows is tested,
one-sided, against the rest of the window (its complement, so the two samples are
independent):

* an error rate (classification, ``metric = "error"``): Fisher's exact test
  (``scipy.stats.fisher_exact``, ``alternative="greater"``);
* a per-row value (KPI per row, absolute error): Welch's t-test
  (``scipy.stats.ttest_ind_from_stats``, unequal variances).

The p-values of every slice tested (singles and pairs together) are adjusted for
multiple comparisons: Benjamini-Hochberg (``correction = "bh"``, the expected share of
false segments among those reported is at most ``alpha``) or Holm (``"holm"``, the chance
of any false segment is at most ``alpha``). A slice is weak when its adjusted p-value is
below ``alpha`` and it is worse than overall. A pair is reported only when it is worse
than the rest of each of its two parents (the same one-sided test within the
parent's rows, p < ``alpha``; otherwise it only repeats a weak parent). Weak segments
are ranked by impact, ``rows x gap`` (for the KPI metric: the money the segment loses
against the window's average), then by adjusted p-value and description, so the result is
deterministic. Pairs are formed from the singles in order of their gap, worst first,
until ``max_pairs``.

Examples
--------
>>> import numpy as np, pandas as pd
>>> from leanloop.config import SegmentsConfig
>>> rng = np.random.default_rng(0)
>>> frame = pd.DataFrame({"c": rng.choice(["a", "b", "c"], 900), "x": rng.normal(size=900)})
>>> values = rng.normal(size=900) - 2.0 * (frame["c"] == "b")
>>> found = find_segments(frame, values, config=SegmentsConfig())
>>> [(s.segment, s.rows, round(s.gap, 2)) for s in found]
[('c = b', 286, 1.32)]
"""

from __future__ import annotations

import itertools
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict

from leanloop.config import Correction, SegmentsConfig

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

__all__ = ["Condition", "Segment", "single_slices", "find_segments", "adjust_p_values", "segment_mask"]

#: Slices whose tests run at once, as a float table (128 slices of 20k rows: 20 MB).
_TESTED_AT_ONCE = 128


class Condition(BaseModel):
    """One side of a slice: ``feature = value``, ``feature in [low, high)`` or ``feature is missing``."""

    model_config = ConfigDict(frozen=True)

    feature: str
    value: str | None = None
    low: float | None = None
    high: float | None = None
    missing: bool = False

    def describe(self) -> str:
        """Human-readable form, e.g. ``x in [1, 2.5)``."""
        if self.missing:
            return f"{self.feature} is missing"
        if self.value is not None:
            return f"{self.feature} = {self.value}"
        low = "-inf" if self.low is None else f"{self.low:.6g}"
        high = "inf" if self.high is None else f"{self.high:.6g}"
        return f"{self.feature} in [{low}, {high})"

    def mask(self, frame: pd.DataFrame) -> np.ndarray:
        """Which rows of ``frame`` (model form: numbers as float, categories as text) fall in."""
        import numpy as np

        column = frame[self.feature]
        if self.missing:
            return column.isna().to_numpy()
        if self.value is not None:
            if _is_text(column):  # compared as stored: no Python object per row
                return (column == self.value).to_numpy(dtype=bool, na_value=False)
            return (column.astype(object) == self.value).to_numpy()
        numbers = column.to_numpy(dtype=float)
        inside = ~np.isnan(numbers)
        if self.low is not None:
            inside &= numbers >= self.low
        if self.high is not None:
            inside &= numbers < self.high
        return inside


class Segment(BaseModel):
    """A weak segment with its test: ``gap`` > 0 means worse than overall by that much."""

    model_config = ConfigDict(frozen=True)

    segment: str
    conditions: list[Condition]
    rows: int
    metric: str
    value: float
    overall: float
    gap: float
    p_value: float
    adjusted_p_value: float
    impact: float


def _is_numeric(column: pd.Series) -> bool:
    import pandas as pd

    return pd.api.types.is_numeric_dtype(column) and not pd.api.types.is_bool_dtype(column)


def _is_text(column: pd.Series) -> bool:
    import pandas as pd

    return isinstance(column.dtype, pd.StringDtype)


def single_slices(frame: pd.DataFrame, *, bins: int, reference: pd.DataFrame | None = None) -> list[Condition]:
    """Every single-feature slice of ``frame``: categories seen, quantile bins of the
    reference (``frame`` itself when no reference is given), and missing values.

    Examples
    --------
    >>> import pandas as pd
    >>> frame = pd.DataFrame({"x": [1.0, 2.0, 3.0, None], "c": ["a", "b", "a", "a"]})
    >>> [s.describe() for s in single_slices(frame, bins=2)]
    ['x in [-inf, 2)', 'x in [2, inf)', 'x is missing', 'c = a', 'c = b']
    """
    import numpy as np

    out: list[Condition] = []
    for name in frame.columns:
        column = frame[name]
        if _is_numeric(column):
            source = reference[name] if reference is not None and name in reference else column
            present = source.to_numpy(dtype=float)
            present = present[~np.isnan(present)]
            if len(present):
                inner = np.unique(np.quantile(present, np.linspace(0, 1, bins + 1))[1:-1]).tolist()
                edges: list[float | None] = [None, *inner, None]
                out.extend(Condition(feature=name, low=lo, high=hi) for lo, hi in itertools.pairwise(edges))
        else:
            seen = column.dropna()
            # text columns: each distinct value once (iterating Arrow strings row by row
            # was most of the segment finder's time)
            values = sorted({str(v) for v in (seen.unique() if _is_text(seen) else seen)})
            out.extend(Condition(feature=name, value=v) for v in values)
        if column.isna().any():
            out.append(Condition(feature=name, missing=True))
    return out


# Hand-written: scipy ships Benjamini-Hochberg (false_discovery_control) but not Holm.
def _holm(p_values: np.ndarray) -> np.ndarray:
    import numpy as np

    m = len(p_values)
    order = np.argsort(p_values, kind="stable")
    scaled = np.minimum(1.0, (m - np.arange(m)) * p_values[order])
    adjusted = np.empty(m)
    adjusted[order] = np.maximum.accumulate(scaled)
    return adjusted


def adjust_p_values(p_values: Any, correction: Correction) -> np.ndarray:
    """Adjusted p-values (Benjamini-Hochberg or Holm); reject where adjusted < alpha.

    Examples
    --------
    >>> adjust_p_values([0.01, 0.04, 0.03], Correction.HOLM).round(3).tolist()
    [0.03, 0.06, 0.06]
    >>> adjust_p_values([0.01, 0.04, 0.03], Correction.BH).round(3).tolist()
    [0.03, 0.04, 0.04]
    """
    import numpy as np
    from scipy import stats

    p = np.asarray(p_values, dtype=float)
    if len(p) == 0:
        return p
    if Correction(correction) is Correction.HOLM:
        return _holm(p)
    return stats.false_discovery_control(p, method="bh")


def _p_values(masks: np.ndarray, values: np.ndarray, *, binary: bool, higher_is_better: bool) -> np.ndarray:
    """One-sided p-values: is each masked slice worse than its complement? (``masks``:
    booleans, or 0/1 floats, which are used as they are: no copy of a large table.)"""
    import numpy as np
    from scipy import stats

    weights = masks if masks.dtype == np.float64 else masks.astype(float)
    n_in = masks.sum(axis=1).astype(np.int64)
    n_out = len(values) - n_in
    if binary:
        bad_total = int(values.sum())
        bad_in = np.rint(weights @ values).astype(np.int64)  # counts of 0/1 products: exact
        return np.array([
            stats.fisher_exact([[b, k - b], [bad_total - b, m - (bad_total - b)]], alternative="greater").pvalue
            for b, k, m in zip(bad_in.tolist(), n_in.tolist(), n_out.tolist(), strict=True)
        ], dtype=float)
    sum_in, sq_in = weights @ values, weights @ (values ** 2)
    sum_out, sq_out = values.sum() - sum_in, (values ** 2).sum() - sq_in
    mean_in, mean_out = sum_in / n_in, sum_out / n_out
    var_in = np.maximum(sq_in - n_in * mean_in ** 2, 0.0) / (n_in - 1)
    var_out = np.maximum(sq_out - n_out * mean_out ** 2, 0.0) / (n_out - 1)
    with np.errstate(divide="ignore", invalid="ignore"):
        result = stats.ttest_ind_from_stats(mean_in, np.sqrt(var_in), n_in, mean_out, np.sqrt(var_out), n_out,
                                            equal_var=False, alternative="less" if higher_is_better else "greater")
    # Both slices constant (no variance): no test is possible, so no evidence of weakness.
    return np.nan_to_num(np.asarray(result.pvalue, dtype=float), nan=1.0)


def _adds_to_parents(pair: np.ndarray, parents: tuple[int, int], masks: list[np.ndarray], values: np.ndarray, *,
                     alpha: float, binary: bool, higher_is_better: bool) -> bool:
    """Whether a pair is worse than the rest of *each* parent (p < alpha): otherwise the
    pair only repeats a weak parent. An extra condition, so it can only lower false reports."""
    for parent in parents:
        rows = masks[parent]
        inside = pair[rows]
        if inside.all() or (~inside).sum() < 2:
            return False
        p = _p_values(inside[None, :], values[rows], binary=binary, higher_is_better=higher_is_better)[0]
        if p >= alpha:
            return False
    return True


def find_segments(frame: pd.DataFrame, values: Any, *, config: SegmentsConfig,
                  reference: pd.DataFrame | None = None, binary: bool = False,
                  higher_is_better: bool = True, metric: str = "kpi") -> list[Segment]:
    """The weak segments of ``frame`` (model form) by per-row ``values``, best-argued first.

    ``binary`` marks 0/1 values (1 = error; Fisher's exact test), else Welch's t-test;
    ``higher_is_better`` says which way is worse. See the module docstring for the rules.
    """
    import numpy as np

    values = np.asarray(values, dtype=float)
    n = len(values)
    if n < 2 * config.min_support:
        return []
    frame = frame.reset_index(drop=True)
    singles = single_slices(frame, bins=config.bins, reference=reference)
    masks = [c.mask(frame) for c in singles]
    keep = [i for i, m in enumerate(masks) if config.min_support <= m.sum() <= n - 2]
    singles, masks = [singles[i] for i in keep], [masks[i] for i in keep]
    overall = float(values.mean())
    sign = 1.0 if higher_is_better else -1.0

    def gaps(matrix: np.ndarray) -> np.ndarray:
        return sign * (overall - (matrix @ values) / matrix.sum(axis=1))

    conditions: list[list[Condition]] = [[c] for c in singles]
    if not masks:
        return []
    single_matrix = np.array(masks, dtype=float)
    single_gaps = gaps(single_matrix)
    pair_masks: list[np.ndarray] = []
    parents: list[tuple[int, int]] = []
    order = sorted(range(len(singles)), key=lambda i: (-single_gaps[i], i))
    for i, j in itertools.combinations(order, 2):
        if len(pair_masks) >= config.max_pairs:
            break
        if singles[i].feature == singles[j].feature:
            continue
        both = masks[i] & masks[j]
        if config.min_support <= both.sum() <= n - 2:
            pair_masks.append(both)
            parents.append((i, j))
            conditions.append(sorted([singles[i], singles[j]], key=lambda c: c.feature))
    # one table of every slice's rows, a byte a cell, tested a block of slices at a time
    # as floats: a float table of every slice was 85 MB at the segment finder's 20k rows
    # and 500 pairs (325 MB at the 2,000 pairs allowed)
    matrix = np.empty((len(single_matrix) + len(pair_masks), n), dtype=bool)
    matrix[:len(single_matrix)] = masks
    for row, mask in enumerate(pair_masks, start=len(single_matrix)):
        matrix[row] = mask
    del pair_masks
    tested: list[tuple[np.ndarray, np.ndarray]] = []
    for start in range(0, len(matrix), _TESTED_AT_ONCE):
        block = matrix[start:start + _TESTED_AT_ONCE].astype(float)
        tested.append((gaps(block), _p_values(block, values, binary=binary, higher_is_better=higher_is_better)))
    all_gaps, p_values = (np.concatenate(part) for part in zip(*tested, strict=True))
    adjusted = adjust_p_values(p_values, config.correction)
    found = []
    for k, conds in enumerate(conditions):
        if adjusted[k] >= config.alpha or all_gaps[k] <= 0:
            continue
        if k >= len(singles) and not _adds_to_parents(matrix[k], parents[k - len(singles)], masks,
                                                      values, alpha=config.alpha, binary=binary,
                                                      higher_is_better=higher_is_better):
            continue
        rows = int(matrix[k].sum())
        found.append(Segment(
            segment=" & ".join(c.describe() for c in conds), conditions=conds, rows=rows, metric=metric,
            value=overall - sign * float(all_gaps[k]), overall=overall, gap=float(all_gaps[k]),
            p_value=float(p_values[k]), adjusted_p_value=float(adjusted[k]), impact=rows * float(all_gaps[k]),
        ))
    found.sort(key=lambda s: (-s.impact, s.adjusted_p_value, s.segment))
    return found[: config.top_k]


def segment_mask(segment: Segment, frame: pd.DataFrame) -> np.ndarray:
    """Which rows of ``frame`` fall in ``segment`` (every condition holds)."""
    import numpy as np

    mask = np.ones(len(frame), dtype=bool)
    for condition in segment.conditions:
        mask &= condition.mask(frame)
    return mask

