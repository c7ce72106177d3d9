"""Labels sent by the project's id column (a loan id, an order id) instead of a prediction id.

The rule when a caller reuses an id (several predictions carry it): **the newest
prediction wins**, and it is never silent.

- A label by id joins the newest prediction logged with that id when the label is
  recorded; the answer counts it as ``reused`` when the id names more than one
  prediction (send it by ``prediction_id`` to pick another one).
- A label for an id no prediction carries yet is *parked* here and joins the first
  prediction logged with that id afterwards, in the transaction that logs it
  (:func:`leanloop.store.feedback.join_parked`); a later prediction with the same id
  does not take it. A race between a label and its prediction on two connections can
  leave it parked a little longer: reading a window joins what is left first.
- While parked, the same label again is a duplicate and a different one replaces it
  (the latest wins); the label that joins is written to the label history then.

Examples
--------
>>> import sqlalchemy as sa
>>> from leanloop.store import tables as t
>>> engine = sa.create_engine("sqlite://")
>>> t.metadata.create_all(engine)
>>> with engine.begin() as conn:
...     park(conn, [("L1", 0), ("L1", 1), ("L2", 1)], received_at=1.0, source="api")
(3, 0, 1)
>>> with engine.connect() as conn:
...     resolve(conn, ["L1"]), sorted(pending(conn, None))
(({}, set()), [])
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import sqlalchemy as sa

from leanloop.store import tables as t

__all__ = ["resolve", "park", "pending", "chunks", "CHUNK"]

#: Ids per ``IN (...)`` query: well under SQLite's and PostgreSQL's bound-parameter limits.
CHUNK = 900


def chunks(ids: list[str]) -> Iterator[list[str]]:
    """``ids`` in slices of at most :data:`CHUNK`."""
    for start in range(0, len(ids), CHUNK):
        yield ids[start:start + CHUNK]


def resolve(conn: sa.Connection, row_ids: Sequence[str]) -> tuple[dict[str, str], set[str]]:
    """``(newest prediction id per row id, row ids that several predictions carry)``; ids
    no prediction carries are left out."""
    p = t.predictions
    in_batch: sa.BindParameter[str] = sa.bindparam("ids", expanding=True)
    query = sa.select(p.c.row_id, p.c.prediction_id).where(p.c.row_id.in_(in_batch)).order_by(p.c.seq)
    newest: dict[str, str] = {}
    reused: set[str] = set()
    for chunk in chunks(list(dict.fromkeys(row_ids))):
        for row_id, prediction_id in conn.execute(query, {"ids": chunk}):
            if row_id in newest:
                reused.add(row_id)
            newest[row_id] = prediction_id
    return newest, reused


def park(conn: sa.Connection, items: list[tuple[str, Any]], *, received_at: float,
         source: str) -> tuple[int, int, int]:
    """Park validated ``(row_id, label)`` pairs in order; ``(recorded, duplicates, updated)``."""
    if not items:
        return 0, 0, 0
    table = t.parked_labels
    in_batch: sa.BindParameter[str] = sa.bindparam("ids", expanding=True)
    before: dict[str, Any] = {}
    for chunk in chunks(list(dict.fromkeys(i for i, _ in items))):
        before.update(conn.execute(sa.select(table.c.row_id, table.c.label).where(table.c.row_id.in_(in_batch)),
                                   {"ids": chunk}).all())
    latest: dict[str, Any] = {}
    recorded = duplicates = updated = 0
    for row_id, label in items:
        held = latest.get(row_id, before.get(row_id, _MISSING))
        if type(held) is type(label) and held == label:  # 1, 1.0 and True are different labels
            duplicates += 1
            continue
        recorded += 1
        updated += held is not _MISSING
        latest[row_id] = label
    fresh = [{"row_id": i, "label": v, "received_at": received_at, "source": source}
             for i, v in latest.items() if i not in before]
    if fresh:
        conn.execute(table.insert(), fresh)
    for row_id, label in latest.items():
        if row_id in before:
            conn.execute(table.update().where(table.c.row_id == row_id)
                         .values(label=label, received_at=received_at, source=source))
    return recorded, duplicates, updated


def pending(conn: sa.Connection, row_ids: list[str] | None) -> list[dict[str, Any]]:
    """Parked labels (of ``row_ids``, or all) whose id a logged prediction now carries,
    each with the first such prediction's id (``prediction_id``)."""
    table, p = t.parked_labels, t.predictions
    if conn.execute(sa.select(table.c.row_id).limit(1)).first() is None:
        return []  # the common case, one cheap query: nothing is parked
    first = (sa.select(p.c.row_id, sa.func.min(p.c.seq).label("seq")).where(p.c.row_id.is_not(None))
             .group_by(p.c.row_id))
    in_batch: sa.BindParameter[str] = sa.bindparam("ids", expanding=True)
    found: list[dict[str, Any]] = []
    for chunk in [None] if row_ids is None else chunks(list(dict.fromkeys(row_ids))):
        narrowed = first if chunk is None else first.where(p.c.row_id.in_(in_batch))
        firsts = narrowed.subquery()
        query = (sa.select(table.c.row_id, table.c.label, table.c.received_at, table.c.source, p.c.prediction_id)
                 .select_from(table.join(firsts, firsts.c.row_id == table.c.row_id)
                              .join(p, p.c.seq == firsts.c.seq)))
        found += [dict(r) for r in conn.execute(query, {} if chunk is None else {"ids": chunk}).mappings()]
    return found


_MISSING = object()
