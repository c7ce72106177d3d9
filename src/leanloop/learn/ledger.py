"""The ledger: the project's memory, as typed records, read and written here only.

Each entry is either a :class:`Cycle` (a turn of the loop: measurement, decision,
what was done) or a :class:`LedgerEvent` (a manual promotion or rollback, the start
or stop of shadow mode), told apart by ``kind`` (:data:`LedgerEntry`, a pydantic
discriminated union). The stored JSON is what ``to_json`` returns; entries written
before ``kind`` existed are cycles. An entry's id is reserved before its cycle runs
(:func:`reserve`) and its body written when it ends (:func:`write`); a cycle that
never finished (no decision recorded) is not a ledger entry yet, and readers skip it.

Examples
--------
>>> entry = parse({"kind": "rollback", "cycle": 3, "created_at": 0.0, "champion_before": "v2",
...                "champion_after": "v1", "reason": "manual"})
>>> type(entry).__name__, entry.kind
('LedgerEvent', 'rollback')
>>> parse({}) is None
True
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

from leanloop.errors import NotFoundError
from leanloop.learn.compare import Comparison
from leanloop.learn.evidence import History
from leanloop.learn.policy import Decision
from leanloop.learn.testset import Added

if TYPE_CHECKING:
    from leanloop.store import SQLStore

__all__ = ["Cycle", "EventKind", "LedgerEvent", "LedgerEntry", "parse", "reserve", "write", "entries", "cycles", "entry",
           "history"]


#: What a :class:`LedgerEvent` records.
EventKind = Literal["promote", "rollback", "shadow", "shadow_stop"]


class Cycle(BaseModel):
    """A turn of the loop; ``to_json`` is what ``leanloop cycle --json`` prints."""

    model_config = ConfigDict(frozen=True)

    cycle: int
    created_at: float
    measurement: dict[str, Any]
    decision: Decision
    champion_before: str
    champion_after: str
    challenger: str | None = None
    comparison: Comparison | None = None
    promoted: bool = False
    rolled_back: bool = False
    training: dict[str, Any] | None = None
    testset: Added | None = None
    shadowed: str | None = None
    shadow: dict[str, Any] | None = None
    error: str | None = None
    durations: dict[str, float] = Field(default_factory=dict)
    # last, so the stored key order is the one written before the field existed
    kind: Literal["cycle"] = "cycle"

    def to_json(self) -> dict[str, Any]:
        """The stable JSON shape."""
        body = self.model_dump(mode="json")
        if self.comparison is not None:
            body["comparison"]["promote"] = self.comparison.promote
        return body

    def explain(self) -> str:
        """The decision's rules and, if a challenger was judged, the gate's checks."""
        parts = [f"cycle {self.cycle}: champion {self.champion_before} -> {self.champion_after}"]
        if self.shadow is not None:
            parts.append(f"shadow trial of {self.shadow['shadow']}: {self.shadow['verdict']} ({self.shadow['says']})")
        parts.append(self.decision.explain())
        parts += _rule_worth(self.measurement)
        if self.training and self.training.get("strategy") == "recalibrate":
            parts.append(f"{self.challenger} recalibrated: the same fitted model with a new prior correction and "
                         "calibration (see the recalibrate rule above for why not a retrain)")
        if self.comparison is not None:
            parts.append(self.comparison.explain())
        if self.shadowed:
            parts.append(f"{self.shadowed} passed the gate and went on trial in shadow mode")
        if self.error:
            parts.append(f"error: {self.error}")
        return "\n".join(parts)


def _rule_worth(measurement: dict[str, Any]) -> list[str]:
    """The KPI under the served label rule beside what argmax would have earned on the same rows."""
    served, argmax = measurement.get("kpis") or {}, measurement.get("argmax_kpis") or {}
    totals = [k for k in argmax if k.endswith("_total") and k in served]
    return [f"{k[:-6]}: {served[k]:,.0f} under the served rule, {argmax[k]:,.0f} with argmax on the same labelled rows "
            f"({served[k] - argmax[k]:+,.0f})" for k in totals]


class LedgerEvent(BaseModel):
    """A change of champion outside a cycle's own gate (manual promote or rollback), or
    the start or stop of shadow mode (``shadow``, ``shadow_stop``; the version is in
    ``evidence["shadow"]``)."""

    model_config = ConfigDict(frozen=True)

    kind: EventKind
    cycle: int
    created_at: float
    champion_before: str
    champion_after: str
    reason: str
    evidence: dict[str, Any] = Field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        """The stable JSON shape, as ``leanloop history --json`` lists it."""
        return self.model_dump(mode="json")

    def explain(self) -> str:
        """One line: what changed, and why."""
        shadow = self.evidence.get("shadow")
        what = f"{self.kind} {shadow}" if shadow else self.kind
        return (f"ledger entry {self.cycle}: {what} ({self.reason}); "
                f"champion {self.champion_before} -> {self.champion_after}")


LedgerEntry = Annotated[Cycle | LedgerEvent, Field(discriminator="kind")]
_ENTRY: TypeAdapter[Cycle | LedgerEvent] = TypeAdapter(LedgerEntry)


def parse(body: dict[str, Any]) -> Cycle | LedgerEvent | None:
    """The typed entry of a stored body; ``None`` for a cycle that never finished."""
    if body.get("kind", "cycle") == "cycle" and not body.get("decision"):
        return None
    return _ENTRY.validate_python({"kind": "cycle", **body})


def reserve(store: SQLStore, at: float) -> int:
    """The id of a new ledger entry, written later by :func:`write`."""
    return store.add_cycle({}, at=at)


def write(store: SQLStore, record: Cycle | LedgerEvent) -> None:
    """Store ``record`` under its id (reserved by :func:`reserve`)."""
    store.update_cycle(record.cycle, record.to_json())


def entries(store: SQLStore) -> list[Cycle | LedgerEvent]:
    """Every finished entry, oldest first."""
    return [e for e in map(parse, store.cycles()) if e is not None]


def cycles(store: SQLStore) -> list[Cycle]:
    """The finished cycles, oldest first (events left out)."""
    return [e for e in entries(store) if isinstance(e, Cycle)]


def entry(store: SQLStore, entry_id: int) -> Cycle | LedgerEvent:
    """Entry ``entry_id``; a :class:`~leanloop.errors.NotFoundError` if it does not
    exist or its cycle did not finish."""
    found = parse(store.get_cycle(entry_id))
    if found is None:
        raise NotFoundError(f"cycle {entry_id} did not finish (no decision was recorded)")
    return found


def history(ledger: list[Cycle]) -> History:
    """What the ledger's cycles (oldest first) say for the policy.

    - ``cycles_since_retrain``: cycles since the last one that trained a challenger;
    - ``harm_streak``: how many of the latest cycles in a row saw a performance or KPI
      drop (whatever they decided);
    - ``failed_retrains``: retrains since the KPI was last healthy that did not bring it
      back (a rejected challenger, or a promoted one after which the KPI still fell).

    >>> from leanloop.learn.policy import Action, Rule
    >>> fired = Decision(action=Action.RETRAIN, reasons=[Rule(rule="kpi_drop", value=None, threshold=None,
    ...                                                        fired=True, says="")])
    >>> history([Cycle(cycle=1, created_at=0.0, measurement={}, decision=fired, champion_before="v1",
    ...                champion_after="v1", challenger="v2")])
    History(cycles_since_retrain=0, harm_streak=1, failed_retrains=1)
    """
    since: int | None = None
    streak = 0
    failed = 0
    streak_open = True
    for position, cycle in enumerate(reversed(ledger)):
        fired = {r.rule for r in cycle.decision.reasons if r.fired}
        harmed = bool(fired & {"metric_drop", "kpi_drop", "estimated_drop"})
        if since is None and cycle.challenger:
            since = position
        if streak_open and harmed:
            streak += 1
            failed += bool(cycle.challenger)
        else:
            streak_open = False
    return History(cycles_since_retrain=since, harm_streak=streak, failed_retrains=failed)
