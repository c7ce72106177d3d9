"""Chi-square test of independence on a 2×k table of category counts."""

from __future__ import annotations

import numpy as np
import pandas as pd

from leanloop.measure.drift.result import DriftMethod, MethodSpec, Outcome
from leanloop.measure.drift.samples import CategoricalSample, aligned_counts

__all__ = ["chi_square_statistic", "contingency_table", "SPEC"]


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
