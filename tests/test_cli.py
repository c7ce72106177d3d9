"""The CLI: every command documented, exit codes, and a clear error for each bad input."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pandas as pd
import pytest
import skops.io as sio
from sklearn.linear_model import LogisticRegression
from typer.testing import CliRunner

from leanloop.cli import app

COMMANDS = ["init", "build", "adopt", "serve", "token", "predict", "feedback", "measure", "learn", "cycle", "history",
            "explain", "promote", "rollback", "shadow", "testset", "models", "report", "demo"]
README = Path(__file__).resolve().parents[1] / "README.md"


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, list(args))
    return result.exit_code, result.stdout, result.stderr


def one_paragraph(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_has_help_and_is_documented(command: str) -> None:
    code, out, _ = run(command, "--help")
    assert code == 0 and "Usage" in out
    assert f"leanloop {command}" in README.read_text(encoding="utf-8")


@pytest.mark.parametrize(("command", "section"), [
    ("measure", "[measure] window_rows"), ("export", "[store] archive_dir"), ("serve", "[loop] schedule"),
    ("drift", "[engine] kind")])
def test_help_names_config_sections_as_written(command: str, section: str) -> None:
    """Help text names settings as ``[section] key``; Rich must not eat ``[section]`` as a style tag."""
    code, out, _ = run(command, "--help")
    assert code == 0 and section in one_paragraph(out.replace("│", " "))


@pytest.fixture
def project_dir(tmp_path: Path, car_loan_csv: Path) -> Path:
    root = tmp_path / "proj"
    code, _, err = run("init", str(car_loan_csv), "--target", "repaid", "--time-column", "timestamp",
                       "--id-column", "id", "--dir", str(root))
    assert code == 0, err
    return root


def test_init_errors(tmp_path: Path, car_loan_csv: Path, project_dir: Path) -> None:
    code, _, err = run("init", str(tmp_path / "missing.csv"), "--target", "y", "--dir", str(tmp_path / "a"))
    assert code == 2 and "does not exist" in err
    code, _, err = run("init", str(car_loan_csv), "--target", "churn", "--dir", str(tmp_path / "b"))
    assert code == 2 and "target column 'churn' not found" in one_paragraph(err) and "car_value" in err
    constant = tmp_path / "constant.csv"
    pd.DataFrame({"x": range(50), "y": [1] * 50}).to_csv(constant, index=False)
    code, _, err = run("init", str(constant), "--target", "y", "--dir", str(tmp_path / "c"))
    assert code == 2 and "single value" in one_paragraph(err)
    tiny = tmp_path / "tiny.csv"
    pd.DataFrame({"x": range(5), "y": [0, 1, 0, 1, 0]}).to_csv(tiny, index=False)
    code, _, err = run("init", str(tiny), "--target", "y", "--dir", str(tmp_path / "d"))
    assert code == 2 and "at least 20" in one_paragraph(err)
    code, _, err = run("init", str(car_loan_csv), "--target", "repaid", "--dir", str(project_dir))
    assert code == 2 and "already exists" in one_paragraph(err)
    malformed = tmp_path / "bad.csv"
    malformed.write_text("a,b\n1,2\n3,4,5,6\n", encoding="utf-8")
    code, _, err = run("init", str(malformed), "--target", "b", "--dir", str(tmp_path / "e"))
    assert code == 2 and "not a readable csv" in one_paragraph(err)
    assert not (tmp_path / "e" / "leanloop.toml").exists()


def test_build_refuses_text_in_numeric_feature_and_registers_nothing(project_dir: Path, car_loan_csv: Path) -> None:
    frame = pd.read_csv(car_loan_csv)
    frame["car_value"] = frame["car_value"].astype(object)
    frame.loc[7, "car_value"] = "forty"
    frame.to_csv(car_loan_csv, index=False)
    code, _, err = run("build", "--dir", str(project_dir))
    assert code == 2 and "feature 'car_value' must be a number, got 'forty' (row 7)" in one_paragraph(err)
    code, out, _ = run("history", "--dir", str(project_dir), "--json")
    assert code == 0 and json.loads(out) == []
    assert not list((project_dir / ".leanloop").glob("artifacts/*.skops"))


def test_corrupted_artifact_is_refused(project_dir: Path) -> None:
    assert run("build", "--dir", str(project_dir))[0] == 0
    artifact = project_dir / ".leanloop" / "artifacts" / "v1.skops"
    data = bytearray(artifact.read_bytes())
    data[len(data) // 2] ^= 0xFF
    artifact.write_bytes(bytes(data))
    code, _, err = run("measure", "--dir", str(project_dir))
    assert code == 2 and "fails its integrity check" in one_paragraph(err)


def test_commands_outside_a_project_say_how_to_start(tmp_path: Path) -> None:
    code, _, err = run("build", "--dir", str(tmp_path))
    assert code == 2 and "leanloop init" in one_paragraph(err)


def test_feedback_file_errors_and_measure_usage(project_dir: Path, tmp_path: Path) -> None:
    assert run("build", "--dir", str(project_dir))[0] == 0
    labels = tmp_path / "labels.csv"
    pd.DataFrame({"prediction_id": ["nope"], "label": [1]}).to_csv(labels, index=False)
    code, out, _ = run("feedback", str(labels), "--dir", str(project_dir))
    assert code == 0 and "recorded 1 of 1 labels: 0 updated, 0 duplicates, 1 parked" in one_paragraph(out)
    code, out, _ = run("feedback", str(labels), "--json", "--dir", str(project_dir))
    assert code == 0 and json.loads(out) == {"received": 1, "recorded": 0, "duplicates": 1, "updated": 0, "parked": 0,
                                                      "reused": 0}
    pd.DataFrame({"prediction_id": ["nope", "x"], "label": [1, "maybe"]}).to_csv(labels, index=False)
    code, _, err = run("feedback", str(labels), "--dir", str(project_dir))
    assert code == 2 and "labels.csv: row 1: label 'maybe' is not one of the classes" in one_paragraph(err)
    code, _, err = run("feedback", str(labels), "--label-column", "truth", "--dir", str(project_dir))
    assert code == 2 and "'truth' not found" in one_paragraph(err)
    code, _, err = run("measure", "--last", "5", "--since", "2024-01-01", "--dir", str(project_dir))
    assert code == 2 and "not both" in err
    code, _, err = run("measure", "--since", "yesterday", "--dir", str(project_dir))
    assert code == 2 and "is not a time" in one_paragraph(err)
    code, _, err = run("learn", "--dir", str(project_dir))
    assert code == 2 and "no measurement yet" in one_paragraph(err)


def test_adopt_own_model_safely(tmp_path: Path, car_loan_csv: Path) -> None:
    frame = pd.read_csv(car_loan_csv)
    numeric = ["car_value", "debt_to_income_ratio", "loan_length", "driver_tenure", "repaid_loan_on_prev_car"]
    model = LogisticRegression(max_iter=500).fit(frame[numeric], frame["repaid"])
    sio.dump(model, tmp_path / "model.skops")
    root = tmp_path / "adopted"
    code, out, err = run("adopt", str(tmp_path / "model.skops"), "--reference", str(car_loan_csv),
                         "--target", "repaid", "--dir", str(root), "--json")
    assert code == 0, err
    body = json.loads(out)
    expected = (model.predict(frame[numeric]) == frame["repaid"]).mean()
    assert body["version"] == "v1" and body["metrics"]["accuracy"] == pytest.approx(expected, abs=1e-12)
    from leanloop.project import Project

    with Project(root) as project:
        assert project.config.schema_.names == numeric
        assert project.registry.champion().input_format == "native"

    import joblib

    joblib.dump(model, tmp_path / "model.joblib")
    code, _, err = run("adopt", str(tmp_path / "model.joblib"), "--reference", str(car_loan_csv),
                       "--target", "repaid", "--dir", str(tmp_path / "p2"))
    assert code == 2 and "--trust" in one_paragraph(err)
    assert not (tmp_path / "p2" / "leanloop.toml").exists()
    with pytest.warns(UserWarning, match="pickle because --trust"):
        code, _, err = run("adopt", str(tmp_path / "model.joblib"), "--reference", str(car_loan_csv),
                           "--target", "repaid", "--dir", str(tmp_path / "p3"), "--trust")
    assert code == 0, err


def test_promote_rollback_explain(project_dir: Path) -> None:
    assert run("build", "--dir", str(project_dir))[0] == 0
    code, _, err = run("rollback", "--dir", str(project_dir))
    assert code == 2 and "no previous version to roll back to" in one_paragraph(err)
    code, _, err = run("promote", "v7", "--dir", str(project_dir))
    assert code == 2 and "v7" in err
    assert run("build", "--dir", str(project_dir))[0] == 0  # v2 becomes champion, v1 previous
    code, out, err = run("rollback", "--reason", "bad canary", "--json", "--dir", str(project_dir))
    assert code == 0, err
    event = json.loads(out)
    assert (event["kind"], event["champion_before"], event["champion_after"], event["reason"]) == (
        "rollback", "v2", "v1", "bad canary")
    code, out, _ = run("explain", str(event["cycle"]), "--json", "--dir", str(project_dir))
    assert code == 0 and json.loads(out) == event
    code, out, _ = run("promote", "v2", "--dir", str(project_dir))
    assert code == 0 and "v1 -> v2" in out
    code, out, _ = run("history", "--json", "--dir", str(project_dir))
    assert code == 0 and [(e["kind"], e["reason"]) for e in json.loads(out)] == [
        ("rollback", "bad canary"), ("promote", "manual")]
    assert run("history", "--dir", str(project_dir))[0] == 0
    code, _, err = run("explain", "99", "--dir", str(project_dir))
    assert code == 2 and "cycle 99 does not exist" in one_paragraph(err)
