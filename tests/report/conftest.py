"""A small real project with a few real cycles, built once for the report tests.

Windows of the bundled car-loan data are served through the app and labelled (80 %),
then measured by real cycles: two on the reference period, two on the drifted period
(which retrain), a manual promotion of the newest challenger and one more cycle, so the
ledger holds cycles, a challenger judged by the gate, and a marked promotion.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
from fastapi.testclient import TestClient

from leanloop.config import render_config
from leanloop.datasets import CarLoan
from leanloop.project import Project
from leanloop.serve import create_app
from leanloop.serve.security import bearer

WINDOW = 1500


def serve_and_label(project: Project, frame: pd.DataFrame, share: float = 0.8) -> None:
    """Post ``frame`` to /predict, then the labels of the first ``share`` of it to /feedback."""
    features = project.config.schema_.names
    with TestClient(create_app(project), headers=bearer(project)) as client:
        answers = []
        for start in range(0, len(frame), 500):
            rows = frame.iloc[start:start + 500][features].to_dict("records")
            answers += client.post("/predict", json={"rows": rows}).json()["predictions"]
        labels = [{"prediction_id": a["prediction_id"], "label": int(y)}
                  for a, y in zip(answers, frame["repaid"], strict=True)][: int(len(answers) * share)]
        assert client.post("/feedback", json={"feedback": labels}).status_code == 200


def make_project(root: Path, csv: Path) -> Project:
    created = Project.init(csv, target="repaid", time_column="timestamp", id_column="id", root=root)
    config = created.config.model_copy(update={
        "policy": created.config.policy.model_copy(update={"min_rows": 500, "min_labels": 300, "max_kpi_drop": 0.0,
                                                           "max_metric_drop": 0.0, "cooldown_cycles": 0}),
        "model": created.config.model.model_copy(update={"max_iter": 30}),
    })
    created.paths.config.write_text(render_config(config), encoding="utf-8")
    created.close()
    project = Project(root)
    project.build()
    return project


@pytest.fixture(scope="package")
def report_project(tmp_path_factory: pytest.TempPathFactory, car_loan_data: CarLoan) -> Iterator[Project]:
    folder = tmp_path_factory.mktemp("report")
    csv = folder / "loans.csv"
    car_loan_data.reference.head(6000).to_csv(csv, index=False)
    project = make_project(folder / "p", csv)
    analysis = car_loan_data.analysis.merge(car_loan_data.analysis_targets, on="id")
    analysis = analysis.sort_values("timestamp", kind="stable").reset_index(drop=True)
    starts = [0, 5000, 30000, 36000]
    for start in starts:
        serve_and_label(project, analysis.iloc[start:start + WINDOW])
        project.cycle(last=WINDOW)
    challengers = [c["challenger"] for c in project.store.cycles() if c.get("challenger")]
    champion = project.store.get_alias("champion")
    # a manual promotion for the report to mark: the last challenger, or (when the loop
    # already promoted it) the version before it
    others = [v for v in [*challengers[::-1], "v1"] if v != champion]
    if challengers and others:
        project.promote(others[0], reason="tests: mark a promotion")
    serve_and_label(project, analysis.iloc[42000:42000 + WINDOW])
    project.cycle(last=WINDOW)
    yield project
    project.close()
