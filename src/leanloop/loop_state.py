"""Where the unattended loop stands: rows and time since the last cycle, the running
cycle, the last decision, and when the next cycle is due.

The state is read from the store alone (the ledger and the prediction count), so every
worker, every server sharing the store, and ``leanloop loop`` on the command line see
the same answer. Rows are counted from the ``logged_rows`` mark of the newest cycle
that recorded one (started, finished, failed or interrupted alike); time from that
cycle's start, or from the champion's creation before the first cycle.

Examples
--------
>>> from leanloop.schedule import Schedule
>>> status = LoopStatus(enabled=True, every_rows=500, every_seconds=None, rows_since=120,
...                     seconds_since=30.0, next_due={"rows": 380, "seconds": None})
>>> status.to_json()["next_due"]
{'rows': 380, 'seconds': None}
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict

from leanloop.learn import ledger

if TYPE_CHECKING:
    from leanloop.schedule import Schedule
    from leanloop.workspace import Workspace

__all__ = ["LoopStatus", "loop_status", "rows_and_seconds"]

#: Ledger entries read for the loop's state: the newest cycle is among them. The loop
#: process reads the marks every poll, so only a few entries (each holds a measurement);
#: the whole ledger grows without end.
_NEWEST, _MARKS = 20, 5


class LoopStatus(BaseModel):
    """What ``GET /loop`` and ``leanloop loop --json`` show."""

    model_config = ConfigDict(frozen=True)

    enabled: bool
    every_rows: int
    every_seconds: float | None
    rows_since: int
    seconds_since: float
    #: The cycle running now: ``{"cycle", "stage", "trigger", "started_at"}``.
    running: dict[str, Any] | None = None
    #: The newest finished cycle: ``{"cycle", "trigger", "action", "at", "champion_after", "error", "interrupted"}``.
    last: dict[str, Any] | None = None
    #: Rows and seconds still to go before a cycle is due (``None``: not scheduled that way).
    next_due: dict[str, float | int | None]
    #: Whether this server runs the loop (``None`` when asked outside a server).
    runs_here: bool | None = None

    def to_json(self) -> dict[str, Any]:
        """The stable JSON shape."""
        return self.model_dump(mode="json")


def _marks(bodies: list[dict[str, Any]]) -> tuple[int | None, float | None]:
    """The newest ``(logged_rows, started_at)`` recorded by any cycle entry."""
    for body in reversed(bodies):
        state = body.get("running") if "running" in body and not body.get("decision") else body
        if state and state.get("logged_rows") is not None:
            return int(state["logged_rows"]), float(state.get("started_at", body.get("created_at", 0.0)))
    return None, None


def rows_and_seconds(ws: Workspace, *, now: float | None = None) -> tuple[int, float]:
    """New predictions and seconds since the newest cycle started (before any: since
    the champion was created)."""
    now = time.time() if now is None else now
    rows, at = _marks(ws.store.cycles(newest=_MARKS))
    logged = ws.store.logged_total()  # not count(): retention deletes rows
    if at is None:
        at = ws.registry.champion().created_at
    return logged - (rows or 0), max(now - at, 0.0)


def loop_status(ws: Workspace, schedule: Schedule, *, now: float | None = None,
                runs_here: bool | None = None) -> LoopStatus:
    """The loop's state for ``schedule`` (see the module's docstring)."""
    bodies = ws.store.cycles(newest=_NEWEST)
    rows, seconds = rows_and_seconds(ws, now=now)
    running = [b for b in bodies if "running" in b and not b.get("decision")]
    current = None
    if running:
        state = running[-1]["running"]
        current = {"cycle": running[-1]["cycle"], "stage": state.get("stage"), "trigger": state.get("trigger"),
                   "started_at": state.get("started_at")}
    finished = [e for e in map(ledger.parse, bodies) if isinstance(e, ledger.Cycle)]
    last = None
    if finished:
        c = finished[-1]
        last = {"cycle": c.cycle, "trigger": None if c.trigger is None else c.trigger.value,
                "action": c.decision.action.value, "at": c.created_at, "champion_after": c.champion_after,
                "error": c.error, "interrupted": c.interrupted}
    return LoopStatus(enabled=schedule.enabled, every_rows=schedule.every_rows, every_seconds=schedule.every_seconds,
                      rows_since=rows, seconds_since=seconds, running=current, last=last,
                      next_due=schedule.next_due(rows_since=rows, seconds_since=seconds), runs_here=runs_here)
