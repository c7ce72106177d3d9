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
from leanloop.frames import Tabular
from leanloop.learn.compare import Comparison
from leanloop.learn.evidence import History
from leanloop.learn.policy import Decision
from leanloop.learn.testset import Added
from leanloop.schedule import Trigger

if TYPE_CHECKING:
    import pandas as pd

    from leanloop.store import SQLStore

__all__ = ["Cycle", "EventKind", "Stage", "LedgerEvent", "LedgerEntry", "parse", "reserve", "write", "entries",
           "cycles", "entry", "entry_row", "history", "start", "progress", "running", "record_alert"]


#: What a :class:`LedgerEvent` records.
EventKind = Literal["promote", "rollback", "shadow", "shadow_stop"]
#: Where a cycle is: each is written to its ledger entry as it starts, so a cycle whose
#: process died shows where it stopped.
Stage = Literal["measuring", "deciding", "training", "comparing", "promoting"]


class _Entry(Tabular):
    """What every ledger entry shows in a notebook: its one row of :func:`entry_row`."""

    def to_json(self) -> dict[str, Any]:
        raise NotImplementedError

    def to_frame(self) -> pd.DataFrame:
        """The entry as one row (:func:`entry_row`)."""
        import pandas as pd

        return pd.DataFrame([entry_row(self.to_json())])

    def frame_title(self) -> str:
        """``ledger entry N: kind``."""
        body = self.to_json()
        return f"ledger entry {body['cycle']}: {body['kind']}"


def entry_row(body: dict[str, Any]) -> dict[str, Any]:
    """A ledger entry's JSON (``leanloop history --json``) as one summary row: id, time,
    kind, the decision (a cycle) or the reason (an event), the champion before and after,
    the challenger and what became of it, the window's rows and drifted features.

    >>> entry_row({"kind": "rollback", "cycle": 3, "created_at": 0.0, "champion_before": "v2",
    ...            "champion_after": "v1", "reason": "manual"})["action"]
    'rollback (manual)'
    """
    from leanloop.times import iso

    measurement = body.get("measurement") or {}
    decision = body.get("decision") or {}
    return {"entry": body.get("cycle"), "created_at": iso(body.get("created_at")), "kind": body.get("kind", "cycle"),
            "action": decision.get("action") or f"{body.get('kind')} ({body.get('reason')})",
            "champion_before": body.get("champion_before"), "champion_after": body.get("champion_after"),
            "challenger": body.get("challenger"), "promoted": bool(body.get("promoted")),
            "rows": (measurement.get("window") or {}).get("rows"),
            "drifted": ", ".join(measurement.get("drifted_features") or [])}


class Cycle(_Entry, BaseModel):
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
    #: What started it (``None``: written before triggers were recorded).
    trigger: Trigger | None = None
    #: Predictions logged when it started: the unattended loop counts new rows from here.
    logged_rows: int | None = None
    #: Its process died at ``stage`` (found and recorded by the next holder of the cycle lock).
    interrupted: bool = False
    stage: Stage | None = None
    #: What happened to its webhook alert (:class:`~leanloop.alerts.AlertOutcome` as JSON).
    alert: dict[str, Any] | None = None
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
        parts += _rule_worth(self.measurement) + _accuracy_split(self.measurement)
        if self.training and self.training.get("strategy") == "recalibrate":
            parts.append(f"{self.challenger} recalibrated: the same fitted model with a new prior correction and "
                         "calibration (see the recalibrate rule above for why not a retrain)")
        if self.comparison is not None:
            parts.append(self.comparison.explain())
        if self.shadowed:
            parts.append(f"{self.shadowed} passed the gate and went on trial in shadow mode")
        if self.error:
            parts.append(f"{'interrupted' if self.interrupted else 'error'}: {self.error}")
        return "\n".join(parts)


def _accuracy_split(measurement: dict[str, Any]) -> list[str]:
    """The accuracy change from the holdout split into what the mix and what the model did."""
    split = measurement.get("accuracy_attribution")
    if not split:
        return []
    population, model = split["population"], split["model"]
    return [(f"accuracy {split['realized']:.4f} vs {split['reference']:.4f} on the holdout: the mix's part "
            f"{population['value']:+.4f} (CI {population['lower']:+.4f}..{population['upper']:+.4f}), the model's "
            f"{model['value']:+.4f} (CI {model['lower']:+.4f}..{model['upper']:+.4f})")]


def _rule_worth(measurement: dict[str, Any]) -> list[str]:
    """The champion's label rule, and the KPI under it beside what argmax would have
    earned on the same labelled rows."""
    served, argmax = measurement.get("kpis") or {}, measurement.get("argmax_kpis") or {}
    totals = [k for k in argmax if k.endswith("_total") and k in served]
    rule = measurement.get("label_rule")
    said = [] if rule is None else [f"{measurement.get('champion')} serves the {rule} label rule"]
    return said + [f"{k[:-6]}: {served[k]:,.0f} under the served rule, {argmax[k]:,.0f} with argmax on the same "
                   f"labelled rows ({served[k] - argmax[k]:+,.0f})" for k in totals]


class LedgerEvent(_Entry, BaseModel):
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


def history(ledger: list[Cycle], *, min_new_labels: int = 1) -> History:
    """What the ledger's cycles (oldest first) say for the policy. Only cycles that
    judged new labels count (see :func:`_fresh`; at least ``min_new_labels`` of them where
    the cycle recorded how many): evidence is counted once.

    - ``cycles_since_retrain``: cycles since the last one that trained a challenger;
    - ``harm_streak``: how many of the latest cycles in a row saw a performance or KPI
      drop the model is responsible for (whatever they decided; a population change is
      not harm and never counts toward a pivot);
    - ``failed_retrains``: retrains since the KPI was last healthy that did not bring it
      back (a rejected challenger, or a promoted one after which the KPI still fell).

    >>> from leanloop.learn.policy import Action, Rule
    >>> fired = Decision(action=Action.RETRAIN, reasons=[Rule(rule="kpi_drop", value=None, threshold=None,
    ...                                                        fired=True, says="")])
    >>> found = history([Cycle(cycle=1, created_at=0.0, measurement={}, decision=fired, champion_before="v1",
    ...                        champion_after="v1", challenger="v2")])
    >>> found.cycles_since_retrain, found.harm_streak, found.failed_retrains, found.adapting_rows
    (0, 1, 1, None)
    """
    fresh = _fresh(ledger, min_new_labels)
    since: int | None = None
    streak = 0
    failed = 0
    streak_open = True
    harm_since: float | None = None
    counted = [cycle for cycle, new in zip(ledger, fresh, strict=True) if new]
    for position, cycle in enumerate(reversed(counted)):
        fired = {r.rule for r in cycle.decision.reasons if r.fired}
        harmed = bool(fired & {"metric_drop", "kpi_drop", "estimated_drop"})
        if since is None and cycle.challenger:
            since = position
        if streak_open and harmed:
            streak += 1
            failed += bool(cycle.challenger)
            harm_since = _window_start(cycle) or harm_since
        else:
            streak_open = False
    # the labels the last counted cycles judged: a later window's labels count from there
    until = [t for t in map(_labels_until, counted) if t is not None]
    return History(cycles_since_retrain=since, harm_streak=streak, failed_retrains=failed,
                   labels_until=max(until) if until else None, harm_since=harm_since if streak else None,
                   **_adapting(ledger))


def _window_start(cycle: Cycle) -> float | None:
    """When the first row of the labelled window the cycle judged was logged (epoch seconds)."""
    from datetime import datetime

    start = (cycle.measurement.get("labelled_window") or {}).get("start")
    return None if start is None else datetime.fromisoformat(start).timestamp()


def _adapting(ledger: list[Cycle]) -> dict[str, Any]:
    """The adaptation under way: the last challenger trained was promoted and learned
    from the rows since a change (its training's ``focus_since``, ``rows.focus``)."""
    last = next((c for c in reversed(ledger) if c.challenger), None)
    training = (last.training or {}) if last is not None else {}
    since, rows = training.get("focus_since"), (training.get("rows") or {}).get("focus")
    if last is None or not last.promoted or since is None or rows is None:
        return {}
    return {"adapting_since": float(since), "adapting_rows": int(rows)}


def _labels_until(cycle: Cycle) -> float | None:
    """When the newest label the cycle judged on arrived (None: not recorded)."""
    window = cycle.measurement.get("labelled_window") or {}
    value = window.get("labels_until")
    return None if value is None else float(value)


def _fresh(ledger: list[Cycle], min_new_labels: int = 1) -> list[bool]:
    """Per cycle (oldest first): did it judge labels newer than every earlier counted
    cycle's, and (where it recorded ``new_labels``) at least ``min_new_labels`` of them?
    A cycle over the same labelled rows (``leanloop cycle`` run twice, no feedback in
    between), or over rows that overlap the last counted cycle's but for a few new
    labels, is not new evidence: it counts toward no confirmation and no cooldown, and
    its few new labels count with the next cycle's. A cycle that trained a challenger
    always counts (the retrain happened)."""
    newest: float | None = None
    fresh = []
    for cycle in ledger:
        until = _labels_until(cycle)
        new = (cycle.measurement.get("labelled_window") or {}).get("new_labels")
        enough = new is None or new >= min_new_labels
        counts = until is None or newest is None or (until > newest and enough) or bool(cycle.challenger)
        fresh.append(counts)
        if counts and until is not None:
            newest = until if newest is None else max(newest, until)
    return fresh


def start(store: SQLStore, at: float, running: dict[str, Any]) -> int:
    """Reserve the entry of a cycle starting now and record ``running`` (its trigger,
    stage, champion...) under the key ``running``: readers skip it until :func:`write`."""
    cycle_id = reserve(store, at)
    progress(store, cycle_id, running)
    return cycle_id


def progress(store: SQLStore, cycle_id: int, running: dict[str, Any]) -> None:
    """Record how far the running cycle ``cycle_id`` got."""
    store.update_cycle(cycle_id, {"cycle": cycle_id, "running": running})


def running(store: SQLStore) -> list[dict[str, Any]]:
    """The entries of cycles started and not finished, each ``{"cycle", "running"}``:
    one being run now, or one whose process died (the holder of the cycle lock knows which)."""
    return [body for body in store.cycles() if "running" in body and not body.get("decision")]


def record_alert(store: SQLStore, cycle_id: int, outcome: dict[str, Any]) -> None:
    """Add the outcome of cycle ``cycle_id``'s alert to its entry."""
    body = store.get_cycle(cycle_id)
    store.update_cycle(cycle_id, {**body, "alert": outcome})
