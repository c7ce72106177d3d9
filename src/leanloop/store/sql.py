"""The SQL store: SQLite (WAL) by default, PostgreSQL (psycopg 3) by URL.

SQLite runs in WAL mode with ``synchronous=FULL`` (or ``NORMAL``: survives a process
crash, not a power loss); PostgreSQL with ``synchronous_commit=on``. Opening a store
creates missing tables and applies missing schema migrations
(:mod:`leanloop.store.migrations`).

Every write is one transaction: a batch of predictions, a batch of feedback, a
promotion. A write that fails leaves nothing behind.

Examples
--------
>>> import tempfile, pathlib
>>> folder = pathlib.Path(tempfile.mkdtemp())
>>> store = SQLStore(f"sqlite:///{folder / 'store.db'}")
>>> store.insert_predictions([{"prediction_id": "p1", "created_at": 1.0, "model_version": "v1",
...     "features": {"x": 1.0}, "prediction": 1, "probabilities": {"0": 0.2, "1": 0.8}}])
>>> store.count_predictions()
1
>>> store.add_feedback([("p1", 0), ("p2", 1)], received_at=2.0)
FeedbackCounts(received=2, recorded=2, duplicates=0, updated=0, parked=1)
>>> store.window(last=10)[["prediction_id", "label"]].to_dict("records")
[{'prediction_id': 'p1', 'label': 0}]
>>> store.close()
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError

from leanloop.config import SqliteSync
from leanloop.errors import NotFoundError, StoreError
from leanloop.store import tables as t
from leanloop.store.feedback import FeedbackCounts, count_parked, label_history, record_feedback
from leanloop.store.shadow import count_shadow, insert_shadow, select_pairs
from leanloop.store.write_lock import WriteLock

if TYPE_CHECKING:
    from collections.abc import Iterable

    import pandas as pd

__all__ = ["SQLStore", "normalise_url"]

_ALIASES = ("champion", "challenger", "previous", "shadow")
#: ``log_predictions`` on SQLite: insert, skipping ids already logged; the count of rows
#: inserted is the cursor's rowcount.
_SQLITE_LOG = ("INSERT INTO predictions (prediction_id, created_at, model_version, features, prediction, "
               "probabilities) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (prediction_id) DO NOTHING")
#: ``log_predictions`` on PostgreSQL: the whole group in one statement, its columns as six
#: binary array parameters (``%b``: no text-array quoting of the JSON values), inserted in
#: the group's order (``WITH ORDINALITY ... ORDER BY``: ``seq`` follows the group and, of two
#: records with one id, the first is kept), skipping ids already logged; the rowcount is the
#: number of rows inserted.
_POSTGRES_LOG = ("INSERT INTO predictions (prediction_id, created_at, model_version, features, prediction, "
                 "probabilities) SELECT i, t, v, f, p, q FROM unnest(%b::text[], %b::float8[], %b::text[], "
                 "%b::json[], %b::json[], %b::json[]) WITH ORDINALITY AS g(i, t, v, f, p, q, n) ORDER BY n "
                 "ON CONFLICT (prediction_id) DO NOTHING")


_POSTGRES_TIMEOUTS = ("SELECT set_config('statement_timeout', %s, true), set_config('lock_timeout', %s, true)")
_SQLITE_BUSY_MS = 30000


class SQLStore:
    """Predictions, feedback, model versions, aliases, measurements and cycles in SQL."""

    def __init__(self, url: str, *, sqlite_synchronous: SqliteSync = SqliteSync.FULL) -> None:
        from leanloop.store.migrations import upgrade

        self.url = url = normalise_url(url)
        options: dict[str, Any] = {}
        if url.startswith("postgresql"):
            # Fail fast when the server is down (the logger spools instead of waiting),
            # recycle connections a server restart killed, and commit durably.
            options = {"pool_pre_ping": True,
                       "connect_args": {"connect_timeout": 3, "options": "-c synchronous_commit=on"}}
        self.engine = sa.create_engine(url, future=True, **options)
        database = self.engine.url.database
        on_file = self.engine.dialect.name == "sqlite" and database and database != ":memory:"
        #: SQLite prediction writers of several server processes queue here, not in SQLite's sleeps.
        self._write_lock = WriteLock(Path(database) if on_file else None)
        if self.engine.dialect.name == "sqlite":
            sync = SqliteSync(sqlite_synchronous).value

            @sa.event.listens_for(self.engine, "connect")
            def _pragmas(dbapi_connection: Any, _record: Any) -> None:
                cursor = dbapi_connection.cursor()
                cursor.execute("PRAGMA journal_mode=WAL")
                cursor.execute(f"PRAGMA synchronous={sync}")
                cursor.execute(f"PRAGMA busy_timeout={_SQLITE_BUSY_MS}")
                cursor.execute("PRAGMA foreign_keys=ON")
                cursor.close()

        try:
            upgrade(self.engine)
        except OperationalError as exc:
            self.engine.dispose()
            raise StoreError(f"cannot open the store at {self.engine.url!r}: {exc.orig}") from exc

    @property
    def dialect(self) -> str:
        """``sqlite`` or ``postgresql``."""
        return str(self.engine.dialect.name)

    def close(self) -> None:
        """Release every connection."""
        self.engine.dispose()
        self._write_lock.close()

    # -- model versions and aliases -------------------------------------------------
    def add_model(self, version: str, created_at: float, body: dict[str, Any], alias: str | None = None) -> None:
        """Record a model version (and point ``alias`` at it) in one transaction."""
        self._check_aliases([alias] if alias else [])
        try:
            with self.engine.begin() as conn:
                conn.execute(t.models.insert().values(version=version, created_at=created_at, body=body))
                if alias:
                    self._point(conn, {alias: version}, created_at)
        except IntegrityError as exc:
            raise StoreError(f"model version {version!r} is already registered; versions are immutable") from exc

    def get_model(self, version: str) -> dict[str, Any]:
        """The stored body of ``version``; :class:`NotFoundError` lists known versions."""
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(t.models.c.body).where(t.models.c.version == version)).first()
        if row is None:
            raise NotFoundError(f"model version {version!r} does not exist; known versions: {self.model_versions()}")
        return dict(row.body)

    def model_versions(self) -> list[str]:
        """Every version, oldest first."""
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(t.models.c.version).order_by(t.models.c.created_at, t.models.c.version))
            return [r.version for r in rows]

    def list_models(self) -> list[dict[str, Any]]:
        """Every version's body, oldest first."""
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(t.models.c.body).order_by(t.models.c.created_at, t.models.c.version))
            return [dict(r.body) for r in rows]

    def get_alias(self, alias: str) -> str | None:
        """The version an alias points to, or None."""
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(t.aliases.c.version).where(t.aliases.c.alias == alias)).first()
        return None if row is None else str(row.version)

    def aliases(self) -> dict[str, str]:
        """Every alias and its version."""
        with self.engine.connect() as conn:
            return {r.alias: r.version for r in conn.execute(sa.select(t.aliases))}

    def set_aliases(self, mapping: dict[str, str], at: float) -> None:
        """Point several aliases at once, in one transaction (a promotion is atomic)."""
        self._check_aliases(list(mapping))
        with self.engine.begin() as conn:
            self._point(conn, mapping, at)

    def clear_alias(self, alias: str) -> str | None:
        """Remove ``alias``; returns the version it pointed to (None if unset)."""
        self._check_aliases([alias])
        with self.engine.begin() as conn:
            row = conn.execute(t.aliases.delete().where(t.aliases.c.alias == alias)
                               .returning(t.aliases.c.version)).first()
        return None if row is None else str(row.version)

    @staticmethod
    def _check_aliases(names: list[str]) -> None:
        unknown = [a for a in names if a not in _ALIASES]
        if unknown:
            raise NotFoundError(f"unknown aliases {unknown}; aliases are {list(_ALIASES)}")

    @staticmethod
    def _point(conn: sa.Connection, mapping: dict[str, str], at: float) -> None:
        for alias, version in mapping.items():
            conn.execute(t.aliases.delete().where(t.aliases.c.alias == alias))
            conn.execute(t.aliases.insert().values(alias=alias, version=version, updated_at=at))

    # -- predictions and feedback ---------------------------------------------------
    def insert_predictions(self, rows: list[dict[str, Any]]) -> None:
        """Commit a batch of prediction records in one transaction."""
        if not rows:
            return
        try:
            with self.engine.begin() as conn:
                conn.execute(t.predictions.insert(), rows)
        except IntegrityError as exc:
            raise StoreError(f"a prediction id in this batch is already logged; nothing was written: {exc.orig}") from exc
        except OperationalError as exc:
            raise StoreError(f"could not log predictions: {exc.orig}") from exc

    def log_predictions(self, rows: list[dict[str, Any]], *, timeout_ms: float | None = None) -> int:
        """Commit prediction records idempotently in one transaction; returns how many were new.

        A record whose ``prediction_id`` is already logged is skipped (insert ... on
        conflict do nothing), so replaying a spool, or retrying a commit whose outcome
        was unknown, never duplicates a row. Of several records with one id in the same
        group, the first is logged and the others are skipped (not counted). The JSON
        columns hold compact JSON text; ``None`` is stored as JSON ``null``.

        ``timeout_ms`` bounds the commit on the database's side: PostgreSQL's statement
        and lock timeouts for this transaction, SQLite's busy timeout for this write.
        """
        if not rows:
            return 0
        if self.dialect == "postgresql":
            return self._log_predictions_postgresql(rows, timeout_ms)
        return self._log_predictions_sqlite(rows, timeout_ms)

    def _log_predictions_postgresql(self, rows: list[dict[str, Any]], timeout_ms: float | None = None) -> int:
        # One statement over column arrays rather than SQLAlchemy's executemany with
        # RETURNING: 1,000 rows cost ~5 ms of client CPU instead of ~40 (per-row parameter
        # and JSON processing) and less server CPU than 1,000 pipelined inserts.
        try:
            # float(): an array holds one type, and a time logged as an int would mix them.
            columns = ([r["prediction_id"] for r in rows], [float(r["created_at"]) for r in rows],
                       [r["model_version"] for r in rows], *_json_columns(rows))
        except (TypeError, ValueError) as exc:
            raise StoreError(f"could not log predictions: a record has a created_at that is not a number "
                             f"or a value that is not JSON ({exc}); nothing was written") from exc
        try:
            with self.engine.begin() as conn:
                if timeout_ms is not None:
                    # For this transaction only: reads elsewhere (measure) may rightly take longer.
                    conn.exec_driver_sql(_POSTGRES_TIMEOUTS, (str(int(timeout_ms)),) * 2)
                return int(conn.exec_driver_sql(_POSTGRES_LOG, columns).rowcount)
        except DBAPIError as exc:
            raise StoreError(f"could not log predictions: {exc.orig}") from exc

    def _log_predictions_sqlite(self, rows: list[dict[str, Any]], timeout_ms: float | None = None) -> int:
        # One executemany with the JSON columns serialised here by orjson (None as 'null',
        # as the JSON type stores it): SQLAlchemy's per-row parameter processing and
        # json.dumps cost more than SQLite's insert itself for a 1,000-row group commit.
        params = list(zip([r["prediction_id"] for r in rows], [r["created_at"] for r in rows],
                          [r["model_version"] for r in rows], *_json_columns(rows), strict=True))
        try:
            with self._write_lock, self.engine.begin() as conn:
                if timeout_ms is None:
                    return int(conn.exec_driver_sql(_SQLITE_LOG, params).rowcount)
                conn.exec_driver_sql(f"PRAGMA busy_timeout={int(timeout_ms)}")
                try:
                    return int(conn.exec_driver_sql(_SQLITE_LOG, params).rowcount)
                finally:
                    conn.exec_driver_sql(f"PRAGMA busy_timeout={_SQLITE_BUSY_MS}")
        except DBAPIError as exc:
            raise StoreError(f"could not log predictions: {exc.orig}") from exc

    def log_shadow(self, rows: list[dict[str, Any]]) -> int:
        """Commit shadow records idempotently (:mod:`leanloop.store.shadow`); returns how many were new."""
        if not rows:
            return 0
        try:
            with self.engine.begin() as conn:
                return insert_shadow(conn, rows, self.dialect)
        except DBAPIError as exc:
            raise StoreError(f"could not log shadow predictions: {exc.orig}") from exc

    def shadow_pairs(self, version: str, *, since: float | None = None, labelled_only: bool = False) -> pd.DataFrame:
        """Logged predictions that the shadow ``version`` also scored, with both outputs and the label."""
        with self.engine.connect() as conn:
            return select_pairs(conn, version, since=since, labelled_only=labelled_only)

    def count_shadow(self, version: str) -> int:
        """How many requests' rows the shadow ``version`` scored."""
        with self.engine.connect() as conn:
            return count_shadow(conn, version)

    def count_predictions(self) -> int:
        """How many predictions are logged."""
        with self.engine.connect() as conn:
            return int(conn.execute(sa.select(sa.func.count()).select_from(t.predictions)).scalar_one())

    def get_prediction(self, prediction_id: str) -> dict[str, Any]:
        """One logged prediction with its feedback, if any."""
        query = (
            sa.select(t.predictions, t.feedback.c.label, t.feedback.c.received_at)
            .select_from(t.predictions.outerjoin(t.feedback, t.feedback.c.prediction_id == t.predictions.c.prediction_id))
            .where(t.predictions.c.prediction_id == prediction_id)
        )
        with self.engine.connect() as conn:
            row = conn.execute(query).mappings().first()
        if row is None:
            raise NotFoundError(f"prediction {prediction_id!r} is not in the log")
        return dict(row)

    def add_feedback(self, items: Iterable[tuple[str, Any]], received_at: float, *,
                     source: str = "python") -> FeedbackCounts:
        """Record validated labels by prediction id in one transaction; see
        :mod:`leanloop.store.feedback` for duplicates, conflicts and parked labels."""
        items = list(items)
        clash: IntegrityError | None = None
        for _attempt in range(3):
            try:
                with self.engine.begin() as conn:
                    return record_feedback(conn, items, received_at=received_at, source=source)
            except IntegrityError as exc:
                clash = exc  # a concurrent call inserted one of these ids first: read again, retry
            except OperationalError as exc:
                raise StoreError(f"could not record feedback; nothing was written: {exc.orig}") from exc
        raise StoreError(f"could not record feedback after 3 attempts; nothing was written: {clash}") from clash

    def label_history(self, prediction_id: str) -> list[dict[str, Any]]:
        """Every label that took effect for a prediction id, oldest first."""
        with self.engine.connect() as conn:
            return label_history(conn, prediction_id)

    def count_parked(self) -> int:
        """How many labels wait for their prediction to be logged."""
        with self.engine.connect() as conn:
            return count_parked(conn)

    def window(self, *, last: int | None = None, since: float | None = None,
               until: float | None = None, labelled_only: bool = False) -> pd.DataFrame:
        """Logged predictions in a window, oldest first, with ``label`` joined (None if
        absent); ``labelled_only`` keeps only rows whose label arrived.

        The JSON columns are read as text and decoded here, column by column: SQLAlchemy's
        per-value JSON processing cost about ten times the decoding itself on 100k rows.
        """
        import json

        import pandas as pd

        p, f = t.predictions, t.feedback
        as_text = [sa.cast(c, sa.Text) for c in (p.c.features, p.c.prediction, p.c.probabilities, f.c.label)]
        query = sa.select(
            p.c.seq, p.c.prediction_id, p.c.created_at, p.c.model_version, *as_text, f.c.received_at,
        ).select_from(p.outerjoin(f, f.c.prediction_id == p.c.prediction_id))
        if since is not None:
            query = query.where(p.c.created_at >= since)
        if until is not None:
            query = query.where(p.c.created_at < until)
        if labelled_only:
            query = query.where(f.c.label.is_not(None))
        query = query.order_by(p.c.seq.desc())
        if last is not None:
            query = query.limit(last)
        with self.engine.connect() as conn:
            rows = conn.execute(query).all()
        rows = rows[::-1]
        names = ["seq", "prediction_id", "created_at", "model_version", "features", "prediction", "probabilities",
                 "label", "received_at"]
        columns = dict(zip(names, map(list, zip(*rows, strict=True)), strict=True)) if rows else {n: [] for n in names}
        for name in ("features", "prediction", "probabilities", "label"):
            # One decode per column (a JSON array of the values) rather than one per value;
            # SQL NULL (no label yet) and JSON null both read as None.
            columns[name] = json.loads("[" + ",".join("null" if v is None else v for v in columns[name]) + "]")
        # Object columns keep labels and outputs as logged (an int stays an int even
        # when other rows have no label yet).
        return pd.DataFrame({
            c: pd.Series(columns[c], dtype="float64" if c in ("created_at", "received_at") else object)
            for c in names[1:]
        })

    # -- measurements and cycles ----------------------------------------------------
    def add_measurement(self, body: dict[str, Any], at: float) -> int:
        """Store a measurement; returns its id."""
        with self.engine.begin() as conn:
            return int(conn.execute(t.measurements.insert().values(created_at=at, body=body)).inserted_primary_key[0])

    def latest_measurement(self) -> dict[str, Any] | None:
        """The most recent measurement's body, if any."""
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(t.measurements.c.body).order_by(t.measurements.c.id.desc()).limit(1)).first()
        return None if row is None else dict(row.body)

    def add_cycle(self, body: dict[str, Any], at: float) -> int:
        """Store a cycle in the ledger; returns its id."""
        with self.engine.begin() as conn:
            return int(conn.execute(t.cycles.insert().values(created_at=at, body=body)).inserted_primary_key[0])

    def update_cycle(self, cycle_id: int, body: dict[str, Any]) -> None:
        """Rewrite a cycle's body (its id is set once known)."""
        with self.engine.begin() as conn:
            conn.execute(t.cycles.update().where(t.cycles.c.id == cycle_id).values(body=body))

    def cycles(self, *, newest: int | None = None) -> list[dict[str, Any]]:
        """The ledger, oldest first (``newest``: only the newest N entries)."""
        query = sa.select(t.cycles.c.id, t.cycles.c.body).order_by(t.cycles.c.id.desc())
        if newest is not None:
            query = query.limit(newest)
        with self.engine.connect() as conn:
            return [dict(r.body) for r in reversed(conn.execute(query).all())]

    # -- the enriched test set ------------------------------------------------------
    def add_testset_rows(self, rows: list[dict[str, Any]]) -> int:
        """Add hard cases whose prediction id is not in the set yet (the first copy of a
        row keeps its provenance); returns how many were added. One transaction."""
        if not rows:
            return 0
        table = t.testset
        fresh: dict[str, dict[str, Any]] = {}
        for row in rows:
            fresh.setdefault(str(row["prediction_id"]), row)
        with self.engine.begin() as conn:
            ids = list(fresh)
            for start in range(0, len(ids), 500):
                chunk = ids[start:start + 500]
                for r in conn.execute(sa.select(table.c.prediction_id).where(table.c.prediction_id.in_(chunk))):
                    fresh.pop(r.prediction_id, None)
            if fresh:
                conn.execute(table.insert(), list(fresh.values()))
        return len(fresh)

    def testset_rows(self, *, reason: str | None = None) -> list[dict[str, Any]]:
        """The enriched test set, newest first (ties by prediction id)."""
        table = t.testset
        query = sa.select(table).order_by(table.c.added_at.desc(), table.c.prediction_id)
        if reason is not None:
            query = query.where(table.c.reason == reason)
        with self.engine.connect() as conn:
            return [dict(r) for r in conn.execute(query).mappings()]

    def delete_testset_rows(self, prediction_ids: list[str]) -> int:
        """Remove rows from the enriched test set by prediction id; returns how many."""
        removed = 0
        with self.engine.begin() as conn:
            for start in range(0, len(prediction_ids), 500):
                chunk = prediction_ids[start:start + 500]
                removed += conn.execute(t.testset.delete().where(t.testset.c.prediction_id.in_(chunk))).rowcount
        return removed

    def get_cycle(self, cycle_id: int) -> dict[str, Any]:
        """One cycle of the ledger."""
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(t.cycles.c.body).where(t.cycles.c.id == cycle_id)).first()
        if row is None:
            raise NotFoundError(f"cycle {cycle_id} does not exist; see 'leanloop history'")
        return dict(row.body)


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


def normalise_url(url: str) -> str:
    """Select psycopg 3 for a bare PostgreSQL URL (SQLAlchemy would pick psycopg2).

    >>> normalise_url("postgresql://u@localhost/db")
    'postgresql+psycopg://u@localhost/db'
    >>> normalise_url("sqlite:///x.db")
    'sqlite:///x.db'
    """
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    return url
