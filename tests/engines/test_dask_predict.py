"""Contract: ``leanloop predict --engine dask`` scores and logs a Parquet folder exactly as
the local engine scores and logs the same rows as one file (the session's real cluster)."""

from __future__ import annotations

import os
import signal
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from leanloop.batch import BatchOptions, predict_file
from leanloop.engines.dask_batch import predict_dask
from leanloop.errors import DataError
from tests.conftest import small_built_project
from tests.engines.conftest import two_workers_again

from .slow_model import SlowModel

pytestmark = pytest.mark.dask

#: What differs between two runs by design: ids, log times and log order are per run.
_PER_RUN = ("prediction_id", "created_at", "seq")


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory, car_loan_data) -> Iterator:
    built = small_built_project(tmp_path_factory.mktemp("dask-predict"), car_loan_data)
    yield built
    built.close()


@pytest.fixture(scope="module")
def rows(car_loan_data) -> pd.DataFrame:
    """1,200 rows with ids and zoned times; one row with an unseen category, one with a bad number."""
    frame = car_loan_data.analysis.head(1200).reset_index(drop=True)
    frame["timestamp"] = pd.to_datetime(frame["timestamp"]).dt.strftime("%Y-%m-%dT%H:%M:%SZ")
    return frame


def _folder(frame: pd.DataFrame, folder: Path, parts: int) -> Path:
    folder.mkdir()
    for i, part in enumerate(np.array_split(np.arange(len(frame)), parts)):
        frame.iloc[part].to_parquet(folder / f"part-{i:02d}.parquet", index=False)
    return folder


def _logged(project, ids: pd.Series) -> list[dict[str, Any]]:
    records = [project.store.get_prediction(i) for i in ids]
    return [{k: v for k, v in r.items() if k not in _PER_RUN} for r in records]


def test_dask_scoring_equals_local_scoring_row_for_row_and_logs_the_same_rows(project, rows, dask_client,
                                                                               tmp_path: Path) -> None:
    single = tmp_path / "day.parquet"
    rows.to_parquet(single, index=False)
    folder = _folder(rows, tmp_path / "day", parts=4)
    before = project.store.count_predictions()
    local = predict_file(project.workspace, single, BatchOptions(chunk_rows=500))
    seen: list[int] = []
    remote = predict_dask(project.workspace, folder, BatchOptions(output=tmp_path / "dask.parquet"),
                          client=dask_client, progress=seen.append)
    assert remote.model_dump(exclude={"input", "output", "seconds", "rows_per_second"}) == \
        local.model_dump(exclude={"input", "output", "seconds", "rows_per_second"})
    assert remote.logged == remote.rows == 1200 and sum(seen) == 1200 and len(seen) == 4
    assert project.store.count_predictions() == before + 2400
    ours, theirs = pd.read_parquet(tmp_path / "dask.parquet"), pd.read_parquet(local.output)
    pd.testing.assert_frame_equal(ours.drop(columns="prediction_id"), theirs.drop(columns="prediction_id"))
    assert ours["prediction_id"].is_unique and not set(ours["prediction_id"]) & set(theirs["prediction_id"])
    assert _logged(project, ours["prediction_id"]) == _logged(project, theirs["prediction_id"])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dask.parquet", "day", "day.parquet",
                                                          "day.predictions.parquet"]


def test_a_bad_row_in_a_later_partition_stops_the_run_as_locally_with_nothing_written_or_logged(
        project, rows, dask_client, tmp_path: Path) -> None:
    frame = rows.head(300).copy()
    frame["timestamp"] = frame["timestamp"].astype(object)
    frame.loc[250, "timestamp"] = "2024-01-01T00:00:00"  # no zone, where the file's first time has one
    single = tmp_path / "bad.parquet"
    frame.to_parquet(single, index=False)
    folder = _folder(frame, tmp_path / "bad", parts=3)
    before = project.store.count_predictions()
    with pytest.raises(DataError) as local:
        predict_file(project.workspace, single, BatchOptions())
    with pytest.raises(DataError) as remote:
        predict_dask(project.workspace, folder, BatchOptions(output=tmp_path / "out.parquet"), client=dask_client)
    assert str(remote.value).replace("bad:", "") == str(local.value).replace("bad.parquet:", "")
    assert "row 250, column 'timestamp'" in str(remote.value)
    assert project.store.count_predictions() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad", "bad.parquet"]


def test_the_predict_command_on_a_scheduler_sets_bad_rows_aside_as_locally(project, rows, dask_client,
                                                                           tmp_path: Path) -> None:
    import json

    from typer.testing import CliRunner

    from leanloop.cli import app

    frame = rows.head(400).copy()
    frame["car_value"] = frame["car_value"].astype(str)
    frame.loc[[30, 350], "car_value"] = "lots"
    frame.to_parquet(tmp_path / "mixed.parquet", index=False)
    folder = _folder(frame, tmp_path / "mixed", parts=2)
    runner = CliRunner()
    common = ["--skip-invalid", "--no-log", "--json", "--dir", str(project.paths.root)]
    local = runner.invoke(app, ["predict", str(tmp_path / "mixed.parquet"), *common])
    remote = runner.invoke(app, ["predict", str(folder), *common, "--scheduler", dask_client.scheduler.address])
    assert local.exit_code == 0 and remote.exit_code == 0, remote.output
    ours, theirs = json.loads(remote.stdout), json.loads(local.stdout)
    assert (ours["rows"], ours["scored"], ours["rejected"], ours["logged"]) == (400, 398, 2, 0)
    assert ours["output"] == str(tmp_path / "mixed.predictions.parquet")
    pd.testing.assert_frame_equal(pd.read_parquet(ours["output"]), pd.read_parquet(theirs["output"]))
    pd.testing.assert_frame_equal(pd.read_csv(ours["rejects"]), pd.read_csv(theirs["rejects"]))
    url = runner.invoke(app, ["predict", folder.as_uri(), "-o", str(tmp_path / "url.parquet"), *common,
                              "--scheduler", dask_client.scheduler.address])
    assert url.exit_code == 0, url.output
    pd.testing.assert_frame_equal(pd.read_parquet(tmp_path / "url.parquet"), pd.read_parquet(theirs["output"]))


def test_a_worker_killed_mid_job_logs_every_row_once_or_nothing(project, rows, dask_client, tmp_path: Path) -> None:
    import cloudpickle

    from leanloop.batch.run import chunk_scorer

    cloudpickle.register_pickle_by_value(sys.modules[__name__])  # the workers cannot import the tests
    scorer = chunk_scorer(project.workspace)
    slow = replace(scorer, model=SlowModel(scorer.model))
    folder = _folder(rows, tmp_path / "day", parts=6)
    before = project.store.count_predictions()
    pids = list(dask_client.run(os.getpid).values())
    outcome: dict[str, Any] = {}

    def job() -> None:
        try:
            outcome["result"] = predict_dask(project.workspace, folder, BatchOptions(output=tmp_path / "out.parquet"),
                                             client=dask_client, scorer=slow)
        except Exception as err:  # the outcome is asserted below
            outcome["error"] = err

    thread = threading.Thread(target=job)
    thread.start()
    time.sleep(1.2)
    os.kill(pids[0], signal.SIGKILL)
    thread.join(timeout=120)
    two_workers_again(dask_client)  # the nanny restarts it for the tests after

    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".out")] == []
    if "error" in outcome:
        added = project.store.count_predictions() - before
        assert not (tmp_path / "out.parquet").exists()
        assert ("nothing was written or logged" in str(outcome["error"]) and added == 0) or \
            f"the {added:,} rows scored before stay logged" in str(outcome["error"])
        return
    out = pd.read_parquet(tmp_path / "out.parquet")
    assert outcome["result"].logged == len(out) == 1200 and out["prediction_id"].is_unique
    assert project.store.count_predictions() == before + 1200
    assert out["row"].tolist() == list(range(1200))
