"""Feedback in the store: duplicates, conflicts with history, parked labels, bulk batches."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from leanloop.store import FeedbackCounts, SQLStore
from leanloop.store import tables as t


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SQLStore]:
    store = SQLStore(f"sqlite:///{tmp_path / 'store.db'}")
    yield store
    store.close()


def prediction(i: int, *, at: float | None = None) -> dict[str, Any]:
    return {"prediction_id": f"p{i}", "created_at": float(i) if at is None else at, "model_version": "v1",
            "features": {"x": float(i)}, "prediction": 1, "probabilities": {"0": 0.25, "1": 0.75}}


def labels(store: SQLStore) -> dict[str, Any]:
    window = store.window()
    return dict(zip(window["prediction_id"], window["label"], strict=True))


def test_new_labels_join_their_predictions(store: SQLStore) -> None:
    store.insert_predictions([prediction(i) for i in range(3)])
    counts = store.add_feedback([("p0", 0), ("p2", 1)], received_at=10.0, source="api")
    assert counts == FeedbackCounts(received=2, recorded=2, duplicates=0, updated=0, parked=0)
    assert labels(store) == {"p0": 0, "p1": None, "p2": 1}
    assert store.window()["received_at"].tolist()[::2] == [10.0, 10.0]
    assert store.label_history("p0") == [{"label": 0, "received_at": 10.0, "source": "api"}]
    assert store.add_feedback([], received_at=11.0) == FeedbackCounts()


def test_duplicates_are_idempotent(store: SQLStore) -> None:
    store.insert_predictions([prediction(0), prediction(1)])
    store.add_feedback([("p0", 1), ("p1", 0)], received_at=10.0)
    counts = store.add_feedback([("p0", 1), ("p1", 0), ("p0", 1)], received_at=20.0)
    assert counts == FeedbackCounts(received=3, recorded=0, duplicates=3, updated=0, parked=0)
    window = store.window()
    assert window["label"].tolist() == [1, 0]
    assert window["received_at"].tolist() == [10.0, 10.0]  # a repeat does not move the arrival time
    assert len(store.label_history("p0")) == 1


def test_a_label_of_another_type_is_not_a_duplicate(store: SQLStore) -> None:
    store.insert_predictions([prediction(0)])
    store.add_feedback([("p0", 1)], received_at=1.0)
    assert store.add_feedback([("p0", 1.0)], received_at=2.0).updated == 1
    assert store.add_feedback([("p0", True)], received_at=3.0).updated == 1
    assert [h["label"] for h in store.label_history("p0")] == [1, 1.0, True]


def test_conflict_keeps_history_and_the_latest_wins(store: SQLStore) -> None:
    store.insert_predictions([prediction(0), prediction(1)])
    store.add_feedback([("p0", 0), ("p1", 1)], received_at=10.0, source="api")
    counts = store.add_feedback([("p0", 1)], received_at=20.0, source="file:fix.csv")
    assert counts == FeedbackCounts(received=1, recorded=1, duplicates=0, updated=1, parked=0)
    assert store.get_prediction("p0")["label"] == 1
    assert store.get_prediction("p0")["received_at"] == 20.0  # the arrival of the label in force
    assert store.label_history("p0") == [
        {"label": 0, "received_at": 10.0, "source": "api"},
        {"label": 1, "received_at": 20.0, "source": "file:fix.csv"},
    ]
    # Within one batch, items apply in order: the last one wins, each change is kept.
    counts = store.add_feedback([("p1", 0), ("p1", 0), ("p1", 1)], received_at=30.0)
    assert counts == FeedbackCounts(received=3, recorded=2, duplicates=1, updated=2, parked=0)
    assert [h["label"] for h in store.label_history("p1")] == [1, 0, 1]
    assert labels(store) == {"p0": 1, "p1": 1}


def test_unknown_id_is_parked_then_joins_when_the_prediction_arrives(store: SQLStore) -> None:
    store.insert_predictions([prediction(0)])
    counts = store.add_feedback([("p0", 1), ("late", 0), ("later", 1)], received_at=50.0)
    assert counts == FeedbackCounts(received=3, recorded=3, duplicates=0, updated=0, parked=2)
    assert store.count_parked() == 2
    assert labels(store) == {"p0": 1}
    # The prediction is logged afterwards (a spool replay keeps its original time).
    store.insert_predictions([{**prediction(7, at=40.0), "prediction_id": "late"}])
    assert store.count_parked() == 1
    window = store.window()
    assert labels(store) == {"p0": 1, "late": 0}
    assert window.set_index("prediction_id").loc["late", "received_at"] == 50.0
    assert store.get_prediction("late")["label"] == 0
    # A parked label can be corrected before its prediction arrives; the latest still wins.
    assert store.add_feedback([("later", 0)], received_at=60.0) == FeedbackCounts(1, 1, 0, 1, 1)
    store.insert_predictions([{**prediction(8), "prediction_id": "later"}])
    assert labels(store)["later"] == 0 and store.count_parked() == 0


def joined(store: SQLStore) -> list[tuple[str, Any]]:
    """(id, label) of every logged prediction with a label, straight from SQL."""
    query = (sa.select(t.predictions.c.prediction_id, t.feedback.c.label)
             .join(t.feedback, t.feedback.c.prediction_id == t.predictions.c.prediction_id)
             .order_by(t.predictions.c.seq))
    with store.engine.connect() as conn:
        return [tuple(r) for r in conn.execute(query)]


def test_bulk_100k_labels_in_one_call(store: SQLStore) -> None:
    n = 100_000
    rows = [{"prediction_id": f"id{i}", "created_at": float(i), "model_version": "v1", "features": {},
             "prediction": 0, "probabilities": None} for i in range(0, n, 10)]  # one in ten is logged
    store.insert_predictions(rows)
    counts = store.add_feedback([(f"id{i}", i % 3) for i in range(n)], received_at=1e6)
    assert counts == FeedbackCounts(received=n, recorded=n, duplicates=0, updated=0, parked=n - n // 10)
    assert joined(store) == [(f"id{i}", i % 3) for i in range(0, n, 10)]
    assert store.count_parked() == n - n // 10
    changed = store.add_feedback([(f"id{i}", 9) for i in range(0, n, 4)], received_at=2e6)
    assert changed == FeedbackCounts(received=n // 4, recorded=n // 4, duplicates=0, updated=n // 4,
                                     parked=n // 4 - n // 20)
    assert joined(store) == [(f"id{i}", 9 if i % 4 == 0 else i % 3) for i in range(0, n, 10)]
    assert [h["label"] for h in store.label_history("id8")] == [2, 9]


def test_labels_survive_reopening_with_history(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'store.db'}"
    first = SQLStore(url)
    first.add_feedback([("ghost", "yes")], received_at=1.0)
    first.add_feedback([("ghost", "no")], received_at=2.0)
    first.close()
    reopened = SQLStore(url)
    try:
        assert reopened.count_parked() == 1
        assert [h["label"] for h in reopened.label_history("ghost")] == ["yes", "no"]
    finally:
        reopened.close()
