"""One ``leanloop export``: the export, then retention when the store keeps a bounded log.

Examples
--------
>>> import tempfile, time
>>> from pathlib import Path
>>> from leanloop.config import DataConfig, ProjectConfig, StoreConfig
>>> from leanloop.schema import Feature, Schema
>>> from leanloop.workspace import Workspace
>>> config = ProjectConfig(data=DataConfig(path="d.csv", target="y", task="regression"),
...                        schema=Schema(features=[Feature(name="x", kind="numeric")]),
...                        store=StoreConfig(retention_days=1))
>>> now = time.time()
>>> with Workspace(config, Path(tempfile.mkdtemp())) as ws:
...     ws.store.insert_predictions([{"prediction_id": f"p{i}", "created_at": now - 86_400.0 * (2 - i),
...         "model_version": "v1", "features": {"x": i}, "prediction": 1.0, "probabilities": None}
...         for i in range(3)])
...     done = archive_log(ws, now=now)
...     done.export.rows, done.retention.deleted, len(ws.store.window()), len(ws.window())
(3, 1, 2, 3)
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from pydantic import BaseModel, ConfigDict

from leanloop.archive.columns import ColumnSpec
from leanloop.archive.export import ExportResult, export_log
from leanloop.archive.retention import RetentionResult, apply_retention
from leanloop.config import Task
from leanloop.errors import ProjectError
from leanloop.leader import FileCycleLock

if TYPE_CHECKING:
    from leanloop.workspace import Workspace

__all__ = ["Archived", "archive_log"]

#: How long an export waits for another one into the same folder to finish.
LOCK_WAIT_SECONDS = 600.0


class Archived(BaseModel):
    """What ``leanloop export`` did: the export, and retention (None when the store keeps every row)."""

    model_config = ConfigDict(frozen=True)

    export: ExportResult
    retention: RetentionResult | None = None


def archive_log(ws: Workspace, *, to: Path | None = None, since: float | None = None,
                now: float) -> Archived:
    """Export the log to ``to`` (default: ``[store] archive_dir``); with ``[store]
    retention_days``, then delete the archived rows older than that. Retention runs only
    for the configured archive: the one measurement reads back."""
    config = ws.config
    archive = ws.paths.archive(config.store)
    folder = archive if to is None else Path(to).resolve()
    spec = ColumnSpec.of(config.schema_, None if config.data.task is Task.REGRESSION else config.data.classes)
    folder.parent.mkdir(parents=True, exist_ok=True)
    # One export at a time into a folder: the server's loop runs retention, a person or cron may run export.
    lock = FileCycleLock(folder, suffix=".lock")
    try:
        if not lock.acquire(wait=LOCK_WAIT_SECONDS):
            raise ProjectError(f"another export into {folder} has run for over {LOCK_WAIT_SECONDS:g} s (the "
                               "server's loop, or another 'leanloop export'); try again when it has finished")
        exported = export_log(ws.store, folder, spec, since=since)
        days = config.store.retention_days
        if days is None or folder != archive:
            return Archived(export=exported)
        return Archived(export=exported, retention=apply_retention(ws.store, folder, days=days, now=now))
    finally:
        lock.close()
