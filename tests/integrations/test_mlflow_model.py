"""Adopting a model folder that MLflow itself saved (its scikit-learn flavour), safely."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer, StandardScaler
from typer.testing import CliRunner

from leanloop.build.adopt import load_user_model
from leanloop.cli import app
from leanloop.errors import ArtifactError, InputError
from leanloop.project import Project

NUMERIC = ["car_value", "debt_to_income_ratio", "loan_length", "driver_tenure", "repaid_loan_on_prev_car"]


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, list(args))
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory, car_loan_data: object) -> Path:
    path = tmp_path_factory.mktemp("ref") / "loans.csv"
    car_loan_data.reference.head(3000).to_csv(path, index=False)  # type: ignore[attr-defined]
    return path


@pytest.fixture(scope="module")
def saved(tmp_path_factory: pytest.TempPathFactory, reference: Path) -> dict[str, object]:
    """One fitted pipeline, saved by MLflow in each of its three formats."""
    import mlflow.sklearn

    frame = pd.read_csv(reference)
    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=500)).fit(frame[NUMERIC], frame["repaid"])
    folder = tmp_path_factory.mktemp("mlflow")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # MLflow's own note that pickle formats are unsafe
        for fmt in ("skops", "cloudpickle", "pickle"):
            # pip_requirements given: MLflow would otherwise infer them in a subprocess (seconds)
            mlflow.sklearn.save_model(model, folder / fmt, serialization_format=fmt, pip_requirements=["scikit-learn"])
    return {"model": model, "frame": frame, "folder": folder}


def test_adopt_an_mlflow_skops_model_without_trust(tmp_path: Path, reference: Path, saved: dict) -> None:
    folder, model, frame = saved["folder"] / "skops", saved["model"], saved["frame"]
    assert (folder / "MLmodel").is_file() and (folder / "model.skops").is_file()
    root = tmp_path / "p"
    code, out, err = run("adopt", str(folder), "--reference", str(reference), "--target", "repaid",
                         "--dir", str(root), "--json")
    assert code == 0, err
    body = json.loads(out)
    expected = (model.predict(frame[NUMERIC]) == frame["repaid"]).mean()
    assert body["version"] == "v1" and body["metrics"]["accuracy"] == pytest.approx(expected, abs=1e-12)
    with Project(root) as project:
        record = project.registry.champion()
        assert (record.source, record.trusted, record.input_format) == ("adopt", False, "native")
        assert project.config.schema_.names == NUMERIC  # narrowed to the features the model names
        served, _ = project.registry.load("v1")
    assert served.predict_proba(frame[NUMERIC]).tolist() == model.predict_proba(frame[NUMERIC]).tolist()


@pytest.mark.parametrize("fmt", ["cloudpickle", "pickle"])
def test_a_pickled_mlflow_model_needs_trust_then_becomes_a_skops_version(fmt: str, tmp_path: Path, reference: Path,
                                                                       saved: dict) -> None:
    folder, model, frame = saved["folder"] / fmt, saved["model"], saved["frame"]
    root = tmp_path / "p"
    code, _, err = run("adopt", str(folder), "--reference", str(reference), "--target", "repaid", "--dir", str(root))
    text = " ".join(err.split())
    assert code == 2 and f"saved with {fmt}" in text and "--trust" in text and "serialization_format='skops'" in text
    assert not (root / "leanloop.toml").exists()  # refused before anything was made
    with pytest.warns(UserWarning, match=f"with {fmt} because --trust was given"):
        code, _, err = run("adopt", str(folder / "MLmodel"), "--reference", str(reference), "--target", "repaid",
                             "--dir", str(root), "--trust", "--json")
    assert code == 0, err
    with Project(root) as project:
        record = project.registry.champion()
        assert record.trusted and record.artifact == "v1.skops"
        served, _ = project.registry.load("v1")
    assert served.predict(frame[NUMERIC]).tolist() == model.predict(frame[NUMERIC]).tolist()


def test_a_skops_file_cannot_vouch_for_itself(tmp_path: Path) -> None:
    """skops_trusted_types in MLmodel are ignored: leanloop's allow-list decides."""
    import mlflow.sklearn

    hostile = FunctionTransformer(func=eval)
    mlflow.sklearn.save_model(hostile, tmp_path / "m", serialization_format="skops", pip_requirements=["skops"],
                              skops_trusted_types=["builtins.eval"])
    assert "builtins.eval" in (tmp_path / "m" / "MLmodel").read_text()
    with pytest.raises(ArtifactError, match=r"not on leanloop's allow-list.*builtins\.eval"):
        load_user_model(tmp_path / "m", trust=False)


def _folder(root: Path, mlmodel: str, files: dict[str, bytes] | None = None) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "MLmodel").write_text(mlmodel, encoding="utf-8")
    for name, data in (files or {}).items():
        (root / name).write_bytes(data)
    return root


@pytest.mark.parametrize(("mlmodel", "files", "error", "match"), [
    ("flavors:\n  python_function:\n    loader_module: mlflow.pyfunc.model\n", {}, InputError,
     r"has no scikit-learn flavour \(it has: \['python_function'\]\)"),
    ("flavors:\n  sklearn:\n    pickled_model: ../outside.pkl\n    serialization_format: pickle\n", {},
     ArtifactError, "outside its folder; refused"),
    ("flavors:\n  sklearn:\n    pickled_model: model.pkl\n    serialization_format: marshal\n",
     {"model.pkl": b"x"}, InputError, "serialization_format 'marshal' is not one of skops, cloudpickle, pickle"),
    ("flavors:\n  sklearn:\n    pickled_model: model.pkl\n", {}, InputError,
     "names the model file 'model.pkl', which is not in"),
    ("flavors: [unclosed\n", {}, InputError, "is not a readable MLmodel file"),
    ("- a list\n", {}, InputError, "expected a YAML mapping"),
    ("flavors:\n  sklearn:\n    pickled_model: model.skops\n    serialization_format: skops\n",
     {"model.skops": b"\x80\x05N."}, ArtifactError, "is not a skops file"),
])
def test_bad_mlflow_folders_are_refused_with_the_reason(tmp_path: Path, mlmodel: str, files: dict[str, bytes],
                                                        error: type[Exception], match: str) -> None:
    folder = _folder(tmp_path / "m", mlmodel, files)
    with pytest.raises(error, match=match):
        load_user_model(folder, trust=True)


def test_a_folder_without_mlmodel_is_not_a_model(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="is a folder without an MLmodel file"):
        load_user_model(tmp_path, trust=False)


def test_an_unknown_pickled_module_names_the_module(tmp_path: Path) -> None:
    import pickle

    # a pickle that imports a module this machine lacks (as a model shipping its own code/ would)
    data = pickle.dumps(None).replace(b"N.", b"cno_such_module_xyz\nThing\n)R.", 1)
    folder = _folder(tmp_path / "m", "flavors:\n  sklearn:\n    pickled_model: model.pkl\n"
                                     "    serialization_format: cloudpickle\n", {"model.pkl": data})
    missing = pytest.raises(ArtifactError, match="needs the module 'no_such_module_xyz'")
    with pytest.warns(UserWarning, match="because --trust"), missing:
        load_user_model(folder, trust=True)
