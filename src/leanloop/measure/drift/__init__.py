"""Univariate drift: has one feature's distribution moved since the reference?

The *reference* sample is what the model learned from (its training data); the
*current* sample is what it sees now (a window of logged requests, or a second
file). Each feature is compared on its own — univariate — by one of these methods
(one file each):

==================  ===========================  =====================================
method              kinds                        result
==================  ===========================  =====================================
ks                  numeric, datetime            D, p-value (scipy ``ks_2samp``)
cramer_von_mises    numeric, datetime            T, p-value (scipy)
anderson_darling    numeric, datetime            A², p-value capped to [0.001, 0.25]
wasserstein         numeric, datetime            W1 / reference std (distance)
psi                 all                          PSI on reference-quantile bins
jensen_shannon      all                          JS distance, base 2, in [0, 1]
hellinger           all                          Hellinger distance in [0, 1]
chi_square          categorical, boolean         chi², p-value (scipy)
z_test              categorical, boolean (2)     |z|, p-value
l_infinity          categorical, boolean         largest share change, in [0, 1]
==================  ===========================  =====================================

Hypothesis tests drift when p < ``alpha``; distances when above their threshold;
with ``threshold_mode="calibrated"`` every method drifts when its statistic exceeds
a threshold learned from reference chunks (:mod:`~leanloop.measure.drift.calibrate`).
The default method depends on kind and sample size (:mod:`~leanloop.measure.drift.engine`).
Numeric summaries are exact sorted values (no sketch, error bound 0), categorical
ones frequency tables; both merge exactly. Missing values are dropped before
comparing; data-quality checks count them.

Examples
--------
>>> import numpy as np
>>> import pandas as pd
>>> from leanloop.schema import FeatureKind
>>> rng = np.random.default_rng(0)
>>> ref, cur = rng.normal(0, 1, 500), rng.normal(1, 1, 500)
>>> [(r.method.value, r.drifted) for r in feature_drift(ref, cur, feature="x", kind=FeatureKind.NUMERIC,
...                                                     options=DriftOptions())]
[('ks', True), ('psi', True)]
>>> report = drift_report(pd.DataFrame({"x": rng.normal(0, 1, 5000)}), pd.DataFrame({"x": rng.normal(1, 1, 5000)}))
>>> [(r.method.value, r.drifted) for r in report.features]
[('wasserstein', True)]
"""

from leanloop.measure.drift.chi_square import contingency_table
from leanloop.measure.drift.feature import feature_drift
from leanloop.measure.drift.psi import psi_from_counts
from leanloop.measure.drift.report import DriftChunk, DriftReport, drift_report
from leanloop.measure.drift.result import DriftMethod, DriftOptions, DriftResult, ThresholdMode
from leanloop.measure.drift.single import chi_square_test, ks_test, psi_test

__all__ = [
    "DriftChunk",
    "DriftMethod",
    "DriftOptions",
    "DriftReport",
    "DriftResult",
    "ThresholdMode",
    "chi_square_test",
    "contingency_table",
    "drift_report",
    "feature_drift",
    "ks_test",
    "psi_from_counts",
    "psi_test",
]
