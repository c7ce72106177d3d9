"""Hellinger distance (in [0, 1]) between binned or categorical distributions."""

from __future__ import annotations

import numpy as np

from leanloop.measure.drift.binned import category_counts, numeric_counts
from leanloop.measure.drift.result import DriftMethod, MethodSpec, Outcome

__all__ = ["hellinger_from_counts", "SPEC"]


# Hand-written: scipy has no Hellinger distance; it is one line over proportions.
def hellinger_from_counts(reference_counts: np.ndarray, current_counts: np.ndarray) -> Outcome:
    """H = ||sqrt(p) - sqrt(q)||_2 / sqrt(2): symmetric, 0 when equal, 1 when disjoint.

    Examples
    --------
    >>> round(hellinger_from_counts(np.array([1, 1]), np.array([1, 0]))[0], 6)
    0.541196
    """
    p = reference_counts / reference_counts.sum()
    q = current_counts / current_counts.sum()
    return float(np.sqrt(np.sum((np.sqrt(p) - np.sqrt(q)) ** 2) / 2)), None


SPEC = MethodSpec(
    DriftMethod.HELLINGER, test=False, noise_power=1.0, root=True,
    numeric=lambda r, c, o: hellinger_from_counts(*numeric_counts(r, c, o.psi_bins)),
    categorical=lambda r, c, o: hellinger_from_counts(*category_counts(r, c)),
)
