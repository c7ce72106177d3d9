"""The shared first step of the binned distances (PSI, Jensen–Shannon, Hellinger):
both samples as counts over the same bins."""

from __future__ import annotations

import numpy as np

from leanloop.measure.drift.samples import CategoricalSample, NumericSample, aligned_counts

__all__ = ["numeric_counts", "category_counts"]


def numeric_counts(reference: NumericSample, current: NumericSample, bins: int) -> np.ndarray:
    """2×k counts over up to ``bins`` quantile bins of the reference.

    Inner edges are the reference's interior quantiles; the outer bins are open
    (-inf and +inf) so current values beyond the reference's range still count.
    Bins are right-closed: (-inf, q1], (q1, q2], ..., (qk, +inf).

    Examples
    --------
    >>> numeric_counts(NumericSample.of([1, 2, 3, 4]), NumericSample.of([1, 1, 1, 4]), 2).tolist()
    [[2, 2], [3, 1]]
    """
    edges = reference.quantile_edges(bins)
    return np.array([reference.counts(edges), current.counts(edges)])


def category_counts(reference: CategoricalSample, current: CategoricalSample) -> np.ndarray:
    """2×k counts over the union of categories."""
    return aligned_counts(reference, current)[1]
