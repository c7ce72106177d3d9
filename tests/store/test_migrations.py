"""Versioned migrations and idempotent logging, on every backend."""

from __future__ import annotations

import sqlalchemy as sa

from leanloop.store import SQLStore
from leanloop.store import tables as t
from leanloop.store.migrations import LATEST, MIGRATIONS, current_version, upgrade


def prediction(i: int) -> dict[str, object]:
    return {"prediction_id": f"p{i}", "created_at": float(i), "model_version": "v1",
            "features": {"x": float(i)}, "prediction": 1, "probabilities": None}


def test_fresh_store_is_stamped_at_latest(store: SQLStore) -> None:
    assert current_version(store.engine) == LATEST == MIGRATIONS[-1].version
    with store.engine.connect() as conn:
        versions = [r.version for r in conn.execute(sa.select(t.schema_version).order_by(t.schema_version.c.version))]
    assert versions == [m.version for m in MIGRATIONS]
    assert upgrade(store.engine) == []  # opening again applies nothing


def test_unversioned_database_is_migrated(store_url: str) -> None:
    # The walking skeleton's schema: the baseline tables, no index, no schema_version.
    engine = sa.create_engine(store_url)
    old = sa.MetaData()
    for table in t.metadata.sorted_tables:
        if table.name != "schema_version":
            copy = table.to_metadata(old)
            for index in list(copy.indexes):
                if index.name == "ix_predictions_model_version":
                    copy.indexes.discard(index)
            for column in copy.columns:
                column.index = None
    old.create_all(engine)
    with engine.begin() as conn:
        conn.execute(old.tables["predictions"].insert(), [prediction(1)])
    assert "ix_predictions_model_version" not in {i["name"] for i in sa.inspect(engine).get_indexes("predictions")}
    engine.dispose()

    store = SQLStore(store_url)
    try:
        assert current_version(store.engine) == LATEST
        indexes = {i["name"] for i in sa.inspect(store.engine).get_indexes("predictions")}
        assert "ix_predictions_model_version" in indexes
        assert store.count_predictions() == 1  # the data is kept
    finally:
        store.close()


def test_log_predictions_is_idempotent(store: SQLStore) -> None:
    assert store.log_predictions([]) == 0
    assert store.log_predictions([prediction(i) for i in range(3)]) == 3
    # A replayed batch (some rows already logged) adds only the new ones, never a duplicate.
    assert store.log_predictions([prediction(i) for i in range(5)]) == 2
    assert store.count_predictions() == 5
    assert store.window()["prediction_id"].tolist() == [f"p{i}" for i in range(5)]


def test_postgresql_commits_synchronously(store: SQLStore) -> None:
    with store.engine.connect() as conn:
        if store.dialect == "postgresql":
            assert conn.exec_driver_sql("SHOW synchronous_commit").scalar() == "on"
        else:
            assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == 2
