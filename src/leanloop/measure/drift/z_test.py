"""z-test of two proportions, for a feature with (at most) two categories."""

from __future__ import annotations

import numpy as np

from leanloop.errors import InputError
from leanloop.measure.drift.result import DriftMethod, MethodSpec, Outcome
from leanloop.measure.drift.samples import CategoricalSample, aligned_counts

__all__ = ["z_test_statistic", "SPEC"]


# Hand-written: scipy has no two-proportion z-test (statsmodels does, too heavy a
# dependency for three lines); z**2 equals scipy's chi-square without Yates' correction.
def z_test_statistic(reference: CategoricalSample, current: CategoricalSample) -> Outcome:
    """|z| and two-sided p-value of the pooled two-proportion z-test.

    The proportion is the share of the first category (labels sorted as text); with a
    single category overall there is nothing to compare (0.0, 1.0).

    Raises
    ------
    InputError
        If the two samples hold more than two categories together.

    Examples
    --------
    >>> z, p = z_test_statistic(CategoricalSample.of("a" * 50 + "b" * 50), CategoricalSample.of("a" * 70 + "b" * 30))
    >>> round(z, 4), round(p, 4)
    (2.8868, 0.0039)
    """
    labels, table = aligned_counts(reference, current)
    if len(labels) > 2:
        raise InputError(
            f"the z-test compares two categories, the samples hold {len(labels)}: {labels[:10]}; "
            "use chi_square (or jensen_shannon) for this feature"
        )
    if len(labels) < 2:
        return 0.0, 1.0
    n1, n2 = table.sum(axis=1)
    p1, p2 = table[0, 0] / n1, table[1, 0] / n2
    pooled = (table[0, 0] + table[1, 0]) / (n1 + n2)
    se = np.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2))
    if se == 0:
        return 0.0, 1.0
    z = abs(float((p1 - p2) / se))
    from scipy.stats import norm  # lazy: scipy.stats costs about a second to import
    return z, float(2 * norm.sf(z))


SPEC = MethodSpec(DriftMethod.Z_TEST, test=True, noise_power=0.0, root=True,
                  categorical=lambda r, c, o: z_test_statistic(r, c))
