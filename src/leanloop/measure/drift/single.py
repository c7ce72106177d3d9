"""The single-method entry points: one drift method on two samples, through the engine.

Each method file holds its statistic and its :class:`~leanloop.measure.drift.result.MethodSpec`
only; these functions call the engine (:func:`~leanloop.measure.drift.engine.run_method`),
so a method never imports the engine back and gives the same result from every door.
"""

from __future__ import annotations

from typing import Any

from leanloop.errors import InputError
from leanloop.measure.drift.engine import run_method
from leanloop.measure.drift.result import DriftMethod, DriftOptions, DriftResult
from leanloop.schema import FeatureKind

__all__ = ["ks_test", "psi_test", "chi_square_test"]


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
    return run_method(DriftMethod.KS, reference, current, feature=feature, kind=kind,
                      options=DriftOptions(alpha=alpha))


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
        FeatureKind(kind)
    except ValueError as err:
        known = [k.value for k in FeatureKind]
        raise InputError(f"feature {feature!r}: unknown kind {kind!r}; expected one of {known}") from err
    if bins < 2:
        raise InputError(f"feature {feature!r}: PSI needs bins >= 2, got {bins}")
    return run_method(DriftMethod.PSI, reference, current, feature=feature, kind=kind,
                      options=DriftOptions(psi_threshold=threshold, psi_bins=bins))


def chi_square_test(
    reference: Any,
    current: Any,
    *,
    feature: str,
    kind: str = "categorical",
    alpha: float = 0.05,
) -> DriftResult:
    """Compare two categorical (or boolean) samples with a chi-square test.

    Builds the 2×k table of :func:`contingency_table` and runs
    :func:`scipy.stats.chi2_contingency` on it (which applies Yates' correction when
    there are exactly two categories). With fewer than two categories in all there is
    nothing to compare: statistic 0.0, p-value 1.0. Drift when the p-value is below
    ``alpha``. Missing values are dropped first.

    Raises
    ------
    InputError
        If either sample has no non-missing values.

    Examples
    --------
    >>> ref = ["a"] * 50 + ["b"] * 50
    >>> cur = ["a"] * 40 + ["b"] * 40 + ["c"] * 20
    >>> r = chi_square_test(ref, cur, feature="city")
    >>> r.method.value, round(r.statistic, 4), r.drifted, r.unseen
    ('chi_square', 22.2222, True, ['c'])
    """
    return run_method(DriftMethod.CHI_SQUARE, reference, current, feature=feature, kind=kind,
                      options=DriftOptions(alpha=alpha))
