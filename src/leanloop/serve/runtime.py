"""The server's runtime: the parts one app owns, started and stopped together.

:class:`ServerRuntime` is the composition root of the HTTP service: the model holder,
the durable prediction logger, the micro-batcher with its :class:`BatchScorer`, the
shadow scorer, readiness and metrics. Its :meth:`~ServerRuntime.lifespan` starts
them (and the champion watcher, woken by the alias listener of a PostgreSQL store)
when the app starts and stops them in reverse order.
Routes receive the runtime and read the parts they need from it.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import os
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any

from leanloop.leader import loop_lock
from leanloop.serve.leadership import LoopLeader
from leanloop.serve.status import ServerStatus
from leanloop.store.notify import listener_for

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from leanloop.project import Project

__all__ = ["ServerRuntime"]

server_log = logging.getLogger("leanloop.server")


class ServerRuntime:
    """The parts of one app for ``project``, and their start and stop.

    ``own_process``: tune the process once the model is loaded (see
    :func:`~leanloop.serve.app.create_app`); ``token``: the project's token (None: none);
    ``run_loop``: start the loop process (:mod:`~leanloop.serve.loop_runner`) when
    ``[loop]`` schedules cycles.
    """

    def __init__(self, project: Project, *, own_process: bool = False, token: str | None = None,
                 run_loop: bool = False) -> None:
        from leanloop.row_keys import RowKeys
        from leanloop.serve.batching import MicroBatcher
        from leanloop.serve.events import EventLog
        from leanloop.serve.lifecycle import Readiness
        from leanloop.serve.logger import PredictionLogger, Spool
        from leanloop.serve.loop_runner import LoopProcess
        from leanloop.serve.metrics import LoopGauges, ServerMetrics
        from leanloop.serve.models import ModelHolder
        from leanloop.serve.scorer import BatchScorer
        from leanloop.serve.shadow import ShadowScorer

        self.project = project
        self.own_process = own_process
        self.token = token  # the dashboard checks its own cookie against it
        config = project.config
        self.serve = serve = config.serve
        self.schema = config.schema_
        self.holder = ModelHolder(project.registry, refresh_seconds=serve.model_refresh_seconds)
        self.logger = PredictionLogger(project.store, Spool(project.paths.spool), max_rows=serve.commit_max_rows,
                                       max_wait_ms=serve.commit_max_wait_ms,
                                       retry_seconds=config.store.spool_retry_seconds,
                                       commit_timeout_ms=config.store.commit_timeout_ms,
                                       spool_max_bytes=serve.spool_max_bytes)
        self.readiness = Readiness()
        self.metrics = ServerMetrics(stats=self.logger.stats, version=lambda: self.holder.version)
        self.shadow = ShadowScorer(project.paths.root, project.registry, max_queue_rows=serve.shadow_queue_rows,
                                   batch_wait_ms=serve.shadow_batch_wait_ms)
        self.metrics.registry.register(self.shadow.collector())
        self.metrics.registry.register(LoopGauges(project.store.cycles, lambda: project.store.get_alias("champion")))
        self.keys = RowKeys.of(config.data)
        self.scorer = BatchScorer(self.holder, self.schema, config.data.task.value, self.shadow, self.keys)
        self.batcher = MicroBatcher(self.scorer, self.logger.log, max_batch_rows=serve.batch_max_rows,
                                    max_wait_ms=serve.batch_max_wait_ms, max_queue_rows=serve.queue_max_rows,
                                    observe=self.metrics.model_call)
        self.schedule = config.loop.schedule(window_rows=config.measure.window_rows)
        # Retention runs in the loop process too, scheduled cycles or not.
        loops = self.schedule.enabled or config.store.retention_days is not None
        self.loop = LoopProcess(project.paths.root, on_event=self._loop_event) if run_loop and loops else None
        self.events = EventLog(project.store, project.paths.workspace)
        # The loop process runs only while this server holds the loop lock.
        self.leader = None if self.loop is None else LoopLeader(
            loop_lock(project.store.engine), on_change=self._lead, retry_seconds=config.loop.poll_seconds)
        self._watcher: asyncio.Task[None] | None = None
        self._restore_sigterm: Any = None
        # Set (from the listener's thread) when another server announces an alias move.
        self._aliases_moved: asyncio.Event | None = None
        self._event_loop: asyncio.AbstractEventLoop | None = None
        self.listener = listener_for(project.store.engine, on_change=self._on_alias_notice)

    async def start(self) -> None:
        """Load the champion, tune the process if it is the server's own, start the parts."""
        from leanloop.scoring import prepare_plan
        from leanloop.serve.lifecycle import on_sigterm

        champion, model = self.holder.current()
        # Compiled now, not on the first request (its import is ~0.1 s); and the log says
        # whether this version's prepare step runs compiled or through scikit-learn.
        server_log.info("serving %s; prepare step: %s", champion.version,
                        "compiled to NumPy" if prepare_plan(model) is not None else "scikit-learn")
        if self.own_process:
            from threadpoolctl import threadpool_limits

            threadpool_limits(limits=1, user_api="blas")
            gc.freeze()  # no collect first: it would cost start-up time to free a few import cycles
        self.events.start()
        self.shadow.start()
        self.logger.start()
        await self.batcher.start()
        self._event_loop = asyncio.get_running_loop()
        self._aliases_moved = asyncio.Event()
        self._watcher = self._event_loop.create_task(self.watch_champion())
        if self.listener is not None:
            self.listener.start()
        if self.leader is not None:
            self.leader.start()
        self._restore_sigterm = on_sigterm(self.readiness.stop, drain_seconds=self.serve.shutdown_drain_seconds)

    async def stop(self) -> None:
        """Report stopping, then stop the parts: queued requests are scored and logged first."""
        self.readiness.stop()
        if self.leader is not None:
            self.leader.close()  # stops the loop process, then frees the loop lock
        if self.listener is not None:
            self.listener.stop()
        if self._watcher is not None:
            self._watcher.cancel()
            self._watcher = None
        await self.batcher.stop()
        self.shadow.stop()
        self.logger.stop()
        self.events.close()
        if self._restore_sigterm is not None:
            self._restore_sigterm()
            self._restore_sigterm = None

    async def watch_champion(self) -> None:
        """Pick up moves of the champion and shadow aliases (when another server announces
        one on PostgreSQL, else every ``model_refresh_seconds``), and log new promotions,
        rollbacks and shadow starts and stops."""
        from fastapi.concurrency import run_in_threadpool

        # Off the request path: a request finds the new version already loaded, and
        # /health names it without traffic. One log line when refreshing starts failing
        # and one when it works again, not one per round.
        failing = False
        while True:
            announced = await self._wait_for_move()
            try:
                await run_in_threadpool(self.holder.reload if announced else self.holder.current)
                await run_in_threadpool(self.shadow.refresh)
                await run_in_threadpool(self.events.poll)
            except Exception as exc:  # the holder keeps serving; the next round retries
                if not failing:
                    server_log.warning("could not refresh the champion and shadow aliases (%s: %s); retrying every "
                                       "%g s", type(exc).__name__, exc, self.serve.model_refresh_seconds)
                failing = True
            else:
                if failing:
                    server_log.warning("the champion and shadow aliases are refreshed again")
                failing = False

    async def _wait_for_move(self) -> bool:
        """Sleep ``model_refresh_seconds`` or until an alias move is announced; whether one was."""
        assert self._aliases_moved is not None
        try:
            await asyncio.wait_for(self._aliases_moved.wait(), self.serve.model_refresh_seconds)
        except TimeoutError:
            return False
        self._aliases_moved.clear()
        return True

    def _on_alias_notice(self) -> None:
        """The listener heard an alias move (in its own thread): wake the watcher."""
        moved, loop = self._aliases_moved, self._event_loop
        if moved is not None and loop is not None and not loop.is_closed():
            loop.call_soon_threadsafe(moved.set)

    def status(self) -> ServerStatus:
        """``GET /status``: what this server serves, and whether it runs the loop."""
        return ServerStatus(model_version=self.holder.version, shadow_version=self.shadow.stats().version,
                            pid=os.getpid(), loop_enabled=self.leader is not None,
                            holds_loop_lock=self.leader is not None and self.leader.leading,
                            runs_loop=self.loop is not None and self.loop.alive,
                            alias_updates="listening" if self.listener is not None and self.listener.listening
                            else "polling", model_refresh_seconds=self.serve.model_refresh_seconds)

    def _lead(self, held: bool) -> None:
        """Start the loop process when this server takes the loop lock; stop it when it loses it."""
        assert self.loop is not None
        if held:
            self.loop.start()
        else:
            self.loop.stop()

    def _loop_event(self, event: dict[str, Any]) -> None:
        """What the loop process reports: failed alerts are counted in ``/metrics``;
        retention runs go to the server's log, one JSON line each."""
        if event.get("event") == "alert" and not event.get("delivered"):
            self.metrics.alert_failures.inc()
        elif event.get("event") == "retention":
            server_log.log(logging.ERROR if event.get("error") else logging.INFO, "retention", extra={"fields": event})

    def loop_status(self) -> dict[str, Any]:
        """``GET /loop``: the schedule, rows since the last cycle, the running and last cycle."""
        from leanloop.loop_state import loop_status

        runs_here = self.loop is not None and self.loop.alive
        return loop_status(self.project.workspace, self.schedule, runs_here=runs_here).to_json()

    @asynccontextmanager
    async def lifespan(self, _app: Any) -> AsyncIterator[None]:
        """The app's lifespan: :meth:`start`, serve, :meth:`stop`."""
        await self.start()
        try:
            yield
        finally:
            await self.stop()
