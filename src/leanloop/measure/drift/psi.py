"""Population Stability Index: how far the current distribution moved, as a distance."""

from __future__ import annotations

import numpy as np

from leanloop.measure.drift.binned import category_counts, numeric_counts
from leanloop.measure.drift.result import DriftMethod, MethodSpec

__all__ = ["psi_from_counts", "EPSILON", "SPEC"]

#: Floor for a bin's proportion, so an empty bin gives a large but finite PSI.
EPSILON = 1e-4


# Hand-written: scipy has no PSI, and the formula is one line over binned counts.
def psi_from_counts(reference_counts: np.ndarray, current_counts: np.ndarray) -> float:
    """PSI = sum((c - r) * ln(c / r)) over bins, proportions floored at :data:`EPSILON`.

    Every term is >= 0 (``c - r`` and ``ln(c / r)`` share a sign), so PSI is >= 0 and
    exactly 0 when both samples fall into the bins alike.

    Examples
    --------
    >>> round(psi_from_counts(np.array([2, 2]), np.array([3, 1])), 4)
    0.2747
    """
    r = np.maximum(reference_counts / reference_counts.sum(), EPSILON)
    c = np.maximum(current_counts / current_counts.sum(), EPSILON)
    return float(np.sum((c - r) * np.log(c / r)))


SPEC = MethodSpec(
    DriftMethod.PSI, test=False, noise_power=2.0, root=False,
    numeric=lambda r, c, o: (psi_from_counts(*numeric_counts(r, c, o.psi_bins)), None),
    categorical=lambda r, c, o: (psi_from_counts(*category_counts(r, c)), None),
)
