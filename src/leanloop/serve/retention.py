"""Retention by the running loop: the server that runs the loop keeps the store bounded.

With ``[store] retention_days`` set, the loop process (run by the one server holding the
loop lock, :mod:`~leanloop.serve.leadership`) does what ``leanloop export`` does
(:func:`leanloop.archive.archive_log`): it exports the new rows to ``[store]
archive_dir``, then deletes the rows older than ``retention_days`` that it reads back
from the archive's files. It does so when the loop process starts (a server that takes
the lock over catches up at once), before each cycle the schedule makes due, and at
least every :data:`EVERY_SECONDS` between (rows age past the cut-off without traffic).

The export is written and its manifest replaced before any row is deleted, and only rows
read back from the archive are deleted: a crash between the two (SIGKILL included)
loses nothing, and the next run exports nothing twice (the manifest's high-water mark)
and deletes what the crashed one did not.

Each run is one event for the server's log (``{"event": "retention", "exported_rows":
..., "deleted_rows": ..., ...}``, a JSON line under ``leanloop serve``), or one with its
``error``; a failed run is tried again at the next turn that is due.

Examples
--------
>>> timer = RetentionTimer(every_seconds=60.0)
>>> timer.due(now=0.0, cycle_due=False)   # the loop process just started
True
>>> timer.ran(now=0.0); timer.due(now=30.0, cycle_due=False), timer.due(now=30.0, cycle_due=True)
(False, True)
>>> timer.due(now=61.0, cycle_due=False)
True
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from leanloop.archive.archiving import archive_log
from leanloop.times import iso

if TYPE_CHECKING:
    from leanloop.workspace import Workspace

__all__ = ["EVERY_SECONDS", "RetentionTimer", "run_retention"]

log = logging.getLogger("leanloop.loop")

#: The longest time between two retention runs of a loop process.
EVERY_SECONDS = 3600.0


@dataclass
class RetentionTimer:
    """When the loop process runs retention next: at its start, before a due cycle, and
    at least every ``every_seconds``."""

    every_seconds: float = EVERY_SECONDS
    last: float | None = None

    def due(self, *, now: float, cycle_due: bool) -> bool:
        """Whether retention should run now."""
        return self.last is None or cycle_due or now - self.last >= self.every_seconds

    def ran(self, *, now: float) -> None:
        """Retention ran (or failed) at ``now``."""
        self.last = now


def run_retention(ws: Workspace, *, now: float | None = None) -> dict[str, Any]:
    """Export the log to the archive and delete the archived rows past ``[store]
    retention_days``; the event the server logs (with ``error`` when it failed)."""
    began = time.monotonic()
    now = time.time() if now is None else now
    days = ws.config.store.retention_days
    try:
        done = archive_log(ws, now=now)
    except Exception as exc:  # the store or the disk failed: logged, and tried again next turn
        log.error("retention failed (%s: %s); the loop tries again at its next turn", type(exc).__name__, exc)
        return {"event": "retention", "retention_days": days, "error": f"{type(exc).__name__}: {exc}",
                "seconds": round(time.monotonic() - began, 3)}
    kept = done.retention
    return {"event": "retention", "retention_days": days, "archive": done.export.archive,
            "exported_rows": done.export.rows, "relabelled_rows": done.export.relabelled_rows,
            "cutoff": None if kept is None else iso(kept.cutoff), "older_rows": 0 if kept is None else kept.older,
            "deleted_rows": 0 if kept is None else kept.deleted,
            "not_archived_rows": 0 if kept is None else kept.not_archived,
            "seconds": round(time.monotonic() - began, 3)}
