"""``drift --exclude COL`` and a project's id and time columns left out by themselves:
listed as skipped, counted in no drift share; an unknown column is a clear error."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from leanloop.cli import app
from leanloop.measure.files import measure_files


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, list(args))
    return result.exit_code, result.stdout, re.sub(r"\s+", " ", result.stderr)


@pytest.fixture(params=["csv", "parquet"])
def files(request: pytest.FixtureRequest, tmp_path: Path) -> tuple[Path, Path]:
    """Reference and current tables with an id, a time column (always "drifted": time
    moves on) and two features, one of them shifted."""
    rng = np.random.default_rng(0)
    paths = []
    for name, start, shift in (("ref", 0, 0.0), ("cur", 1000, 1.0)):
        frame = pd.DataFrame({"loan_id": np.arange(start, start + 1000),
                              "at": pd.date_range(f"2024-0{1 + start // 1000 * 3}-01", periods=1000, freq="h"),
                              "age": rng.normal(40 + 10 * shift, 10, 1000), "city": rng.choice(["a", "b"], 1000)})
        path = tmp_path / f"{name}.{request.param}"
        frame.to_parquet(path) if request.param == "parquet" else frame.to_csv(path, index=False)
        paths.append(path)
    return paths[0], paths[1]


def _project(root: Path, reference: Path) -> Path:
    """A project whose id and time columns are the files' (init on the reference)."""
    table = pd.read_parquet(reference) if reference.suffix == ".parquet" else pd.read_csv(reference)
    data = root / "train.csv"
    root.mkdir()
    table.assign(y=np.arange(len(table)) % 2).to_csv(data, index=False)
    code, _, err = run("init", str(data), "--target", "y", "--id-column", "loan_id", "--time-column", "at",
                       "--dir", str(root))
    assert code == 0, err
    return root


def test_drift_leaves_out_excluded_and_project_columns(files: tuple[Path, Path], tmp_path: Path) -> None:
    reference, current = files
    code, out, err = run("drift", str(reference), str(current), "--json", "--dir", str(tmp_path))
    assert code == 0, err
    body = json.loads(out)
    assert {r["feature"] for r in body["features"]} >= {"age", "at"}  # no project: only what was asked

    project = _project(tmp_path / "p", reference)
    code, out, err = run("drift", str(reference), str(current), "--json", "--dir", str(project),
                         "--exclude", "city")
    assert code == 0, err
    body = json.loads(out)
    assert [r["feature"] for r in body["features"]] == ["age"] and body["drifted"] == ["age"]
    assert body["skipped"] == {"city": "excluded", "loan_id": "the project's id column",
                               "at": "the project's time column"}
    code, out, _ = run("drift", str(reference), str(current), "--dir", str(project))
    assert code == 0 and "skipped at: the project's time column" in re.sub(r"\s+", " ", out)
    assert "drifted: age (1 of 2)" in re.sub(r"\s+", " ", out)


def test_excluding_an_unknown_column_is_an_error(files: tuple[Path, Path], tmp_path: Path) -> None:
    reference, current = files
    code, _, err = run("drift", str(reference), str(current), "--exclude", "agee", "--dir", str(tmp_path))
    assert code == 2 and "cannot exclude column 'agee': neither file has it; the columns are ['loan_id'" in err


def test_measure_files_leaves_them_out_of_quality_too(files: tuple[Path, Path]) -> None:
    result = measure_files(*files, exclude=["city"], project_columns={"loan_id": "id column", "at": "time column"})
    assert [r.feature for r in result.drift.features] == ["age"]
    assert result.quality is not None
    assert {r.feature for r in result.quality.results if r.feature} == {"age"}
