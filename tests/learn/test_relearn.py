"""Relearning after model harm: the challenger learns the changed relation, the gate
judges it on the population it will serve (see :mod:`leanloop.learn.retrain` and
:mod:`leanloop.learn.compare`)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from leanloop.config import DataConfig, ProjectConfig, RetrainConfig
from leanloop.learn.compare import compare, holdout_regression
from leanloop.learn.relearn_rows import RELEARN_PRIOR_SHARE, relearn_rows, since_change_rows
from leanloop.project import Project
from leanloop.schema import Feature, Schema


def _config(**retrain: object) -> ProjectConfig:
    return ProjectConfig(data=DataConfig(path="d.csv", target="y", task="classification", classes=[0, 1]),
                         schema=Schema(features=[Feature(name="x", kind="numeric")]),
                         retrain=RetrainConfig(**retrain))


def test_relearning_learns_the_rows_since_the_harm_with_the_old_rows_a_light_prior() -> None:
    reference = pd.DataFrame({"x": -np.arange(1.0, 2001.0), "y": 0})
    production = pd.DataFrame({"x": np.arange(600.0), "y": 1})
    focus = np.arange(600) >= 400  # the last 200 rows were logged since the harm began
    rows, weights, counts = relearn_rows(_config(), production, reference, focus)
    new = rows["x"] >= 400
    # every focus row, and a seeded prior of as many older rows (reference and earlier production)
    assert sorted(rows.loc[new, "x"]) == list(np.arange(400.0, 600.0))
    assert (~new).sum() == 200 and counts["prior"] == 200 and counts["reference"] + counts["production"] == 400
    assert rows.loc[~new, "x"].lt(400).all() and counts["capped"] == 0
    # the prior carries RELEARN_PRIOR_SHARE of the weight, each focus row weighs 1
    assert weights[~new.to_numpy()].sum() / weights.sum() == pytest.approx(RELEARN_PRIOR_SHARE)
    assert np.all(weights[new.to_numpy()] == 1.0)
    again, _, _ = relearn_rows(_config(), production, reference, focus)
    assert again.equals(rows)
    # the cap keeps the newest focus rows
    _, _, capped = relearn_rows(_config(max_rows=100), production, reference, focus)
    assert capped["capped"] == 100 and capped["prior"] == 100


def test_relearning_leanloops_pipeline_keeps_every_older_row_and_marks_those_since_the_harm() -> None:
    reference = pd.DataFrame({"x": -np.arange(1.0, 2001.0), "y": 0})
    production = pd.DataFrame({"x": np.arange(600.0), "y": 1})
    focus = np.arange(600) >= 400
    rows, since_change, counts = since_change_rows(_config(), production, reference, focus)
    assert len(rows) == 2600 and counts == {"reference": 2000, "production": 600, "duplicates_dropped": 0,
                                            "capped": 0, "since_change": 200}
    assert sorted(rows.loc[since_change, "x"]) == list(np.arange(400.0, 600.0))
    # under the cap: every focus row, the newest older production rows, then a seeded reference sample
    rows, since_change, counts = since_change_rows(_config(max_rows=500), production, reference, focus)
    assert len(rows) == 500 and since_change.sum() == 200 and counts["reference"] == 0
    assert sorted(rows.loc[~since_change, "x"]) == list(np.arange(100.0, 400.0))
    rows, since_change, counts = since_change_rows(_config(max_rows=1000), production, reference, focus)
    assert counts["reference"] == 400 and rows["x"].lt(0).sum() == 400
    again = since_change_rows(_config(max_rows=1000), production, reference, focus)[0]
    assert again.equals(rows)
    # a row logged both before and since is kept once, marked
    twice = pd.concat([production.iloc[[450]], production]).reset_index(drop=True)
    rows, since_change, counts = since_change_rows(_config(), twice, reference, np.r_[False, focus])
    assert counts["duplicates_dropped"] == 1 and since_change.sum() == 200 and (rows["x"] == 450).sum() == 1


def test_a_model_with_the_mark_learns_a_changed_relation_the_old_rows_would_teach_wrong() -> None:
    """Where the relation flipped for some loans only, the mark lets the old rows teach
    what still holds: it beats both the weighted prior and the new rows alone on new rows."""
    from leanloop.build.since_change import SinceChange, fit_since_change
    from leanloop.build.train import fit_served
    from leanloop.scoring import model_input, score

    rng = np.random.default_rng(0)
    config = ProjectConfig(data=DataConfig(path="d.csv", target="y", task="classification", classes=[0, 1]),
                           schema=Schema(features=[Feature(name="x", kind="numeric"),
                                                   Feature(name="z", kind="numeric")]))

    def loans(n: int, changed: bool) -> pd.DataFrame:
        x, z = rng.normal(size=n), rng.normal(size=n)
        logit = 2 * x - np.where(changed & (z > 0), 4 * x, 0.0)  # for z > 0 the relation to x flipped
        return pd.DataFrame({"x": x, "z": z, "y": (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int)})

    reference, before, since, later = loans(20_000, False), loans(2000, False), loans(600, True), loans(20_000, True)
    production = pd.concat([before, since], ignore_index=True)
    focus = np.arange(len(production)) >= len(before)

    def accuracy(model: object) -> float:
        X = model_input(config.schema_, later, "encoded", "later")
        return float(np.mean(np.asarray(score(model, X, "classification").labels) == later["y"].to_numpy()))

    rows, since_change, _ = since_change_rows(config, production, reference, focus)
    marked = fit_since_change(config, rows, since_change)
    final = marked.model.steps[-1][1]
    assert isinstance(final, SinceChange) and final.estimator_.n_features_in_ == 3
    prior = fit_served(config, *relearn_rows(config, production, reference, focus)[:2]).model
    alone = fit_served(config, since.reset_index(drop=True)).model
    assert accuracy(marked.model) > max(accuracy(prior), accuracy(alone)) + 0.02, (
        accuracy(marked.model), accuracy(prior), accuracy(alone))
    # the baseline learns the population served: the class mix since the change
    assert marked.baseline.class_prior_.tolist() == pytest.approx(np.bincount(since["y"]) / len(since))


def test_the_old_holdout_does_not_veto_a_challenger_that_relearns(project: Project, car_loan_data) -> None:
    """A challenger that learned another relation loses on the champion's holdout: that
    vetoes an ordinary retrain, and is reported without veto when it relearns after harm."""
    from leanloop.build.train import train_version

    reference = car_loan_data.reference.head(3000)
    other = train_version(project.workspace, train=reference.iloc[:2000].assign(repaid=1 - reference["repaid"]),
                          test=reference.iloc[2000:], source="build", parent="v1", alias=None)
    recent, holdout = reference.iloc[2000:2200], reference.iloc[2000:]
    plain = compare(project, "v1", other.version, recent=recent, holdout=holdout, hard=recent.head(0),
                    checks=[holdout_regression]).checks[0]
    relearning = compare(project, "v1", other.version, recent=recent, holdout=holdout, hard=recent.head(0),
                         checks=[holdout_regression], relearn_since=0.0).checks[0]
    assert not plain.passed and plain.skipped is None and plain.difference < -0.3
    assert relearning.passed and relearning.difference == plain.difference
    assert relearning.skipped is not None and "relation that no longer holds" in relearning.says


def test_a_relearning_challenger_is_judged_out_of_fold_on_every_row_since_the_harm(
        tmp_path, car_loan_data, analysis_with_truth) -> None:
    """The gate's recent rows are every labelled row logged since the harm; each row's
    challenger output comes from a fold model that did not train on it; the version
    registered is fitted on all of them and records its out-of-fold figures."""
    import time

    from fastapi.testclient import TestClient

    from leanloop.build.since_change import fit_since_change
    from leanloop.learn.crossfit import RELEARN_FOLDS, cross_fit
    from leanloop.learn.retrain import labelled_production, retrain
    from leanloop.measure.evaluation import evaluate
    from leanloop.scoring import InputFormat, model_input
    from leanloop.serve import create_app
    from leanloop.serve.security import bearer
    from tests.conftest import small_built_project

    project = small_built_project(tmp_path, car_loan_data)
    features = project.config.schema_.names

    def serve_and_label(frame: pd.DataFrame) -> None:
        with TestClient(create_app(project), headers=bearer(project)) as client:
            answers = client.post("/predict", json={"rows": frame[features].to_dict("records")}).json()
            labels = [{"prediction_id": a["prediction_id"], "label": int(y)}
                      for a, y in zip(answers["predictions"], frame["repaid"], strict=True)]
            assert client.post("/feedback", json={"feedback": labels}).status_code == 200

    try:
        serve_and_label(analysis_with_truth.iloc[:400])        # before the harm: the prior's
        since = time.time()
        time.sleep(0.01)
        serve_and_label(analysis_with_truth.iloc[30000:30900])  # since the harm (the changed loans)
        retrained = retrain(project, focus_since=since, relearn=True)
        production = labelled_production(project)
        focus = production.index.isin(project.window(since=since, labelled_only=True)["prediction_id"].tolist())
        assert focus.sum() == 900 and len(production) == 1300
        # the gate's recent rows: every row since the harm, in log order
        pd.testing.assert_frame_equal(retrained.recent, production[focus].reset_index(drop=True))
        challenger = retrained.challenger
        assert challenger.rows["recent_eval"] == 900 and challenger.rows["folds"] == RELEARN_FOLDS
        assert challenger.rows["focus"] == 900 and challenger.rows["testset_held_out"] == 0
        # The same cross-fit, each fold's training rows recorded: no row is scored by a
        # model that trained on it, and every other focus row trained each fold model.
        trained: list[np.ndarray] = []

        def fit_on(keep: np.ndarray):
            trained.append(keep.copy())
            rows, since_change, _ = since_change_rows(project.config, production[keep], reference, focus[keep])
            return fit_since_change(project.config, rows, since_change).model

        champion = project.registry.get(challenger.parent)
        raw = pd.read_parquet(project.paths.datasets / champion.train_data)
        reference = project.config.schema_.coerce(raw, "reference").assign(repaid=raw["repaid"].to_numpy())
        scored, folds = cross_fit(project.config, production, focus, fit_on, InputFormat.ENCODED)
        assert len(trained) == RELEARN_FOLDS and sorted(np.bincount(folds)) == [225] * 4
        positions = np.flatnonzero(focus)
        for k, keep in enumerate(trained):
            assert not keep[positions[folds == k]].any()
            assert keep[positions[folds != k]].all() and keep[~focus].all()
        # ... and it is the cross-fit the gate read
        np.testing.assert_allclose(scored.probabilities, retrained.out_of_fold.recent.probabilities)
        # The registered version records its out-of-fold figures on those rows, not its
        # own scores on rows it trained on (which flatter it).
        y = retrained.recent["repaid"].tolist()
        X = model_input(project.config.schema_, retrained.recent, InputFormat.ENCODED, "recent")
        in_sample = evaluate(retrained.model, X, y, project.config.data, project.config.kpi).metrics["roc_auc"]
        assert challenger.metrics["roc_auc"] < in_sample
        judged = compare(project, champion.version, challenger.version, recent=retrained.recent,
                         holdout=retrained.holdout, hard=retrained.hard, relearn_since=since,
                         models={challenger.version: (retrained.model, retrained.baseline)},
                         out_of_fold=retrained.out_of_fold)
        assert judged.rows["recent"] == 900
        checks = {c.check: c for c in judged.checks}
        assert checks["recent_roc_auc_no_regression"].challenger == pytest.approx(challenger.metrics["roc_auc"])
        # ... and so are the outputs on them the measurement reads once it is champion (its
        # prediction-drift reference, KPI attribution, performance estimator): kept with the
        # version, so a cleared cache fills from them, never from the model's own outputs.
        from leanloop.measure.columnar import cached_scored, reference_key
        from leanloop.scoring import score

        assert (project.paths.datasets / challenger.out_of_fold_data).is_file()
        project.registry.promote(challenger.version)
        for cached in (project.paths.workspace / "cache").glob("*"):
            cached.unlink()
        project.measure()
        key = reference_key(challenger.version, challenger.sha256, project.config.measure.reference_max_rows,
                            project.config.model.seed)
        own = score(retrained.model, X, "classification").probabilities
        for rows in ("holdout", "test"):
            read = cached_scored(project.paths.workspace / "cache", rows, key, lambda: pytest.fail("not measured"))
            np.testing.assert_array_equal(read.probabilities, retrained.out_of_fold.recent.probabilities)
            assert np.abs(read.probabilities - own).max() > 0.05
    finally:
        project.close()
