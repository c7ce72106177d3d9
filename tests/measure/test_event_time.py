"""Windows by event time: a replayed history sent in one burst is binned by when its rows
happened, a late event lands in its own period, and --since/--until go by event time."""

from __future__ import annotations

import json
from pathlib import Path

from fastapi.testclient import TestClient

from leanloop.config import TimeBasis, render_config
from leanloop.project import Project
from leanloop.serve import create_app
from tests.conftest import small_built_project

DAY = 86_400.0
START = 1_714_521_600.0  # 2024-05-01T00:00:00Z


def lean(project: Project, **measure: object) -> Project:
    """The project with the costly parts of a measurement off (they are not under test here)."""
    config = project.config
    config = config.model_copy(update={
        "measure": config.measure.model_copy(update=measure),
        "multivariate": config.multivariate.model_copy(update={"enabled": False}),
        "stream": config.stream.model_copy(update={"enabled": False}),
        "performance": config.performance.model_copy(update={"estimate": False}),
    })
    project.paths.config.write_text(render_config(config), encoding="utf-8")
    project.close()
    return Project(project.paths.root)


def test_replayed_days_bin_by_event_time_and_a_late_event_keeps_its_day(tmp_path: Path, car_loan_data) -> None:
    project = lean(small_built_project(tmp_path, car_loan_data))
    names = project.config.schema_.names
    rows = json.loads(car_loan_data.analysis.head(301)[names].to_json(orient="records"))
    for k, row in enumerate(rows[:300]):  # three days of history, replayed now in a few requests
        row["timestamp"] = START + (k // 100) * DAY + k
    rows[300]["timestamp"] = "2024-05-01T18:00:00+00:00"  # a late event of the first day, sent last
    with TestClient(create_app(project)) as client:
        for start in range(0, 301, 100):
            assert client.post("/predict", json={"rows": rows[start:start + 100]}).status_code == 200

    by_event = project.measure(last=301, period="1D", save=False)
    assert [(c.period, c.rows) for c in by_event.chunks or []] == [
        ("2024-05-01T00:00:00+00:00", 101), ("2024-05-02T00:00:00+00:00", 100), ("2024-05-03T00:00:00+00:00", 100)]
    assert by_event.window.start == "2024-05-01T00:00:00+00:00"
    day_two = project.measure(since=START + DAY, until=START + 2 * DAY, save=False)
    assert day_two.window.rows == 100
    assert project.by_event and project.window(last=1)["event_at"].tolist() == [START + 2 * DAY + 299]

    with lean(project, time=TimeBasis.ARRIVAL) as by_arrival:
        assert len(by_arrival.measure(last=301, period="1D", save=False).chunks or []) == 1  # all arrived today
