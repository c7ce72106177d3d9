"""Warnings where a user wants one: a model that does not beat the trivial baseline, an
adopted model judged on its own training rows; in text (loudly, on stderr) and in JSON."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import skops.io as sio
from sklearn.linear_model import LogisticRegression
from typer.testing import CliRunner

from leanloop.build.checks import below_baseline
from leanloop.cli import app

NUMERIC = ["car_value", "debt_to_income_ratio", "loan_length", "driver_tenure", "repaid_loan_on_prev_car"]


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, list(args))
    return result.exit_code, result.stdout, re.sub(r"\s+", " ", result.stderr)


@pytest.mark.parametrize(("metric", "model", "baseline", "warned"), [
    ("roc_auc", 0.5, 0.5, True), ("roc_auc", 0.51, 0.5, False), ("accuracy", 0.7, 0.71, True),
    ("mae", 0.869, 0.783, True), ("rmse", 0.7, 0.8, False), ("mae", None, 0.7, False)])
def test_below_baseline_knows_each_metric_s_direction(metric: str, model: float | None, baseline: float,
                                                      warned: bool) -> None:
    assert (below_baseline(metric, model=model, baseline=baseline) is not None) is warned


def test_build_warns_loudly_when_the_model_loses_to_the_baseline(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    noise = tmp_path / "noise.csv"  # a target no feature explains: boosting only fits the noise
    pd.DataFrame({"a": rng.normal(size=300), "b": rng.normal(size=300), "y": rng.normal(size=300)}).to_csv(
        noise, index=False)
    root = tmp_path / "p"
    assert run("init", str(noise), "--target", "y", "--task", "regression", "--dir", str(root))[0] == 0
    code, out, err = run("build", "--dir", str(root), "--json")
    assert code == 0, err
    body = json.loads(out)
    assert body["metrics"]["mae"] > body["baseline_metrics"]["mae"]
    assert [w["kind"] for w in body["warnings"]] == ["below_baseline"]
    assert (body["model_kind"], body["estimator"].startswith("Pipeline(")) == ("leanloop", True)
    code, out, err = run("build", "--dir", str(root))
    assert code == 0 and "WARNING: the model does not beat the trivial baseline: mae" in err
    assert "baseline" in out  # the metrics table is still printed, on stdout


def test_adopt_warns_without_a_holdout_and_not_with_one(tmp_path: Path, car_loan_csv: Path) -> None:
    frame = pd.read_csv(car_loan_csv)
    sio.dump(LogisticRegression(max_iter=500).fit(frame[NUMERIC], frame["repaid"]), tmp_path / "model.skops")
    holdout = tmp_path / "holdout.csv"
    frame.tail(1000).to_csv(holdout, index=False)
    adopt = ["adopt", str(tmp_path / "model.skops"), "--reference", str(car_loan_csv), "--target", "repaid"]
    code, out, err = run(*adopt, "--dir", str(tmp_path / "a"), "--json")
    assert code == 0, err
    body = json.loads(out)
    assert (body["model_kind"], body["estimator"]) == ("own", "LogisticRegression")
    assert [w["kind"] for w in body["warnings"]] == ["optimistic_reference"]
    assert "loans.csv, the rows the model was trained on" in body["warnings"][0]["message"]
    code, out, err = run(*adopt, "--dir", str(tmp_path / "b"))
    assert code == 0 and "WARNING: reference metrics were measured on loans.csv" in err and "--holdout" in err
    code, out, err = run(*adopt, "--holdout", str(holdout), "--dir", str(tmp_path / "c"), "--json")
    assert code == 0, err
    assert json.loads(out)["warnings"] == []
    code, _, err = run(*adopt, "--holdout", str(tmp_path / "none.csv"), "--dir", str(tmp_path / "d"))
    assert code == 2 and "does not exist" in err and not (tmp_path / "d" / "leanloop.toml").exists()
