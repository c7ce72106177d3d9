"""Population Stability Index: how far the current distribution moved, as a distance."""

from __future__ import annotations

from typing import Any

import numpy as np

from leanloop.errors import InputError
from leanloop.measure.drift.chi_square import contingency_table
from leanloop.measure.drift.result import DriftMethod, DriftResult, _numbers, _present
from leanloop.schema import FeatureKind

__all__ = ["psi_test", "psi_from_counts", "EPSILON"]

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


def _numeric_counts(ref: np.ndarray, cur: np.ndarray, bins: int) -> tuple[np.ndarray, np.ndarray]:
    # Inner edges are the reference's interior quantiles; the outer bins are open
    # (-inf and +inf) so current values beyond the reference's range still count.
    inner = np.unique(np.quantile(ref, np.linspace(0, 1, bins + 1))[1:-1])
    n_bins = len(inner) + 1
    # Bins are right-closed: (-inf, q1], (q1, q2], ..., (qk, +inf).
    ref_counts = np.bincount(np.searchsorted(inner, ref, side="left"), minlength=n_bins)
    cur_counts = np.bincount(np.searchsorted(inner, cur, side="left"), minlength=n_bins)
    return ref_counts, cur_counts


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
    try:
        feature_kind = FeatureKind(kind)
    except ValueError as err:
        known = [k.value for k in FeatureKind]
        raise InputError(f"feature {feature!r}: unknown kind {kind!r}; expected one of {known}") from err
    if bins < 2:
        raise InputError(f"feature {feature!r}: PSI needs bins >= 2, got {bins}")
    if feature_kind in (FeatureKind.NUMERIC, FeatureKind.DATETIME):
        ref = _numbers(reference, feature=feature, side="reference")
        cur = _numbers(current, feature=feature, side="current")
        ref_counts, cur_counts = _numeric_counts(ref, cur, bins)
    else:
        ref = _present(reference, feature=feature, side="reference")
        cur = _present(current, feature=feature, side="current")
        _, (ref_counts, cur_counts) = contingency_table(ref, cur)
    statistic = psi_from_counts(ref_counts, cur_counts)
    return DriftResult(
        feature=feature,
        kind=feature_kind.value,
        method=DriftMethod.PSI,
        statistic=statistic,
        p_value=None,
        threshold=threshold,
        drifted=statistic > threshold,
        n_reference=len(ref),
        n_current=len(cur),
    )
