"""The store's side of the archive: log rows past a ``seq``, labels in force, kept seqs.

Every column of the ``predictions`` table is read by name (columns added by later
migrations flow into the archive unchanged), JSON columns as text decoded here with
orjson, and the label in force joined.

Examples
--------
>>> import tempfile, pathlib
>>> from leanloop.store.sql import SQLStore
>>> store = SQLStore(f"sqlite:///{pathlib.Path(tempfile.mkdtemp()) / 'p.db'}")
>>> store.insert_predictions([{"prediction_id": f"p{i}", "created_at": float(i), "model_version": "v1",
...     "features": {"x": i}, "prediction": 1, "probabilities": None} for i in range(3)])
>>> _ = store.add_feedback([("p1", 0)], received_at=9.0)
>>> with store.engine.connect() as conn:
...     frame = log_rows(conn, after=1, upto=3)
...     frame[["seq", "prediction_id", "features", "label"]].values.tolist()
[[2, 'p1', {'x': 1}, 0], [3, 'p2', {'x': 2}, None]]
>>> with store.engine.connect() as conn:
...     labels_in_force(conn, ["p1", "p9"]), label_marks(conn, after=0)
({'p1': (0, 9.0)}, (1, ['p1']))
>>> store.close()
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from leanloop.store import tables as t

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["log_rows", "labels_in_force", "label_marks", "max_seq", "chunks"]

#: Ids per ``IN (...)``: under SQLite's and PostgreSQL's bound-parameter limits.
CHUNK = 900


def chunks(values: list[Any], size: int = CHUNK) -> list[list[Any]]:
    """``values`` in lists of at most ``size``.

    >>> chunks([1, 2, 3], 2)
    [[1, 2], [3]]
    """
    return [values[i:i + size] for i in range(0, len(values), size)]


def max_seq(conn: sa.Connection) -> int:
    """The newest ``seq`` in the log (0 when it is empty)."""
    return int(conn.execute(sa.select(sa.func.coalesce(sa.func.max(t.predictions.c.seq), 0))).scalar_one())


def log_rows(conn: sa.Connection, *, after: int, upto: int, since: float | None = None,
             limit: int | None = None) -> pd.DataFrame:
    """Logged rows with ``after < seq <= upto`` (created at ``since`` or later), by ``seq``,
    with ``label`` and ``received_at`` joined."""
    import orjson
    import pandas as pd

    p, f = t.predictions, t.feedback
    json_columns = [c.name for c in p.columns if isinstance(c.type, sa.JSON)] + ["label"]
    selected = [sa.cast(c, sa.Text).label(c.name) if isinstance(c.type, sa.JSON) else c for c in p.columns]
    query = (sa.select(*selected, sa.cast(f.c.label, sa.Text).label("label"), f.c.received_at)
             .select_from(p.outerjoin(f, f.c.prediction_id == p.c.prediction_id))
             .where(p.c.seq > after, p.c.seq <= upto).order_by(p.c.seq))
    if since is not None:
        query = query.where(p.c.created_at >= since)
    if limit is not None:
        query = query.limit(limit)
    result = conn.execute(query)
    names, rows = list(result.keys()), result.all()
    columns: dict[str, list[Any]] = {n: list(v) for n, v in zip(names, zip(*rows, strict=True), strict=True)} \
        if rows else {n: [] for n in names}
    for name in json_columns:
        columns[name] = [None if v is None else orjson.loads(v) for v in columns[name]]
    return pd.DataFrame({n: pd.Series(v, dtype="float64" if n in ("created_at", "received_at") else
                                      "int64" if n == "seq" else object) for n, v in columns.items()})


def labels_in_force(conn: sa.Connection, ids: list[str]) -> dict[str, tuple[Any, float]]:
    """The label in force and when it arrived, for those of ``ids`` that have one."""
    f = t.feedback
    found: dict[str, tuple[Any, float]] = {}
    for part in chunks(ids):
        for row in conn.execute(sa.select(f.c.prediction_id, f.c.label, f.c.received_at)
                                .where(f.c.prediction_id.in_(part))):
            found[row.prediction_id] = (row.label, float(row.received_at))
    return found


def label_marks(conn: sa.Connection, *, after: int) -> tuple[int, list[str]]:
    """The newest label-history ``seq`` and the ids labelled past ``after``."""
    h = t.feedback_history
    top = int(conn.execute(sa.select(sa.func.coalesce(sa.func.max(h.c.seq), 0))).scalar_one())
    ids = conn.execute(sa.select(h.c.prediction_id).distinct()
                       .where(h.c.seq > after, h.c.seq <= top)).scalars().all()
    return top, sorted(ids)
