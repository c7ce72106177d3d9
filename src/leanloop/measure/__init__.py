"""Measure: how a deployed model is doing in the real world.

Drift of each feature and of the predictions against the reference (training)
data, realized performance on rows whose labels arrived (with bootstrap intervals
and the trivial baseline beside it), performance estimated where labels are missing
(:mod:`leanloop.measure.estimation`: CBPE, DLE), and the business KPIs declared in
the config, realized and estimated. :func:`measure_files` gives drift and data quality of two
files, read one column at a time. Everything here reads the store and the registry
and never imports the server.
"""

from leanloop.measure.bootstrap import BootstrapOptions, Interval
from leanloop.measure.drift import DriftMethod, DriftOptions, DriftReport, DriftResult, drift_report, feature_drift
from leanloop.measure.files import FileMeasurement, measure_files
from leanloop.measure.kpi import classification_kpis, regression_kpis
from leanloop.measure.performance import classification_metrics, regression_metrics

__all__ = [
    "BootstrapOptions",
    "DriftMethod",
    "DriftOptions",
    "DriftReport",
    "DriftResult",
    "FileMeasurement",
    "Interval",
    "classification_kpis",
    "classification_metrics",
    "drift_report",
    "feature_drift",
    "measure_files",
    "regression_kpis",
    "regression_metrics",
]
