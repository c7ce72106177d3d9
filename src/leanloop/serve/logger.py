"""The durable prediction logger: one writer thread, group commit, a spool when the store is down.

Requests hand their records to the writer and wait; the writer takes everything
queued (up to ``max_rows`` rows; when the last commit carried several callers' records,
also what arrives within ``max_wait_ms``; a lone caller is never kept waiting), commits it
in one transaction and only then releases the waiting requests. So a response with
a ``prediction_id`` means its record is committed, and concurrent requests share a
commit instead of paying one each.

When the store cannot commit (PostgreSQL down, SQLite locked or full), the group goes
to the local :class:`~leanloop.serve.spool.Spool` (fsynced before the answer) and the
logger is *degraded*: new groups go to the spool too, keeping their order, and every
``retry_seconds`` the writer replays the spool into the store (idempotently, keyed
by prediction id); once it is drained, groups go to the store again. If the spool
cannot be written either, the waiting requests get :class:`StorageFullError` (507,
disk full) or :class:`StoreError` (503): no prediction is served unlogged. Records a
crashed process left in the spool are replayed when the next one starts.

Examples
--------
>>> import asyncio, tempfile, pathlib
>>> from leanloop.store import SQLStore
>>> folder = pathlib.Path(tempfile.mkdtemp())
>>> logger = PredictionLogger(SQLStore(f"sqlite:///{folder / 's.db'}"), Spool(folder / "spool"))
>>> logger.start()
>>> asyncio.run(logger.log([{"prediction_id": "p1", "created_at": 1.0, "model_version": "v1",
...     "features": {}, "prediction": 1, "probabilities": None}]))
>>> logger.stop()
>>> stats = logger.stats()
>>> stats.rows_logged, stats.commits, stats.batch_sizes["1"], stats.spool_depth, stats.degraded
(1, 1, 1, 0, False)
"""

from __future__ import annotations

import asyncio
import errno
import logging
import queue
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from leanloop.errors import StorageFullError, StoreError
from leanloop.serve.spool import Spool

if TYPE_CHECKING:
    from leanloop.store import SQLStore

__all__ = ["PredictionLogger", "LoggerStats", "BATCH_BUCKETS", "Spool"]

_STOP = object()
_FULL = (errno.ENOSPC, errno.EDQUOT, errno.EFBIG)
BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096)
log = logging.getLogger("leanloop.serve")


@dataclass(frozen=True)
class LoggerStats:
    """The logger's counters, for ``/metrics`` and ``/ready``.

    ``batch_sizes`` is a Prometheus-style histogram of rows per group commit: keys are
    upper bounds (``"1"``, ``"2"``, ``"4"``, ... ``"4096"``, ``"+Inf"``), values the
    cumulative count of groups with at most that many rows; ``batch_rows_sum`` and
    ``batches`` are its ``_sum`` and ``_count``.
    """

    rows_logged: int
    commits: int
    batch_sizes: dict[str, int]
    spool_depth: int
    degraded: bool
    batches: int = 0
    batch_rows_sum: int = 0
    rows_spooled: int = 0
    rows_replayed: int = 0
    quarantined: int = 0
    failed_batches: int = 0
    failing: bool = False
    running: bool = False


@dataclass
class _Counters:
    rows_logged: int = 0
    commits: int = 0
    buckets: list[int] = field(default_factory=lambda: [0] * (len(BATCH_BUCKETS) + 1))
    batches: int = 0
    batch_rows_sum: int = 0
    rows_spooled: int = 0
    rows_replayed: int = 0
    failed_batches: int = 0
    failing: bool = False


class PredictionLogger:
    """Group-commit writer for prediction records, spooling while the store is down."""

    def __init__(self, store: SQLStore, spool: Spool | None = None, *, max_rows: int = 2048, max_wait_ms: float = 2.0,
                 retry_seconds: float = 1.0) -> None:
        self.store = store
        self.spool = spool if spool is not None else _NoSpool()
        self.max_rows = max_rows
        self.max_wait_ms = max_wait_ms
        self.retry_seconds = retry_seconds
        self._queue: queue.Queue[Any] = queue.Queue()
        self._thread: threading.Thread | None = None
        self._counters = _Counters()
        self._next_retry = 0.0
        self._last_groups = 0

    @property
    def commits(self) -> int:
        """Store transactions so far."""
        return self._counters.commits

    @property
    def rows(self) -> int:
        """Rows committed to the store so far (directly or from the spool)."""
        return self._counters.rows_logged

    def stats(self) -> LoggerStats:
        """A snapshot of the counters."""
        c = self._counters
        cumulative, running = {}, 0
        for bound, count in zip([*map(str, BATCH_BUCKETS), "+Inf"], c.buckets, strict=True):
            running += count
            cumulative[bound] = running
        depth = self.spool.pending
        return LoggerStats(
            rows_logged=c.rows_logged, commits=c.commits, batch_sizes=cumulative, spool_depth=depth,
            degraded=depth > 0, batches=c.batches, batch_rows_sum=c.batch_rows_sum, rows_spooled=c.rows_spooled,
            rows_replayed=c.rows_replayed, quarantined=self.spool.quarantined, failed_batches=c.failed_batches,
            failing=c.failing, running=self._thread is not None,
        )

    def start(self) -> None:
        """Find records a crashed process spooled, and start the writer thread (which
        replays them first)."""
        orphans = self.spool.open()
        if orphans:
            log.warning("found %d spooled prediction records from an earlier run; replaying them", orphans)
        self._thread = threading.Thread(target=self._run, name="leanloop-logger", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Flush what is queued, try a last replay of the spool, and stop the writer."""
        if self._thread is not None:
            self._queue.put(_STOP)
            self._thread.join()
            self._thread = None
            self.spool.close()

    async def log(self, records: list[dict[str, Any]]) -> None:
        """Queue ``records`` and return once they are durable (committed or spooled)."""
        if self._thread is None:
            raise StoreError("the prediction logger is not running; the server is shutting down")
        loop = asyncio.get_running_loop()
        future: asyncio.Future[None] = loop.create_future()
        self._queue.put((records, loop, future))
        await future

    # -- the writer thread ----------------------------------------------------------
    def _run(self) -> None:
        self._replay()
        while True:
            timeout = max(0.0, self._next_retry - time.monotonic()) if self.spool.pending else None
            try:
                item = self._queue.get(timeout=timeout)
            except queue.Empty:
                self._replay()
                continue
            if item is _STOP:
                break
            batch, stopping = self._gather(item)
            self._commit(batch)
            if self.spool.pending and time.monotonic() >= self._next_retry:
                self._replay()
            if stopping:
                break
        if self.spool.pending:
            self._replay()

    def _gather(self, first: Any) -> tuple[list[Any], bool]:
        # A lone group is committed at once: only when the last commit carried several
        # groups (callers arriving together) is it worth waiting up to max_wait_ms for more.
        batch = [first]
        rows = len(first[0])
        wait = self.max_wait_ms / 1000 if self._last_groups > 1 else 0.0
        deadline = time.monotonic() + wait
        while rows < self.max_rows:
            timeout = deadline - time.monotonic()
            try:
                nxt = self._queue.get(timeout=timeout) if timeout > 0 else self._queue.get_nowait()
            except queue.Empty:
                break
            if nxt is _STOP:
                return batch, True
            batch.append(nxt)
            rows += len(nxt[0])
        self._last_groups = len(batch)
        return batch, False

    def _commit(self, batch: list[Any]) -> None:
        records = [record for records, _, _ in batch for record in records]
        self._observe(len(records))
        error: BaseException | None = None
        try:
            self._write(records)
            self._counters.failing = False
        except StoreError as exc:
            error = exc
            self._counters.failed_batches += 1
            self._counters.failing = True
        except Exception as exc:  # every waiting request must hear of the failure
            error = StoreError(f"could not log predictions: {exc}")
            self._counters.failed_batches += 1
            self._counters.failing = True
        for _, loop, future in batch:
            loop.call_soon_threadsafe(_settle, future, error)

    def _write(self, records: list[dict[str, Any]]) -> None:
        reason = "earlier records are still spooled"
        if not self.spool.pending:
            try:
                self._to_store(records)
                return
            except Exception as exc:  # any store failure: the spool takes the records
                reason = str(exc)
                log.warning("the store could not commit %d prediction records (%s); spooling them",
                            len(records), reason)
        try:
            self.spool.append(records)
        except OSError as exc:
            where = self.spool.folder
            if exc.errno in _FULL:
                raise StorageFullError(
                    f"no space to log predictions: the store could not commit ({reason}) and the spool in "
                    f"{where} could not be written ({exc.strerror}); free disk space; the prediction was not served"
                ) from exc
            raise StoreError(
                f"could not log predictions: the store could not commit ({reason}) and the spool in "
                f"{where} could not be written ({exc.strerror}); the prediction was not served"
            ) from exc
        self._next_retry = max(self._next_retry, time.monotonic() + self.retry_seconds / 2)
        self._counters.rows_spooled += len(records)

    def _to_store(self, records: list[dict[str, Any]]) -> int:
        inserted = self.store.log_predictions(records)
        self._counters.commits += 1
        self._counters.rows_logged += inserted
        return inserted

    def _replay(self) -> None:
        self._next_retry = time.monotonic() + self.retry_seconds
        if not self.spool.pending:
            return
        try:
            result = self.spool.replay(self._to_store, max_rows=self.max_rows)
        except Exception as exc:  # the store is still down: stay degraded, retry later
            log.info("spool replay deferred: %s", exc)
            return
        self._counters.rows_replayed += result.records
        if result.quarantined:
            log.error("quarantined %d corrupt spool frame(s) in %s", result.quarantined,
                      self.spool.folder / "quarantine")
        if result.records:
            log.warning("replayed %d spooled prediction records into the store (%d new)",
                        result.records, result.inserted)

    def _observe(self, rows: int) -> None:
        c = self._counters
        c.batches += 1
        c.batch_rows_sum += rows
        index = next((i for i, bound in enumerate(BATCH_BUCKETS) if rows <= bound), len(BATCH_BUCKETS))
        c.buckets[index] += 1


def _settle(future: asyncio.Future[None], error: BaseException | None) -> None:
    if future.done():
        return
    if error is None:
        future.set_result(None)
    else:
        future.set_exception(error)


class _NoSpool(Spool):
    """No spool configured: a store failure fails the request (503)."""

    def __init__(self) -> None:
        super().__init__(Path("."))

    def open(self) -> int:
        return 0

    def append(self, records: list[dict[str, Any]]) -> None:
        raise OSError(errno.ENODEV, "no spool is configured")
