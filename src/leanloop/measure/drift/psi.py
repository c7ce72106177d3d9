"""Population Stability Index: how far the current distribution moved, as a distance."""

from __future__ import annotations

from typing import Any

import numpy as np

from leanloop.errors import InputError
from leanloop.measure.drift.binned import category_counts, numeric_counts
from leanloop.measure.drift.result import DriftMethod, DriftResult, MethodSpec
from leanloop.schema import FeatureKind

__all__ = ["psi_test", "psi_from_counts", "EPSILON", "SPEC"]

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


def psi_test(
    reference: Any,
    current: Any,
    *,
    feature: str,
    kind: str,
    threshold: float = 0.2,
    bins: int = 10,
) -> DriftResult:
    """Population Stability Index between a reference and a current sample.

    Numeric and datetime features (``kind`` "numeric" or "datetime", values already
    numbers) are cut into up to ``bins`` quantile bins of the reference; categorical
    and boolean features get one bin per category seen in either sample. Drift when
    PSI is above ``threshold`` (0.1 is often read as "watch", 0.2 as "act").
    ``p_value`` is ``None``. Missing values are dropped first.

    Raises
    ------
    InputError
        If either sample has no non-missing values, ``kind`` is unknown or ``bins`` < 2.

    Examples
    --------
    >>> r = psi_test([1, 2, 3, 4], [1, 1, 1, 4], feature="age", kind="numeric", bins=2)
    >>> r.method.value, round(r.statistic, 4), r.p_value, r.drifted
    ('psi', 0.2747, None, True)
    >>> r = psi_test(["a", "b"], ["a", "b"], feature="city", kind="categorical")
    >>> r.statistic, r.drifted
    (0.0, False)
    """
    from leanloop.measure.drift.engine import DriftOptions, run_method

    try:
        FeatureKind(kind)
    except ValueError as err:
        known = [k.value for k in FeatureKind]
        raise InputError(f"feature {feature!r}: unknown kind {kind!r}; expected one of {known}") from err
    if bins < 2:
        raise InputError(f"feature {feature!r}: PSI needs bins >= 2, got {bins}")
    return run_method(DriftMethod.PSI, reference, current, feature=feature, kind=kind,
                      options=DriftOptions(psi_threshold=threshold, psi_bins=bins))
