"""Shadow mode: the ``shadow`` version scores every request too, off the request path.

``leanloop shadow VERSION`` points the ``shadow`` alias at a version. Each server
worker notices within ``model_refresh_seconds``, loads it (hash and trusted types
checked, as for the champion) and, for every batch the champion answered, queues the
raw rows. A background thread gathers what queued within ``shadow_batch_wait_ms``,
scores it in one model call and writes the outputs to ``shadow_predictions`` keyed by
the champion's prediction ids. The caller never sees the shadow's output and never
waits for it: queueing is a list append; beyond ``shadow_queue_rows`` waiting rows
new ones are dropped and counted (``leanloop_shadow_rows_total{outcome="dropped"}``).
The comparison on live traffic is :func:`leanloop.learn.shadow.shadow_report`.

A shadow version that fails to load (a tampered file) is refused and logged; serving
is unaffected. Shadow scoring stops when the alias is cleared or points at the
version that answers (a promoted shadow).
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

    from leanloop.registry import ModelVersion, Registry
    from leanloop.schema import Schema
    from leanloop.store.sql import SQLStore

__all__ = ["ShadowScorer", "ShadowStats"]

log = logging.getLogger("leanloop.serve")


@dataclass(frozen=True)
class ShadowStats:
    """What this worker's shadow scorer did since it started."""

    version: str | None
    scored: int
    dropped: int
    failed: int
    queued: int

    def to_json(self) -> dict[str, Any]:
        return {"version": self.version, "scored": self.scored, "dropped": self.dropped,
                "failed": self.failed, "queued": self.queued}


@dataclass
class _Pending:
    frames: list[Any] = field(default_factory=list)
    ids: list[list[str]] = field(default_factory=list)
    created: list[float] = field(default_factory=list)
    rows: int = 0


class ShadowScorer:
    """Scores the champion's batches with the ``shadow`` version in a background thread."""

    def __init__(self, registry: Registry, store: SQLStore, schema: Schema, task: str, *,
                 max_queue_rows: int = 10_000, batch_wait_ms: float = 200.0) -> None:
        self.registry = registry
        self.store = store
        self.schema = schema
        self.task = task
        self.max_queue_rows = max_queue_rows
        self.batch_wait = batch_wait_ms / 1000.0
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._pending = _Pending()
        self._current: tuple[ModelVersion, Any] | None = None
        self._refused: str | None = None
        self.scored = self.dropped = self.failed = 0

    @property
    def version(self) -> str | None:
        """The version shadow-scoring, or None."""
        current = self._current
        return None if current is None else current[0].version

    def refresh(self) -> None:
        """Follow the ``shadow`` alias: load a newly pointed version, drop a cleared one."""
        record = self.registry.alias("shadow")
        if record is None:
            self._current = None
            return
        if self.version == record.version or self._refused == record.version:
            return
        try:
            model, _ = self.registry.load(record.version)
        except Exception as exc:  # a refused shadow never affects serving
            self._refused = record.version
            log.error("shadow version %s refused: %s", record.version, exc)
            return
        self._refused = None
        self._current = (record, model)
        log.info("shadow mode: %s scores every request (logged, never returned)", record.version)

    def offer(self, rows: pd.DataFrame, prediction_ids: list[str], serving: str, created_at: float) -> None:
        """Queue a batch the champion ``serving`` answered; never blocks, never raises."""
        current = self._current
        if current is None or current[0].version == serving:
            return
        with self._lock:
            if self._pending.rows + len(prediction_ids) > self.max_queue_rows:
                self.dropped += len(prediction_ids)
                return
            self._pending.frames.append(rows)
            self._pending.ids.append(prediction_ids)
            self._pending.created.append(created_at)
            self._pending.rows += len(prediction_ids)
        self._wake.set()

    def start(self) -> None:
        """Start the background thread."""
        self._thread = threading.Thread(target=self._run, name="leanloop-shadow", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        """Score what is queued (up to ``timeout`` seconds), then stop."""
        self._stopping.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def stats(self) -> ShadowStats:
        return ShadowStats(version=self.version, scored=self.scored, dropped=self.dropped, failed=self.failed,
                           queued=self._pending.rows)

    def _run(self) -> None:
        while True:
            self._wake.wait()
            if not self._stopping.is_set():
                time.sleep(self.batch_wait)  # gather: one model call for many requests
            with self._lock:
                pending, self._pending = self._pending, _Pending()
                self._wake.clear()
            if pending.rows:
                self._score(pending)
            if self._stopping.is_set() and not self._pending.rows:
                return

    def _score(self, pending: _Pending) -> None:
        import pandas as pd

        from leanloop.scoring import model_input, score, to_python

        current = self._current
        if current is None:
            return
        record, model = current
        try:
            frame = model_input(self.schema, pd.concat(pending.frames, ignore_index=True), record.input_format,
                                "shadow rows")
            scored = score(model, frame, self.task)
            created = [at for ids, at in zip(pending.ids, pending.created, strict=True) for _ in ids]
            ids = [i for group in pending.ids for i in group]
            rows = [{"prediction_id": i, "model_version": record.version, "created_at": at,
                     "prediction": to_python(label), "probabilities": proba}
                    for i, at, label, proba in zip(ids, created, scored.labels, scored.probability_dicts(),
                                                   strict=True)]
            self.store.log_shadow(rows)
            self.scored += len(rows)
        except Exception:  # shadow work must never take the server down; counted and logged
            self.failed += pending.rows
            log.exception("shadow scoring of %d rows with %s failed", pending.rows, record.version)

    def collector(self) -> Any:
        """A Prometheus collector of this scorer's counters."""
        return _ShadowCollector(self)


class _ShadowCollector:
    def __init__(self, scorer: ShadowScorer) -> None:
        self.scorer = scorer

    def describe(self) -> list[Any]:
        return []

    def collect(self) -> Any:
        from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

        stats = self.scorer.stats()
        rows = CounterMetricFamily("leanloop_shadow_rows", "Rows the shadow version scored, dropped or failed on",
                                   labels=["outcome"])
        for outcome in ("scored", "dropped", "failed"):
            rows.add_metric([outcome], getattr(stats, outcome))
        yield rows
        yield GaugeMetricFamily("leanloop_shadow_queue_rows", "Rows waiting for the shadow version",
                                value=stats.queued)
        info = GaugeMetricFamily("leanloop_shadow_info", "The shadow version (value is always 1)", labels=["version"])
        if stats.version is not None:
            info.add_metric([stats.version], 1.0)
        yield info
