"""L-infinity distance: the largest change of any category's share."""

from __future__ import annotations

import numpy as np

from leanloop.measure.drift.binned import category_counts
from leanloop.measure.drift.result import DriftMethod, MethodSpec, Outcome

__all__ = ["l_infinity_from_counts", "SPEC"]


# Hand-written: a max over a difference of shares; no library call is simpler.
def l_infinity_from_counts(reference_counts: np.ndarray, current_counts: np.ndarray) -> Outcome:
    """max over categories of |share in current - share in reference|, in [0, 1].

    Examples
    --------
    >>> l_infinity_from_counts(np.array([50, 50, 0]), np.array([40, 40, 20]))
    (0.2, None)
    """
    p = reference_counts / reference_counts.sum()
    q = current_counts / current_counts.sum()
    return float(np.max(np.abs(p - q))), None


SPEC = MethodSpec(DriftMethod.L_INFINITY, test=False, noise_power=1.0, root=True,
                  categorical=lambda r, c, o: l_infinity_from_counts(*category_counts(r, c)))
