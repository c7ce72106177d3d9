"""Shadow mode: the ``shadow`` version scores every request too, in a low-priority process.

``leanloop shadow VERSION`` points the ``shadow`` alias at a version. Each server worker
notices within ``model_refresh_seconds`` and starts a child process at the lowest CPU
priority (``nice 19``) that loads the version (hash and trusted types checked, as for
the champion). For every batch the champion answered, the worker hands the raw rows
and their prediction ids to the child (a non-blocking queue put); the child gathers
what arrives within ``shadow_batch_wait_ms``, scores it in one model call and writes
the outputs to ``shadow_predictions`` keyed by the champion's prediction ids.

Why a process and not a thread: a thread would share the worker's interpreter lock, so
every shadow model call would delay the answers being computed beside it. A separate
process at the lowest priority runs on an idle core, or not at all: when the machine is
saturated, the OS serves the workers first, the shadow's queue fills, and beyond
``shadow_queue_rows`` waiting rows new ones are dropped and counted
(``leanloop_shadow_rows_total{outcome="dropped"}``). The caller never sees the
shadow's output and never waits for it.

Nothing is missed silently. Rows that arrive while the child still loads its version
wait in its queue and are scored late, once it has loaded; rows it never scores (it
refused its version, or was stopped with rows queued) are counted as ``missed``, rows
over the queue's bound as ``dropped``. Counts are kept per version: a new shadow
version starts from zero, and ``/metrics`` labels each count with its version. Each
start and stop of a worker's shadow process is a JSON line in the server log.

A shadow version that fails to load (a tampered file) is refused and logged; serving
is unaffected. Shadow scoring stops when the alias is cleared or points at the version
that answers (a promoted shadow). The comparison on live traffic is
:func:`leanloop.learn.shadow.shadow_report`.
"""

from __future__ import annotations

import contextlib
import logging
import os
import queue
import time
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from multiprocessing.process import BaseProcess
    from pathlib import Path

    from leanloop.registry import Registry

__all__ = ["ShadowScorer", "ShadowStats"]

log = logging.getLogger("leanloop.serve")
server_log = logging.getLogger("leanloop.server")

# Indices of the shared counters: rows scored, rows failed, rows queued, loaded (0/1/-1 refused).
_SCORED, _FAILED, _QUEUED, _STATE = range(4)


@dataclass(frozen=True)
class ShadowStats:
    """What this worker's shadow scorer did for the current shadow version: ``version``
    once it is loaded and scoring, ``loading`` while its process starts (rows sent then
    are queued and scored late)."""

    version: str | None
    scored: int
    dropped: int
    failed: int
    queued: int
    missed: int = 0
    loading: str | None = None

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


class ShadowScorer:
    """Hands the champion's batches to a low-priority child process that scores them
    with the ``shadow`` version and logs the outputs."""

    def __init__(self, root: Path, registry: Registry, *, max_queue_rows: int = 10_000,
                 batch_wait_ms: float = 200.0) -> None:
        import multiprocessing

        self.root = root
        self.registry = registry
        self.max_queue_rows = max_queue_rows
        self.batch_wait = batch_wait_ms / 1000.0
        self._context = multiprocessing.get_context("spawn")  # no fork of a threaded server
        self._child: BaseProcess | None = None
        self._queue: Any = None
        self._counters: Any = None
        self._version: str | None = None
        self._refused: str | None = None
        #: Per version: rows scored, failed, dropped and missed, by children that have exited
        #: and (dropped) by this worker.
        self._counts: dict[str, dict[str, int]] = {}

    @property
    def version(self) -> str | None:
        """The version shadow-scoring (loaded and running), or None."""
        if self._version is None or self._counters is None or self._counters[_STATE] != 1:
            return None
        return self._version

    def refresh(self) -> None:
        """Follow the ``shadow`` alias: start a child for a newly pointed version, stop it
        when the alias is cleared; note a child that refused its version."""
        if self._counters is not None and self._counters[_STATE] == -1 and self._refused != self._version:
            self._refused = self._version
            log.error("shadow version %s refused; see the error above", self._version)
            self._stop_child()
        alias = self.registry.store.get_alias("shadow")
        if alias is not None and alias == self._refused:
            return
        self._refused = None
        if alias == self._version:
            return
        self._stop_child()
        if alias is not None:
            self._start_child(alias)

    @property
    def accepting(self) -> str | None:
        """The version rows are queued for: loaded, or still loading (not refused)."""
        if self._version is None or self._counters is None or self._counters[_STATE] == -1:
            return None
        return self._version

    def wants(self, serving: str) -> bool:
        """Whether a batch ``serving`` answered concerns shadow mode (cheap: on the request path)."""
        shadow = self._version or self._refused
        return shadow is not None and shadow != serving

    def _count(self, version: str, outcome: str, rows: int) -> None:
        counts = self._counts.setdefault(version, dict.fromkeys(("scored", "failed", "dropped", "missed"), 0))
        counts[outcome] += rows

    def offer(self, rows: list[dict[str, Any]], prediction_ids: list[str], serving: str, created_at: float) -> None:
        """Queue a batch the champion ``serving`` answered (the validated rows, as the
        request carried them); never blocks, never raises. The rows go as they are: the
        child builds the frame, so the worker spends no time on it. While the child
        loads, they wait for it."""
        version, counters = self.accepting, self._counters
        if version is None:
            refused = self._refused or self._version  # set while a refusal is not noticed yet
            if refused is not None and refused != serving:
                self._count(refused, "missed", len(prediction_ids))  # it cannot score them: said, not silent
            return
        if version == serving:
            return
        if counters[_QUEUED] + len(prediction_ids) > self.max_queue_rows:
            self._count(version, "dropped", len(prediction_ids))
            return
        try:
            self._queue.put_nowait((rows, prediction_ids, created_at))
        except (queue.Full, ValueError, OSError):
            self._count(version, "dropped", len(prediction_ids))
            return
        with counters.get_lock():
            counters[_QUEUED] += len(prediction_ids)

    def start(self) -> None:
        """Start following the alias (the first :meth:`refresh`)."""
        self.refresh()

    def stop(self, timeout: float = 5.0) -> None:
        """Let the child score what is queued (up to ``timeout`` seconds), then stop it."""
        self._stop_child(timeout)

    def stats(self) -> ShadowStats:
        """The current shadow version's counts (all zero when there is none)."""
        counters, current = self._counters, self.accepting
        live = (0, 0, 0) if counters is None or current is None else (
            counters[_SCORED], counters[_FAILED], counters[_QUEUED])
        done = self._counts.get(current or "", {})
        return ShadowStats(version=self.version, scored=done.get("scored", 0) + live[0],
                           dropped=done.get("dropped", 0), failed=done.get("failed", 0) + live[1], queued=live[2],
                           missed=done.get("missed", 0), loading=current if self.version is None else None)

    def counts(self) -> dict[str, dict[str, int]]:
        """Every version this worker shadowed, with its scored, failed, dropped and missed rows."""
        found = {v: dict(c) for v, c in self._counts.items()}
        current, counters = self._version, self._counters
        if current is not None and counters is not None:  # the running child's, counted when it stops
            live = found.setdefault(current, dict.fromkeys(("scored", "failed", "dropped", "missed"), 0))
            live["scored"] += counters[_SCORED]
            live["failed"] += counters[_FAILED]
            live["missed"] += counters[_QUEUED] if counters[_STATE] == -1 else 0  # refused: it never will
        return found

    def _start_child(self, version: str) -> None:
        self._queue = self._context.Queue()
        self._counters = self._context.Array("q", 4)
        self._version = version
        self._child = self._context.Process(
            target=_child_main, name=f"leanloop-shadow-{version}", daemon=True,
            args=(str(self.root), version, self.batch_wait, self._queue, self._counters))
        self._child.start()
        log.info("shadow mode: %s will score every request (logged, never returned)", version)
        server_log.info("shadow_scorer_start", extra={"fields": {
            "event": "shadow_scorer_start", "shadow": version, "pid": self._child.pid}})

    def _stop_child(self, timeout: float = 5.0) -> None:
        child, counters = self._child, self._counters
        if child is None:
            return
        with contextlib.suppress(ValueError, OSError):
            self._queue.put(None)
        child.join(timeout)
        if child.is_alive():
            child.terminate()
            child.join(timeout)
        version = self._version or ""
        self._count(version, "scored", counters[_SCORED])
        self._count(version, "failed", counters[_FAILED])
        self._count(version, "missed", counters[_QUEUED])  # queued, never scored: said, not lost silently
        server_log.info("shadow_scorer_stop", extra={"fields": {"event": "shadow_scorer_stop", "shadow": version,
                                                                **self._counts[version]}})
        self._child = self._queue = self._counters = None
        self._version = None

    def collector(self) -> Any:
        """A Prometheus collector of this scorer's counters."""
        return _ShadowCollector(self)


def _child_main(root: str, version: str, batch_wait: float, inbox: Any, counters: Any) -> None:
    """The shadow process: load ``version``, then score and log batches until ``None``."""
    parent = os.getppid()
    with contextlib.suppress(OSError):
        os.nice(19)  # the workers answering requests come first
    from leanloop.project import Project

    project = Project(root)
    try:
        try:
            record = project.registry.get(version)
            model, _ = project.registry.load(version)
        except Exception as exc:
            log.error("shadow version %s refused: %s", version, exc)
            counters[_STATE] = -1
            return
        counters[_STATE] = 1
        config = project.config
        while True:
            batches, stop = _gather(inbox, batch_wait, parent)
            if batches:
                _score(project, record, model, config, batches, counters)
            if stop:
                return
    finally:
        project.close()


def _gather(inbox: Any, wait: float, parent: int) -> tuple[list[Any], bool]:
    """One batch, then whatever else arrives within ``wait`` seconds; (batches, stop?).
    Stops when the server process that started it is gone (a SIGKILL leaves no one to
    send the stop)."""
    while True:
        try:
            first = inbox.get(timeout=1.0)
            break
        except queue.Empty:
            if os.getppid() != parent:
                return [], True
    if first is None:
        return [], True
    batches = [first]
    deadline = time.monotonic() + wait
    while (left := deadline - time.monotonic()) > 0:
        try:
            item = inbox.get(timeout=left)
        except queue.Empty:
            break
        if item is None:
            return batches, True
        batches.append(item)
    return batches, False


def _score(project: Any, record: Any, model: Any, config: Any, batches: list[Any], counters: Any) -> None:
    import pandas as pd

    from leanloop.scoring import model_input, score, to_python

    rows = sum(len(ids) for _, ids, _ in batches)
    try:
        raw = pd.DataFrame([row for rows_, _, _ in batches for row in rows_], columns=config.schema_.names)
        frame = model_input(config.schema_, raw, record.input_format, "shadow rows")
        scored = score(model, frame, config.data.task.value)
        ids = [i for _, group, _ in batches for i in group]
        created = [at for _, group, at in batches for _ in group]
        records = [{"prediction_id": i, "model_version": record.version, "created_at": at,
                    "prediction": to_python(label), "probabilities": proba}
                   for i, at, label, proba in zip(ids, created, scored.labels, scored.probability_dicts(),
                                                  strict=True)]
        project.store.log_shadow(records)
        outcome = _SCORED
    except Exception:  # shadow work never stops the shadow process; counted and logged
        log.exception("shadow scoring of %d rows with %s failed", rows, record.version)
        outcome = _FAILED
    with counters.get_lock():
        counters[outcome] += rows
        counters[_QUEUED] -= rows


class _ShadowCollector:
    def __init__(self, scorer: ShadowScorer) -> None:
        self.scorer = scorer

    def describe(self) -> list[Any]:
        return []

    def collect(self) -> Any:
        from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

        stats = self.scorer.stats()
        rows = CounterMetricFamily("leanloop_shadow_rows", "Rows each shadow version scored, dropped, failed on or "
                                   "missed (queued, never scored)", labels=["outcome", "version"])
        for version, counts in self.scorer.counts().items():
            for outcome in ("scored", "dropped", "failed", "missed"):
                rows.add_metric([outcome, version], counts[outcome])
        yield rows
        yield GaugeMetricFamily("leanloop_shadow_queue_rows", "Rows waiting for the shadow version",
                                value=stats.queued)
        info = GaugeMetricFamily("leanloop_shadow_info", "The shadow version (value is always 1)", labels=["version"])
        if stats.version is not None:
            info.add_metric([stats.version], 1.0)
        yield info
