"""Promote and rollback over HTTP: token-protected, written to the ledger, picked up by
the running app without a restart."""

from __future__ import annotations

import time

from fastapi.testclient import TestClient

from leanloop.serve import create_app
from leanloop.serve.security import bearer

from .conftest import ROW, small_project


def test_promote_and_rollback_endpoints(tmp_path, car_loan_data) -> None:
    project = small_project(tmp_path, car_loan_data, model_refresh_seconds=0.05)
    project.build()  # v2 is champion, v1 previous
    with TestClient(create_app(project), raise_server_exceptions=False) as anonymous:
        assert anonymous.post("/rollback", json={}).status_code == 401
        assert anonymous.post("/promote", json={"version": "v1"}).status_code == 401
        assert project.store.aliases()["champion"] == "v2"
    with TestClient(create_app(project), headers=bearer(project), raise_server_exceptions=False) as client:
        assert client.post("/promote", json={"version": "../etc"}).status_code == 422
        missing = client.post("/promote", json={"version": "v9"})
        assert missing.status_code == 404 and "v9" in str(missing.json()["detail"])
        assert client.post("/promote", json={"version": "v2"}).status_code == 422  # already the champion
        event = client.post("/rollback", json={"reason": "canary failed"}).json()
        assert (event["kind"], event["champion_before"], event["champion_after"], event["reason"]) == (
            "rollback", "v2", "v1", "canary failed")
        deadline = time.monotonic() + 10
        while client.post("/predict", json={"rows": [ROW]}).json()["model_version"] != "v1":
            assert time.monotonic() < deadline, "the app did not switch to v1"
            time.sleep(0.05)
        assert client.post("/promote", json={"version": "v2"}).json()["champion_after"] == "v2"
    assert [(e["kind"], e["reason"]) for e in project.history()] == [("rollback", "canary failed"), ("promote", "http")]
    project.close()


def test_reload_switches_at_once_and_needs_the_token(tmp_path, car_loan_data) -> None:
    project = small_project(tmp_path, car_loan_data, model_refresh_seconds=3600.0)  # never on its own
    with TestClient(create_app(project), raise_server_exceptions=False) as anonymous:
        assert anonymous.post("/reload").status_code == 401
    with TestClient(create_app(project), headers=bearer(project), raise_server_exceptions=False) as client:
        assert client.post("/predict", json={"rows": [ROW]}).json()["model_version"] == "v1"
        project.build()  # v2 becomes the champion in the registry
        assert client.post("/predict", json={"rows": [ROW]}).json()["model_version"] == "v1"
        assert client.post("/reload").json() == {"model_version": "v2", "shadow": None, "load_error": None}
        assert client.post("/predict", json={"rows": [ROW]}).json()["model_version"] == "v2"
    project.close()
