"""k-sample Anderson–Darling test (scipy) with two samples, for numeric features."""

from __future__ import annotations

import warnings

from leanloop.measure.drift.result import DriftMethod, MethodSpec, Outcome
from leanloop.measure.drift.samples import NumericSample

__all__ = ["anderson_darling_statistic", "SPEC"]


def anderson_darling_statistic(reference: NumericSample, current: NumericSample) -> Outcome:
    """Statistic and p-value of :func:`scipy.stats.anderson_ksamp` on the two samples.

    Weighs the tails more than KS does. scipy interpolates the p-value from a table
    and caps it to [0.001, 0.25] (its warning about the cap is silenced; the capped
    value is reported), so this test says "drift" or "not" but not how strongly.

    Examples
    --------
    >>> s, p = anderson_darling_statistic(NumericSample.of(range(50)), NumericSample.of(range(50)))
    >>> p
    0.25
    """
    with warnings.catch_warnings():
        from scipy.stats import anderson_ksamp  # lazy: scipy.stats costs about a second to import
        warnings.simplefilter("ignore", UserWarning)
        try:
            res = anderson_ksamp([reference.values, current.values], variant="midrank")
        except TypeError:  # scipy < 1.17 has no ``variant``; midrank is its default there
            res = anderson_ksamp([reference.values, current.values])
    return float(res.statistic), float(res.pvalue)


SPEC = MethodSpec(DriftMethod.ANDERSON_DARLING, test=True, noise_power=0.0, root=False,
                  numeric=lambda r, c, o: anderson_darling_statistic(r, c))
