"""Retraining on the Dask cluster: LightGBM's Dask interface, a plain version that serves.

On the session's real LocalCluster of two worker processes: a retrain with ``[retrain]
engine = "dask"`` registers an ordinary challenger (a pipeline whose model step is a plain
LightGBM model, saved by skops and loaded without trust), the app serves it, and its
quality on the judging rows equals a local retrain's within 0.02 of ROC AUC.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from leanloop.build.dask_train import fit_pipeline_dask
from leanloop.config import EngineKind
from leanloop.learn.retrain import labelled_production, retrain
from leanloop.project import Project
from leanloop.scoring import score
from leanloop.serve import create_app
from leanloop.serve.security import bearer
from tests.conftest import small_built_project
from tests.measure.test_monitoring import predict_and_label

pytestmark = pytest.mark.dask

#: Largest ROC AUC gap between the Dask-trained and the locally trained challenger on the same rows.
AUC_TOLERANCE = 0.02


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory, car_loan_data: Any) -> Iterator[Project]:
    """A small built project with 1,500 labelled rows served after the analysis period's shift."""
    pytest.importorskip("lightgbm")
    built = small_built_project(tmp_path_factory.mktemp("dask_train"), car_loan_data)
    frame = car_loan_data.analysis.merge(car_loan_data.analysis_targets, on="id").sort_values(
        "timestamp", kind="stable")
    predict_and_label(built, frame.iloc[30000:31500])
    yield built
    built.close()


def _on(project: Project, engine: EngineKind, scheduler: str | None) -> None:
    config = project.config
    project.config = config.model_copy(update={
        "retrain": config.retrain.model_copy(update={"engine": engine}),
        "engine": config.engine.model_copy(update={"scheduler": scheduler}),
        "policy": config.policy.model_copy(update={"min_labels": 200}),
    })


def test_a_dask_retrain_registers_a_plain_lightgbm_version_that_serves(project: Project, dask_client: Any) -> None:
    _on(project, EngineKind.LOCAL, None)
    local = retrain(project.workspace)
    _on(project, EngineKind.DASK, dask_client.scheduler.address)
    trained = retrain(project.workspace)
    version = trained.challenger
    assert version.parent == "v1" and version.rows["production"] > 0
    assert version.estimator is not None and "LGBMClassifier" in version.estimator
    # the same rows judge both: the recent labelled rows, split the same way
    assert trained.recent.equals(local.recent)
    gap = abs(version.metrics["roc_auc"] - local.challenger.metrics["roc_auc"])
    assert gap <= AUC_TOLERANCE, (version.metrics, local.challenger.metrics)
    # saved by skops, loaded without trust (LightGBM's classes are on the allow-list), no Dask needed
    loaded, _ = project.registry.load(version.version)
    assert version.trusted is False
    rows = trained.recent[project.config.schema_.names].head(20)
    project.promote(version.version)
    with TestClient(create_app(project), headers=bearer(project)) as client:
        body = client.post("/predict", json={"rows": rows.to_dict("records")}).json()
    assert body["model_version"] == version.version
    expected = score(loaded, project.config.schema_.model_frame(rows, "rows"), "classification")
    served = [a["probabilities"]["1"] for a in body["predictions"]]
    assert served == pytest.approx([p["1"] for p in expected.probability_dicts()], rel=1e-9)


def test_the_dask_fit_equals_a_local_lightgbm_fit_within_the_tolerance(project: Project, dask_client: Any) -> None:
    """The model step alone: LightGBM trained across two workers against LightGBM trained here."""
    from lightgbm import LGBMClassifier
    from sklearn.metrics import roc_auc_score

    config = project.config
    frame = project.workspace.window(labelled_only=True)
    production = labelled_production(project.workspace)
    learn, judge = production.iloc[:1000], production.iloc[1000:]
    model, baseline = fit_pipeline_dask(config, learn, client=dask_client)
    assert len(frame) == len(production)
    prepared = model.steps[0][1].transform(config.schema_.model_frame(learn, "learn"))
    here = LGBMClassifier(n_estimators=config.model.max_iter, learning_rate=config.model.learning_rate,
                          random_state=config.model.seed, deterministic=True, verbose=-1).fit(
        prepared, learn[config.data.target].astype(int))
    X_judge = config.schema_.model_frame(judge, "judge")
    truth = judge[config.data.target].astype(int)
    dask_auc = roc_auc_score(truth, model.predict_proba(X_judge)[:, 1])
    local_auc = roc_auc_score(truth, here.predict_proba(model.steps[0][1].transform(X_judge))[:, 1])
    assert abs(dask_auc - local_auc) <= AUC_TOLERANCE, (dask_auc, local_auc)
    assert baseline.predict(X_judge.head(1)).shape == (1,)


def test_without_lightgbm_the_error_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    from leanloop.build.dask_train import require_lightgbm
    from leanloop.errors import EngineError

    monkeypatch.setitem(sys.modules, "lightgbm.dask", None)  # what an environment without LightGBM sees
    with pytest.raises(EngineError, match=r"leanloop\[lightgbm\].*engine = \"local\""):
        require_lightgbm()
