"""Contract tests of the Dask engine on a real LocalCluster of two worker processes:
the same numbers as the local engine, scoring row for row, and a worker killed mid-job.
Data larger than a worker's memory: test_dask_window.py (a window measured through the
same measure_parquet)."""

from __future__ import annotations

import os
import signal
import sys
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from leanloop.engines.dask_files import measure_parquet
from leanloop.engines.dask_score import score_parquet, score_partition
from leanloop.errors import InputError
from leanloop.measure.drift import DriftOptions, ThresholdMode
from leanloop.measure.files import measure_files
from leanloop.schema import Feature, FeatureKind, Schema

from .slow_model import SlowModel

pytestmark = pytest.mark.dask


def _frame(rng: np.random.Generator, rows: int, shift: float) -> pd.DataFrame:
    frame = pd.DataFrame({
        "age": rng.normal(40 + shift, 10, rows),
        "visits": rng.integers(0, 30, rows).astype("int64"),
        "city": rng.choice(["lyon", "paris", "nice"] + (["brest"] if shift else []), rows),
        "member": rng.random(rows) < 0.3 + shift / 100,
        "score": np.round(rng.normal(0, 1, rows), 1),
    })
    frame.loc[rng.random(rows) < 0.05 + shift / 50, "age"] = np.nan
    frame.loc[: rows // 50, ["visits", "city", "member", "score"]] = frame.loc[0, ["visits", "city", "member",
                                                                                    "score"]].to_numpy()
    return frame


def _write_parts(frame: pd.DataFrame, folder: Path, parts: int) -> Path:
    folder.mkdir(parents=True)
    for i, part in enumerate(np.array_split(np.arange(len(frame)), parts)):
        frame.iloc[part].to_parquet(folder / f"part-{i:03d}.parquet", index=False)
    return folder


def _assert_same(local: Any, other: Any, path: str = "") -> None:
    """Equal JSON, numbers to 1e-9 (relative), everything else exactly."""
    if isinstance(local, dict):
        assert local.keys() == other.keys(), path
        for key in local:
            _assert_same(local[key], other[key], f"{path}.{key}")
    elif isinstance(local, list):
        assert len(local) == len(other), path
        for i, (a, b) in enumerate(zip(local, other, strict=True)):
            _assert_same(a, b, f"{path}[{i}]")
    elif isinstance(local, float) and not isinstance(local, bool):
        assert other == pytest.approx(local, rel=1e-9, abs=1e-12), path
    else:
        assert local == other, path


@pytest.mark.parametrize("large_sample", [100_000, 1_000], ids=["tests", "distances"])
@pytest.mark.parametrize("whole_columns", [True, False], ids=["a-column-a-task", "spread"])
def test_drift_and_quality_equal_the_local_engine(tmp_path: Path, dask_client: Any, large_sample: int,
                                                  whole_columns: bool) -> None:
    rng = np.random.default_rng(7)
    reference, current = _frame(rng, 6_000, 0.0), _frame(rng, 9_000, 3.0)
    reference.to_parquet(tmp_path / "reference.parquet", index=False)
    current.to_parquet(tmp_path / "current.parquet", index=False)
    folder = _write_parts(current, tmp_path / "current", parts=4)
    options = DriftOptions(large_sample=large_sample)

    local = measure_files(tmp_path / "reference.parquet", tmp_path / "current.parquet", options=options).to_json()
    dask = measure_parquet(tmp_path / "reference.parquet", folder, client=dask_client, options=options,
                           whole_columns=whole_columns).to_json()

    _assert_same(local, dask)
    assert dask["drift"]["drifted"] and dask["quality"]["flagged_features"]  # the comparison saw real drift


@pytest.mark.parametrize("whole_columns", [True, False], ids=["a-column-a-task", "spread"])
def test_a_column_the_current_data_lacks_is_measured_as_the_local_engine_does(
        tmp_path: Path, dask_client: Any, whole_columns: bool) -> None:
    rng = np.random.default_rng(11)
    reference, current = _frame(rng, 3_000, 0.0), _frame(rng, 4_000, 3.0).drop(columns=["score"])
    reference.to_parquet(tmp_path / "reference.parquet", index=False)
    current.to_parquet(tmp_path / "current.parquet", index=False)

    local = measure_files(tmp_path / "reference.parquet", tmp_path / "current.parquet").to_json()
    dask = measure_parquet(tmp_path / "reference.parquet", tmp_path / "current.parquet", client=dask_client,
                           whole_columns=whole_columns).to_json()

    _assert_same(local, dask)
    missing = [r for r in dask["quality"]["results"] if r["feature"] == "score" and r["check"] == "missing_rate"]
    assert [(r["value"], r["flagged"]) for r in missing] == [(1.0, True)]  # checked as all missing, not skipped


@pytest.mark.parametrize("whole_columns", [True, False], ids=["a-column-a-task", "spread"])
def test_duplicate_rows_across_row_groups_with_and_without_missing_integers_are_counted_as_locally(
        tmp_path: Path, dask_client: Any, whole_columns: bool) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    rng = np.random.default_rng(5)
    frame = _frame(rng, 4_000, 0.0).drop(columns=["member"])
    frame.iloc[-1] = frame.iloc[7]  # a row repeated in the first and last row groups
    visits = frame["visits"].to_numpy()
    # Written by arrow, without pandas' metadata: only the first row group has missing integers,
    # so pandas reads it as floats and the others as integers, unless the reader keeps them alike.
    missing = np.zeros(len(frame), dtype=bool)
    missing[100:110] = True
    table = pa.Table.from_pandas(frame, preserve_index=False).replace_schema_metadata(None)
    table = table.set_column(1, "visits", pa.array(visits, type=pa.int64(), mask=missing))
    for side in ("reference", "current"):
        pq.write_table(table, tmp_path / f"{side}.parquet", row_group_size=1_000)

    local = measure_files(tmp_path / "reference.parquet", tmp_path / "current.parquet").to_json()
    dask = measure_parquet(tmp_path / "reference.parquet", tmp_path / "current.parquet", client=dask_client,
                           whole_columns=whole_columns).to_json()

    _assert_same(local, dask)
    duplicates = [r for r in dask["quality"]["results"] if r["check"] == "duplicate_rows"]
    assert duplicates and all(r["value"] > 0 for r in duplicates)  # the repeated row was found


def test_calibrated_thresholds_are_refused_with_the_fix(tmp_path: Path, dask_client: Any) -> None:
    pd.DataFrame({"x": [1.0, 2.0]}).to_parquet(tmp_path / "a.parquet")
    with pytest.raises(InputError, match="run with --engine local"):
        measure_parquet(tmp_path / "a.parquet", tmp_path / "a.parquet", client=dask_client,
                        options=DriftOptions(threshold_mode=ThresholdMode.CALIBRATED))


def _scoring_case(tmp_path: Path) -> tuple[Any, Schema, pd.DataFrame, Path]:
    from sklearn.ensemble import HistGradientBoostingClassifier

    rng = np.random.default_rng(3)
    frame = pd.DataFrame({"id": np.arange(20_000), "x": rng.normal(0, 1, 20_000), "z": rng.normal(0, 1, 20_000)})
    frame.loc[::11, "x"] = np.nan
    target = (frame["x"].fillna(0) + frame["z"] > 0).astype(int)
    schema = Schema(features=[Feature(name="x", kind=FeatureKind.NUMERIC), Feature(name="z", kind=FeatureKind.NUMERIC)])
    model = HistGradientBoostingClassifier(max_iter=15, random_state=0).fit(schema.model_frame(frame, "t"), target)
    return model, schema, frame, _write_parts(frame, tmp_path / "rows", parts=8)


def test_dask_scoring_equals_local_scoring_row_for_row(tmp_path: Path, dask_client: Any) -> None:
    model, schema, frame, folder = _scoring_case(tmp_path)
    local = score_partition(frame, model, "classification", schema, keep=["id"])

    written = score_parquet(folder, tmp_path / "scored", model, "classification", client=dask_client,
                            schema=schema, keep=["id"])

    scored = pd.read_parquet(tmp_path / "scored").sort_values("id").reset_index(drop=True)
    assert written == len(frame)
    pd.testing.assert_frame_equal(scored, local.reset_index(drop=True), check_exact=False, rtol=1e-12)
    with pytest.raises(InputError, match="exists already"):
        score_parquet(folder, tmp_path / "scored", model, "classification", client=dask_client, schema=schema)


def test_a_worker_killed_mid_job_completes_once_or_leaves_nothing(tmp_path: Path, dask_client: Any) -> None:
    import cloudpickle

    model, schema, frame, folder = _scoring_case(tmp_path)
    cloudpickle.register_pickle_by_value(sys.modules[__name__])  # the workers cannot import the tests
    pids = list(dask_client.run(os.getpid).values())
    outcome: dict[str, Any] = {}

    def job() -> None:
        try:
            outcome["rows"] = score_parquet(folder, tmp_path / "scored", SlowModel(model), "classification",
                                            client=dask_client, schema=schema, keep=["id"])
        except Exception as err:  # the outcome is asserted below
            outcome["error"] = err

    thread = threading.Thread(target=job)
    thread.start()
    time.sleep(1.0)
    os.kill(pids[0], signal.SIGKILL)
    thread.join(timeout=120)
    dask_client.wait_for_workers(2, timeout=60)  # the nanny restarts it for the tests after

    leftovers = [p.name for p in tmp_path.iterdir() if p.name.startswith(".scored")]
    assert leftovers == []
    if "error" in outcome:
        assert "no output was written" in str(outcome["error"])
        assert not (tmp_path / "scored").exists()
        return
    scored = pd.read_parquet(tmp_path / "scored")
    assert outcome["rows"] == len(frame) and scored["id"].is_unique and len(scored) == len(frame)


def test_the_drift_command_runs_on_a_scheduler_and_refuses_folders_locally(tmp_path: Path, dask_client: Any) -> None:
    import json

    from typer.testing import CliRunner

    from leanloop.cli import app

    rng = np.random.default_rng(5)
    reference, current = _frame(rng, 3_000, 0.0), _frame(rng, 3_000, 3.0)
    reference.to_parquet(tmp_path / "reference.parquet", index=False)
    current.to_parquet(tmp_path / "current.parquet", index=False)
    folder = _write_parts(current, tmp_path / "current", parts=3)
    runner = CliRunner()

    local = runner.invoke(app, ["drift", str(tmp_path / "reference.parquet"), str(tmp_path / "current.parquet"),
                                "--json"])
    on_dask = runner.invoke(app, ["drift", str(tmp_path / "reference.parquet"), str(folder), "--json",
                                  "--scheduler", dask_client.scheduler.address])
    refused = runner.invoke(app, ["drift", str(tmp_path / "reference.parquet"), str(folder)])

    assert local.exit_code == 0 and on_dask.exit_code == 0, on_dask.output
    _assert_same(json.loads(local.stdout), json.loads(on_dask.stdout))
    assert refused.exit_code == 2 and "add --engine dask" in refused.output
