"""The bearer token: made by init (0600), printed by the CLI, overridden by the environment,
required by write endpoints, and without one the write endpoints are off, not open."""

from __future__ import annotations

import stat

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from leanloop.cli import app as cli
from leanloop.project import Project
from leanloop.serve import create_app
from leanloop.serve.security import TOKEN_FILE, resolve_token

from .conftest import ROW


def test_init_writes_a_private_random_token_and_the_cli_prints_it(project: Project, token: str) -> None:
    path = project.paths.workspace / TOKEN_FILE
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert len(token) >= 40
    printed = CliRunner().invoke(cli, ["token", "--dir", str(project.paths.root)], env={"LEANLOOP_TOKEN": ""})
    assert printed.exit_code == 0 and printed.stdout.strip() == token


def test_token_rotation_and_missing_token(tmp_path, project: Project) -> None:
    copy = tmp_path / "p"
    (copy / ".leanloop").mkdir(parents=True)
    (copy / "leanloop.toml").write_text(project.paths.config.read_text())
    missing = CliRunner().invoke(cli, ["token", "--dir", str(copy)], env={"LEANLOOP_TOKEN": ""})
    assert missing.exit_code == 2 and "has no token" in missing.stderr
    first = CliRunner().invoke(cli, ["token", "--new", "--dir", str(copy)]).stdout.strip()
    second = CliRunner().invoke(cli, ["token", "--new", "--dir", str(copy)]).stdout.strip()
    assert first != second and resolve_token(copy / ".leanloop", environ={}) == second


def test_environment_overrides_the_file(project: Project) -> None:
    assert resolve_token(project.paths.workspace, environ={"LEANLOOP_TOKEN": "from-env"}) == "from-env"


@pytest.mark.parametrize("header", [None, "Bearer wrong", "Basic abc", "Bearer ", "bearer"])
def test_write_endpoints_need_the_right_token(client: TestClient, project: Project, header: str | None) -> None:
    pid = client.post("/predict", json={"rows": [ROW]}).json()["predictions"][0]["prediction_id"]
    headers = {"Authorization": header or ""}  # replaces the client's own token
    feedback = client.post("/feedback", json={"feedback": [{"prediction_id": pid, "label": 1}]}, headers=headers)
    assert feedback.status_code == 401 and feedback.headers["www-authenticate"] == "Bearer"
    assert "leanloop token" in feedback.json()["detail"][0]
    assert client.get(f"/predictions/{pid}", headers=headers).status_code == 401
    assert client.post("/predict", json={"rows": [ROW]}, headers=headers).status_code == 200  # predict_auth is off
    assert project.store.get_prediction(pid)["label"] is None


def test_without_a_token_write_endpoints_are_off(project: Project, token: str) -> None:
    with TestClient(create_app(project, token=None)) as client:
        pid = client.post("/predict", json={"rows": [ROW]}).json()["predictions"][0]["prediction_id"]
        for headers in ({}, {"Authorization": f"Bearer {token}"}):
            response = client.post("/feedback", json={"feedback": [{"prediction_id": pid, "label": 1}]},
                                   headers=headers)
            assert response.status_code == 403
            assert "write endpoints are off" in response.json()["detail"][0]
        assert "no_token_configured" in client.get("/metrics").text


def test_predict_auth_can_be_required(project: Project, token: str) -> None:
    original = project.config
    project.config = original.model_copy(update={"serve": original.serve.model_copy(update={"predict_auth": True})})
    try:
        with TestClient(create_app(project)) as client:
            assert client.post("/predict", json={"rows": [ROW]}).status_code == 401
            ok = client.post("/predict", json={"rows": [ROW]}, headers={"Authorization": f"Bearer {token}"})
            assert ok.status_code == 200
    finally:
        project.config = original


def test_get_prediction_returns_the_record_and_its_feedback(client: TestClient) -> None:
    answer = client.post("/predict", json={"rows": [ROW]}).json()
    pid = answer["predictions"][0]["prediction_id"]
    record = client.get(f"/predictions/{pid}").json()
    assert record["prediction_id"] == pid and record["model_version"] == answer["model_version"]
    assert record["features"] == {**ROW, "car_value": 30000.0, "loan_length": 12.0}
    assert record["prediction"] == answer["predictions"][0]["prediction"]
    assert record["probabilities"] == answer["predictions"][0]["probabilities"]
    assert record["feedback"] is None and record["created_at"].endswith("+00:00")
    assert client.post("/feedback", json={"feedback": [{"prediction_id": pid, "label": 1}]}).status_code == 200
    assert client.get(f"/predictions/{pid}").json()["feedback"]["label"] == 1
    assert client.get("/predictions/" + "0" * 32).status_code == 404
    assert client.get("/predictions/a%00b").status_code == 422


def test_no_unsafe_calls_outside_the_trust_path() -> None:
    """Source scan: no pickle/joblib loads, eval/exec, unsafe yaml or allow_pickle outside
    the explicit ``adopt --trust`` path."""
    import re
    from pathlib import Path

    root = Path(__file__).resolve().parents[2] / "src" / "leanloop"
    # adopt --trust: a pickle/joblib file, or an MLflow folder saved with (cloud)pickle
    allowed = {root / "build" / "adopt.py": {"joblib.load"}, root / "integrations" / "mlflow_model.py": {"pickle.load"}}
    patterns = {"pickle.load": r"\bpickle\.loads?\(", "joblib.load": r"\bjoblib\.load\(", "eval": r"(?<![\w.])eval\(",
                "exec": r"(?<![\w.])exec\(", "yaml.load": r"\byaml\.load\((?![^)]*SafeLoader)",
                "yaml.unsafe_load": r"\byaml\.unsafe_load\(", "allow_pickle": r"allow_pickle\s*=\s*True",
                "dill/cloudpickle": r"\b(dill|cloudpickle)\.loads?\(", "torch.load": r"\btorch\.load\("}
    found = []
    for path in root.rglob("*.py"):
        text = path.read_text(encoding="utf-8")
        for name, pattern in patterns.items():
            if re.search(pattern, text) and name not in allowed.get(path, set()):
                found.append(f"{path.relative_to(root)}: {name}")
    assert found == []
    assert re.search(patterns["joblib.load"], (root / "build" / "adopt.py").read_text())  # the scan does see it
