"""Retention run by a real ``leanloop serve`` on SQLite: the loop process archives the log
and then deletes the rows past ``[store] retention_days``, never a row not in the archive,
and logs one JSON line. (On PostgreSQL: tests/serve/test_hosts.py, by the server
holding the loop lock of two.)"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from leanloop.archive.columns import ColumnSpec
from leanloop.archive.export import export_log
from leanloop.archive.manifest import load_manifest
from leanloop.demo import free_port
from leanloop.project import Project
from leanloop.store import SQLStore
from tests.serve.faults import FEATURES, Zygote, configure
from tests.serve.retention_helpers import OLD_SECONDS, log_rows, wait_for_retention

pytestmark = [pytest.mark.e2e]


def test_the_running_server_archives_then_deletes_old_rows_and_a_crash_between_loses_nothing(
        tmp_path: Path, car_loan_data: Any, zygote: Zygote) -> None:
    root = tmp_path / "project"
    root.mkdir()
    data = root / "loans.csv"
    car_loan_data.reference.head(800).to_csv(data, index=False)
    Project.init(data, target="repaid", id_column="id", time_column="timestamp", root=root).close()
    # No cycle is ever due: the loop process runs for retention alone.
    configure(root, model={"max_iter": 10}, store={"retention_days": 1.0},
              loop={"every_rows": 0, "poll_seconds": 0.2})
    project = Project(root)
    project.build()
    rows = car_loan_data.analysis.head(60)[FEATURES].to_dict("records")
    now = time.time()
    old = log_rows(project.store, rows[:40], prefix="old", at=now - OLD_SECONDS)
    recent = log_rows(project.store, rows[40:], prefix="new", at=now - 60.0)
    archive = project.paths.archive(project.config.store)
    # As if a run had exported and then crashed before deleting anything.
    spec = ColumnSpec.of(project.config.schema_, project.config.data.classes)
    assert export_log(project.store, archive, spec).rows == 60
    project.close()

    server = zygote.spawn(root, free_port(), loop=True)
    try:
        server.wait_ready()
        line = wait_for_retention(server)
    finally:
        server.kill()
    assert line["level"] == "info" and "error" not in line
    counts = (line["exported_rows"], line["older_rows"], line["deleted_rows"], line["not_archived_rows"])
    assert counts == (0, 40, 40, 0)
    assert line["archive"] == str(archive)
    store = SQLStore(f"sqlite:///{root / '.leanloop' / 'store.db'}")
    try:
        assert sorted(store.window()["prediction_id"]) == sorted(recent)
    finally:
        store.close()
    archived = pd.read_parquet(archive, columns=["prediction_id"])["prediction_id"]
    assert sorted(archived) == sorted(old + recent)  # every row once: nothing lost, nothing twice
    assert load_manifest(archive).rows() == 60
