"""Promotions, rollbacks, shadow starts and stops: one JSON line each in the server log.

Whoever makes them (an admin request, the server's own loop, ``leanloop promote`` in a
shell, a notebook) writes a ledger entry. The server follows the ledger and writes one
line per such entry to its log (logger ``leanloop.server``: JSON lines under ``leanloop
serve``), e.g. ``{"ts": ..., "level": "info", "logger": "leanloop.server", "msg":
"promotion", "event": "promotion", "ledger_entry": 7, "champion_before": "v1",
"champion_after": "v2", "reason": "manual", "by": "manual"}``. Cycles count too: a
cycle that promoted, rolled back, put a challenger on trial in shadow mode or ended a
trial writes the same lines (``"by": "cycle"``).

One line per event per server: of several worker processes, only the one holding an
``flock`` on ``.leanloop/events.cycle.lock`` writes them (another takes over when it
exits). Entries written before the server started are not repeated; a cycle still
running is read again until it is written.

Examples
--------
>>> from leanloop.learn.ledger import parse
>>> event = parse({"kind": "shadow", "cycle": 4, "created_at": 0.0, "champion_before": "v1",
...                "champion_after": "v1", "reason": "http", "evidence": {"shadow": "v2"}})
>>> [(line["event"], line["shadow"], line["by"]) for line in lines(event)]
[('shadow_start', 'v2', 'manual')]
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from leanloop.leader import FileCycleLock
from leanloop.learn.ledger import Cycle, LedgerEvent, parse

if TYPE_CHECKING:
    from pathlib import Path

    from leanloop.store import SQLStore

__all__ = ["EventLog", "lines"]

server_log = logging.getLogger("leanloop.server")

_KINDS = {"promote": "promotion", "rollback": "rollback", "shadow": "shadow_start", "shadow_stop": "shadow_stop"}


def lines(entry: Cycle | LedgerEvent) -> list[dict[str, Any]]:
    """The log lines of a finished ledger entry (none for a cycle that changed nothing)."""
    base = {"ledger_entry": entry.cycle, "champion_before": entry.champion_before,
            "champion_after": entry.champion_after}
    if isinstance(entry, LedgerEvent):
        shadow = {"shadow": entry.evidence["shadow"]} if "shadow" in entry.evidence else {}
        return [{"event": _KINDS[entry.kind], **base, "reason": entry.reason, "by": "manual", **shadow}]
    found = []
    why = {"reason": entry.decision.action.value, "by": "cycle"}
    if entry.promoted or entry.champion_after != entry.champion_before:
        found.append({"event": "rollback" if entry.rolled_back else "promotion", **base, **why})
    if entry.shadowed:
        found.append({"event": "shadow_start", **base, **why, "shadow": entry.shadowed})
    trial = entry.shadow or {}
    if trial.get("verdict") in ("promote", "reject"):
        found.append({"event": "shadow_stop", **base, **why, "shadow": trial.get("shadow"),
                      "verdict": trial["verdict"]})
    return found


class EventLog:
    """Follow the ledger from now on and log each promotion, rollback, shadow start and stop."""

    def __init__(self, store: SQLStore, workspace: Path) -> None:
        self.store = store
        self.lock = FileCycleLock(workspace / "events")
        self._after: int | None = None  # every entry up to this id is logged (or predates the server)
        self._logged: set[int] = set()

    def start(self) -> None:
        """Remember where the ledger stands: older entries are not logged."""
        entries = self.store.ledger_after(None, newest=1)
        self._after = entries[-1][0] if entries else 0

    def poll(self) -> int:
        """Log the entries finished since the last poll (only in the leading worker); how many lines."""
        if self._after is None:
            self.start()
        if not self.lock.acquire():
            return 0
        written, unfinished = 0, None
        for entry_id, body in self.store.ledger_after(self._after):
            entry = parse(body)
            if entry is None:  # a cycle still running: read it again next time
                unfinished = entry_id if unfinished is None else unfinished
                continue
            if entry_id not in self._logged:
                for fields in lines(entry):
                    server_log.info(fields["event"], extra={"fields": fields})
                    written += 1
                self._logged.add(entry_id)
            if unfinished is None:
                self._after = entry_id
                self._logged = {i for i in self._logged if i > entry_id}
        return written

    def close(self) -> None:
        """Give the lead to another worker."""
        self.lock.close()
