"""Relearning after model harm: the challenger learns the changed relation, the gate
judges it on the population it will serve (see :mod:`leanloop.learn.retrain` and
:mod:`leanloop.learn.compare`)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from leanloop.config import DataConfig, ProjectConfig, RetrainConfig
from leanloop.learn.compare import compare, holdout_regression
from leanloop.learn.retrain import RELEARN_PRIOR_SHARE, relearn_rows
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
