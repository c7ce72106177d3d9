"""Two-sample Kolmogorov–Smirnov test for numeric (and datetime) features."""

from __future__ import annotations

from typing import Any

from scipy.stats import ks_2samp

from leanloop.measure.drift.result import DriftMethod, DriftResult, _numbers

__all__ = ["ks_test"]


def ks_test(
    reference: Any,
    current: Any,
    *,
    feature: str,
    kind: str = "numeric",
    alpha: float = 0.05,
) -> DriftResult:
    """Compare two numeric samples with the two-sample KS test.

    The statistic is D, the largest gap between the two empirical CDFs. Drift is
    declared when the p-value is below ``alpha``. Missing values are dropped first.

    Raises
    ------
    InputError
        If either sample has no non-missing values or holds non-numbers.

    Examples
    --------
    >>> r = ks_test([1, 2, 3, 4, 5], [6, 7, 8, 9, 10, None], feature="age")
    >>> r.method.value, r.statistic, round(r.p_value, 4), r.drifted, r.n_current
    ('ks', 1.0, 0.0079, True, 5)
    """
    ref = _numbers(reference, feature=feature, side="reference")
    cur = _numbers(current, feature=feature, side="current")
    res = ks_2samp(ref, cur)
    p_value = float(res.pvalue)
    return DriftResult(
        feature=feature,
        kind=kind,
        method=DriftMethod.KS,
        statistic=float(res.statistic),
        p_value=p_value,
        threshold=alpha,
        drifted=p_value < alpha,
        n_reference=len(ref),
        n_current=len(cur),
    )
