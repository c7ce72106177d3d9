"""Every CLI failure is exit 2 with one paragraph on stderr, never a traceback."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path

import numpy as np
import pytest
import tomlkit
import typer
from typer.testing import CliRunner

from leanloop.cli import app, handles_errors
from leanloop.config import CONFIG_FILE
from leanloop.config.migration import MOVED


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, list(args))
    return result.exit_code, result.stdout, result.stderr


def assert_one_paragraph(err: str) -> str:
    """The error is one paragraph (after any one-line notes): no traceback, no blank line."""
    assert "Traceback" not in err and 'File "' not in err
    error = err[err.index("error: "):]
    assert all(line.startswith("note: ") for line in err[:len(err) - len(error)].splitlines())
    assert "\n\n" not in error.strip()
    return " ".join(error.split())


@pytest.fixture
def project_dir(tmp_path: Path, car_loan_csv: Path) -> Path:
    root = tmp_path / "proj"
    code, _, err = run("init", str(car_loan_csv), "--target", "repaid", "--time-column", "timestamp",
                       "--id-column", "id", "--dir", str(root))
    assert code == 0, err
    return root


def _set(root: Path, section: str, key: str, value: object) -> None:
    path = root / CONFIG_FILE
    document = tomlkit.parse(path.read_text(encoding="utf-8"))
    document[section][key] = value  # type: ignore[index]
    path.write_text(tomlkit.dumps(document), encoding="utf-8")


@pytest.mark.parametrize("where", ["missing/folder/hard.csv", "a_file/hard.csv"])
def test_testset_export_to_an_unwritable_path(project_dir: Path, tmp_path: Path, where: str) -> None:
    (tmp_path / "a_file").write_text("not a folder", encoding="utf-8")
    target = tmp_path / where
    code, out, err = run("testset", "export", str(target), "--dir", str(project_dir))
    text = assert_one_paragraph(err)
    assert code == 2 and out == "" and not target.exists()
    assert str(target.parent) in text


@pytest.mark.parametrize(("section", "key", "value", "says"), [
    ("gate", "resamples", 1_000_000_000_000, ("gate.resamples: Input should be less than or equal to 100000 "
                                              "(allowed: 50 to 100,000)")),
    ("measure", "calibration_rounds", 1_000_000_000, ("measure.calibration_rounds: Input should be less than or "
                                                      "equal to 10000 (allowed: 5 to 10,000)")),
    ("policy", "main_metric", "precision", ("policy.main_metric: Input should be 'accuracy', 'roc_auc', 'f1', "
                                            "'mae' or 'rmse'")),
])
@pytest.mark.parametrize("command", [("cycle",), ("measure",), ("history", "--json")])
def test_settings_that_would_exhaust_memory_or_fail_late_are_refused_by_every_command(
        project_dir: Path, section: str, key: str, value: object, says: str, command: tuple[str, ...]) -> None:
    _set(project_dir, section, key, value)
    code, out, err = run(*command, "--dir", str(project_dir))
    assert code == 2 and out == ""
    assert says in assert_one_paragraph(err)


def test_an_old_style_config_still_works_and_says_what_moved(project_dir: Path) -> None:
    path = project_dir / CONFIG_FILE
    raw = tomllib.loads(path.read_text(encoding="utf-8"))
    for (old_section, old_key), (new_section, new_key) in MOVED.items():
        if new_section != "segments" and new_key in raw[new_section]:
            raw[old_section][old_key] = raw[new_section].pop(new_key)
    del raw["gate"], raw["retrain"]
    raw["policy"]["gate_resamples"] = 1_000_000_000_000
    path.write_text(tomlkit.dumps(raw), encoding="utf-8")
    code, _, err = run("history", "--json", "--dir", str(project_dir))
    assert code == 2 and "gate.resamples: Input should be less than or equal to 100000" in assert_one_paragraph(err)
    raw["policy"]["gate_resamples"] = 800
    path.write_text(tomlkit.dumps(raw), encoding="utf-8")
    code, out, err = run("history", "--json", "--dir", str(project_dir))
    assert code == 0 and json.loads(out) == []
    assert "[policy] gate_resamples -> [gate] resamples" in err
    assert "[policy] retrain_strategy -> [retrain] strategy" in err


def _shell(failure: BaseException | None = None, allocate: bool = False) -> typer.Typer:
    """A one-command app behind the same handler as every leanloop command."""
    shell = typer.Typer()

    @shell.command()
    @handles_errors
    def boom() -> None:
        if allocate:
            np.ones(2**62, dtype=np.int8)  # a real allocation no machine can give
        if failure is not None:
            raise failure

    return shell


@pytest.mark.parametrize(("kwargs", "says"), [
    ({"allocate": True}, "out of memory (Unable to allocate 4.00 EiB"),
    ({"failure": ZeroDivisionError("division by zero")}, ("unexpected ZeroDivisionError: division by zero; this is "
                                                          "a bug in leanloop, please report it")),
    ({"failure": PermissionError(13, "Permission denied", "/root/x.csv")}, "/root/x.csv: Permission denied; "),
])
def test_the_one_handler_turns_any_failure_into_one_paragraph_and_exit_2(kwargs: dict[str, object], says: str) -> None:
    result = CliRunner().invoke(_shell(**kwargs), [])  # type: ignore[arg-type]
    assert result.exit_code == 2 and says in assert_one_paragraph(result.stderr)


def test_usage_errors_keep_clicks_own_message() -> None:
    code, _, err = run("measure", "--last", "0")
    assert code == 2 and "Invalid value for '--last'" in err and "Traceback" not in err
