"""Sections of the running service: ``[serve]`` and ``[store]``.

Examples
--------
>>> ServeConfig().max_rows_per_request, StoreConfig().sqlite_synchronous.value
(10000, 'FULL')
"""

from __future__ import annotations

from pydantic import Field

from leanloop.config._base import Section
from leanloop.config.enums import SqliteSync, ValuePolicy
from leanloop.config.limits import MAX_BODY_BYTES, MAX_QUEUE_ROWS

__all__ = ["ServeConfig", "StoreConfig"]


class ServeConfig(Section):
    """HTTP server limits, input policies, micro-batching and the logger's group commit."""

    max_rows_per_request: int = Field(10_000, ge=1, le=MAX_QUEUE_ROWS, description="Rows one request may carry.")
    max_body_bytes: int = Field(16 * 1024 * 1024, ge=1024, le=MAX_BODY_BYTES, description="Largest request body.")
    predict_auth: bool = Field(False, description="Whether /predict needs the bearer token too.")
    unseen_categories: ValuePolicy = Field(ValuePolicy.ACCEPT,
                                           description="Unseen categories: accept (and count) or reject (422).")
    out_of_range: ValuePolicy = Field(ValuePolicy.ACCEPT,
                                      description="Numbers outside the training range: accept (and count) or reject.")
    batch_max_rows: int = Field(4096, ge=1, le=MAX_QUEUE_ROWS, description="Rows per model call (micro-batching).")
    batch_max_wait_ms: float = Field(5.0, ge=0.0, le=100.0, description="Pause gathering a micro-batch.")
    queue_max_rows: int = Field(20_000, ge=1, le=MAX_QUEUE_ROWS,
                                description="Rows waiting beyond which requests get 503 + Retry-After.")
    commit_max_rows: int = Field(2048, ge=1, le=MAX_QUEUE_ROWS, description="Log rows per group-commit transaction.")
    commit_max_wait_ms: float = Field(2.0, ge=0.0, le=10_000.0, description="Pause gathering a group commit.")
    model_refresh_seconds: float = Field(0.5, gt=0.0, le=3600.0,
                                         description="How often workers look for a new champion.")
    shutdown_drain_seconds: float = Field(0.0, ge=0.0, le=3600.0,
                                          description="After SIGTERM, how long /ready says 503 before stopping.")
    shadow_queue_rows: int = Field(10_000, ge=1, le=MAX_QUEUE_ROWS, description="Rows waiting for the shadow model.")
    shadow_batch_wait_ms: float = Field(200.0, ge=0.0, le=5000.0, description="Pause gathering a shadow batch.")
    spool_max_bytes: int = Field(
        1 << 30, ge=1 << 16, le=1 << 40,
        description="Disk the spool may hold while the store is away; beyond it /predict answers 503 with "
                    "Retry-After instead of growing without end.")
    read_timeout_s: float = Field(
        10.0, gt=0.0, le=600.0,
        description="Seconds a client may take to send a request's headers, and its body once the headers are "
                    "in; a slower or shorter body is answered 400 (or the connection closed).")
    auth_failures_per_minute: int = Field(
        30, ge=1, le=100_000,
        description="Wrong or missing tokens one client address may send per minute before it gets 429 with "
                    "Retry-After; the right token is never limited.")


class StoreConfig(Section):
    """Where logs, versions and cycles live; SQLite in the workspace by default."""

    url: str | None = Field(None, description="Any SQLAlchemy URL, e.g. postgresql://user@host/db "
                                              "(default: SQLite in .leanloop/store.db).")
    sqlite_synchronous: SqliteSync = Field(SqliteSync.FULL,
                                           description="FULL survives power loss; NORMAL only process crashes.")
    spool_retry_seconds: float = Field(1.0, gt=0.0, le=3600.0,
                                       description="While the store is down, how often to retry.")
    commit_timeout_ms: int = Field(
        2000, ge=10, le=600_000,
        description="Longest a prediction-log commit may take (PostgreSQL statement and lock timeouts, SQLite "
                    "busy timeout); a slower one sends the group to the spool and the server reports degraded.")
    archive_dir: str = Field(
        ".leanloop/archive",
        description="Where `leanloop export` writes the Parquet archive of the log by default, and where retention "
                    "archives rows before deleting them (relative to the project folder).")
    retention_days: float | None = Field(
        None, gt=0.0, le=36_500.0,
        description="Keep this many days of predictions in the store; older rows are archived to archive_dir and "
                    "then deleted by the server running the loop, and by `leanloop export` (none: keep every row).")
