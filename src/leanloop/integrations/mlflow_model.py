"""An MLflow model directory of the scikit-learn flavour, read as safely as a skops file.

MLflow saves a model as a folder: an ``MLmodel`` file (YAML) naming its flavours, and
for the ``sklearn`` flavour the model file and how it was serialized
(``serialization_format``: ``skops``, ``cloudpickle`` or ``pickle``). leanloop reads
that folder itself instead of calling ``mlflow.sklearn.load_model``, so the same rules
hold as for any model file (:mod:`leanloop.model_files`):

- ``skops``: loaded when every type and function it names is on leanloop's allow-list,
  otherwise only with ``trust``. The ``skops_trusted_types`` the ``MLmodel`` file lists
  are ignored: a file cannot vouch for itself.
- ``pickle`` and ``cloudpickle`` can run any code when loaded: refused without
  ``trust``, loaded with it (and a warning).

The ``MLmodel`` file is parsed with YAML's safe loader and must name a model file
inside the folder. Code the model ships in ``code/`` is never put on ``sys.path``.

Examples
--------
>>> import tempfile, pathlib
>>> folder = pathlib.Path(tempfile.mkdtemp())
>>> _ = (folder / "MLmodel").write_text(
...     "flavors:\\n  sklearn:\\n    pickled_model: model.pkl\\n    serialization_format: cloudpickle\\n")
>>> _ = (folder / "model.pkl").write_bytes(b"\\x80\\x05N.")
>>> flavor = read_mlmodel(folder)
>>> flavor.model_file.name, flavor.serialization_format
('model.pkl', 'cloudpickle')
>>> is_mlflow_model(folder), is_mlflow_model(folder / "model.pkl")
(True, False)
"""

from __future__ import annotations

import pickle
import warnings
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, ValidationError

from leanloop.errors import ArtifactError, InputError
from leanloop.model_files import load_model_bytes
from leanloop.registry import MAX_ARTIFACT_BYTES

__all__ = ["MLMODEL", "SklearnFlavor", "is_mlflow_model", "read_mlmodel", "load_mlflow_model"]

#: The file that makes a folder an MLflow model.
MLMODEL = "MLmodel"
#: An ``MLmodel`` file is a few hundred bytes; a larger one is refused unread.
_MAX_MLMODEL_BYTES = 1 << 20


class SklearnFlavor(BaseModel):
    """What the ``sklearn`` flavour of an ``MLmodel`` file says about the model file."""

    model_config = ConfigDict(frozen=True)

    folder: Path
    model_file: Path
    serialization_format: Literal["skops", "cloudpickle", "pickle"]
    sklearn_version: str | None = None
    mlflow_version: str | None = None


def is_mlflow_model(path: Path) -> bool:
    """Whether ``path`` is an MLflow model: a folder holding ``MLmodel``, or that file."""
    path = Path(path)
    return (path.is_dir() and (path / MLMODEL).is_file()) or (path.name == MLMODEL and path.is_file())


def _parse(path: Path) -> dict[str, Any]:
    try:
        import yaml
    except ImportError as exc:
        raise InputError("reading an MLflow model folder needs PyYAML, which the mlflow extra installs: "
                         "pip install 'leanloop[mlflow]'") from exc
    if path.stat().st_size > _MAX_MLMODEL_BYTES:
        raise ArtifactError(f"{path} is over {_MAX_MLMODEL_BYTES} bytes, too large for an MLmodel file; refused")
    try:
        body = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise InputError(f"{path} is not a readable MLmodel file (YAML): {exc}") from exc
    if not isinstance(body, dict):
        raise InputError(f"{path} is not an MLmodel file: expected a YAML mapping with 'flavors'")
    return body


def read_mlmodel(path: Path) -> SklearnFlavor:
    """The ``sklearn`` flavour of the MLflow model at ``path`` (the folder or its ``MLmodel``).

    Refuses a model without that flavour (naming the ones it has), a model file outside
    the folder, and an unknown serialization format.
    """
    path = Path(path)
    folder = path.parent if path.name == MLMODEL and path.is_file() else path
    if not (folder / MLMODEL).is_file():
        raise InputError(f"{folder} has no {MLMODEL} file, so it is not an MLflow model folder; give the folder "
                         "mlflow.sklearn.save_model wrote (or one downloaded with mlflow artifacts download)")
    body = _parse(folder / MLMODEL)
    flavors: dict[str, Any] = body["flavors"] if isinstance(body.get("flavors"), dict) else {}
    sklearn = flavors.get("sklearn")
    if not isinstance(sklearn, dict):
        raise InputError(f"the MLflow model in {folder} has no scikit-learn flavour (it has: {sorted(flavors)}); "
                         "leanloop adopts models saved with mlflow.sklearn.save_model or mlflow.sklearn.log_model")
    name = sklearn.get("pickled_model")
    if not isinstance(name, str) or not name:
        raise InputError(f"{folder / MLMODEL}: the sklearn flavour names no model file (pickled_model)")
    root = folder.resolve()
    model_file = (root / name).resolve()
    if not model_file.is_relative_to(root) or model_file == root:
        raise ArtifactError(f"{folder / MLMODEL} names the model file {name!r}, outside its folder; refused")
    if not model_file.is_file():
        raise InputError(f"{folder / MLMODEL} names the model file {name!r}, which is not in {folder}")
    try:
        return SklearnFlavor(folder=folder, model_file=model_file,
                             serialization_format=sklearn.get("serialization_format") or "pickle",
                             sklearn_version=_text(sklearn.get("sklearn_version")),
                             mlflow_version=_text(body.get("mlflow_version")))
    except ValidationError:
        raise InputError(f"{folder / MLMODEL}: serialization_format {sklearn.get('serialization_format')!r} is not "
                         "one of skops, cloudpickle, pickle") from None


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


def _check_version(flavor: SklearnFlavor) -> None:
    """Warn when the model was saved by another scikit-learn than the one that will run it."""
    import sklearn

    if flavor.sklearn_version and flavor.sklearn_version != sklearn.__version__:
        warnings.warn(f"the MLflow model in {flavor.folder} was saved with scikit-learn {flavor.sklearn_version}; "
                      f"this is {sklearn.__version__}, so its predictions may differ. Check them on the reference "
                      "data, or save the model again with this version", stacklevel=3)


def load_mlflow_model(path: Path, *, trust: bool) -> Any:
    """Load the scikit-learn model of the MLflow model folder at ``path``.

    A skops file loads against the allow-list (any skops file with ``trust``); a pickle
    or cloudpickle file only with ``trust``, with a warning.
    """
    flavor = read_mlmodel(path)
    size = flavor.model_file.stat().st_size
    if size > MAX_ARTIFACT_BYTES:
        raise ArtifactError(f"{flavor.model_file} is {size} bytes, over the cap of {MAX_ARTIFACT_BYTES}; refused")
    _check_version(flavor)
    shown = f"{flavor.folder.name}/{flavor.model_file.name}"
    if flavor.serialization_format == "skops":
        return load_model_bytes(flavor.model_file.read_bytes(), shown, trust)
    if not trust:
        raise ArtifactError(
            f"the MLflow model in {flavor.folder} was saved with {flavor.serialization_format} ({shown}), which can "
            "run arbitrary code when loaded; nothing was loaded. Save it with skops instead "
            "(mlflow.sklearn.save_model(model, path, serialization_format='skops')), or pass --trust if you made "
            "this model yourself")
    warnings.warn(f"loading {shown} with {flavor.serialization_format} because --trust was given; only do this "
                  "for models you made", stacklevel=2)
    try:
        with open(flavor.model_file, "rb") as handle:
            # cloudpickle writes plain pickle streams (its load is pickle.load); functions it
            # pickled by value import cloudpickle's helpers by name, as any pickle would.
            return pickle.load(handle)
    except ModuleNotFoundError as exc:
        raise ArtifactError(f"{shown} needs the module {exc.name!r}, which is not installed here; install it (code "
                            "the MLflow model ships in code/ is not loaded)") from exc
    except (pickle.UnpicklingError, EOFError, AttributeError, ValueError) as exc:
        raise ArtifactError(f"{shown} is not a readable {flavor.serialization_format} file: {exc}") from exc
