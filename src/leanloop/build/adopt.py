"""Adopt: bring your own fitted scikit-learn-compatible model into the loop.

The model file is read safely: a skops file loads when every type and function it
names is on the allow-list of :mod:`leanloop.model_files` (anything else needs
``trust``), and nothing is scored before that check; a pickle or joblib file can
run code when loaded, so it is read only with ``trust`` and a warning. The model is
then re-saved with skops, evaluated on a labelled holdout it did not learn from
(``--holdout``; without one, on the reference data, and the version carries an
``optimistic_reference`` warning: metrics on training rows are too good), and
registered as champion beside a trivial baseline; the reference data becomes its
drift reference and the training rows of later retrains, which refit a clone of the
same estimator (:mod:`leanloop.build.own_model`).
The model receives features in their native types (see :func:`leanloop.scoring.model_input`).
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any

from leanloop.build.calibration import CalibrationReport
from leanloop.build.checks import optimistic_reference
from leanloop.build.pipeline import make_baseline
from leanloop.build.served import calibrate_model, require_probabilities, served_model
from leanloop.build.train import register_version
from leanloop.config import load_config, render_config
from leanloop.data import read_table, require_columns
from leanloop.errors import ArtifactError, DataError, InputError
from leanloop.integrations.mlflow_model import is_mlflow_model, load_mlflow_model
from leanloop.schema import Schema
from leanloop.scoring import InputFormat, model_input
from leanloop.strays import coerce_strays
from leanloop.target import normalize_target

if TYPE_CHECKING:
    import pandas as pd

    from leanloop.registry import ModelVersion
    from leanloop.workspace import Workspace

__all__ = ["load_user_model", "require_predict", "register_adopted"]

_PICKLES = {".pkl", ".pickle", ".joblib"}


def load_user_model(path: Path, *, trust: bool) -> Any:
    """Read a user's model file: skops safely, pickle/joblib only with ``trust``; an MLflow
    model folder by the same rules (:mod:`leanloop.integrations.mlflow_model`)."""
    from leanloop.model_files import load_model_bytes

    path = Path(path)
    if is_mlflow_model(path):
        return load_mlflow_model(path, trust=trust)
    if path.is_dir():
        raise InputError(f"{str(path)!r} is a folder without an MLmodel file; give a model file or an MLflow "
                         "model folder")
    if not path.is_file():
        raise InputError(f"model file {str(path)!r} does not exist; check the path")
    suffix = path.suffix.lower()
    if suffix == ".skops":
        return load_model_bytes(path.read_bytes(), path.name, trust)
    if suffix in _PICKLES:
        if not trust:
            raise ArtifactError(
                f"{path.name} is a pickle/joblib file, which can run arbitrary code when loaded. "
                "Re-save the model with skops (skops.io.dump(model, 'model.skops')), or pass --trust "
                "if you made this file yourself"
            )
        import joblib

        warnings.warn(f"loading {path.name} with pickle because --trust was given; only do this for files you made",
                      stacklevel=2)
        return joblib.load(path)
    raise InputError(f"cannot read model file {path.name!r}: expected .skops (or .pkl/.joblib with --trust) "
                     "or an MLflow model folder")


def require_predict(model: Any, name: str) -> None:
    """Refuse an object that cannot predict (before anything is created for it)."""
    if not hasattr(model, "predict"):
        raise InputError(f"{name} holds a {type(model).__name__}, which has no predict(); "
                         "adopt a fitted scikit-learn-compatible estimator or pipeline")


def _labelled(ws: Workspace, path: Path) -> pd.DataFrame:
    """The labelled table at ``path``, its ``[data] coerce`` columns' stray values read as missing."""
    frame = coerce_strays(read_table(path), ws.config.data.coerce, ws.config.data.time_column)
    require_columns(frame, [ws.config.data.target], path.name, "target column")
    return frame


def _calibrate_adopted(ws: Workspace, model: Any, path: Path) -> tuple[Any, CalibrationReport]:
    """Calibrate an adopted classifier on the labelled table at ``path`` (native features)."""
    config = ws.config
    if config.data.task.value == "regression" or not hasattr(model, "predict_proba"):
        raise InputError("--calibrate-on calibrates a classifier's probabilities: the model has none to calibrate; "
                         "leave the option out")
    frame = _labelled(ws, path)
    X = model_input(config.schema_, frame, InputFormat.NATIVE, path.name)
    return calibrate_model(model, X, normalize_target(frame[config.data.target], config.data.task),
                           seed=config.model.seed)


def register_adopted(ws: Workspace, model: Any, reference: Path, *, trust: bool = False,
                     name: str = "the model file", calibrate_on: Path | None = None,
                     holdout: Path | None = None) -> ModelVersion:
    """Register a user's fitted ``model`` in ``ws``, drifting against the labelled
    ``reference`` table, and make it the champion.

    ``holdout``: a labelled table the model did not learn from, which its reference
    metrics are measured on (without it, on ``reference``, with a warning).
    ``calibrate_on``: a labelled table the model did not learn from; a classifier is
    calibrated on it as ``build`` calibrates (:func:`leanloop.build.served.calibrate_model`;
    the reference data cannot serve, the model learned from it).

    A model that names its features (``feature_names_in_``) narrows the project's
    schema to them, in ``leanloop.toml`` too.
    """
    require_predict(model, name)
    require_probabilities(model, ws.config.kpi, ws.config.data.task.value)
    reference = Path(reference)
    frame = _labelled(ws, reference)
    expected = [str(n) for n in getattr(model, "feature_names_in_", [])]
    if expected:
        config = ws.config
        missing = [n for n in expected if n not in config.schema_.names]
        if missing:
            raise DataError(f"the model expects features {missing} that the reference data lacks; "
                            f"the data has {config.schema_.names}")
        schema = Schema(features=[config.schema_.feature(n) for n in expected])
        ws.paths.config.write_text(render_config(config.model_copy(update={"schema_": schema})), encoding="utf-8")
        ws.config = load_config(ws.paths.root)
    config = ws.config
    y = normalize_target(frame[config.data.target], config.data.task)
    baseline = make_baseline(config.data.task).fit(config.schema_.model_frame(frame, reference.name), y)
    test = frame if holdout is None else _labelled(ws, Path(holdout))
    calibration = None
    if calibrate_on is not None:
        model, calibration = _calibrate_adopted(ws, model, Path(calibrate_on))
    record = register_version(
        ws, served_model(model, config.kpi, config.data.task.value), baseline, calibration=calibration,
        train=frame, test=test, source="adopt", parent=ws.store.get_alias("champion"),
        input_format=InputFormat.NATIVE, trusted=trust,
        warnings=(optimistic_reference(reference.name),) if holdout is None else (),
    )
    ws.registry.promote(record.version)
    return record
