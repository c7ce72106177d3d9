"""Idempotent prediction logging (``SQLStore.log_predictions``) on every backend: the count
of new rows, ids already logged, ids repeated within one group, the stored JSON and failures."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from leanloop.errors import StoreError
from leanloop.store import SQLStore


def record(pid: str, *, version: str = "v1", at: float = 1.0, **fields: Any) -> dict[str, Any]:
    return {"prediction_id": pid, "created_at": at, "model_version": version, "features": {"x": 1.0},
            "prediction": 1, "probabilities": {"0": 0.25, "1": 0.75}} | fields


def versions(store: SQLStore) -> dict[str, str]:
    frame = store.window()
    return dict(zip(frame["prediction_id"], frame["model_version"], strict=True))


@pytest.fixture
def pg_store(postgresql_url: str) -> Iterator[SQLStore]:
    store = SQLStore(postgresql_url)
    yield store
    store.close()


def test_counts_only_new_rows_and_keeps_the_first_of_repeated_ids(store: SQLStore) -> None:
    assert store.log_predictions([record("c"), record("a"), record("b")]) == 3
    # A replayed group: two ids already logged (with other versions: the logged rows stay),
    # "e" twice and "d" three times; the first record of each repeated id is logged.
    group = [record("a", version="late"), record("e", version="first"), record("d", version="first"),
             record("c", version="late"), record("e", version="second"), record("f"), record("d", version="second"),
             record("d", version="third")]
    assert store.log_predictions(group) == 3
    assert store.count_predictions() == 6
    # The log keeps each group's order (not the ids' order), and nothing is replaced.
    assert versions(store) == {"c": "v1", "a": "v1", "b": "v1", "e": "first", "d": "first", "f": "v1"}
    assert list(versions(store)) == ["c", "a", "b", "e", "d", "f"]
    assert store.log_predictions(group) == 0  # the same group again adds nothing
    assert store.count_predictions() == 6


def test_json_columns_round_trip_and_none_is_json_null(store: SQLStore) -> None:
    features = {"s": 'quote " backslash \\ tab \t euro € emoji 🙂', "n": None, "b": True, "l": [1, 2.5, "x"],
                "big": 2 ** 70, "nested": {"k": [{}]}}
    assert store.log_predictions([record("p1", features=features, prediction="yes", probabilities=None, at=7),
                                  record("p2", prediction=None, probabilities={"no": 0.5, "yes": 0.5})]) == 2
    first, second = store.get_prediction("p1"), store.get_prediction("p2")
    assert (first["features"], first["prediction"], first["probabilities"]) == (features, "yes", None)
    assert first["created_at"] == 7.0
    assert (second["prediction"], second["probabilities"]) == (None, {"no": 0.5, "yes": 0.5})
    assert store.window()["features"].tolist() == [features, {"x": 1.0}]
    with store.engine.connect() as conn:
        # None is stored as JSON null, as SQLAlchemy's JSON type stores it, not as SQL NULL.
        sql_nulls = conn.exec_driver_sql("SELECT count(*) FROM predictions WHERE probabilities IS NULL "
                                         "OR prediction IS NULL").scalar()
    assert sql_nulls == 0


def test_failure_raises_store_error_and_writes_nothing(store: SQLStore) -> None:
    store.log_predictions([record("p0")])
    with pytest.raises(StoreError, match=r"could not log predictions: .*(?i:null)"):
        store.log_predictions([record("p1"), record(None)])  # type: ignore[arg-type]
    assert store.count_predictions() == 1  # one transaction: p1 was not written either


@pytest.mark.postgres
def test_postgresql_failures_carry_the_reason(pg_store: SQLStore) -> None:
    with pytest.raises(StoreError, match="value too long"):
        pg_store.log_predictions([record("p1"), record("p2", version="v" * 65)])
    with pytest.raises(StoreError, match="created_at that is not a number"):
        pg_store.log_predictions([record("p1"), record("p2", at="soon")])  # type: ignore[arg-type]
    assert pg_store.count_predictions() == 0


_example = itertools.count()


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(groups=st.lists(st.lists(st.tuples(st.integers(0, 5), st.sampled_from(["v1", "v2"])), max_size=8),
                       min_size=1, max_size=3))
def test_new_row_count_matches_a_model(store: SQLStore, groups: list[list[tuple[int, str]]]) -> None:
    prefix = f"e{next(_example)}-"  # each example logs its own ids into the shared store
    logged: dict[str, str] = {}
    for group in groups:
        new = {}
        for i, version in group:
            pid = f"{prefix}{i}"
            if pid not in logged:
                new.setdefault(pid, version)
        assert store.log_predictions([record(f"{prefix}{i}", version=v) for i, v in group]) == len(new)
        logged |= new
    stored = {pid: v for pid, v in versions(store).items() if pid.startswith(prefix)}
    assert stored == logged
    assert list(stored) == list(logged)  # logged in arrival order


def test_columns_log_as_records_do_skipping_logged_ids_and_joining_parked_labels(store: SQLStore) -> None:
    from leanloop.batch.records import json_values
    from leanloop.row_keys import RowId
    from leanloop.store.predictions import LogColumns

    store.log_predictions([record("a")])
    assert store.add_feedback([(RowId("L2"), 0)], received_at=1.0, source="api").parked == 1
    columns = LogColumns(prediction_id=["a", "b", "c"], created_at=[2.0] * 3, model_version=["v2"] * 3,
                         features=['{"x":1.0}', '{"x":null}', '{"x":2.5}'], prediction=json_values([1, 0, 1]),
                         probabilities=["null"] * 3, row_id=[None, "L2", None], event_at=[None, 5.0, 6.0],
                         source=["batch"] * 3)
    assert store.log_columns(columns) == 2  # "a" was logged already
    window = store.window().set_index("prediction_id")
    assert window.loc["a", "model_version"] == "v1" and window.loc["b", "features"] == {"x": None}
    assert window.loc["b", "row_id"] == "L2" and window.loc["c", "event_at"] == 6.0
    assert window.loc["c", "prediction"] == 1 and set(window["source"]) == {"online", "batch"}
    assert window.loc["b", "label"] == 0 and store.count_parked() == 0  # joined in the same transaction
    assert store.log_columns(LogColumns([], [], [], [], [], [], [], [], [])) == 0
