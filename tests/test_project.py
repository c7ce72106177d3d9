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

import leanloop
from leanloop.batch import BatchOptions
from leanloop.config import render_config
from leanloop.errors import InputError, NotFoundError, ProjectError
from leanloop.learn.ledger import Cycle, LedgerEvent
from leanloop.measure.measurement import Measurement
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
    assert project.by_event and project.window(last=600, labelled_only=True)["label"].notna().sum() == 600
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


def test_results_show_as_data_frames_in_a_notebook(project: Project, loans: Path) -> None:
    measured = Measurement.model_validate(project.store.latest_measurement())
    frame = measured.to_frame()
    assert frame["feature"].tolist() == [r.feature for r in measured.drift]
    assert frame["drifted"].tolist() == [r.drifted for r in measured.drift]
    assert measured._repr_html_().startswith(f"<p><b>measurement of {measured.window.rows} rows")
    cycle = project.ledger()[-1]
    row = cycle.to_frame().iloc[0]
    assert (row["entry"], row["kind"], row["action"]) == (cycle.cycle, "cycle", cycle.decision.action.value)
    assert f"ledger entry {cycle.cycle}: cycle" in cycle._repr_html_()
    history = project.history().to_frame()
    assert history["entry"].tolist() == [e["cycle"] for e in project.history()]
    assert "<b>history</b>" in project.history()._repr_html_()
    hard = project.testset()
    table = hard.to_frame()
    assert table["prediction_id"].tolist() == [r.prediction_id for r in hard]
    assert table["car_value"].tolist() == [r.features["car_value"] for r in hard]
    assert "enriched test set" in hard._repr_html_()
    reference = pd.read_csv(loans)
    report = leanloop.drift(reference, reference.assign(car_value=reference["car_value"] * 1.5))
    assert "car_value" in report.drifted and "<b>drift: " in report._repr_html_()
    assert report.to_frame().query("feature == 'car_value'")["drifted"].all()


@pytest.fixture
def cycled(project: Project, served: list[str], labels: list[int]) -> Project:
    """The project after a cycle over its 600 labelled predictions: the one an earlier test ran,
    or one run here when this test runs alone or on another pytest-xdist worker."""
    if not project.ledger():
        project.feedback(zip(served, labels, strict=True), source="test")
        project.cycle(last=600)
    return project


def test_the_enriched_test_set(cycled: Project, tmp_path: Path) -> None:
    project = cycled
    found = project.testset()
    assert found, "the cycle copied the window's hard cases"
    reason = found[0].reason
    assert all(r.reason is reason for r in project.testset(reason=reason))
    assert project.export_testset(tmp_path / "hard.csv") == len(found)
    assert len(pd.read_csv(tmp_path / "hard.csv")) == len(found)
    assert project.prune_testset(keep=1) == len(found) - 1
    assert len(project.testset()) == 1


def test_the_log_exported_and_read_back_as_a_window(project: Project, served: list[str], tmp_path: Path) -> None:
    window = project.window(last=10)
    assert window["prediction_id"].tolist() == served[-10:]
    assert [c for c in window.columns if c.startswith("features.")] == [f"features.{n}" for n in FEATURES]
    done = project.export(to=tmp_path / "archive")
    assert done.retention is None and done.export.rows >= len(served)
    assert project.export(to=tmp_path / "archive").export.rows == 0
    assert set(served) <= set(pd.read_parquet(tmp_path / "archive")["prediction_id"])


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
        assert [w.kind.value for w in again.warnings] == ["optimistic_reference"]
        held = frame.sample(400, random_state=3)
        held.to_csv(tmp_path / "held.csv", index=False)
        measured = reopened.adopt(tmp_path / "model.skops", reference=loans, holdout=tmp_path / "held.csv")
        expected = (model.predict(held[NUMERIC]) == held["repaid"]).mean()
        assert measured.metrics["accuracy"] == pytest.approx(expected, abs=1e-12)
        assert "optimistic_reference" not in [w.kind.value for w in measured.warnings]


def test_predict_scores_a_frame_logs_it_and_labels_join(tmp_path: Path, loans: Path, car_loan_data) -> None:
    with _init(tmp_path / "p", loans) as created:
        created.build()
    rows = car_loan_data.analysis.head(300).set_index("id", drop=False)
    with Project.open(tmp_path / "p") as project:
        before = project.store.count_predictions()
        scored = project.predict(rows)
        assert list(scored.columns) == ["prediction_id", "prediction", "probability_0", "probability_1"]
        assert scored.index.equals(rows.index) and project.store.count_predictions() == before + 300
        quiet = project.predict(rows, log=False)
        assert quiet["prediction_id"].isna().all() and project.store.count_predictions() == before + 300
        pd.testing.assert_frame_equal(quiet.drop(columns="prediction_id"), scored.drop(columns="prediction_id"))
        counts = project.feedback(zip(scored["prediction_id"], [1] * 300, strict=True))
        assert (counts.recorded, counts.parked) == (300, 0)
        assert project.measure(last=300).window.labelled == 300
        with pytest.raises(InputError, match=r"row 2, column 'loan_length': must be a number, got 'long'"):
            project.predict(rows.astype({"loan_length": object}).assign(
                loan_length=[10, 20, "long"] + [10] * 297), log=True)
        assert project.store.count_predictions() == before + 300
        rows.to_parquet(tmp_path / "rows.parquet")
        result = project.predict_file(tmp_path / "rows.parquet", BatchOptions(log=False))
        assert (result.scored, result.logged) == (300, 0)
        assert pd.read_parquet(result.output)["prediction"].tolist() == scored["prediction"].tolist()


PUBLIC = {"init", "open", "predict", "predict_file",
          "workspace", "config", "paths", "store", "registry", "close", "data_path", "build", "adopt",
          "feedback", "feedback_file", "measure", "learn", "cycle", "explain", "ledger", "history", "promote",
          "rollback", "shadow", "stop_shadow", "shadow_report", "testset", "export_testset", "prune_testset",
          "window", "export", "by_event"}


def test_every_public_method_is_called_in_this_module() -> None:
    """A new verb on the façade fails here until a test above calls it."""
    public = {name for name, _ in inspect.getmembers(Project) if not name.startswith("_")} | {"workspace"}
    assert public == PUBLIC
    source = Path(__file__).read_text(encoding="utf-8")
    assert all(f".{name}" in source.replace("PUBLIC", "") for name in PUBLIC)
