"""Two-sample Kolmogorov–Smirnov test for numeric (and datetime) features."""

from __future__ import annotations

import numpy as np

from leanloop.measure.drift.result import DriftMethod, MethodSpec, Outcome
from leanloop.measure.drift.samples import NumericSample

__all__ = ["ks_statistic", "ks_p_value", "SPEC", "SCIPY_EXACT_N"]

#: Up to this sample size scipy computes the exact p-value (its own ``auto`` rule).
SCIPY_EXACT_N = 10_000


def _cdf_gap_at(points_of: np.ndarray, other: np.ndarray, n_self: int, n_other: int) -> float:
    # The empirical CDFs are step functions, so the largest gap sits at a data point;
    # at the last copy of each value the own CDF is (position + 1) / n exactly.
    last = np.flatnonzero(np.append(points_of[1:] != points_of[:-1], True))
    own = (last + 1) / n_self
    theirs = np.searchsorted(other, points_of[last], side="right") / n_other
    return float(np.max(np.abs(own - theirs)))


def ks_statistic(reference: NumericSample, current: NumericSample) -> Outcome:
    """D (the largest gap between the empirical CDFs) and its two-sided p-value.

    Exact: D comes from the sorted samples with two binary searches, no sketch. The
    p-value is scipy's: up to 10,000 values per side :func:`scipy.stats.ks_2samp`
    itself (exact distribution), above that Smirnov's asymptotic law
    ``kstwo.sf(D, round(n m / (n + m)))`` exactly as scipy's ``asymp`` mode.

    Examples
    --------
    >>> d, p = ks_statistic(NumericSample.of([1, 2, 3]), NumericSample.of([1, 2, 3]))
    >>> d, p
    (0.0, 1.0)
    """
    from scipy.stats import ks_2samp  # lazy: scipy.stats costs about a second to import
    r, c = reference.values, current.values
    n1, n2 = r.size, c.size
    if max(n1, n2) <= SCIPY_EXACT_N:
        res = ks_2samp(r, c)
        return float(res.statistic), float(res.pvalue)
    d = max(_cdf_gap_at(r, c, n1, n2), _cdf_gap_at(c, r, n2, n1))
    return d, ks_p_value(d, n1, n2)


def ks_p_value(d: float, n1: int, n2: int) -> float:
    """The two-sided p-value of D for samples of ``n1`` and ``n2`` values by Smirnov's
    asymptotic law, exactly as scipy's ``asymp`` mode (what :func:`ks_statistic` uses
    above 10,000 values a side).

    Examples
    --------
    >>> round(ks_p_value(0.01, 100_000, 100_000), 6)
    9e-05
    """
    from scipy.stats import distributions

    m, n = sorted([float(n1), float(n2)], reverse=True)
    return float(np.clip(distributions.kstwo.sf(d, np.round(m * n / (m + n))), 0, 1))


SPEC = MethodSpec(DriftMethod.KS, test=True, noise_power=1.0, root=True, numeric=lambda r, c, o: ks_statistic(r, c))
