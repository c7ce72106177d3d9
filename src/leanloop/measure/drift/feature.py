"""Run the default drift method for one feature, with PSI beside a hypothesis test."""

from __future__ import annotations

import pandas as pd

from leanloop.measure.drift.engine import SPECS, compare, default_method, prepare
from leanloop.measure.drift.result import DriftMethod, DriftOptions, DriftResult
from leanloop.schema import FeatureKind

__all__ = ["feature_drift"]


def feature_drift(
    reference: pd.Series,
    current: pd.Series,
    *,
    feature: str,
    kind: FeatureKind,
    options: DriftOptions,
    method: DriftMethod | None = None,
) -> list[DriftResult]:
    """Run the drift method for one feature; the first result is the primary one.

    The primary method is ``method``, or the default for ``kind`` and the sample
    sizes (see :mod:`leanloop.measure.drift.engine`): KS / chi-square (z-test for two
    categories) on small samples, Wasserstein / Jensen–Shannon on large ones. When
    the primary is a hypothesis test, PSI follows it: its p-value answers "could both
    samples come from one distribution?", PSI says how large the move is. Datetimes
    are compared as seconds since the epoch.

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
    ref = prepare(reference, kind, feature=feature, side="reference")
    cur = prepare(current, kind, feature=feature, side="current")
    method = method or default_method(kind, ref, cur, options)
    results = [compare(feature, kind, ref, cur, method=method, options=options)]
    if SPECS[results[0].method].test:
        results.append(compare(feature, kind, ref, cur, method=DriftMethod.PSI, options=options))
    return results
