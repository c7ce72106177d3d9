"""Shadow records: what the ``shadow`` version answered for logged predictions.

The server scores every request with the shadow version too (after answering with the
champion) and writes those outputs here, keyed by ``(prediction_id, model_version)``
and written idempotently, so a retried write never duplicates a row. Reading pairs
each shadow output with the champion's logged output and the label, if it arrived.

Examples
--------
>>> import tempfile, pathlib
>>> from leanloop.store.sql import SQLStore
>>> store = SQLStore(f"sqlite:///{pathlib.Path(tempfile.mkdtemp()) / 's.db'}")
>>> store.log_predictions([{"prediction_id": "p1", "created_at": 1.0, "model_version": "v1",
...     "features": {"x": 1.0}, "prediction": 1, "probabilities": None}])
1
>>> store.log_shadow([{"prediction_id": "p1", "model_version": "v2", "created_at": 1.0,
...     "prediction": 0, "probabilities": None}] * 2)
1
>>> store.add_feedback([("p1", 0)], received_at=2.0).recorded
1
>>> store.shadow_pairs("v2")[["prediction", "shadow_prediction", "label"]].to_dict("records")
[{'prediction': 1, 'shadow_prediction': 0, 'label': 0}]
>>> store.close()
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from leanloop.store import tables as t

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["insert_shadow", "select_pairs", "count_shadow", "PAIR_COLUMNS"]

#: The columns of :func:`select_pairs`' frame.
PAIR_COLUMNS = ["prediction_id", "created_at", "model_version", "features", "prediction", "probabilities",
                "shadow_prediction", "shadow_probabilities", "label"]


def insert_shadow(conn: sa.Connection, rows: list[dict[str, Any]], dialect: str) -> int:
    """Insert shadow records, skipping any already written; returns how many were new."""
    from sqlalchemy.dialects import postgresql, sqlite

    s, keys = t.shadow_predictions, ["prediction_id", "model_version"]
    statement: sa.Insert = (
        postgresql.insert(s).on_conflict_do_nothing(index_elements=keys) if dialect == "postgresql"
        else sqlite.insert(s).on_conflict_do_nothing(index_elements=keys))
    statement = statement.returning(s.c.prediction_id)
    return len(conn.execute(statement, rows).all())


def select_pairs(conn: sa.Connection, version: str, *, since: float | None = None,
                 labelled_only: bool = False) -> pd.DataFrame:
    """Every logged prediction the shadow ``version`` also scored, oldest first: the
    champion's output, the shadow's output and the label (None when absent)."""
    import pandas as pd

    p, s, f = t.predictions, t.shadow_predictions, t.feedback
    query = (
        sa.select(p.c.prediction_id, p.c.created_at, p.c.model_version, p.c.features, p.c.prediction,
                  p.c.probabilities, s.c.prediction.label("shadow_prediction"),
                  s.c.probabilities.label("shadow_probabilities"), f.c.label)
        .select_from(s.join(p, p.c.prediction_id == s.c.prediction_id)
                     .outerjoin(f, f.c.prediction_id == s.c.prediction_id))
        .where(s.c.model_version == version)
        .order_by(p.c.seq)
    )
    if since is not None:
        query = query.where(p.c.created_at >= since)
    if labelled_only:
        query = query.where(f.c.label.is_not(None))
    rows = conn.execute(query).mappings().all()
    return pd.DataFrame({c: pd.Series([r[c] for r in rows], dtype="float64" if c == "created_at" else object)
                         for c in PAIR_COLUMNS})


def count_shadow(conn: sa.Connection, version: str) -> int:
    """How many shadow records ``version`` has."""
    s = t.shadow_predictions
    query = sa.select(sa.func.count()).select_from(s).where(s.c.model_version == version)
    return int(conn.execute(query).scalar_one())
