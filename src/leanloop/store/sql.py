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
FeedbackCounts(received=2, recorded=2, duplicates=0, updated=0, parked=1, reused=0)
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
from leanloop.store.blobs import save_files
from leanloop.store.feedback import FeedbackCounts, count_parked, join_parked, label_history, record_feedback
from leanloop.store.notify import announce
from leanloop.store.parked import pending
from leanloop.store.predictions import (
    SQLITE_BUSY_MS,
    LogColumns,
    log_postgresql,
    log_sqlite,
    postgresql_columns,
    read_window,
    sqlite_params,
)
from leanloop.store.shadow import count_shadow, insert_shadow, select_pairs
from leanloop.store.write_lock import WriteLock

if TYPE_CHECKING:
    from collections.abc import Iterable

    import pandas as pd

    from leanloop.store.blobs import StoredFile

__all__ = ["SQLStore", "normalise_url"]

_ALIASES = ("champion", "challenger", "previous", "shadow")


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
        self._write_lock = WriteLock(Path(database) if database and on_file else None)
        if self.engine.dialect.name == "sqlite":
            sync = SqliteSync(sqlite_synchronous).value

            @sa.event.listens_for(self.engine, "connect")
            def _pragmas(dbapi_connection: Any, _record: Any) -> None:
                cursor = dbapi_connection.cursor()
                cursor.execute("PRAGMA journal_mode=WAL")
                cursor.execute(f"PRAGMA synchronous={sync}")
                cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_MS}")
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
    def add_model(self, version: str, created_at: float, body: dict[str, Any], alias: str | None = None, *,
                  files: Iterable[tuple[StoredFile, Path]] = ()) -> None:
        """Record a model version, its ``files`` (:mod:`leanloop.store.blobs`) and point
        ``alias`` at it, in one transaction."""
        self._check_aliases([alias] if alias else [])
        try:
            with self.engine.begin() as conn:
                conn.execute(t.models.insert().values(version=version, created_at=created_at, body=body))
                save_files(conn, version, files)
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
            announce(conn, [alias])
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
        announce(conn, list(mapping))  # every server re-reads the aliases once this commits

    # -- predictions and feedback ---------------------------------------------------
    def insert_predictions(self, rows: list[dict[str, Any]]) -> None:
        """Commit a batch of prediction records in one transaction."""
        if not rows:
            return
        try:
            with self.engine.begin() as conn:
                conn.execute(t.predictions.insert(), rows)
        except IntegrityError as exc:
            raise StoreError(f"a prediction id in this batch is already logged; nothing was written: "
                             f"{exc.orig}") from exc
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

        Records may carry ``row_id``, ``event_at`` and ``source`` (None, None and
        ``online`` when absent); labels parked by a ``row_id`` of the group join in the
        same transaction (:mod:`leanloop.store.parked`).
        """
        if not rows:
            return 0
        postgresql = self.dialect == "postgresql"
        return self._log_group(postgresql_columns(rows) if postgresql else None,
                               None if postgresql else sqlite_params(rows),
                               [r["row_id"] for r in rows if r.get("row_id") is not None], timeout_ms)

    def log_columns(self, columns: LogColumns, *, timeout_ms: float | None = None) -> int:
        """:meth:`log_predictions` for records laid out as the insert's columns (batch
        scoring's bulk load: no dict per row, the JSON already text); the same insert,
        transaction and parked-label join."""
        if not len(columns):
            return 0
        arrays, postgresql = columns.arrays(), self.dialect == "postgresql"
        return self._log_group(arrays if postgresql else None, None if postgresql else list(zip(*arrays, strict=True)),
                               [r for r in columns.row_id if r is not None], timeout_ms, bulk=True)

    def _log_group(self, columns: tuple[list[Any], ...] | None, params: list[tuple[Any, ...]] | None,
                   row_ids: list[str], timeout_ms: float | None, *, bulk: bool = False) -> int:
        """One group in one transaction: PostgreSQL's ``columns`` or SQLite's ``params``."""
        try:
            if columns is not None:
                with self.engine.begin() as conn:
                    logged = log_postgresql(conn, columns, timeout_ms)
                    if row_ids:
                        join_parked(conn, row_ids)
                    return logged
            with self._write_lock, self.engine.begin() as conn:
                logged = log_sqlite(conn, params or [], timeout_ms, bulk=bulk)
                if row_ids:
                    join_parked(conn, row_ids)
                return logged
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

    def logged_total(self) -> int:
        """How many predictions were ever logged: the highest ``seq``, which retention
        never lowers (it keeps the newest row), so the loop's row count keeps rising."""
        with self.engine.connect() as conn:
            return int(conn.execute(sa.select(sa.func.coalesce(sa.func.max(t.predictions.c.seq), 0))).scalar_one())

    def get_prediction(self, prediction_id: str) -> dict[str, Any]:
        """One logged prediction with its feedback, if any."""
        query = (
            sa.select(t.predictions, t.feedback.c.label, t.feedback.c.received_at)
            .select_from(t.predictions.outerjoin(t.feedback,
                                                 t.feedback.c.prediction_id == t.predictions.c.prediction_id))
            .where(t.predictions.c.prediction_id == prediction_id)
        )
        with self.engine.connect() as conn:
            row = conn.execute(query).mappings().first()
        if row is None:
            raise NotFoundError(f"prediction {prediction_id!r} is not in the log")
        return dict(row)

    def add_feedback(self, items: Iterable[tuple[str, Any]], received_at: float, *,
                     source: str = "python") -> FeedbackCounts:
        """Record validated labels by prediction id (or by the project's id: a
        :class:`~leanloop.store.parked.RowId` key) in one transaction; see
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

    def window(self, *, last: int | None = None, since: float | None = None, until: float | None = None,
               labelled_only: bool = False, by_event: bool = False,
               feature_types: dict[str, str] | None = None, classes: list[Any] | None = None,
               seqs: tuple[int, int | None] | None = None) -> pd.DataFrame:
        """Logged predictions in a window, oldest first, with ``label`` joined (None if
        absent); ``labelled_only`` keeps only rows whose label arrived; ``by_event``: by
        event time; ``feature_types``: features as typed columns; ``classes``:
        probabilities as a float column per class; ``seqs``: ``low < seq <= high`` only (see
        :func:`leanloop.store.predictions.read_window`).

        Labels still parked by id whose prediction is logged join first: a label and its
        prediction written at once on two connections may each miss the other."""
        self.join_parked()
        with self.engine.connect() as conn:
            return read_window(conn, last=last, since=since, until=until, labelled_only=labelled_only,
                               by_event=by_event, feature_types=feature_types, classes=classes, seqs=seqs)

    def join_parked(self) -> int:
        """Join labels parked by id whose prediction is logged now; returns how many."""
        with self.engine.connect() as conn:
            if not pending(conn, None):
                return 0  # read only: no write transaction when nothing waits
        with self.engine.begin() as conn:
            return join_parked(conn)

    # -- measurements and cycles ----------------------------------------------------
    def add_measurement(self, body: dict[str, Any], at: float) -> int:
        """Store a measurement; returns its id."""
        with self.engine.begin() as conn:
            return int(conn.execute(t.measurements.insert().values(created_at=at, body=body)
                                     .returning(t.measurements.c.id)).scalar_one())

    def latest_measurement(self) -> dict[str, Any] | None:
        """The most recent measurement's body, if any."""
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(t.measurements.c.body).order_by(t.measurements.c.id.desc()).limit(1)).first()
        return None if row is None else dict(row.body)

    def add_cycle(self, body: dict[str, Any], at: float) -> int:
        """Store a cycle in the ledger; returns its id."""
        with self.engine.begin() as conn:
            return int(conn.execute(t.cycles.insert().values(created_at=at, body=body)
                                    .returning(t.cycles.c.id)).scalar_one())

    def update_cycle(self, cycle_id: int, body: dict[str, Any]) -> None:
        """Rewrite a cycle's body (its id is set once known)."""
        with self.engine.begin() as conn:
            conn.execute(t.cycles.update().where(t.cycles.c.id == cycle_id).values(body=body))

    def ledger_after(self, after: int | None, *, newest: int | None = None) -> list[tuple[int, dict[str, Any]]]:
        """``(id, body)`` of the ledger entries with an id above ``after`` (None: all),
        oldest first (``newest``: only the newest N of them)."""
        query = sa.select(t.cycles.c.id, t.cycles.c.body).order_by(t.cycles.c.id.desc())
        if after is not None:
            query = query.where(t.cycles.c.id > after)
        if newest is not None:
            query = query.limit(newest)
        with self.engine.connect() as conn:
            return [(int(r.id), dict(r.body)) for r in reversed(conn.execute(query).all())]

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
