"""Pick and run the drift tests that suit a feature's kind."""

from __future__ import annotations

import pandas as pd

from leanloop.measure.drift.chi_square import chi_square_test
from leanloop.measure.drift.ks import ks_test
from leanloop.measure.drift.psi import psi_test
from leanloop.measure.drift.result import DriftOptions, DriftResult
from leanloop.schema import FeatureKind

__all__ = ["feature_drift"]


def _epoch_seconds(values: pd.Series) -> pd.Series:
    # Divide by a Timedelta rather than reading int64 nanoseconds: pandas may store
    # datetimes in s, ms, us or ns, and may attach a time zone.
    stamps = pd.to_datetime(values, utc=True)
    return (stamps - pd.Timestamp(0, tz="UTC")) / pd.Timedelta(seconds=1)


def feature_drift(
    reference: pd.Series,
    current: pd.Series,
    *,
    feature: str,
    kind: FeatureKind,
    options: DriftOptions,
) -> list[DriftResult]:
    """Run the drift tests for one feature; the first result is the primary one.

    ========================  =========================
    kind                      tests (primary first)
    ========================  =========================
    numeric                   KS, PSI
    datetime                  KS, PSI on seconds since the epoch
    categorical, boolean      chi-square, PSI
    ========================  =========================

    The primary test is a hypothesis test whose p-value answers "could both samples
    come from one distribution?"; PSI beside it says how large the move is, which a
    p-value on thousands of rows does not.

    Raises
    ------
    InputError
        If ``reference`` or ``current`` has no non-missing values.

    Examples
    --------
    >>> ref = pd.Series([1.0, 2.0, 3.0, 4.0, None])
    >>> cur = pd.Series([1.0, 1.0, 1.0, 4.0])
    >>> results = feature_drift(ref, cur, feature="age", kind=FeatureKind.NUMERIC,
    ...                         options=DriftOptions(psi_bins=2))
    >>> [(r.method.value, round(r.statistic, 4), r.drifted, r.n_reference) for r in results]
    [('ks', 0.5, False, 4), ('psi', 0.2747, True, 4)]
    """
    kind = FeatureKind(kind)
    if kind is FeatureKind.DATETIME:
        reference, current = _epoch_seconds(reference), _epoch_seconds(current)
    if kind in (FeatureKind.NUMERIC, FeatureKind.DATETIME):
        primary = ks_test(reference, current, feature=feature, kind=kind.value, alpha=options.alpha)
    else:
        primary = chi_square_test(reference, current, feature=feature, kind=kind.value, alpha=options.alpha)
    psi = psi_test(
        reference,
        current,
        feature=feature,
        kind=kind.value,
        threshold=options.psi_threshold,
        bins=options.psi_bins,
    )
    return [primary, psi]
