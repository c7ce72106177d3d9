"""The modes a setting chooses between, as enums validated when the config loads.

Examples
--------
>>> Metric("mae").higher_is_better, Metric("roc_auc").needs_probabilities
(False, True)
"""

from __future__ import annotations

from enum import Enum, StrEnum

__all__ = ["Task", "IdType", "TimeBasis",
           "SqliteSync", "ValuePolicy", "DriftMethod", "ThresholdMode", "ErrorKind", "RetrainStrategy",
           "ModelKind", "StreamDetectorKind", "Correction", "SegmentMetric", "Metric"]


class Task(str, Enum):
    """What the model predicts."""

    CLASSIFICATION = "classification"
    REGRESSION = "regression"


class IdType(str, Enum):
    """What the project's id column holds: JSON integers, or text."""

    INTEGER = "integer"
    TEXT = "text"


class TimeBasis(str, Enum):
    """What a window's time is: each row's event time (its arrival when it carries
    none), or its arrival at the server."""

    EVENT = "event"
    ARRIVAL = "arrival"


class SqliteSync(str, Enum):
    """SQLite ``synchronous`` mode: FULL survives power loss, NORMAL only process crashes."""

    FULL = "FULL"
    NORMAL = "NORMAL"


class ValuePolicy(str, Enum):
    """What the server does with a value the schema did not foresee (an unseen category,
    a number outside the training range): accept it and count it, or refuse the request."""

    ACCEPT = "accept"
    REJECT = "reject"


class DriftMethod(str, Enum):
    """A univariate drift method: a hypothesis test (p-value) or a distance.

    Defined here, beside the config that names it per feature; the computations
    live in :mod:`leanloop.measure.drift`, one file per method.
    """

    KS = "ks"
    CHI_SQUARE = "chi_square"
    PSI = "psi"
    WASSERSTEIN = "wasserstein"
    JENSEN_SHANNON = "jensen_shannon"
    HELLINGER = "hellinger"
    CRAMER_VON_MISES = "cramer_von_mises"
    ANDERSON_DARLING = "anderson_darling"
    L_INFINITY = "l_infinity"
    Z_TEST = "z_test"


class ThresholdMode(str, Enum):
    """Where drift thresholds come from: fixed values, or calibrated per feature on
    reference chunks so that the false-alarm rate on data without drift is controlled."""

    FIXED = "fixed"
    CALIBRATED = "calibrated"


class ErrorKind(str, Enum):
    """Which error a regression KPI charges for."""

    ABSOLUTE = "absolute"
    SQUARED = "squared"


class RetrainStrategy(str, Enum):
    """Which rows a challenger learns from.

    - ``reference_plus_recent``: the champion's training data plus the labelled
      production rows, weighted ``production_weight`` (and decayed by age when
      ``recency_half_life_rows`` is set);
    - ``expanding``: the same rows, all weighted equally (the window only grows);
    - ``sliding``: only the latest ``window_rows`` labelled production rows
      (the past is forgotten; for populations that changed for good).
    """

    REFERENCE_PLUS_RECENT = "reference_plus_recent"
    EXPANDING = "expanding"
    SLIDING = "sliding"


class ModelKind(str, Enum):
    """Whose estimator a version is: leanloop's pipeline, or the user's own (adopted,
    or a clone of the adopted estimator refitted by a retrain)."""

    OWN = "own"
    LEANLOOP = "leanloop"


class StreamDetectorKind(str, Enum):
    """River's streaming change detectors."""

    ADWIN = "adwin"
    PAGE_HINKLEY = "page_hinkley"
    KSWIN = "kswin"


class Correction(str, Enum):
    """Multiple-comparison control for the segment finder and the segment gate."""

    #: Benjamini-Hochberg: the expected share of false segments among those reported is <= alpha.
    BH = "bh"
    #: Holm: the chance of reporting any false segment is <= alpha (stricter).
    HOLM = "holm"


class SegmentMetric(str, Enum):
    """What a weak segment is worse in."""

    #: KPI value per row (the [kpi] section; money).
    KPI = "kpi"
    #: Error: wrong-label rate (classification) or absolute error (regression).
    ERROR = "error"


class Metric(StrEnum):
    """A metric the policy can watch and the promotion gate can bootstrap.

    Each knows its direction and what it needs, so a config naming a metric its task
    cannot compute fails when it loads, not after a retrain has run.
    """

    ACCURACY = "accuracy"
    ROC_AUC = "roc_auc"
    F1 = "f1"
    MAE = "mae"
    RMSE = "rmse"

    @property
    def higher_is_better(self) -> bool:
        """Whether a larger value is an improvement (error metrics are lower-is-better)."""
        return self not in (Metric.MAE, Metric.RMSE)

    @property
    def task(self) -> Task:
        """The task whose predictions the metric reads."""
        return Task.REGRESSION if self in (Metric.MAE, Metric.RMSE) else Task.CLASSIFICATION

    @property
    def needs_probabilities(self) -> bool:
        """Whether the metric reads class probabilities (the model needs ``predict_proba``)."""
        return self is Metric.ROC_AUC

    @classmethod
    def for_task(cls, task: Task) -> list[Metric]:
        """The metrics a model of ``task`` can be watched by.

        >>> [m.value for m in Metric.for_task(Task.REGRESSION)]
        ['mae', 'rmse']
        """
        return [m for m in cls if m.task is task]
