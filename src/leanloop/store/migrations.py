"""Versioned schema migrations, applied when a store opens.

New tables arrive through ``metadata.create_all`` (it creates what is missing); a
migration is for *altering* a table that already exists in someone's database. Each
migration is one function of Alembic's :class:`~alembic.operations.Operations` (so the
DDL is portable: SQLite gets Alembic's batch mode, PostgreSQL plain ``ALTER``), listed
here in order with its number. The ``schema_version`` table records which numbers a
database has; opening a store applies the missing ones in one transaction each.

A versioned list rather than Alembic's script folder and ``env.py``: leanloop ships a
library, not an application with a ``migrations/`` folder to run by hand, and the list
is applied on start by the same code that creates the tables.

A fresh database is created at the newest shape, so it is stamped with every version
without running them; a database made before versioning (tables but no
``schema_version``) counts as version 1, the walking skeleton's schema.

Examples
--------
>>> import tempfile, pathlib
>>> import sqlalchemy as sa
>>> engine = sa.create_engine(f"sqlite:///{pathlib.Path(tempfile.mkdtemp()) / 's.db'}")
>>> upgrade(engine)
[]
>>> current_version(engine) == LATEST
True
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from leanloop.store import tables as t

if TYPE_CHECKING:
    from alembic.operations import Operations

__all__ = ["MIGRATIONS", "LATEST", "Migration", "current_version", "upgrade"]


@dataclass(frozen=True)
class Migration:
    """One numbered change to existing tables."""

    version: int
    description: str
    apply: Callable[[Operations], None]


def _baseline(_op: Operations) -> None:
    """The walking skeleton's tables; created by ``create_all``, nothing to alter."""


def _index_model_version(op: Operations) -> None:
    inspector = sa.inspect(op.get_bind())
    if "ix_predictions_model_version" not in {i["name"] for i in inspector.get_indexes("predictions")}:
        op.create_index("ix_predictions_model_version", "predictions", ["model_version"])


def _row_keys(op: Operations) -> None:
    columns = {c["name"] for c in sa.inspect(op.get_bind()).get_columns("predictions")}
    for column in (sa.Column("row_id", sa.String(255), nullable=True), sa.Column("event_at", sa.Float, nullable=True),
                   sa.Column("source", sa.String(16), nullable=False, server_default="online")):
        if column.name not in columns:
            op.add_column("predictions", column)
    # IF NOT EXISTS: SQLite's inspector does not list expression indexes.
    op.execute("CREATE INDEX IF NOT EXISTS ix_predictions_row_id ON predictions (row_id)")
    op.execute("CREATE INDEX IF NOT EXISTS ix_predictions_event_time ON predictions (coalesce(event_at, created_at))")


MIGRATIONS: tuple[Migration, ...] = (
    Migration(1, "baseline: models, aliases, predictions, feedback, measurements, cycles", _baseline),
    Migration(2, "index predictions by model_version (rows served per version)", _index_model_version),
    Migration(3, "shadow_predictions: what a shadow version answered (created by create_all)", _baseline),
    Migration(4, "predictions carry row_id, event_at and source; parked_labels (by create_all)", _row_keys),
    Migration(5, "blobs and model_files: versions' files in the store, for hosts without them (by create_all)",
              _baseline),
)
LATEST = MIGRATIONS[-1].version


def current_version(engine: sa.Engine) -> int:
    """The newest version recorded in ``schema_version`` (0 if none)."""
    with engine.connect() as conn:
        if not sa.inspect(conn).has_table(t.schema_version.name):
            return 0
        return int(conn.execute(sa.select(sa.func.coalesce(sa.func.max(t.schema_version.c.version), 0))).scalar_one())


def upgrade(engine: sa.Engine) -> list[int]:
    """Create missing tables and apply missing migrations; returns the versions applied.

    Alembic is imported only when a migration is pending: it costs about a second of
    start-up, which a restarted server would pay on every start otherwise.
    """
    with engine.connect() as conn:
        existing = set(sa.inspect(conn).get_table_names())
    fresh = "predictions" not in existing
    t.metadata.create_all(engine)
    done = current_version(engine)
    if done == 0:
        # A fresh database already has the newest shape; an unversioned one is the baseline.
        done = _stamp(engine, LATEST if fresh else 1)
    applied = []
    for migration in MIGRATIONS:
        if migration.version <= done:
            continue
        from alembic.migration import MigrationContext
        from alembic.operations import Operations

        with engine.begin() as conn:
            migration.apply(Operations(MigrationContext.configure(conn)))
            if not _record(conn, migration.version):
                continue  # another process applied it first, in its own transaction
        applied.append(migration.version)
    return applied


def _stamp(engine: sa.Engine, version: int) -> int:
    with engine.begin() as conn:
        for migration in MIGRATIONS:
            if migration.version <= version:
                _record(conn, migration.version)
    return current_version(engine)


def _record(conn: sa.Connection, version: int) -> bool:
    described = {m.version: m.description for m in MIGRATIONS}[version]
    try:
        with conn.begin_nested():
            conn.execute(t.schema_version.insert().values(version=version, description=described,
                                                          applied_at=time.time()))
    except IntegrityError:
        return False
    return True
