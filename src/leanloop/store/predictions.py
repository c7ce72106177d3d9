"""The prediction log's hot statements: the group commit's insert and the window read.

Both bypass SQLAlchemy's per-row parameter and JSON processing, which cost more than the
database's own work at the sizes the server and the measurement handle: the insert
serialises the JSON columns with orjson (one statement over column arrays on PostgreSQL,
one executemany on SQLite), the read decodes them column by column. The functions take an
open connection; :class:`leanloop.store.sql.SQLStore` owns the transactions and the errors.

Examples
--------
>>> import tempfile, pathlib
>>> from leanloop.store.sql import SQLStore
>>> store = SQLStore(f"sqlite:///{pathlib.Path(tempfile.mkdtemp()) / 'p.db'}")
>>> rows = [{"prediction_id": "p1", "created_at": 1.0, "model_version": "v1",
...          "features": {"x": 1.0}, "prediction": 1, "probabilities": None}]
>>> with store.engine.begin() as conn:
...     log_sqlite(conn, sqlite_params(rows * 2), timeout_ms=None)
1
>>> with store.engine.connect() as conn:
...     read_window(conn, last=5)[["prediction_id", "features", "label"]].to_dict("records")
[{'prediction_id': 'p1', 'features': {'x': 1.0}, 'label': None}]
>>> store.close()
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from leanloop.errors import StoreError
from leanloop.store import tables as t
from leanloop.store.features import decode_features

if TYPE_CHECKING:
    from collections.abc import Sequence

    import pandas as pd

__all__ = ["BULK_CACHE_KIB", "HAS_PROBABILITIES", "SQLITE_BUSY_MS", "LogColumns", "log_postgresql", "log_sqlite",
           "postgresql_columns", "probability_column", "probability_columns", "read_window", "sqlite_params"]

#: SQLite's busy timeout on every connection; a commit with its own timeout restores it.
SQLITE_BUSY_MS = 30000
#: ``log_predictions`` on SQLite: insert, skipping ids already logged; the count of rows
#: inserted is the cursor's rowcount.
_SQLITE_LOG = ("INSERT INTO predictions (prediction_id, created_at, model_version, features, prediction, "
               "probabilities, row_id, event_at, source) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) "
               "ON CONFLICT (prediction_id) DO NOTHING")
#: ``log_predictions`` on PostgreSQL: the whole group in one statement, its columns as nine
#: binary array parameters (``%b``: no text-array quoting of the JSON values), inserted in
#: the group's order (``WITH ORDINALITY ... ORDER BY``: ``seq`` follows the group and, of two
#: records with one id, the first is kept), skipping ids already logged; the rowcount is the
#: number of rows inserted.
_POSTGRES_LOG = ("INSERT INTO predictions (prediction_id, created_at, model_version, features, prediction, "
                 "probabilities, row_id, event_at, source) SELECT i, t, v, f, p, q, r, e, s FROM unnest(%b::text[], "
                 "%b::float8[], %b::text[], %b::json[], %b::json[], %b::json[], %b::text[], %b::float8[], %b::text[]) "
                 "WITH ORDINALITY AS g(i, t, v, f, p, q, r, e, s, n) ORDER BY n ON CONFLICT (prediction_id) DO NOTHING")
#: A commit's own statement and lock timeouts on PostgreSQL, for its transaction only.
_POSTGRES_TIMEOUTS = ("SELECT set_config('statement_timeout', %s, true), set_config('lock_timeout', %s, true)")


@dataclass(frozen=True)
class LogColumns:
    """Prediction records laid out as the insert's nine columns, the JSON ones as JSON
    text: what batch scoring builds a chunk at a time, column by column, without a dict
    per row (:meth:`leanloop.store.sql.SQLStore.log_columns`).

    >>> columns = LogColumns(["p1"], [1.0], ["v1"], ['{"x":1.0}'], ["1"], ["null"], [None], [None], ["batch"])
    >>> len(columns), columns.to_records()[0]["features"]
    (1, {'x': 1.0})
    """

    prediction_id: list[str]
    created_at: list[float]
    model_version: list[str]
    features: list[str]
    prediction: list[str]
    probabilities: list[str]
    row_id: list[Any]
    event_at: list[float | None]
    source: list[str]

    def __len__(self) -> int:
        return len(self.prediction_id)

    def arrays(self) -> tuple[list[Any], ...]:
        """The nine columns in the insert's order (the lists themselves: ``astuple`` would deep-copy them)."""
        return tuple(getattr(self, f.name) for f in fields(self))

    def to_records(self) -> list[dict[str, Any]]:
        """The rows as :meth:`~leanloop.store.sql.SQLStore.log_predictions` takes them (JSON decoded)."""
        names = list(self.__dataclass_fields__)
        decoded = {name: _loads("[" + ",".join(getattr(self, name)) + "]") if name in _JSON else getattr(self, name)
                   for name in names}
        return [dict(zip(names, row, strict=True)) for row in zip(*decoded.values(), strict=True)]


_JSON = ("features", "prediction", "probabilities")


def postgresql_columns(rows: list[dict[str, Any]]) -> tuple[list[Any], ...]:
    """The records as the nine column arrays of the PostgreSQL insert.

    >>> postgresql_columns([{"prediction_id": "p1", "created_at": 1, "model_version": "v1",
    ...     "features": {"x": 1.0}, "prediction": 1, "probabilities": None, "row_id": "L7"}])
    (['p1'], [1.0], ['v1'], ['{"x":1.0}'], ['1'], ['null'], ['L7'], [None], ['online'])
    """
    try:
        # float(): an array holds one type, and a time logged as an int would mix them.
        return ([r["prediction_id"] for r in rows], [float(r["created_at"]) for r in rows],
                [r["model_version"] for r in rows], *_json_columns(rows), *_key_columns(rows))
    except (TypeError, ValueError) as exc:
        raise StoreError(f"could not log predictions: a record has a created_at that is not a number "
                         f"or a value that is not JSON ({exc}); nothing was written") from exc


def log_postgresql(conn: sa.Connection, columns: tuple[list[Any], ...], timeout_ms: float | None) -> int:
    """Insert :func:`postgresql_columns`' arrays, skipping logged ids; returns how many were new."""
    # One statement over column arrays rather than SQLAlchemy's executemany with
    # RETURNING: 1,000 rows cost ~5 ms of client CPU instead of ~40 (per-row parameter
    # and JSON processing) and less server CPU than 1,000 pipelined inserts.
    if timeout_ms is not None:
        # For this transaction only: reads elsewhere (measure) may rightly take longer.
        conn.exec_driver_sql(_POSTGRES_TIMEOUTS, (str(int(timeout_ms)),) * 2)
    return int(conn.exec_driver_sql(_POSTGRES_LOG, columns).rowcount)


def sqlite_params(rows: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    """The records as the parameter tuples of the SQLite insert, JSON columns as text.

    >>> sqlite_params([{"prediction_id": "p1", "created_at": 1.0, "model_version": "v1",
    ...     "features": {"x": 1.0}, "prediction": "a", "probabilities": None, "event_at": 0.5, "source": "batch"}])
    [('p1', 1.0, 'v1', '{"x":1.0}', '"a"', 'null', None, 0.5, 'batch')]
    """
    # The JSON columns serialised here by orjson (None as 'null', as the JSON type stores
    # it): SQLAlchemy's per-row parameter processing and json.dumps cost more than
    # SQLite's insert itself for a 1,000-row group commit.
    return list(zip([r["prediction_id"] for r in rows], [r["created_at"] for r in rows],
                    [r["model_version"] for r in rows], *_json_columns(rows), *_key_columns(rows), strict=True))


#: SQLite's page cache (KiB) of a connection that bulk-loads batch chunks: six indexes
#: take each row, and the default 2 MB cache re-reads their pages for every 100,000-row
#: chunk (1M rows: 14.9 -> 9.7 s of CPU, 44 -> 18 s wall). Kept on the connection after:
#: the next chunk finds the pages there.
BULK_CACHE_KIB = 65_536


def log_sqlite(conn: sa.Connection, params: list[tuple[Any, ...]], timeout_ms: float | None, *,
               bulk: bool = False) -> int:
    """Insert :func:`sqlite_params`' tuples, skipping logged ids; returns how many were new.

    ``timeout_ms`` replaces the busy timeout for this write only; ``bulk`` gives the
    connection a page cache of :data:`BULK_CACHE_KIB`.
    """
    if bulk:
        conn.exec_driver_sql(f"PRAGMA cache_size=-{BULK_CACHE_KIB}")
    if timeout_ms is None:
        return int(conn.exec_driver_sql(_SQLITE_LOG, params).rowcount)
    conn.exec_driver_sql(f"PRAGMA busy_timeout={int(timeout_ms)}")
    try:
        return int(conn.exec_driver_sql(_SQLITE_LOG, params).rowcount)
    finally:
        conn.exec_driver_sql(f"PRAGMA busy_timeout={SQLITE_BUSY_MS}")


def read_window(conn: sa.Connection, *, last: int | None = None, since: float | None = None,
                until: float | None = None, labelled_only: bool = False, by_event: bool = False,
                feature_types: dict[str, str] | None = None, classes: Sequence[Any] | None = None,
                seqs: tuple[int, int | None] | None = None) -> pd.DataFrame:
    """Logged predictions in a window, oldest first, with ``label`` joined (None if
    absent); ``labelled_only`` keeps only rows whose label arrived; ``seqs``: only rows
    with ``low < seq <= high`` (high None: no bound; the rows a Parquet archive does not hold yet), with their
    ``seq`` as the first column. With
    ``feature_types``, the features come as one typed column per feature
    (:func:`leanloop.store.features.decode_features`) instead of a dict per row; with
    ``classes``, the probabilities come as one float column per class
    (:func:`probability_columns`) instead of a dict per row.

    ``by_event``: ``last``, ``since`` and ``until`` and the order go by each row's event
    time (its arrival time when it carries none) instead of its arrival; ties keep the
    order of arrival.

    The JSON columns are read as text and decoded here, column by column: SQLAlchemy's
    per-value JSON processing cost about ten times the decoding itself on 100k rows.
    """
    import pandas as pd

    p, f = t.predictions, t.feedback
    as_text = [sa.cast(c, sa.Text) for c in (p.c.features, p.c.prediction, p.c.probabilities, f.c.label)]
    query = sa.select(
        p.c.seq, p.c.prediction_id, p.c.created_at, p.c.model_version, *as_text, f.c.received_at,
        p.c.row_id, p.c.event_at, p.c.source,
    ).select_from(p.outerjoin(f, f.c.prediction_id == p.c.prediction_id))
    at = t.event_time() if by_event else p.c.created_at
    if since is not None:
        query = query.where(at >= since)
    if until is not None:
        query = query.where(at < until)
    if labelled_only:
        query = query.where(f.c.label.is_not(None))
    if seqs is not None:
        query = query.where(p.c.seq > seqs[0])
        if seqs[1] is not None:
            query = query.where(p.c.seq <= seqs[1])
    query = query.order_by(at.desc(), p.c.seq.desc()) if by_event else query.order_by(p.c.seq.desc())
    if last is not None:
        query = query.limit(last)
    result = conn.execute(query)
    parts = []
    # Step by step, newest first: each step's JSON text is decoded and dropped before the
    # next is fetched, so a 1M-row window never holds all of its text and its rows' tuples at once.
    while rows := result.fetchmany(_STEP):
        parts.append(_decoded(rows[::-1], feature_types, classes, seqs is not None))
    if not parts:
        return _decoded([], feature_types, classes, seqs is not None)
    return pd.concat(parts[::-1], ignore_index=True) if len(parts) > 1 else parts[0]


#: Rows fetched and decoded per step of :func:`read_window`.
_STEP = 20_000
_NAMES = ["seq", "prediction_id", "created_at", "model_version", "features", "prediction", "probabilities", "label",
          "received_at", "row_id", "event_at", "source"]


def _decoded(rows: Sequence[Any], feature_types: dict[str, str] | None,
             classes: Sequence[Any] | None = None, with_seq: bool = False) -> pd.DataFrame:
    """Window rows (oldest first) as :func:`read_window`'s frame."""
    import pandas as pd

    names = _NAMES
    columns = dict(zip(names, map(list, zip(*rows, strict=True)), strict=True)) if rows else {n: [] for n in names}
    flat = {} if feature_types is None else decode_features(columns.pop("features"), feature_types)
    for name in ("model_version", "source"):
        # A handful of distinct values, one new string per row from the driver: one
        # object per value instead (about 100 MB less for a 1M-row window).
        seen: dict[Any, Any] = {}
        columns[name] = [seen.setdefault(v, v) for v in columns[name]]
    for name in ("features", "prediction", "probabilities", "label"):
        # One decode per column (a JSON array of the values) rather than one per value;
        # SQL NULL (no label yet) and JSON null both read as None. orjson: 2-3x json's speed.
        if name in columns:
            columns[name] = _loads("[" + ",".join("null" if v is None else v for v in columns[name]) + "]")
    if classes is not None:
        # A step's dicts become float columns at once and are dropped: a 1M-row window
        # holds 8 bytes a class a row instead of a dict of floats per row (~250 bytes).
        flat |= probability_columns(columns.pop("probabilities"), classes)
    # Object columns keep labels and outputs as logged (an int stays an int even
    # when other rows have no label yet).
    return pd.DataFrame({
        **({"seq": pd.Series(columns["seq"], dtype="int64")} if with_seq else {}),
        **{c: pd.Series(columns[c], dtype="float64" if c in ("created_at", "received_at", "event_at") else object)
           for c in names[1:] if c in columns},
        **flat})


#: The column :func:`probability_columns` marks the rows that logged no probabilities with.
HAS_PROBABILITIES = "has_probabilities"


def probability_column(name: Any) -> str:
    """The window's column of class ``name``'s logged probability.

    >>> probability_column(1)
    'probability:1'
    """
    return f"probability:{name}"


def probability_columns(values: Sequence[Any], classes: Sequence[Any]) -> dict[str, Any]:
    """Logged probability dicts (None where a row logged none) as one float column per
    class (NaN where a row lacks the class or holds it as null) plus
    :data:`HAS_PROBABILITIES`.

    >>> got = probability_columns([{"0": 0.2, "1": 0.8}, {"0": 0.9}, None], [0, 1])
    >>> {k: v.tolist() for k, v in got.items()}
    {'probability:0': [0.2, 0.9, nan], 'probability:1': [0.8, nan, nan], 'has_probabilities': [True, True, False]}
    """
    import numpy as np

    empty: dict[str, Any] = {}
    rows = [empty if d is None else d for d in values]
    columns = {probability_column(c): np.array([d.get(str(c)) for d in rows], dtype=float) for c in classes}
    return {**columns, HAS_PROBABILITIES: np.array([d is not None for d in values], dtype=bool)}


def _loads(text: str) -> Any:
    """JSON text decoded by orjson, or by the standard library for what orjson refuses
    (``NaN``, which ``json.dumps`` wrote into rows logged before the log used orjson).

    >>> _loads("[1, null]"), _loads("[NaN]")
    ([1, None], [nan])
    """
    import orjson

    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        import json

        return json.loads(text)


def _key_columns(rows: list[dict[str, Any]]) -> tuple[list[Any], ...]:
    """The records' ``row_id``, ``event_at`` and ``source``: None, None and ``online``
    when a record leaves them out (the keys batch scoring and the server pass).

    >>> _key_columns([{"row_id": "a", "event_at": 3, "source": "batch"}, {}])
    (['a', None], [3.0, None], ['batch', 'online'])
    """
    times = [r.get("event_at") for r in rows]
    return ([r.get("row_id") for r in rows], [None if v is None else float(v) for v in times],
            [r.get("source") or "online" for r in rows])


def _json_text(value: Any) -> str:
    """``value`` as JSON text: orjson (NaN and infinities become null, as JSON has no
    such numbers), or the standard library for what orjson refuses (integers beyond
    64 bits).

    >>> _json_text({"x": 1.5, "c": "€"}), _json_text(None), _json_text(2 ** 70)
    ('{"x":1.5,"c":"€"}', 'null', '1180591620717411303424')
    """
    import orjson

    try:
        return orjson.dumps(value).decode()
    except TypeError:  # orjson.JSONEncodeError
        import json

        return json.dumps(value)


def _json_columns(rows: list[dict[str, Any]]) -> tuple[list[str], ...]:
    """The records' features, predictions and probabilities as JSON text, column by column,
    as :func:`_json_text` writes each value (orjson straight away; value by value, with
    its fallback, only for a group orjson refuses).

    >>> _json_columns([{"features": {"x": 1.0}, "prediction": "a", "probabilities": None},
    ...                {"features": {"n": 2 ** 70}, "prediction": 1, "probabilities": {"1": 0.5}}])
    (['{"x":1.0}', '{"n": 1180591620717411303424}'], ['"a"', '1'], ['null', '{"1":0.5}'])
    """
    import orjson

    names, dumps = ("features", "prediction", "probabilities"), orjson.dumps
    try:
        return tuple([dumps(r[name]).decode() for r in rows] for name in names)
    except TypeError:  # orjson.JSONEncodeError: integers beyond 64 bits
        return tuple([_json_text(r[name]) for r in rows] for name in names)
