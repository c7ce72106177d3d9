"""Model switches under load, on a real server with two worker processes: 20 promotions
while clients keep sending requests; no request fails, and every logged row names the
version that answered it."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import httpx
import pandas as pd
import pytest

from leanloop.build.train import train_version
from leanloop.config import render_config
from leanloop.demo import free_port, running_server
from leanloop.project import Project

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

FEATURES = ["car_value", "salary_range", "debt_to_income_ratio", "loan_length",
            "repaid_loan_on_prev_car", "size_of_downpayment", "driver_tenure"]


@pytest.fixture
def two_versions(tmp_path: Path, car_loan_csv: Path) -> Project:
    root = tmp_path / "p"
    created = Project.init(car_loan_csv, target="repaid", time_column="timestamp", id_column="id", root=root)
    config = created.config.model_copy(update={
        "model": created.config.model.model_copy(update={"max_iter": 20}),
        "serve": created.config.serve.model_copy(update={"model_refresh_seconds": 0.05}),
    })
    created.paths.config.write_text(render_config(config), encoding="utf-8")
    created.close()
    project = Project(root)
    project.build()
    reference = pd.read_csv(project.data_path())
    train_version(project.workspace, train=reference.iloc[:2000],
                  test=reference.iloc[4000:], source="build", parent="v1", alias=None)
    yield project
    project.close()


def test_twenty_switches_under_load(two_versions: Project, car_loan_data: object) -> None:
    project = two_versions
    rows = car_loan_data.reference.head(8)[FEATURES].to_dict("records")
    answered: list[tuple[str, str]] = []  # (prediction id, version that answered)
    failures: list[str] = []
    stop = threading.Event()

    def client_loop(url: str) -> None:
        with httpx.Client(base_url=url, timeout=30.0) as client:
            while not stop.is_set():
                try:
                    response = client.post("/predict", json={"rows": rows})
                except httpx.HTTPError as exc:
                    failures.append(repr(exc))
                    continue
                if response.status_code != 200:
                    failures.append(f"{response.status_code} {response.text[:200]}")
                    continue
                body = response.json()
                answered.extend((p["prediction_id"], body["model_version"]) for p in body["predictions"])

    with running_server(project.paths.root, free_port(), workers=2, timeout=180) as url:
        threads = [threading.Thread(target=client_loop, args=(url,)) for _ in range(4)]
        for thread in threads:
            thread.start()
        try:
            for switch in range(20):
                project.registry.promote("v2" if switch % 2 == 0 else "v1")
                time.sleep(0.25)
        finally:
            stop.set()
            for thread in threads:
                thread.join()

    assert failures == []
    versions = {version for _, version in answered}
    assert versions == {"v1", "v2"}, "both versions answered during the switches"
    logged = project.store.window().set_index("prediction_id")["model_version"]
    assert len(logged) == len(answered)
    assert all(logged[pid] == version for pid, version in answered)
