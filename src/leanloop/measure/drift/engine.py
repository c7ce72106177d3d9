"""The drift engine: summarise a feature once, pick its method, compare, decide.

Every entry point (:func:`~leanloop.measure.drift.drift_report`, ``leanloop drift``,
``leanloop measure``, the single-method functions such as
:func:`~leanloop.measure.drift.ks_test`) goes through :func:`compare`, so a method
gives the same result whichever door it is called from.

Default method, by kind and sample size (``n`` = the smaller side's non-missing count):

=======================  ==========================  ===============================
kind                     n < ``large_sample``        n >= ``large_sample``
=======================  ==========================  ===============================
numeric, datetime        KS (p < alpha)              Wasserstein / std > 0.1
categorical, boolean     chi-square; z-test if two   Jensen–Shannon > 0.1
                         categories in all
=======================  ==========================  ===============================

Small samples get hypothesis tests (they say whether a move is real); large ones get
distances with effect-size thresholds (a test on a million rows calls every harmless
wiggle significant).
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from leanloop.errors import InputError
from leanloop.measure.drift import (
    anderson_darling,
    chi_square,
    cramer_von_mises,
    hellinger,
    jensen_shannon,
    ks,
    l_infinity,
    psi,
    wasserstein,
    z_test,
)
from leanloop.measure.drift.result import DriftMethod, DriftOptions, DriftResult, MethodSpec, Outcome, ThresholdMode
from leanloop.measure.drift.samples import CategoricalSample, NumericSample
from leanloop.schema import FeatureKind

__all__ = ["SPECS", "Sample", "summarise", "prepare", "default_method", "check_method", "compare", "run_method",
           "DriftOptions"]

#: Every method the engine knows, by :class:`DriftMethod`.
SPECS: dict[DriftMethod, MethodSpec] = {
    m.SPEC.method: m.SPEC
    for m in (ks, wasserstein, psi, jensen_shannon, hellinger, cramer_von_mises, anderson_darling,
              chi_square, l_infinity, z_test)
}

Sample = NumericSample | CategoricalSample


def _is_numeric(kind: FeatureKind) -> bool:
    return kind in (FeatureKind.NUMERIC, FeatureKind.DATETIME)


def _epoch_seconds(values: pd.Series) -> pd.Series:
    # Divide by a Timedelta rather than reading int64 nanoseconds: pandas may store
    # datetimes in s, ms, us or ns, and may attach a time zone.
    stamps = pd.to_datetime(values, utc=True)
    return (stamps - pd.Timestamp(0, tz="UTC")) / pd.Timedelta(seconds=1)


def summarise(values: Any, kind: FeatureKind | str, *, feature: str, side: str) -> Sample:
    """The summary of one side of one feature (missing values dropped; may be empty);
    a summary is returned as it is.

    Raises
    ------
    InputError
        If a numeric feature holds non-numbers.
    """
    if isinstance(values, (NumericSample, CategoricalSample)):
        return values  # summarised already
    kind = FeatureKind(kind)
    if kind is FeatureKind.DATETIME:
        values = _epoch_seconds(pd.Series(values))
    return (NumericSample.of(values, feature=feature, side=side) if _is_numeric(kind)
            else CategoricalSample.of(values))


def prepare(values: Any, kind: FeatureKind | str, *, feature: str, side: str) -> Sample:
    """The summary of one side of one feature (missing values dropped), never empty.

    Raises
    ------
    InputError
        If no value is left, or a numeric feature holds non-numbers.

    Examples
    --------
    >>> prepare([2.0, None, 1.0], "numeric", feature="x", side="reference").values.tolist()
    [1.0, 2.0]
    """
    sample = summarise(values, kind, feature=feature, side=side)
    if sample.n == 0:
        rows = len(values) if hasattr(values, "__len__") else 0
        raise InputError(
            f"feature {feature!r}: the {side} sample has no non-missing values "
            f"({rows} rows, all missing); drift needs at least one value on each "
            f"side: check that {feature!r} is recorded, or choose a window that has data"
        )
    return sample


def default_method(kind: FeatureKind | str, reference: Sample, current: Sample,
                   options: DriftOptions) -> DriftMethod:
    """The method for a feature of ``kind`` at these sample sizes (table above).

    Examples
    --------
    >>> small, large = NumericSample.of(range(100)), NumericSample.of(range(20_000))
    >>> default_method("numeric", small, large, DriftOptions()).value
    'ks'
    >>> default_method("numeric", large, large, DriftOptions()).value
    'wasserstein'
    """
    large = min(reference.n, current.n) >= options.large_sample
    if _is_numeric(FeatureKind(kind)):
        return DriftMethod.WASSERSTEIN if large else DriftMethod.KS
    if large:
        return DriftMethod.JENSEN_SHANNON
    assert isinstance(reference, CategoricalSample) and isinstance(current, CategoricalSample)
    two = len(set(reference.labels) | set(current.labels)) <= 2
    return DriftMethod.Z_TEST if two else DriftMethod.CHI_SQUARE


def check_method(method: DriftMethod | str, kind: FeatureKind | str, feature: str) -> DriftMethod:
    """``method`` as a :class:`DriftMethod`, refused when it cannot read ``kind``.

    Examples
    --------
    >>> check_method("ks", "categorical", "city")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    leanloop.errors.InputError: feature 'city' is categorical: method 'ks' does not apply; use one of ['psi', ...]
    """
    try:
        method = DriftMethod(method)
    except ValueError as err:
        raise InputError(f"unknown drift method {method!r} for feature {feature!r}; "
                         f"methods are {[m.value for m in DriftMethod]}") from err
    numeric = _is_numeric(FeatureKind(kind))
    fits = [m.value for m, s in SPECS.items() if (s.numeric if numeric else s.categorical) is not None]
    if method.value not in fits:
        raise InputError(f"feature {feature!r} is {FeatureKind(kind).value}: method {method.value!r} "
                         f"does not apply; use one of {fits}")
    return method


def compare(feature: str, kind: FeatureKind | str, reference: Sample, current: Sample, *,
            method: DriftMethod, options: DriftOptions, threshold: float | None = None,
            outcome: Outcome | None = None) -> DriftResult:
    """Run ``method`` on two summaries and decide.

    ``threshold`` (from :mod:`~leanloop.measure.drift.calibrate`) is a calibrated
    threshold on the statistic; without it the method's fixed threshold applies.
    ``outcome``: the method's (statistic, p-value) computed elsewhere from the same
    data (the Dask engine computes some from per-range summaries); then the summaries
    serve only for their sizes.
    """
    kind = FeatureKind(kind)
    spec = SPECS[check_method(method, kind, feature)]
    run = spec.numeric if _is_numeric(kind) else spec.categorical
    assert run is not None
    try:
        statistic, p_value = outcome if outcome is not None else run(reference, current, options)
    except InputError as err:
        raise InputError(f"feature {feature!r}: {err}") from err
    if threshold is not None:
        mode, drifted = ThresholdMode.CALIBRATED, statistic > threshold
    else:
        mode, threshold = ThresholdMode.FIXED, options.threshold_for(spec.method)
        drifted = p_value < threshold if spec.test and p_value is not None else statistic > threshold
    unseen = vanished = None
    if isinstance(reference, CategoricalSample) and isinstance(current, CategoricalSample):
        unseen = sorted(set(current.labels) - set(reference.labels))
        vanished = sorted(set(reference.labels) - set(current.labels))
    return DriftResult(
        feature=feature, kind=kind.value, method=spec.method, statistic=float(statistic),
        p_value=None if p_value is None else float(p_value), threshold=float(threshold),
        drifted=bool(drifted), n_reference=reference.n, n_current=current.n,
        threshold_mode=mode, unseen=unseen, vanished=vanished,
    )


def run_method(method: DriftMethod, reference: Any, current: Any, *, feature: str, kind: FeatureKind | str,
               options: DriftOptions) -> DriftResult:
    """Summarise raw ``reference`` and ``current`` values and run one method on them."""
    ref = prepare(reference, kind, feature=feature, side="reference")
    cur = prepare(current, kind, feature=feature, side="current")
    return compare(feature, kind, ref, cur, method=method, options=options)
