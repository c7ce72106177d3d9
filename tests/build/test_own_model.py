"""An adopted model stays the user's own: reference metrics on a holdout, retrains that
refit a clone of the estimator (or leanloop's pipeline when asked), lineage that says which."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import skops.io as sio
from sklearn.ensemble import RandomForestClassifier
from sklearn.neighbors import KNeighborsClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from leanloop.build.checks import WarningKind
from leanloop.build.own_model import own_estimator
from leanloop.config import ModelKind
from leanloop.learn.retrain import retrain
from leanloop.project import Project, adopt_model
from tests.measure.test_monitoring import predict_and_label

NUMERIC = ["car_value", "debt_to_income_ratio", "loan_length", "driver_tenure", "repaid_loan_on_prev_car"]


@pytest.fixture(scope="module")
def tables(tmp_path_factory: pytest.TempPathFactory, car_loan_data: Any) -> dict[str, Path]:
    """The reference (2,000 rows) and a holdout (the next 1,000), as CSV."""
    folder = tmp_path_factory.mktemp("own")
    reference = car_loan_data.reference
    paths = {"reference": folder / "reference.csv", "holdout": folder / "holdout.csv"}
    reference.head(2000).to_csv(paths["reference"], index=False)
    reference.iloc[2000:3000].to_csv(paths["holdout"], index=False)
    return paths


def _adopt(model: Any, root: Path, tables: dict[str, Path], **options: Any) -> Project:
    model.fit(pd.read_csv(tables["reference"])[NUMERIC], pd.read_csv(tables["reference"])["repaid"])
    sio.dump(model, root.parent / f"{root.name}.skops")
    adopt_model(root.parent / f"{root.name}.skops", reference=tables["reference"], target="repaid", root=root,
                **options)
    return Project(root)


def _serve_labelled(project: Project, car_loan_data: Any, rows: int = 600) -> None:
    """Send ``rows`` labelled rows from after the analysis period's shift."""
    frame = car_loan_data.analysis.merge(car_loan_data.analysis_targets, on="id").sort_values(
        "timestamp", kind="stable")
    predict_and_label(project, frame.iloc[30000:30000 + rows])


@pytest.fixture(scope="module")
def forest(tmp_path_factory: pytest.TempPathFactory, tables: dict[str, Path], car_loan_data: Any,
           ) -> Iterator[tuple[Project, RandomForestClassifier]]:
    """A random forest adopted with a holdout, with 600 labelled predictions served."""
    model = RandomForestClassifier(n_estimators=20, max_depth=5, min_samples_leaf=3, random_state=0)
    project = _adopt(model, tmp_path_factory.mktemp("forest") / "p", tables, holdout=tables["holdout"])
    _serve_labelled(project, car_loan_data)
    yield project, model
    project.close()


def test_adopt_measures_reference_metrics_on_the_holdout(forest: tuple[Project, Any], tables: dict[str, Path]) -> None:
    project, model = forest
    adopted = project.registry.get("v1")
    holdout = pd.read_csv(tables["holdout"])
    assert adopted.metrics["accuracy"] == pytest.approx((model.predict(holdout[NUMERIC]) == holdout["repaid"]).mean())
    training = pd.read_csv(tables["reference"])
    assert adopted.metrics["accuracy"] < (model.predict(training[NUMERIC]) == training["repaid"]).mean()
    assert (adopted.model_kind, adopted.estimator, adopted.warnings) == (ModelKind.OWN, "RandomForestClassifier", [])
    assert adopted.rows == {"train": 2000, "test": 1000}


def test_retrain_refits_a_clone_of_the_adopted_estimator(forest: tuple[Project, Any],
                                                         tables: dict[str, Path]) -> None:
    project, model = forest
    # A cycle that must retrain (any drift does): the ledger's lineage says which model it fitted.
    policy = project.config.policy.model_copy(update={"min_rows": 100, "retrain_on_drift": True,
                                                      "max_drift_share": 0.01})
    project.config = project.config.model_copy(update={"policy": policy})
    cycle = project.cycle(last=600)
    assert cycle.decision.action.value == "retrain" and cycle.error is None
    assert cycle.training is not None
    assert (cycle.training["model_kind"], cycle.training["estimator"]) == ("own", "RandomForestClassifier")
    challenger = project.registry.get(cycle.challenger or "")
    assert (challenger.model_kind, challenger.estimator, challenger.input_format) == (
        ModelKind.OWN, "RandomForestClassifier", "native")
    assert challenger.parent == "v1" and challenger.rows["production"] > 0
    loaded = own_estimator(project.registry.load(challenger.version)[0])
    assert type(loaded) is RandomForestClassifier and loaded.get_params() == model.get_params()
    holdout = pd.read_csv(tables["holdout"])[NUMERIC]
    assert not np.allclose(loaded.predict_proba(holdout), model.predict_proba(holdout))  # refitted on new rows
    assert not [w for w in challenger.warnings if w.kind is WarningKind.UNWEIGHTED]  # forests take weights
    history = {v.version: (v.model_kind, v.estimator) for v in project.registry.versions()}
    assert history[challenger.version] == ("own", "RandomForestClassifier")

    policy = project.config.policy.model_copy(update={"retrain_model": ModelKind.LEANLOOP})
    project.config = project.config.model_copy(update={"policy": policy})
    ours = retrain(project.workspace).challenger
    assert (ours.model_kind, ours.input_format) == (ModelKind.LEANLOOP, "encoded")
    assert ours.estimator is not None and ours.estimator.startswith("Pipeline(") and "HistGradientBoosting" in (
        ours.estimator)


def test_an_estimator_without_sample_weights_is_refitted_unweighted_and_says_so(
        tmp_path: Path, tables: dict[str, Path], car_loan_data: Any) -> None:
    model = make_pipeline(StandardScaler(), KNeighborsClassifier(n_neighbors=15))
    with _adopt(model, tmp_path / "knn", tables) as project:
        adopted = project.registry.champion()
        assert adopted.estimator == "Pipeline(StandardScaler, KNeighborsClassifier)"
        assert [w.kind for w in adopted.warnings] == [WarningKind.OPTIMISTIC_REFERENCE]
        assert "reference.csv" in adopted.warnings[0].message and "--holdout" in adopted.warnings[0].message
        _serve_labelled(project, car_loan_data, rows=400)
        policy = project.config.policy.model_copy(update={"min_labels": 200})
        project.config = project.config.model_copy(update={"policy": policy})
        challenger = retrain(project.workspace).challenger
        assert challenger.estimator == "Pipeline(StandardScaler, KNeighborsClassifier)"
        assert [w.kind for w in challenger.warnings if w.kind is WarningKind.UNWEIGHTED] == [WarningKind.UNWEIGHTED]
        assert "KNeighborsClassifier" in challenger.warnings[0].message


class _Threshold:
    """A model that predicts but is no scikit-learn estimator (no get_params)."""

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        return (X.iloc[:, 0] > 0).to_numpy().astype(int)


def test_a_model_that_cannot_be_cloned_names_the_fix() -> None:
    from leanloop.build.own_model import refit_own
    from leanloop.errors import ProjectError

    with pytest.raises(ProjectError, match=r'cannot be cloned .*retrain_model = "leanloop"'):
        refit_own(_Threshold(), pd.DataFrame({"x": [0.0, 1.0]}), [0, 1])
