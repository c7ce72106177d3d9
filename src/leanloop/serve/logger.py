"""The durable prediction logger: one writer thread, group commit, a spool when the store is down.

Requests hand their records to the writer and wait; the writer takes everything
queued (up to ``max_rows`` rows; when the last commit carried several callers' records,
also what arrives within ``max_wait_ms``; a lone caller is never kept waiting), commits it
in one transaction and only then releases the waiting requests. So a response with
a ``prediction_id`` means its record is committed, and concurrent requests share a
commit instead of paying one each.

When the store cannot commit (PostgreSQL down or frozen, a lock held, SQLite locked or
full), or a commit takes longer than ``commit_timeout_ms``, the group goes to the local
:class:`~leanloop.serve.spool.Spool` (fsynced before the answer) and the logger is
*degraded*: new groups go to the spool too, keeping their order. A replay thread of its
own drains the spool into the store (idempotently, keyed by prediction id), oldest file
first, whenever the store answers, while the writer keeps appending new groups: the
spool drains while traffic continues. Once it is empty, groups go to the store again.
While the store does not answer, the replay thread retries every ``retry_seconds``.
If the spool cannot be written either, the waiting requests get
:class:`StorageFullError` (507, disk full) or :class:`StoreError` (503): no prediction is
served unlogged. Beyond ``spool_max_bytes`` of spool, :meth:`PredictionLogger.check_room`
refuses new requests (:class:`SpoolFull`, 503 with ``Retry-After``). Records a crashed
process left in the spool are replayed when the next one starts.

Every store call runs in a thread of its own with a deadline (:class:`StoreCall`): a
frozen database holds that thread, never the writer or a request. The log gets one
line per change of state (store unavailable, back and draining, drained), not one per
retry.

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
import math
import queue
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from leanloop.errors import LeanloopError, StorageFullError, StoreError
from leanloop.serve.spool import Spool
from leanloop.serve.store_call import StoreCall, StoreTimeout

if TYPE_CHECKING:
    from leanloop.store import SQLStore

__all__ = ["PredictionLogger", "LoggerStats", "BATCH_BUCKETS", "Spool", "SpoolFull"]

_STOP = object()
_FULL = (errno.ENOSPC, errno.EDQUOT, errno.EFBIG)
BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096)
#: Of the time the replay thread spends on the store, the part it waits after each file:
#: a steady share of the machine is left to the writer and the requests while it drains.
REPLAY_SHARE = 0.5
log = logging.getLogger("leanloop.serve")


class SpoolFull(LeanloopError):
    """The spool holds ``[serve] spool_max_bytes``: new predictions are refused until it drains."""

    http_status = 503
    reason = "spool_full"

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


@dataclass(frozen=True)
class LoggerStats:
    """The logger's counters, for ``/metrics`` and ``/ready``.

    ``batch_sizes`` is a Prometheus-style histogram of rows per group commit: keys are
    upper bounds (``"1"``, ``"2"``, ``"4"``, ... ``"4096"``, ``"+Inf"``), values the
    cumulative count of groups with at most that many rows; ``batch_rows_sum`` and
    ``batches`` are its ``_sum`` and ``_count``. ``spool_bytes`` and
    ``spool_age_seconds`` (since the oldest spooled record) describe the spool;
    ``store_down`` is true from a failed or timed-out commit until a replay succeeds.
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
    spool_bytes: int = 0
    spool_age_seconds: float = 0.0
    store_down: bool = False
    commit_timeouts: int = 0


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
    commit_timeouts: int = 0


class PredictionLogger:
    """Group-commit writer for prediction records, spooling while the store is down."""

    def __init__(self, store: SQLStore, spool: Spool | None = None, *, max_rows: int = 2048, max_wait_ms: float = 2.0,
                 retry_seconds: float = 1.0, commit_timeout_ms: float | None = None,
                 spool_max_bytes: int | None = None) -> None:
        self.store = store
        self.spool = spool if spool is not None else _NoSpool()
        self.max_rows = max_rows
        self.max_wait_ms = max_wait_ms
        self.retry_seconds = retry_seconds
        self.commit_timeout_ms = commit_timeout_ms
        self.spool_max_bytes = spool_max_bytes
        self._queue: queue.Queue[Any] = queue.Queue()
        self._thread: threading.Thread | None = None
        self._replayer: threading.Thread | None = None
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._counters = _Counters()
        self._count_lock = threading.Lock()
        self._last_groups = 0
        self._store_down = False
        self._state_lock = threading.Lock()
        self._drain: tuple[float, int] | None = None  # (began, rows) while draining after an outage
        timeout = None if commit_timeout_ms is None else commit_timeout_ms / 1000
        # Margin over the database's own timeout, so that a live server cancels the statement
        # itself (the connection stays usable); the deadline catches a frozen one.
        self._writer_call = StoreCall("commit", None if timeout is None else timeout + 0.1)
        self._replay_call = StoreCall("replay", None if timeout is None else timeout + 0.1)

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
            degraded=depth > 0 or self._store_down, batches=c.batches, batch_rows_sum=c.batch_rows_sum,
            rows_spooled=c.rows_spooled, rows_replayed=c.rows_replayed, quarantined=self.spool.quarantined,
            failed_batches=c.failed_batches, failing=c.failing, running=self._thread is not None,
            spool_bytes=self.spool.size, spool_age_seconds=round(self.spool.age(), 3),
            store_down=self._store_down, commit_timeouts=c.commit_timeouts,
        )

    def check_room(self) -> None:
        """Raise :class:`SpoolFull` while the spool holds ``spool_max_bytes`` or more."""
        limit = self.spool_max_bytes
        if limit is not None and self.spool.pending and self.spool.size >= limit:
            raise SpoolFull(
                f"the store is unavailable and the spool is full ({self.spool.size} bytes, [serve] "
                f"spool_max_bytes = {limit}); retry later, or bring the store back", math.ceil(self.retry_seconds))

    def start(self) -> None:
        """Find records a crashed process spooled, and start the writer and the replay threads."""
        orphans = self.spool.open()
        if orphans:
            log.warning("found %d spooled prediction records from an earlier run; replaying them", orphans)
        self._stopping.clear()
        self._thread = threading.Thread(target=self._run, name="leanloop-logger", daemon=True)
        self._thread.start()
        self._replayer = threading.Thread(target=self._replay_loop, name="leanloop-replay", daemon=True)
        self._replayer.start()

    def stop(self) -> None:
        """Flush what is queued, try a last replay of the spool, and stop the threads."""
        if self._thread is not None:
            self._queue.put(_STOP)
            self._thread.join()
            self._thread = None
            self._stopping.set()
            self._wake.set()
            if self._replayer is not None:
                self._replayer.join()
                self._replayer = None
            if self.spool.pending:
                self._replay_once()
            self.spool.close()
            self._writer_call.close()
            self._replay_call.close()

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
        while True:
            item = self._queue.get()
            if item is _STOP:
                break
            batch, stopping = self._gather(item)
            self._commit(batch)
            if stopping:
                break

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
                self._writer_call(self._to_store, records)
                if self._store_down:
                    self._came_back(0)
                return
            except Exception as exc:  # any store failure: the spool takes the records
                reason = str(exc)
                if isinstance(exc, StoreTimeout):
                    self._counters.commit_timeouts += 1
                self._went_down(reason)
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
        self._counters.rows_spooled += len(records)
        self._wake.set()

    def _to_store(self, records: list[dict[str, Any]]) -> int:
        inserted = self.store.log_predictions(records, timeout_ms=self.commit_timeout_ms)
        with self._count_lock:
            self._counters.commits += 1
            self._counters.rows_logged += inserted
        return inserted

    # -- the replay thread ----------------------------------------------------------
    def _replay_loop(self) -> None:
        while not self._stopping.is_set():
            if not self.spool.pending:
                self._wake.wait()
                self._wake.clear()
                continue
            began = time.monotonic()
            if self._replay_once():
                # Paced: the writer and the requests keep a steady share of the machine.
                pause = (time.monotonic() - began) * (1 - REPLAY_SHARE) / REPLAY_SHARE
                self._stopping.wait(min(pause, self.retry_seconds))
            else:
                self._stopping.wait(self.retry_seconds)

    def _replay_once(self) -> bool:
        """Replay the oldest spool file; False when the store did not take it."""
        try:
            result = self.spool.replay_oldest(lambda chunk: self._replay_call(self._to_store, chunk),
                                              max_rows=self.max_rows)
        except Exception as exc:  # the store is still down: stay degraded, retry later
            self._went_down(str(exc))
            log.debug("spool replay deferred: %s", exc)
            return False
        if result is None:
            return True
        self._counters.rows_replayed += result.records
        if result.quarantined:
            log.error("quarantined %d corrupt spool frame(s) in %s", result.quarantined,
                      self.spool.folder / "quarantine")
        self._came_back(result.records)
        return True

    # -- one log line per change of state ---------------------------------------------
    def _went_down(self, reason: str) -> None:
        with self._state_lock:
            if self._store_down:
                return
            self._store_down = True
            self._drain = None
        if isinstance(self.spool, _NoSpool):
            log.warning("the store is unavailable (%s); no spool is configured: requests fail until it is back",
                        reason)
        else:
            log.warning("the store is unavailable (%s); prediction records go to the spool in %s until it is back",
                        reason, self.spool.folder)

    def _came_back(self, replayed: int) -> None:
        with self._state_lock:
            was_down, self._store_down = self._store_down, False
            pending = self.spool.pending
            if self._drain is None:
                if not replayed and not pending:
                    if was_down:
                        log.warning("the store answers again")
                    return
                self._drain = (time.monotonic(), 0)
                log.warning("the store answers; draining %d spooled prediction records", pending + replayed)
            began, rows = self._drain
            rows += replayed
            self._drain = (began, rows)
            if not pending:
                log.warning("the spool is drained: %d prediction records replayed into the store in %.1f s",
                            rows, time.monotonic() - began)
                self._drain = None

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
