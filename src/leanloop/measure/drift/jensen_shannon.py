"""Jensen–Shannon distance (base 2, in [0, 1]) between binned or categorical distributions."""

from __future__ import annotations

import numpy as np
from scipy.spatial.distance import jensenshannon

from leanloop.measure.drift.binned import category_counts, numeric_counts
from leanloop.measure.drift.result import DriftMethod, MethodSpec, Outcome

__all__ = ["jensen_shannon_from_counts", "SPEC"]


def jensen_shannon_from_counts(reference_counts: np.ndarray, current_counts: np.ndarray) -> Outcome:
    """:func:`scipy.spatial.distance.jensenshannon` of the two proportions, base 2.

    The square root of the JS divergence: symmetric, 0 for identical distributions,
    1 for disjoint ones, finite even where one side has an empty bin.

    Examples
    --------
    >>> jensen_shannon_from_counts(np.array([1, 0]), np.array([0, 1]))
    (1.0, None)
    """
    distance = float(jensenshannon(reference_counts / reference_counts.sum(),
                                   current_counts / current_counts.sum(), base=2))
    return (0.0 if np.isnan(distance) else distance), None


SPEC = MethodSpec(
    DriftMethod.JENSEN_SHANNON, test=False, noise_power=1.0, root=True,
    numeric=lambda r, c, o: jensen_shannon_from_counts(*numeric_counts(r, c, o.psi_bins)),
    categorical=lambda r, c, o: jensen_shannon_from_counts(*category_counts(r, c)),
)
