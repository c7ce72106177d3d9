"""Univariate drift: has one feature's distribution moved since the reference?

The *reference* sample is what the model learned from (its training data); the
*current* sample is what it sees now (a window of logged requests). Each feature is
compared on its own — univariate — by two kinds of measure:

- a hypothesis test, the *primary* result: Kolmogorov–Smirnov for numeric and
  datetime features, chi-square for categorical and boolean ones. Drift when the
  p-value is below ``alpha``. On large samples tiny, harmless moves become
  "significant", which is why the second measure sits beside it;
- the Population Stability Index (PSI), a distance that grows with the size of the
  move, read against a fixed threshold (0.2 by default) whatever the sample size.

Missing values are dropped before testing; data-quality checks count them.
:func:`feature_drift` picks the tests for a :class:`~leanloop.schema.FeatureKind`;
the test functions can also be called on their own.

Examples
--------
>>> import numpy as np
>>> from leanloop.schema import FeatureKind
>>> rng = np.random.default_rng(0)
>>> ref, cur = rng.normal(0, 1, 1000), rng.normal(1, 1, 1000)
>>> [r.drifted for r in feature_drift(ref, cur, feature="x", kind=FeatureKind.NUMERIC,
...                                   options=DriftOptions())]
[True, True]
"""

from leanloop.measure.drift.chi_square import chi_square_test, contingency_table
from leanloop.measure.drift.feature import feature_drift
from leanloop.measure.drift.ks import ks_test
from leanloop.measure.drift.psi import psi_from_counts, psi_test
from leanloop.measure.drift.result import DriftMethod, DriftOptions, DriftResult

__all__ = [
    "DriftMethod",
    "DriftOptions",
    "DriftResult",
    "chi_square_test",
    "contingency_table",
    "feature_drift",
    "ks_test",
    "psi_from_counts",
    "psi_test",
]
