"""The façade: every public method of :class:`Project` called on a small real project."""

from __future__ import annotations

import inspect
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
import skops.io as sio
from fastapi.testclient import TestClient
from sklearn.linear_model import LogisticRegression

from leanloop.config import render_config
from leanloop.errors import InputError, NotFoundError, ProjectError
from leanloop.learn.ledger import Cycle, LedgerEvent
from leanloop.project import Project
from leanloop.serve import create_app
from leanloop.serve.security import bearer
from leanloop.workspace import Workspace

FEATURES = ["car_value", "salary_range", "debt_to_income_ratio", "loan_length",
            "repaid_loan_on_prev_car", "size_of_downpayment", "driver_tenure"]
NUMERIC = ["car_value", "debt_to_income_ratio", "loan_length", "driver_tenure", "repaid_loan_on_prev_car"]

#: What ``leanloop measure --json`` prints (``chunks`` only when chunks were asked for),
#: pinned so that splitting or extending the records cannot rename or drop a key.
MEASUREMENT_KEYS = {"window", "champion", "served_by", "drift", "drifted_features", "prediction_drift",
                    "performance", "kpis", "argmax_kpis", "baseline_kpis", "reference_kpis", "chunks", "kpi_intervals",
                    "baseline_kpi_intervals", "kpi_gain", "estimated_kpis", "estimated_kpi_intervals", "quality",
                    "multivariate", "prediction_outputs", "target_drift", "stream", "segments", "segment_rows",
                    "hard_cases", "labelled_window", "kpi_attribution", "finding", "calibration",
                    "accuracy_attribution",
                    "label_rule"}
CHUNK_KEYS = {"start", "end", "rows", "labelled", "drift", "performance", "kpis", "argmax_kpis", "kpi_intervals",
              "estimated_kpis",
              "estimated_kpi_intervals", "period", "quality", "multivariate", "prediction_outputs", "target_drift",
              "coverage", "label_delay"}
PERFORMANCE_KEYS = {"realized", "baseline", "reference", "labelled", "intervals", "baseline_intervals", "estimated",
                    "estimated_intervals", "estimation_error", "estimation_method", "bootstrap_rows",
                    "estimation_rows"}


def _init(root: Path, data: Path) -> Project:
    created = Project.init(data, target="repaid", time_column="timestamp", id_column="id", root=root)
    config = created.config.model_copy(update={"model": created.config.model.model_copy(update={"max_iter": 10})})
    created.paths.config.write_text(render_config(config), encoding="utf-8")
    created.close()
    return Project(root)


@pytest.fixture(scope="module")
def loans(tmp_path_factory: pytest.TempPathFactory, car_loan_data) -> Path:
    path = tmp_path_factory.mktemp("data") / "loans.csv"
    car_loan_data.reference.head(2000).to_csv(path, index=False)
    return path


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory, loans: Path) -> Iterator[Project]:
    """A built project with 600 served predictions, all labelled."""
    project = _init(tmp_path_factory.mktemp("project") / "p", loans)
    project.build()
    yield project
    project.close()


@pytest.fixture(scope="module")
def served(project: Project, car_loan_data) -> list[str]:
    """Ids of 600 analysis rows served by the project's app (labels not sent yet)."""
    rows = car_loan_data.analysis.sort_values("timestamp", kind="stable").head(600)
    with TestClient(create_app(project), headers=bearer(project)) as client:
        body = client.post("/predict", json={"rows": rows[FEATURES].to_dict("records")}).json()
    return [p["prediction_id"] for p in body["predictions"]]


@pytest.fixture(scope="module")
def labels(car_loan_data) -> list[int]:
    rows = car_loan_data.analysis.sort_values("timestamp", kind="stable").head(600)
    return rows.merge(car_loan_data.analysis_targets, on="id", how="left")["repaid"].astype(int).tolist()


def test_the_shared_parts_are_the_workspace_s(project: Project, loans: Path) -> None:
    assert isinstance(project.workspace, Workspace)
    assert project.config is project.workspace.config and project.paths is project.workspace.paths
    assert project.store is project.workspace.store
    assert project.registry.champion().version == "v1"
    assert project.data_path() == loans.resolve()
    with Project(project.paths.root) as other:
        assert other.store.get_alias("champion") == "v1"
    assert other.workspace._store is None  # closed on leaving the block
    other.close()  # closing twice is harmless
    with pytest.raises(ProjectError, match="already exists"):
        Project.init(loans, target="repaid", root=project.paths.root)


def test_labels_from_python_and_from_a_file(project: Project, served: list[str], labels: list[int],
                                            tmp_path: Path) -> None:
    counts = project.feedback(zip(served[:300], labels[:300], strict=True), source="test")
    assert (counts.received, counts.recorded, counts.parked) == (300, 300, 0)
    with pytest.raises(InputError, match="row 1"):
        project.feedback([(served[300], 1), (served[301], "maybe")])
    path = tmp_path / "labels.csv"
    pd.DataFrame({"id": served[300:], "truth": labels[300:]}).to_csv(path, index=False)
    counts = project.feedback_file(path, id_column="id", label_column="truth")
    assert (counts.received, counts.recorded) == (300, 300)


def test_measure_learn_cycle_and_the_ledger(project: Project, served: list[str]) -> None:
    measured = project.measure(last=600, chunks=2)
    body = measured.to_json()
    assert set(body) == MEASUREMENT_KEYS and set(body["performance"]) == PERFORMANCE_KEYS
    assert [set(c) for c in body["chunks"]] == [CHUNK_KEYS, CHUNK_KEYS]
    assert body["window"]["rows"] == 600 and body["window"]["labelled"] == 600
    assert sum(c["rows"] for c in body["chunks"]) == 600
    assert set(project.measure(last=600, save=False).to_json()) == MEASUREMENT_KEYS - {"chunks"}

    learned = project.learn(act=False)
    assert learned.measurement["window"] == body["window"] and learned.challenger is None
    cycle = project.cycle(last=600)
    assert cycle.testset is not None and cycle.champion_before == "v1"
    explained = project.explain(cycle.cycle)
    assert isinstance(explained, Cycle) and explained.to_json() == cycle.to_json()
    assert f"cycle {cycle.cycle}: champion v1" in explained.explain()
    ledger = project.ledger()
    assert [type(e) for e in ledger] == [Cycle, Cycle] and ledger[-1].cycle == cycle.cycle
    assert project.history() == [e.to_json() for e in ledger]
    assert project.history()[-1]["kind"] == "cycle"
    with pytest.raises(NotFoundError, match="cycle 99 does not exist"):
        project.explain(99)


def test_the_enriched_test_set(project: Project, tmp_path: Path) -> None:
    found = project.testset()
    assert found, "the cycle copied the window's hard cases"
    reason = found[0].reason
    assert all(r.reason is reason for r in project.testset(reason=reason))
    assert project.export_testset(tmp_path / "hard.csv") == len(found)
    assert len(pd.read_csv(tmp_path / "hard.csv")) == len(found)
    assert project.prune_testset(keep=1) == len(found) - 1
    assert len(project.testset()) == 1


def test_promote_rollback_and_shadow_are_ledger_events(project: Project) -> None:
    before = len(project.ledger())
    v2 = project.build()
    assert project.registry.champion().version == v2.version == "v2"
    rolled = project.rollback(reason="canary failed")
    assert (rolled.kind, rolled.champion_after) == ("rollback", "v1")
    promoted = project.promote("v2", reason="canary fixed")
    assert (promoted.kind, promoted.champion_before, promoted.champion_after) == ("promote", "v1", "v2")
    started = project.shadow("v1")
    assert started.evidence == {"shadow": "v1"} and project.store.get_alias("shadow") == "v1"
    report = project.shadow_report()
    assert (report.shadow, report.champion, report.verdict) == ("v1", "v2", "wait")
    stopped = project.stop_shadow(reason="enough")
    assert stopped.evidence == {"shadow": "v1", "rows_scored": 0}
    events = project.ledger()[before:]
    assert all(isinstance(e, LedgerEvent) for e in events)
    assert [e.kind for e in events] == ["rollback", "promote", "shadow", "shadow_stop"]
    assert project.explain(stopped.cycle) == stopped
    assert "shadow_stop v1 (enough)" in stopped.explain()


def test_adopt_from_python_makes_the_model_champion(tmp_path: Path, loans: Path) -> None:
    frame = pd.read_csv(loans)
    model = LogisticRegression(max_iter=500).fit(frame[NUMERIC], frame["repaid"])
    sio.dump(model, tmp_path / "model.skops")
    with _init(tmp_path / "fresh", loans) as project:
        version = project.adopt(tmp_path / "model.skops", reference=loans)
        assert project.registry.champion().version == version.version == "v1"
        assert version.source == "adopt" and version.input_format == "native"
        expected = (model.predict(frame[NUMERIC]) == frame["repaid"]).mean()
        assert version.metrics["accuracy"] == pytest.approx(expected, abs=1e-12)
        assert project.config.schema_.names == NUMERIC  # narrowed to the model's features, on disk too
    with Project(tmp_path / "fresh") as reopened:
        assert reopened.config.schema_.names == NUMERIC
        built = reopened.build()  # the loop carries on from the adopted model
        assert built.parent == "v1"
        again = reopened.adopt(tmp_path / "model.skops", reference=loans)
        assert (again.version, again.parent) == ("v3", "v2")
        assert reopened.registry.champion().version == "v3"


PUBLIC = {"init", "workspace", "config", "paths", "store", "registry", "close", "data_path", "build", "adopt",
          "feedback", "feedback_file", "measure", "learn", "cycle", "explain", "ledger", "history", "promote",
          "rollback", "shadow", "stop_shadow", "shadow_report", "testset", "export_testset", "prune_testset"}


def test_every_public_method_is_called_in_this_module() -> None:
    """A new verb on the façade fails here until a test above calls it."""
    public = {name for name, _ in inspect.getmembers(Project) if not name.startswith("_")} | {"workspace"}
    assert public == PUBLIC
    source = Path(__file__).read_text(encoding="utf-8")
    assert all(f".{name}" in source.replace("PUBLIC", "") for name in PUBLIC)
