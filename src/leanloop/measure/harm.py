"""Model harm apart from population change, on a window's labelled rows.

The KPI per prediction on the labelled window is compared with the champion's KPI on
its own holdout (the rows its reference metrics come from, never trained on), and the
change is split by :func:`leanloop.measure.attribution.attribute` (direct
standardisation by the true class, or a quantile bin of the target for regression):

- ``population``: what the champion would earn on the window's mix of outcomes if it
  were as good in each class as on its holdout, minus what it earned there (fewer
  anomalies to catch is a population change: the same model earns less);
- ``model``: what it earned minus that expectation: the part it is responsible for.

:func:`finding` puts the split in one sentence, a population change ("business change:
fewer repaid = 1 (47% -> 23%); model unchanged") or model harm; the policy retrains
only on the model's part.

Examples
--------
>>> import numpy as np
>>> from leanloop.measure.attribution import attribute, BootstrapOptions
>>> ref = np.array([1] * 10 + [0] * 90); win = np.array([1] * 3 + [0] * 97)
>>> split = attribute(ref, np.where(ref == 1, 100.0, 0.0), win, np.where(win == 1, 100.0, 0.0),
...                   BootstrapOptions(resamples=200))
>>> finding(split, "anomaly", tolerance=0.5)
'business change: fewer anomaly = 1 (10.0% -> 3.0%); model unchanged (its part +0 per prediction, CI 0..0)'
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from leanloop.config import Task
from leanloop.measure.attribution import Attribution, BootstrapOptions, attribute, truth_strata
from leanloop.measure.calibration import CalibrationShift, calibration_shift
from leanloop.measure.distinct import by_distinct, column_list
from leanloop.measure.kpi import outcome_array, regression_values, row_weights
from leanloop.measure.logged import logged_scored
from leanloop.scoring import Scored
from leanloop.store.features import feature_frame

if TYPE_CHECKING:
    from collections.abc import Callable

    import numpy as np
    import pandas as pd

    from leanloop.config import ProjectConfig

__all__ = ["kpi_attribution", "accuracy_attribution", "calibration_against_holdout", "finding"]


def _kpi_values(config: ProjectConfig, frame: Callable[[], pd.DataFrame], truth: list[Any],
                labels: list[Any]) -> np.ndarray:
    """Each row's KPI value (weighted by ``[kpi] weight_column`` where set: ``frame``
    makes the rows' model frame, only then)."""

    weights = row_weights(frame(), config.kpi) if config.kpi.weight_column else None
    if config.data.task is Task.REGRESSION:
        return regression_values(truth, labels, config.kpi, weights)
    return outcome_array(truth, labels, config.kpi, weights)


def _resampling(config: ProjectConfig) -> BootstrapOptions:
    """The bootstrap of every split here: ``[performance]`` resamples, confidence and
    ``bootstrap_max_rows`` (a larger side is resampled from a rescaled subsample)."""
    return BootstrapOptions(resamples=config.performance.bootstrap_resamples,
                            confidence=config.performance.confidence, seed=config.model.seed,
                            max_rows=config.performance.bootstrap_max_rows)


def kpi_attribution(config: ProjectConfig, holdout: pd.DataFrame | None, ref_scored: Scored | None,
                    labelled: pd.DataFrame) -> Attribution | None:
    """The KPI change from the champion's ``holdout`` (its test data, ``ref_scored`` its
    outputs there) to the ``labelled`` log rows, split into population and model (None
    without rows on either side)."""

    from leanloop.target import normalize_target

    if (holdout is None or ref_scored is None or holdout.empty or labelled.empty
            or config.data.target not in holdout):
        return None
    schema, task = config.schema_, config.data.task
    ref_truth = normalize_target(holdout[config.data.target], task).tolist()
    ref_values = _kpi_values(config, lambda: schema.model_frame(holdout, "holdout"), ref_truth, ref_scored.labels)
    win_truth = column_list(labelled["label"])
    win_values = _kpi_values(config, lambda: schema.model_frame(feature_frame(labelled), "logged predictions"),
                             win_truth, column_list(labelled["prediction"]))
    # classes are their own strata (attribute compares them as text); a continuous
    # target is binned on the holdout
    ref_strata, win_strata = (truth_strata(ref_truth, win_truth, continuous=True) if task is Task.REGRESSION
                              else (ref_truth, win_truth))
    options = _resampling(config)
    return attribute(ref_strata, ref_values, win_strata, win_values, options)


def accuracy_attribution(config: ProjectConfig, holdout: pd.DataFrame | None, ref_scored: Scored | None,
                         labelled: pd.DataFrame) -> Attribution | None:
    """The accuracy change (1 per row served right, 0 wrong) from the champion's
    ``holdout`` to the ``labelled`` log rows, split like the KPI's: a mix with more rows
    of a harder class lowers accuracy without the model getting worse (None for
    regression, or without rows on either side).

    >>> import pandas as pd
    >>> from leanloop.config import DataConfig, ProjectConfig
    >>> from leanloop.scoring import Scored
    >>> config = ProjectConfig(data=DataConfig(path="d.csv", target="y", task="classification", classes=[0, 1]))
    >>> holdout = pd.DataFrame({"y": [1] * 50 + [0] * 50})           # right on every 1, on 4 in 5 of the 0s
    >>> ref = Scored(labels=[1] * 50 + [0] * 40 + [1] * 10, probabilities=None, classes=[0, 1])
    >>> window = pd.DataFrame({"label": [1] * 20 + [0] * 80, "prediction": [1] * 20 + [0] * 64 + [1] * 16})
    >>> split = accuracy_attribution(config, holdout, ref, window)   # more 0s now, each class as before
    >>> split.reference, split.realized, round(split.population.value, 4), abs(round(split.model.value, 4))
    (0.9, 0.84, -0.06, 0.0)
    """
    from leanloop.target import normalize_target

    if (config.data.task is Task.REGRESSION or holdout is None or ref_scored is None or holdout.empty
            or labelled.empty or config.data.target not in holdout):
        return None
    # labels and answers as text, one conversion per distinct value (per row: 0.7 s of
    # a 1M-row window)
    ref_truth = by_distinct(normalize_target(holdout[config.data.target], config.data.task).tolist(), str)
    ref_right = (by_distinct(list(ref_scored.labels), str) == ref_truth).astype(float)
    win_truth = by_distinct(column_list(labelled["label"]), str)
    win_right = (by_distinct(column_list(labelled["prediction"]), str) == win_truth).astype(float)
    options = _resampling(config)
    return attribute(ref_truth, ref_right, win_truth, win_right, options)


def calibration_against_holdout(config: ProjectConfig, holdout: pd.DataFrame | None, ref_scored: Scored | None,
                                labelled: pd.DataFrame) -> CalibrationShift | None:
    """The served probabilities' calibration on the ``labelled`` log rows against the
    champion's on its ``holdout`` (:func:`~leanloop.measure.calibration.calibration_shift`);
    None for regression, or without probabilities or rows on either side."""
    from leanloop.target import normalize_target

    if (config.data.task is Task.REGRESSION or holdout is None or ref_scored is None or labelled.empty
            or ref_scored.probabilities is None or config.data.target not in holdout):
        return None
    win_scored = logged_scored(labelled, config.data.task, config.data.classes)
    if win_scored.probabilities is None or win_scored.classes is None:
        return None
    # the holdout's columns in the logged class order, so one class list serves both sides
    ref_names, win_names = [str(c) for c in ref_scored.classes or []], [str(c) for c in win_scored.classes]
    if not set(win_names) <= set(ref_names):
        return None
    order = [ref_names.index(c) for c in win_names]
    options = _resampling(config)
    return calibration_shift(normalize_target(holdout[config.data.target], config.data.task).tolist(),
                             ref_scored.probabilities[:, order], column_list(labelled["label"]),
                             win_scored.probabilities, win_names, options=options)


def finding(split: Attribution | None, target: str, *, tolerance: float) -> str | None:
    """The split in one sentence: model harm (its part significantly below ``-tolerance``
    per prediction), a population change (the mix's part beyond ``tolerance``, the
    model's not), or None when neither moved."""
    if split is None:
        return None
    model = split.model
    band = f"its part {model.value:+.4g} per prediction, CI {model.lower:.4g}..{model.upper:.4g}"
    if model.value < -tolerance and model.upper < 0:
        return f"model harm: the model earns less than it should on this mix ({band})"
    if not split.population_changed(tolerance):
        return None
    moved = sorted(split.strata, key=lambda s: s.window_share - s.reference_share)
    fewer = moved[0] if moved and moved[0].window_share < moved[0].reference_share else None
    what = (f"fewer {target} = {fewer.stratum} ({fewer.reference_share:.1%} -> {fewer.window_share:.1%})"
            if fewer is not None else f"the mix moved the KPI by {split.population.value:+.4g} per prediction")
    return f"business change: {what}; model unchanged ({band})"
