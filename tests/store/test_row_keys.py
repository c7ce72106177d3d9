"""Ids, event times and sources travel with logged rows; labels join by the caller's id.
Every test runs on SQLite and PostgreSQL."""

from __future__ import annotations

import time
from typing import Any

import sqlalchemy as sa

from leanloop.row_keys import RowId
from leanloop.store import SQLStore
from leanloop.store import tables as t
from leanloop.store.migrations import LATEST, current_version


def record(i: int, **keys: Any) -> dict[str, Any]:
    return {"prediction_id": f"p{i}", "created_at": 1000.0 + i, "model_version": "v1",
            "features": {"x": float(i)}, "prediction": i % 2, "probabilities": None, **keys}


def test_version_3_database_gains_the_columns_and_keeps_its_rows(store_url: str) -> None:
    engine = sa.create_engine(store_url)
    old = sa.MetaData()
    sa.Table("predictions", old, sa.Column("seq", sa.Integer, primary_key=True, autoincrement=True),
             sa.Column("prediction_id", sa.String(64), nullable=False, unique=True),
             sa.Column("created_at", sa.Float, nullable=False), sa.Column("model_version", sa.String(64)),
             sa.Column("features", sa.JSON), sa.Column("prediction", sa.JSON), sa.Column("probabilities", sa.JSON))
    t.schema_version.to_metadata(old)
    old.create_all(engine)
    with engine.begin() as conn:
        conn.execute(old.tables["predictions"].insert(), [record(1)])
        conn.execute(old.tables["schema_version"].insert(),
                     [{"version": v, "description": "old", "applied_at": 0.0} for v in (1, 2, 3)])
    engine.dispose()

    store = SQLStore(store_url)
    try:
        assert current_version(store.engine) == LATEST >= 4
        row = store.window().iloc[0]
        assert (row["prediction_id"], row["row_id"], row["source"]) == ("p1", None, "online")
        assert store.log_predictions([record(2, row_id="L2", event_at=5.0, source="batch")]) == 1
        assert store.window()["source"].tolist() == ["online", "batch"]
    finally:
        store.close()


def test_keys_are_stored_and_read_back_and_default_when_absent(store: SQLStore) -> None:
    assert store.log_predictions([record(1, row_id="L1", event_at=50.0, source="batch"), record(2)]) == 2
    window = store.window()
    assert window[["row_id", "source"]].to_dict("records") == [{"row_id": "L1", "source": "batch"},
                                                               {"row_id": None, "source": "online"}]
    assert window["event_at"].iloc[0] == 50.0 and window["event_at"].isna().tolist() == [False, True]
    assert store.get_prediction("p1")["row_id"] == "L1"


def test_event_time_windows_order_filter_and_take_the_newest_by_event(store: SQLStore) -> None:
    # p3 arrives last but happened first (a late event); p4 carries no event time (its arrival counts).
    store.log_predictions([record(1, event_at=200.0), record(2, event_at=300.0), record(3, event_at=100.0),
                           record(4)])
    assert store.window()["prediction_id"].tolist() == ["p1", "p2", "p3", "p4"]
    assert store.window(by_event=True)["prediction_id"].tolist() == ["p3", "p1", "p2", "p4"]
    assert store.window(by_event=True, since=150.0, until=1000.0)["prediction_id"].tolist() == ["p1", "p2"]
    assert store.window(by_event=True, last=2)["prediction_id"].tolist() == ["p2", "p4"]


def test_label_by_id_joins_the_newest_prediction_and_says_the_id_was_reused(store: SQLStore) -> None:
    store.log_predictions([record(1, row_id="L1"), record(2, row_id="L2"), record(3, row_id="L1")])
    counts = store.add_feedback([(RowId("L1"), 1), (RowId("L2"), 0)], received_at=time.time())
    assert (counts.recorded, counts.reused, counts.parked) == (2, 1, 0)
    labels = dict(zip(*[store.window()[c] for c in ("prediction_id", "label")], strict=True))
    assert labels == {"p1": None, "p2": 0, "p3": 1}
    # the same label again is a duplicate, by id or by prediction id alike
    again = store.add_feedback([(RowId("L1"), 1), ("p3", 1)], received_at=time.time())
    assert (again.recorded, again.duplicates) == (0, 2)


def test_label_for_an_id_not_predicted_yet_is_parked_and_joins_the_first_prediction(store: SQLStore) -> None:
    first = store.add_feedback([(RowId("L9"), 0), (RowId("L9"), 1)], received_at=10.0, source="api")
    assert (first.received, first.recorded, first.updated, first.parked) == (2, 2, 1, 1)
    assert store.count_parked() == 1
    store.log_predictions([record(1, row_id="L9"), record(2, row_id="L9")])  # one group, two rows with the id
    window = store.window()
    assert window["label"].tolist() == [1, None]  # the first logged takes it, the latest parked label
    assert store.count_parked() == 0
    assert store.label_history("p1") == [{"label": 1, "received_at": 10.0, "source": "api"}]
    store.log_predictions([record(3, row_id="L9")])  # a later prediction with the id does not take it
    assert store.window()["label"].tolist() == [1, None, None]


def test_a_label_parked_while_its_prediction_was_being_logged_joins_when_read(store: SQLStore) -> None:
    # As if the label's transaction missed the prediction committed beside it: park by hand.
    store.log_predictions([record(1, row_id="L5")])
    with store.engine.begin() as conn:
        conn.execute(t.parked_labels.insert().values(row_id="L5", label=1, received_at=3.0, source="api"))
    assert store.count_parked() == 1
    assert store.window()["label"].tolist() == [1]
    assert store.count_parked() == 0
