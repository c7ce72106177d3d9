"""Chi-square test of independence on a 2×k table of category counts."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from scipy.stats import chi2_contingency

from leanloop.measure.drift.result import DriftMethod, DriftResult, _labels, _present

__all__ = ["chi_square_test", "contingency_table"]


def contingency_table(reference: pd.Series, current: pd.Series) -> tuple[list[str], np.ndarray]:
    """Count each category in both samples: rows are (reference, current).

    Categories are the union of both samples' labels, compared as strings, so a
    category seen only in ``current`` (unseen) or only in ``reference`` (vanished)
    gets its own column; no column is zero on both rows.

    Examples
    --------
    >>> cats, table = contingency_table(pd.Series(["a", "b", "a"]), pd.Series(["c", "a"]))
    >>> cats, table.tolist()
    (['a', 'b', 'c'], [[2, 1, 0], [1, 0, 1]])
    """
    ref, cur = _labels(reference), _labels(current)
    categories = sorted(set(ref) | set(cur))
    table = np.array(
        [
            ref.value_counts().reindex(categories, fill_value=0).to_numpy(dtype=np.int64),
            cur.value_counts().reindex(categories, fill_value=0).to_numpy(dtype=np.int64),
        ]
    )
    return categories, table


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
    >>> r.method.value, round(r.statistic, 4), r.drifted
    ('chi_square', 22.2222, True)
    """
    ref = _present(reference, feature=feature, side="reference")
    cur = _present(current, feature=feature, side="current")
    categories, table = contingency_table(ref, cur)
    if len(categories) < 2:
        statistic, p_value = 0.0, 1.0
    else:
        res = chi2_contingency(table)
        statistic, p_value = float(res.statistic), float(res.pvalue)
    return DriftResult(
        feature=feature,
        kind=kind,
        method=DriftMethod.CHI_SQUARE,
        statistic=statistic,
        p_value=p_value,
        threshold=alpha,
        drifted=p_value < alpha,
        n_reference=len(ref),
        n_current=len(cur),
    )
