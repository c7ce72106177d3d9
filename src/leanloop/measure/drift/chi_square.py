"""Chi-square test of independence on a 2×k table of category counts."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from leanloop.measure.drift.result import DriftMethod, DriftResult, MethodSpec, Outcome
from leanloop.measure.drift.samples import CategoricalSample, aligned_counts

__all__ = ["chi_square_test", "chi_square_statistic", "contingency_table", "SPEC"]


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
    return aligned_counts(CategoricalSample.of(reference), CategoricalSample.of(current))


def chi_square_statistic(reference: CategoricalSample, current: CategoricalSample) -> Outcome:
    """Statistic and p-value of :func:`scipy.stats.chi2_contingency` on the 2×k table
    (Yates' correction when there are exactly two categories); (0.0, 1.0) with fewer
    than two categories in all.

    Examples
    --------
    >>> chi_square_statistic(CategoricalSample.of("aab"), CategoricalSample.of("aab"))
    (0.0, 1.0)
    """
    labels, table = aligned_counts(reference, current)
    if len(labels) < 2:
        return 0.0, 1.0
    from scipy.stats import chi2_contingency  # lazy: scipy.stats costs about a second to import
    res = chi2_contingency(table)
    return float(res.statistic), float(res.pvalue)


SPEC = MethodSpec(DriftMethod.CHI_SQUARE, test=True, noise_power=0.0, root=False,
                  categorical=lambda r, c, o: chi_square_statistic(r, c))


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
    from leanloop.measure.drift.engine import DriftOptions, run_method

    return run_method(DriftMethod.CHI_SQUARE, reference, current, feature=feature, kind=kind,
                      options=DriftOptions(alpha=alpha))
