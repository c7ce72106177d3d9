"""Feedback: ground-truth labels joined to predictions by id, with their history.

Labels are stored by prediction id whether or not that prediction is logged yet, and
the window query joins them at read time. So a label for an unknown id is *parked*,
not dropped, and joins by itself once the prediction arrives (a spool replay, a
batch logged late): there is no extra step. Per id:

- a **duplicate** (the label in force sent again) changes nothing;
- a **conflicting** label replaces it: the label received last wins, and every label
  that took effect is kept in ``feedback_history`` with its arrival time and source.

A key may also be the project's id of a row (a :class:`~leanloop.store.parked.RowId`):
it joins the newest prediction carrying that id, or is parked by id until one is
logged (:mod:`leanloop.store.parked` has the rule for reused ids).

One call is one transaction, written with ``executemany`` in a few statements, so
100,000 labels go in without a round trip per row.

Examples
--------
>>> import sqlalchemy as sa
>>> from leanloop.store import tables as t
>>> engine = sa.create_engine("sqlite://")
>>> t.metadata.create_all(engine)
>>> with engine.begin() as conn:
...     record_feedback(conn, [("p1", 0), ("p2", 1), ("p1", 0)], received_at=5.0, source="api")
FeedbackCounts(received=3, recorded=2, duplicates=1, updated=0, parked=2, reused=0)
>>> with engine.begin() as conn:
...     record_feedback(conn, [("p1", 1)], received_at=6.0, source="file:labels.csv")
FeedbackCounts(received=1, recorded=1, duplicates=0, updated=1, parked=1, reused=0)
>>> with engine.connect() as conn:
...     [(h["label"], h["source"]) for h in label_history(conn, "p1")]
[(0, 'api'), (1, 'file:labels.csv')]
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from operator import itemgetter
from typing import TYPE_CHECKING, Any, cast

import sqlalchemy as sa

from leanloop.row_keys import RowId
from leanloop.store import tables as t
from leanloop.store.parked import chunks, park, pending, resolve

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable

    from sqlalchemy.sql.compiler import SQLCompiler

__all__ = ["FeedbackCounts", "record_feedback", "label_history", "count_parked", "join_parked", "RowId"]

_MISSING = object()


@dataclass(frozen=True)
class FeedbackCounts:
    """What one batch of labels did.

    ``received`` items were sent; ``recorded`` of them took effect (a new label or a
    change) and ``duplicates`` repeated the label in force (``received = recorded +
    duplicates``); ``updated`` of the recorded ones replaced a different label; ``parked``
    ids have no logged prediction yet and join when it arrives; ``reused`` labels sent by
    the project's id found several predictions with it and joined the newest.
    """

    received: int = 0
    recorded: int = 0
    duplicates: int = 0
    updated: int = 0
    parked: int = 0
    reused: int = 0

    def to_json(self) -> dict[str, int]:
        """The stable JSON shape the API and ``leanloop feedback --json`` print."""
        return asdict(self)


def _same(a: Any, b: Any) -> bool:
    # 1, 1.0 and True compare equal in Python but are different labels.
    return type(a) is type(b) and a == b


def _json_dumper(conn: sa.Connection) -> Callable[[Any], Any]:
    """The label column's own bind processing for this dialect, once per distinct label."""
    label_type = t.feedback.c.label.type.dialect_impl(conn.dialect)
    process: Callable[[Any], Any] = label_type.bind_processor(conn.dialect) or _as_is
    cache: dict[tuple[type, Any], Any] = {}

    def dump(value: Any) -> Any:
        key = (type(value), value)
        if key not in cache:
            cache[key] = process(value)
        return cache[key]

    return dump


def _as_is(value: Any) -> Any:
    return value


def _executemany(conn: sa.Connection, statement: sa.ClauseElement, rows: list[dict[str, Any]]) -> None:
    """Run ``statement`` once per row through the driver's ``executemany``.

    Hand-written because SQLAlchemy's per-row parameter processing costs several times
    what SQLite's own insert does at 100k rows (and measured slower on PostgreSQL too).
    The SQL is still compiled by SQLAlchemy for the connection's dialect, and labels go
    through the column type's own bind processing (:func:`_json_dumper`), so values
    reach SQLite and PostgreSQL exactly as SQLAlchemy would send them.
    """
    if not rows:
        return
    compiled = cast("SQLCompiler", statement.compile(dialect=conn.dialect, column_keys=list(rows[0])))
    if compiled.positional:  # SQLite (qmark)
        keys = compiled.positiontup or []
        pick = itemgetter(*keys) if len(keys) > 1 else lambda r: tuple(r[k] for k in keys)
        conn.exec_driver_sql(compiled.string, [pick(r) for r in rows])
    else:  # PostgreSQL's psycopg (pyformat): named parameters
        conn.exec_driver_sql(compiled.string, rows)


def record_feedback(conn: sa.Connection, items: Iterable[tuple[str, Any]], *, received_at: float,
                    source: str) -> FeedbackCounts:
    """Apply ``(key, label)`` pairs in order on ``conn`` (the caller's transaction); a key
    is a prediction id or a :class:`RowId`.

    Labels must already be validated (see :func:`leanloop.target.check_label`).
    """
    items = list(items)
    if not items:
        return FeedbackCounts()
    by_row = [key for key, _ in items if isinstance(key, RowId)]
    newest, reused_ids = resolve(conn, by_row) if by_row else ({}, set())
    direct: list[tuple[str, Any]] = []
    waiting: list[tuple[str, Any]] = []
    reused = 0
    for key, label in items:
        if isinstance(key, RowId):
            if key not in newest:
                waiting.append((str(key), label))
                continue
            reused += key in reused_ids
            key = newest[key]
        direct.append((str(key), label))
    counts = _record(conn, direct, received_at=received_at, source=source)
    recorded, duplicates, updated = park(conn, waiting, received_at=received_at, source=source)
    return FeedbackCounts(received=len(items), recorded=counts.recorded + recorded,
                          duplicates=counts.duplicates + duplicates, updated=counts.updated + updated,
                          parked=counts.parked + len({i for i, _ in waiting}), reused=reused)


def _record(conn: sa.Connection, items: list[tuple[str, Any]], *, received_at: float,
            source: str) -> FeedbackCounts:
    """:func:`record_feedback` for pairs keyed by prediction id."""
    if not items:
        return FeedbackCounts()
    ids = list(dict.fromkeys(pid for pid, _ in items))
    current: dict[str, Any] = {}
    logged: set[str] = set()
    in_batch: sa.BindParameter[str] = sa.bindparam("ids", expanding=True)
    labels_in_force = sa.select(t.feedback.c.prediction_id, t.feedback.c.label).where(
        t.feedback.c.prediction_id.in_(in_batch))
    logged_ids = sa.select(t.predictions.c.prediction_id).where(t.predictions.c.prediction_id.in_(in_batch))
    for chunk in chunks(ids):
        current.update(conn.execute(labels_in_force, {"ids": chunk}).all())
        logged.update(conn.execute(logged_ids, {"ids": chunk}).scalars())

    latest: dict[str, Any] = {}
    history: list[dict[str, Any]] = []
    duplicates = updated = 0
    for pid, label in items:
        before = latest.get(pid, current.get(pid, _MISSING))
        if _same(before, label):
            duplicates += 1
            continue
        if before is not _MISSING:
            updated += 1
        latest[pid] = label
        history.append({"prediction_id": pid, "label": label, "received_at": received_at, "source": source})

    if history:
        dump = _json_dumper(conn)
        for row in history:
            row["label"] = dump(row["label"])
        _executemany(conn, t.feedback_history.insert(), history)
        fresh = [{"prediction_id": p, "label": dump(v), "received_at": received_at}
                 for p, v in latest.items() if p not in current]
        _executemany(conn, t.feedback.insert(), fresh)
        changed = [{"b_id": p, "b_label": dump(v), "b_at": received_at} for p, v in latest.items() if p in current]
        _executemany(conn, t.feedback.update().where(t.feedback.c.prediction_id == sa.bindparam("b_id"))
                     .values(label=sa.bindparam("b_label"), received_at=sa.bindparam("b_at")), changed)
    return FeedbackCounts(received=len(items), recorded=len(history), duplicates=duplicates,
                          updated=updated, parked=sum(1 for p in latest if p not in logged))


def label_history(conn: sa.Connection, prediction_id: str) -> list[dict[str, Any]]:
    """Every label that took effect for ``prediction_id``, oldest first (the last is in force)."""
    h = t.feedback_history
    rows = conn.execute(
        sa.select(h.c.label, h.c.received_at, h.c.source).where(h.c.prediction_id == prediction_id).order_by(h.c.seq)
    ).mappings()
    return [dict(r) for r in rows]


def count_parked(conn: sa.Connection) -> int:
    """Labels still waiting for their prediction to be logged (by prediction id or by the
    project's id)."""
    f, p = t.feedback, t.predictions
    query = (sa.select(sa.func.count()).select_from(f.outerjoin(p, p.c.prediction_id == f.c.prediction_id))
             .where(p.c.prediction_id.is_(None)))
    by_id = sa.select(sa.func.count()).select_from(t.parked_labels)
    return int(conn.execute(query).scalar_one()) + int(conn.execute(by_id).scalar_one())


def join_parked(conn: sa.Connection, row_ids: list[str] | None = None) -> int:
    """Join the labels parked by id (of ``row_ids``, or all) whose prediction is logged
    now, each to the first prediction logged with its id, with the time and source it
    arrived with; returns how many joined."""
    found = pending(conn, row_ids)
    groups: dict[tuple[float, str], list[tuple[str, Any]]] = {}
    for row in found:
        groups.setdefault((row["received_at"], row["source"]), []).append((row["prediction_id"], row["label"]))
    for (received_at, source), items in groups.items():
        _record(conn, items, received_at=received_at, source=source)
    table, ids = t.parked_labels, [row["row_id"] for row in found]
    for chunk in chunks(ids):
        conn.execute(table.delete().where(table.c.row_id.in_(chunk)))
    return len(found)
