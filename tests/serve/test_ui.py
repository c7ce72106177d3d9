"""The dashboard and the loop's gauges on a project that has not run a cycle yet: every
page answers (with what there is), nothing fails."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient

from leanloop.serve import create_app
from tests.serve.conftest import small_project


def test_a_project_without_cycles_has_a_dashboard(tmp_path: Path, car_loan_data) -> None:
    project = small_project(tmp_path, car_loan_data)
    try:
        with TestClient(create_app(project)) as client:
            overview = client.get("/ui")
            assert overview.status_code == 200 and "v1" in overview.text and 'id="traffic"' in overview.text
            assert client.get("/ui/cycles").status_code == 200
            models = client.get("/ui/models")
            assert models.status_code == 200 and "<b>v1</b>" in models.text
            missing = client.get("/ui/features/car_value")
            assert missing.status_code == 404 and "leanloop cycle" in missing.json()["detail"][0]
            metrics = client.get("/metrics").text
            assert "leanloop_loop_read_ok 1.0" in metrics and 'leanloop_loop_champion_info{version="v1"} 1.0' in metrics
            assert "leanloop_loop_last_cycle " not in metrics  # no cycle, no figure of one
    finally:
        project.close()
