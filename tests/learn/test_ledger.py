"""The ledger as typed records: the stored JSON unchanged, old ledgers still load."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from leanloop.errors import NotFoundError
from leanloop.learn import ledger
from leanloop.learn.ledger import Cycle, LedgerEvent
from leanloop.store import SQLStore

#: A cycle as the loop wrote it before entries were typed: no ``kind`` at all.
OLD_CYCLE: dict[str, Any] = {
    "cycle": 1, "created_at": 10.0, "measurement": {"window": {"rows": 5}},
    "decision": {"action": "retrain", "reasons": [{"rule": "kpi_drop", "value": 0.2, "threshold": 0.1,
                                                   "fired": True, "says": "KPI fell"}]},
    "champion_before": "v1", "champion_after": "v2", "challenger": "v2", "promoted": True,
    "comparison": {"champion": "v1", "challenger": "v2", "rows": {"recent": 3}, "promote": True,
                   "checks": [{"check": "recent_net_value_lift", "champion": 0.1, "challenger": 0.3,
                               "threshold": 0.0, "passed": True}]},
    "durations": {"total": 1.5},
}
OLD_EVENT: dict[str, Any] = {"kind": "shadow", "cycle": 2, "created_at": 11.0, "champion_before": "v2",
                             "champion_after": "v2", "reason": "manual", "evidence": {"shadow": "v1"}}


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SQLStore]:
    store = SQLStore(f"sqlite:///{tmp_path / 'store.db'}")
    yield store
    store.close()


def test_old_entries_load_as_typed_records(store: SQLStore) -> None:
    for body in (OLD_CYCLE, OLD_EVENT):
        store.update_cycle(store.add_cycle({}, at=body["created_at"]), body)
    unfinished = ledger.reserve(store, at=12.0)  # a cycle that never finished
    cycle, event = ledger.entries(store)
    assert isinstance(cycle, Cycle) and isinstance(event, LedgerEvent)
    assert cycle.comparison is not None and cycle.comparison.promote
    assert cycle.decision.reasons[0].rule == "kpi_drop"
    assert (event.kind, event.evidence) == ("shadow", {"shadow": "v1"})
    assert ledger.cycles(store) == [cycle]
    with pytest.raises(NotFoundError, match=f"cycle {unfinished} did not finish"):
        ledger.entry(store, unfinished)
    assert ledger.entry(store, 2) == event


def test_the_stored_shape_is_unchanged(store: SQLStore) -> None:
    cycle = Cycle.model_validate(OLD_CYCLE)
    body = cycle.to_json()
    assert body["kind"] == "cycle" and list(body)[-1] == "kind"  # written last, as before
    assert {k: v for k, v in body.items() if k != "kind"}.keys() == Cycle.model_fields.keys() - {"kind"}
    assert body["comparison"]["promote"] is True
    ledger.write(store, cycle.model_copy(update={"cycle": ledger.reserve(store, at=1.0)}))
    stored = store.cycles()[0]
    assert stored == {**body, "cycle": stored["cycle"]}
    assert ledger.parse(stored) == cycle.model_copy(update={"cycle": stored["cycle"]})
    event = LedgerEvent.model_validate(OLD_EVENT)
    assert event.to_json() == OLD_EVENT


def test_an_unknown_kind_is_refused() -> None:
    with pytest.raises(ValidationError, match="kind"):
        ledger.parse({**OLD_EVENT, "kind": "retire"})
