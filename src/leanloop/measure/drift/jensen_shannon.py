"""Jensen–Shannon distance (base 2, in [0, 1]) between binned or categorical distributions."""

from __future__ import annotations

import numpy as np

from leanloop.measure.drift.binned import category_counts, numeric_counts
from leanloop.measure.drift.result import DriftMethod, MethodSpec, Outcome

__all__ = ["jensen_shannon_from_counts", "SPEC"]


def jensen_shannon_from_counts(reference_counts: np.ndarray, current_counts: np.ndarray) -> Outcome:
    """The Jensen–Shannon distance of the two proportions, base 2, as
    :func:`scipy.spatial.distance.jensenshannon` computes it.

    The square root of the JS divergence: symmetric, 0 for identical distributions,
    1 for disjoint ones, finite even where one side has an empty bin. Hand-written
    (a few numpy lines, equal to scipy's to rounding: tests compare them) because
    importing ``scipy.spatial`` costs more than a whole large comparison.

    Examples
    --------
    >>> jensen_shannon_from_counts(np.array([1, 0]), np.array([0, 1]))
    (1.0, None)
    """
    p = reference_counts / reference_counts.sum()
    q = current_counts / current_counts.sum()
    m = (p + q) / 2
    with np.errstate(divide="ignore", invalid="ignore"):
        divergence = sum(float(np.sum(np.where(x > 0, x * np.log2(x / m), 0.0))) for x in (p, q)) / 2
    distance = float(np.sqrt(max(divergence, 0.0)))
    return (0.0 if np.isnan(distance) else distance), None


SPEC = MethodSpec(
    DriftMethod.JENSEN_SHANNON, test=False, noise_power=1.0, root=True,
    numeric=lambda r, c, o: jensen_shannon_from_counts(*numeric_counts(r, c, o.psi_bins)),
    categorical=lambda r, c, o: jensen_shannon_from_counts(*category_counts(r, c)),
)
