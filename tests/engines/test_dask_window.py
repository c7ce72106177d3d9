"""Contract: ``leanloop measure`` and ``cycle`` on the Dask engine measure a window of the
log as the local engine does (the session's real cluster of two worker processes): the
same numbers, drifted flags and decision; a window larger than a worker's memory
completes; a worker killed mid-measure leaves the cycle whole or failed, never half done."""

from __future__ import annotations

import json
import os
import shutil
import signal
import threading
import time
from collections.abc import Iterator
from itertools import pairwise
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from leanloop.cli import app
from leanloop.config import EngineConfig
from leanloop.engines.dask_window import dask_columns, part_bounds
from leanloop.errors import EngineError
from leanloop.measure.drift import drift_report
from leanloop.measure.quality import quality_report
from tests.conftest import small_built_project
from tests.engines.conftest import two_workers_again

from .test_dask import _assert_same

pytestmark = pytest.mark.dask

LOCAL = EngineConfig()
#: What two measurements of one window differ in by design.
_PER_RUN = ("measured_at", "durations")


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory, car_loan_data) -> Iterator[Any]:
    """A built project that logged 2,400 analysis rows (drifted), half of them labelled."""
    built = small_built_project(tmp_path_factory.mktemp("dask-window"), car_loan_data)
    rows = car_loan_data.analysis.merge(car_loan_data.analysis_targets, on="id").tail(2400).reset_index(drop=True)
    scored = built.predict(rows.drop(columns=["repaid"]))
    built.feedback(zip(scored["prediction_id"][::2], rows["repaid"][::2].astype(int), strict=True))
    yield built
    built.close()


def _on(client: Any) -> EngineConfig:
    """The Dask engine on the session's cluster (by its scheduler's address, as a user gives it)."""
    return EngineConfig(kind="dask", scheduler=client.scheduler.address)


def _plain(body: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in body.items() if k not in _PER_RUN}


def test_part_bounds_cover_every_row_once() -> None:
    for rows, parts in [(0, 3), (1, 4), (10, 3), (1_000_003, 8)]:
        bounds = part_bounds(rows, parts=parts)
        assert all(b > a for a, b in bounds) and sum(b - a for a, b in bounds) == rows
        assert all(end == start for (_, end), (start, _) in pairwise(bounds))


def test_measure_on_dask_equals_the_local_engine(project: Any, dask_client: Any) -> None:
    local = project.measure(last=2400, save=False, engine=LOCAL).to_json()
    result = CliRunner().invoke(app, ["measure", "--last", "2400", "--dir", str(project.paths.root),
                                      "--scheduler", dask_client.scheduler.address, "--json"])
    assert result.exit_code == 0, result.output
    dask = json.loads(result.stdout)

    assert local["drifted_features"], "the analysis rows drift: the flags are compared, not only empty lists"
    assert local["quality"]["results"] and local["performance"]["realized"] and local["performance"]["estimated"]
    _assert_same(_plain(local), _plain(dask))
    assert not (project.workspace.paths.workspace / "dask").exists() or \
        not any((project.workspace.paths.workspace / "dask").iterdir()), "the window's parts are removed"


def test_cycle_on_dask_decides_as_the_local_engine(project: Any, dask_client: Any, tmp_path: Path) -> None:
    # Two copies of the project, so that each cycle decides on the same history; the second's
    # [engine] says dask, as a server's would: its unattended loop measures through the same call.
    from distributed import get_task_stream

    from leanloop.config import render_config
    from leanloop.project import Project

    copies = [shutil.copytree(project.paths.root, tmp_path / name) for name in ("local", "dask")]
    config = project.config.model_copy(update={"engine": _on(dask_client)})
    (copies[1] / "leanloop.toml").write_text(render_config(config), encoding="utf-8")
    with Project(copies[0]) as first, Project(copies[1]) as second, get_task_stream(dask_client) as tasks:
        local = first.cycle(last=2000, act=False)
        dask = second.cycle(last=2000, act=False)

    measured = ("piece_part", "measure_column")  # a column's pieces, or a whole column in one task
    assert any(str(t["key"]).startswith(measured) for t in tasks.data), "the window was measured on the cluster"

    assert dask.error is None and dask.decision == local.decision
    _assert_same(_plain(local.measurement), _plain(dask.measurement))


def test_a_window_larger_than_a_worker_memory_limit_completes(tmp_path: Path) -> None:
    # Its own cluster, since the limit must be low: 450 MB per worker (one that has measured holds
    # about 255 MB), spilling and pausing off so the limit is the hard one (the nanny kills a worker
    # at 95 %). The window: 7.5M rows x 8 numeric features = 480 MB, as the client read it; its
    # parts go through the same measure_parquet as `leanloop drift --engine dask` (this test stands
    # for that command's too).
    import dask
    import distributed

    from leanloop.config import ProjectConfig
    from leanloop.schema import Feature, FeatureKind, Schema
    from leanloop.workspace import Workspace

    rng = np.random.default_rng(1)
    rows, names = 7_500_000, [f"f{j}" for j in range(8)]
    schema = Schema(features=[Feature(name=n, kind=FeatureKind.NUMERIC) for n in names])
    config = ProjectConfig(data={"path": "t.csv", "target": "y", "task": "regression"}, schema=schema)
    current = pd.DataFrame(rng.standard_normal((rows, len(names))), columns=names)
    current["f0"] += 0.5  # one drifted feature
    reference = pd.DataFrame(rng.standard_normal((20_000, len(names))), columns=names)
    limit = 450e6
    assert current.memory_usage().sum() > limit
    settings = {"distributed.worker.memory.target": False, "distributed.worker.memory.spill": False,
                "distributed.worker.memory.pause": False}
    with dask.config.set(settings), distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, memory_limit=int(limit),
            dashboard_address=None) as cluster, distributed.Client(cluster) as client:
        result = dask_columns(Workspace(config, tmp_path), client)(reference, current)

    assert [r.n_current for r in result.drift.features] == [rows] * len(names)
    assert result.drift.drifted == ["f0"]
    assert result.quality is not None and result.quality.n_current == rows


def test_the_hook_equals_drift_and_quality_reports_on_frames(project: Any, dask_client: Any) -> None:
    config = project.config
    reference = pd.read_parquet(project.workspace.paths.datasets / project.workspace.registry.champion().train_data)
    current = config.schema_.coerce(reference.sample(frac=1.0, random_state=1).head(900), "t")
    current.iloc[::7, 0] = None
    from leanloop.measure.drift import DriftOptions

    options = DriftOptions.from_config(config.measure, seed=config.model.seed)
    found = dask_columns(project.workspace, dask_client)(reference, current)
    local_drift = drift_report(reference[config.schema_.names], current, options=options,
                               methods=config.measure.drift_methods, schema=config.schema_)
    local_quality = quality_report(reference, current, config.schema_, config.quality)

    assert found.quality is not None
    _assert_same(local_drift.to_json(), found.drift.to_json())
    _assert_same(local_quality.to_json(), found.quality.to_json())


def test_calibrated_thresholds_are_refused_with_the_fix_and_leave_no_parts(tmp_path: Path, dask_client: Any) -> None:
    from leanloop.config import ProjectConfig
    from leanloop.errors import InputError
    from leanloop.workspace import Workspace

    frame = pd.DataFrame({"x": np.arange(50.0)})
    config = ProjectConfig(data={"path": "t.csv", "target": "y", "task": "regression"},
                           schema={"features": [{"name": "x", "kind": "numeric"}]},
                           measure={"threshold_mode": "calibrated"})
    with pytest.raises(InputError, match="--engine local"):
        dask_columns(Workspace(config, tmp_path), dask_client)(frame, frame)
    assert not any((tmp_path / ".leanloop" / "dask").iterdir())


def test_a_worker_killed_mid_measure_leaves_a_whole_or_a_failed_cycle(project: Any, dask_client: Any) -> None:
    scratch = project.workspace.paths.workspace / "dask"
    before = project.store.latest_measurement()
    expected = project.measure(last=2400, save=False, engine=LOCAL).to_json()
    pids = list(dask_client.run(os.getpid).values())
    outcome: dict[str, Any] = {}

    def job() -> None:
        try:
            outcome["cycle"] = project.cycle(last=2400, act=False, engine=_on(dask_client))
        except EngineError as err:
            outcome["error"] = err

    thread = threading.Thread(target=job)
    thread.start()
    deadline = time.monotonic() + 60
    while not (scratch.is_dir() and any(scratch.iterdir())) and time.monotonic() < deadline:
        time.sleep(0.002)
    os.kill(pids[0], signal.SIGKILL)
    thread.join(timeout=120)
    two_workers_again(dask_client)  # the nanny restarts it for the tests after

    assert not any(scratch.iterdir()), "the window's parts are removed either way"
    last = project.ledger()[-1]
    if "error" in outcome:
        assert "measuring the window on Dask failed, and nothing of it was saved" in str(outcome["error"])
        assert last.error is not None and last.stage == "measuring" and not last.promoted
        assert last.measurement == {} and project.store.latest_measurement() == before
        return
    assert last.error is None and last.cycle == outcome["cycle"].cycle
    _assert_same(_plain(expected), _plain(outcome["cycle"].measurement))
