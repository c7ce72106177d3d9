"""The store contract: every test runs on SQLite and on PostgreSQL (``store`` fixture in
conftest.py); SQLite's settings are checked on a SQLite store only."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from leanloop.config import SqliteSync
from leanloop.errors import NotFoundError
from leanloop.store import SQLStore


@pytest.fixture
def sqlite_store(tmp_path: Path) -> Iterator[SQLStore]:
    store = SQLStore(f"sqlite:///{tmp_path / 'store.db'}")
    yield store
    store.close()


def prediction(i: int, *, at: float | None = None, prediction: Any = 1) -> dict[str, Any]:
    return {"prediction_id": f"p{i}", "created_at": float(i) if at is None else at, "model_version": "v1",
            "features": {"x": float(i)}, "prediction": prediction, "probabilities": {"0": 0.25, "1": 0.75}}


def pragma(store: SQLStore, name: str) -> Any:
    with store.engine.connect() as conn:
        return conn.exec_driver_sql(f"PRAGMA {name}").scalar()


# --- SQLite settings ----------------------------------------------------------------


def test_wal_and_full_sync_by_default(sqlite_store: SQLStore) -> None:
    assert pragma(sqlite_store, "journal_mode") == "wal"
    assert pragma(sqlite_store, "synchronous") == 2
    assert pragma(sqlite_store, "foreign_keys") == 1


def test_normal_sync_on_request(tmp_path: Path) -> None:
    store = SQLStore(f"sqlite:///{tmp_path / 's.db'}", sqlite_synchronous=SqliteSync.NORMAL)
    try:
        assert pragma(store, "synchronous") == 1
        assert pragma(store, "journal_mode") == "wal"
    finally:
        store.close()


# --- predictions and windows --------------------------------------------------------


def test_insert_and_count(store: SQLStore) -> None:
    assert store.count_predictions() == 0
    store.insert_predictions([])
    store.insert_predictions([prediction(i) for i in range(5)])
    store.insert_predictions([prediction(5)])
    assert store.count_predictions() == 6
    row = store.get_prediction("p3")
    assert (row["features"], row["prediction"], row["label"]) == ({"x": 3.0}, 1, None)


def test_get_unknown_prediction(store: SQLStore) -> None:
    with pytest.raises(NotFoundError, match="prediction 'nope' is not in the log"):
        store.get_prediction("nope")


def test_window_is_oldest_first(store: SQLStore) -> None:
    store.insert_predictions([prediction(i) for i in range(10)])
    assert store.window(last=3)["prediction_id"].tolist() == ["p7", "p8", "p9"]
    assert store.window(since=6.0)["prediction_id"].tolist() == ["p6", "p7", "p8", "p9"]
    assert store.window(since=2.0, last=2)["prediction_id"].tolist() == ["p8", "p9"]
    assert store.window(since=2.0, until=4.0)["prediction_id"].tolist() == ["p2", "p3"]
    assert len(store.window()) == 10
    assert store.window(last=100)["created_at"].tolist() == [float(i) for i in range(10)]


def test_window_orders_by_insertion_not_time(store: SQLStore) -> None:
    store.insert_predictions([prediction(1, at=50.0), prediction(2, at=10.0)])
    assert store.window(last=2)["prediction_id"].tolist() == ["p1", "p2"]


def test_empty_window_has_columns(store: SQLStore) -> None:
    window = store.window(last=5)
    assert window.empty
    assert list(window.columns) == ["prediction_id", "created_at", "model_version", "features", "prediction",
                                    "probabilities", "label", "received_at", "row_id", "event_at", "source"]


# --- feedback -----------------------------------------------------------------------


def test_labels_keep_int_type_with_gaps(store: SQLStore) -> None:
    store.insert_predictions([prediction(i) for i in range(4)])
    store.add_feedback([("p0", 1), ("p2", 0)], received_at=1.0)
    window = store.window(last=10)
    labels = window["label"].tolist()
    assert labels == [1, None, 0, None]
    assert [type(v) for v in labels] == [int, type(None), int, type(None)]
    assert window["received_at"].isna().tolist() == [False, True, False, True]


def test_text_and_float_labels_and_outputs_round_trip(store: SQLStore) -> None:
    store.insert_predictions([prediction(0, prediction="yes"), prediction(1, prediction=2.5)])
    store.add_feedback([("p0", "no"), ("p1", 3.0)], received_at=1.0)
    window = store.window(last=10)
    assert window["prediction"].tolist() == ["yes", 2.5]
    assert window["label"].tolist() == ["no", 3.0]
    assert window["probabilities"].iloc[0] == {"0": 0.25, "1": 0.75}


# --- models and aliases -------------------------------------------------------------


def test_models_and_aliases(store: SQLStore) -> None:
    store.add_model("v1", 1.0, {"version": "v1"})
    store.add_model("v2", 2.0, {"version": "v2"})
    assert store.model_versions() == ["v1", "v2"]
    assert store.get_model("v2") == {"version": "v2"}
    assert store.get_alias("champion") is None
    store.set_aliases({"champion": "v2", "previous": "v1"}, at=3.0)
    assert store.aliases() == {"champion": "v2", "previous": "v1"}
    store.set_aliases({"champion": "v1"}, at=4.0)
    assert store.get_alias("champion") == "v1"


def test_unknown_model_lists_known(store: SQLStore) -> None:
    store.add_model("v1", 1.0, {})
    with pytest.raises(NotFoundError, match=r"model version 'v9' does not exist; known versions: \['v1'\]"):
        store.get_model("v9")


def test_set_aliases_rejects_unknown_alias(store: SQLStore) -> None:
    store.add_model("v1", 1.0, {})
    with pytest.raises(NotFoundError, match=(r"unknown aliases \['best'\]; "
                                             r"aliases are \['champion', 'challenger', 'previous', 'shadow'\]")):
        store.set_aliases({"champion": "v1", "best": "v1"}, at=1.0)
    assert store.aliases() == {}


# --- measurements and cycles --------------------------------------------------------


def test_cycles_add_update_get(store: SQLStore) -> None:
    first = store.add_cycle({"action": "wait"}, at=1.0)
    second = store.add_cycle({"action": "retrain"}, at=2.0)
    assert second > first
    store.update_cycle(first, {"id": first, "action": "wait"})
    assert store.get_cycle(first) == {"id": first, "action": "wait"}
    assert store.cycles() == [{"id": first, "action": "wait"}, {"action": "retrain"}]


def test_get_unknown_cycle(store: SQLStore) -> None:
    with pytest.raises(NotFoundError, match=r"cycle 42 does not exist; see 'leanloop history'"):
        store.get_cycle(42)


def test_measurements_get_increasing_ids(store: SQLStore) -> None:
    first = store.add_measurement({"rows": 1}, at=1.0)
    assert store.add_measurement({"rows": 2}, at=2.0) == first + 1


def test_data_survives_reopening(store_url: str) -> None:
    url = store_url
    store = SQLStore(url)
    store.insert_predictions([prediction(0)])
    store.add_feedback([("p0", 1)], received_at=1.0)
    store.close()
    reopened = SQLStore(url)
    try:
        assert reopened.window(last=1)["label"].tolist() == [1]
    finally:
        reopened.close()


def test_window_labelled_only_filters_in_sql(store: SQLStore) -> None:
    store.insert_predictions([prediction(i) for i in range(6)])
    store.add_feedback([("p1", 0), ("p4", 1)], received_at=9.0)
    labelled = store.window(labelled_only=True)
    assert labelled["prediction_id"].tolist() == ["p1", "p4"]
    assert labelled["label"].tolist() == [0, 1]
    assert store.window(last=3, labelled_only=True)["prediction_id"].tolist() == ["p1", "p4"]
