"""Adopt: bring your own fitted scikit-learn-compatible model into the loop.

The model file is read safely: a skops file loads when every type and function it
names is on the allow-list of :mod:`leanloop.model_files` (anything else needs
``trust``), and nothing is scored before that check; a pickle or joblib file can
run code when loaded, so it is read only with ``trust`` and a warning. The model is
then re-saved with skops, evaluated on the labelled reference data (which also
becomes its drift reference), and registered as champion beside a trivial baseline.
The model receives features in their native types (see :func:`leanloop.scoring.model_input`).
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any

from leanloop.errors import ArtifactError, DataError, InputError

if TYPE_CHECKING:
    from leanloop.config import Task
    from leanloop.registry import ModelVersion

__all__ = ["load_user_model", "adopt_model"]

_PICKLES = {".pkl", ".pickle", ".joblib"}


def load_user_model(path: Path, *, trust: bool) -> Any:
    """Read a user's model file: skops safely, pickle/joblib only with ``trust``."""
    from leanloop.model_files import load_model_bytes

    path = Path(path)
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
    raise InputError(f"cannot read model file {path.name!r}: expected .skops (or .pkl/.joblib with --trust)")


def adopt_model(model_path: Path, *, reference: Path, target: str, root: Path, trust: bool = False,
                task: Task | None = None, time_column: str | None = None,
                id_column: str | None = None) -> ModelVersion:
    """Register a user's model in the project at ``root`` (created from ``reference`` if absent)."""
    from leanloop.build.pipeline import make_baseline
    from leanloop.build.train import register_version
    from leanloop.config import CONFIG_FILE, render_config
    from leanloop.data import read_table
    from leanloop.project import Project
    from leanloop.schema import Schema
    from leanloop.scoring import InputFormat
    from leanloop.target import normalize_target

    model = load_user_model(model_path, trust=trust)
    if not hasattr(model, "predict"):
        raise InputError(f"{Path(model_path).name} holds a {type(model).__name__}, which has no predict(); "
                         "adopt a fitted scikit-learn-compatible estimator or pipeline")
    root = Path(root)
    created = not (root / CONFIG_FILE).exists()
    project = Project.init(reference, target=target, task=task, time_column=time_column,
                           id_column=id_column, root=root) if created else Project(root)
    try:
        config = project.config
        if config.data.target != target:
            raise DataError(f"the project at {root} predicts {config.data.target!r}, not {target!r}")
        expected = [str(n) for n in getattr(model, "feature_names_in_", [])]
        if expected:
            missing = [n for n in expected if n not in config.schema_.names]
            if missing:
                raise DataError(f"the model expects features {missing} that the reference data lacks; "
                                f"the data has {config.schema_.names}")
            schema = Schema(features=[config.schema_.feature(n) for n in expected])
            config = config.model_copy(update={"schema_": schema})
            project.paths.config.write_text(render_config(config), encoding="utf-8")
            project.close()
            project = Project(root)
            config = project.config
        frame = read_table(reference)
        y = normalize_target(frame[target], config.data.task)
        baseline = make_baseline(config.data.task).fit(config.schema_.model_frame(frame, Path(reference).name), y)
        registry = project.registry
        record = register_version(
            config, project.paths, registry, model, baseline, train=frame, test=frame, source="adopt",
            parent=registry.store.get_alias("champion"), input_format=InputFormat.NATIVE, trusted=trust,
        )
        registry.promote(record.version)
        return record
    except BaseException:
        if created:  # leave no half-made project behind: the user can simply retry
            import shutil

            project.close()
            project.paths.config.unlink(missing_ok=True)
            shutil.rmtree(project.paths.workspace, ignore_errors=True)
        raise
    finally:
        project.close()
