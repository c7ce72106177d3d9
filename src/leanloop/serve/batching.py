"""Adaptive micro-batching: concurrent requests share one model call and one commit.

A single-row scikit-learn prediction is mostly fixed overhead (building the frame,
the column transformer), so scoring 64 rows costs little more than scoring one. The
batcher queues each request's rows; one worker takes everything queued (up to
``max_batch_rows``), scores it in ONE call in a worker thread, hands all the log
records to the logger in ONE call (group commit), and splits the outputs back.

It adapts on its own: an idle server scores a lone request at once (no added
latency), while under load requests pile up during the previous model call and ride
together in the next. When the last batch held several requests, the worker waits
(at most ``max_wait_ms``) until as many are queued again: the clients it just answered
are on their way back, and scoring the first of them alone would split the herd into
ever smaller batches.

The queue is bounded by ``max_queue_rows`` (rows accepted but not yet answered):
beyond it :class:`Overloaded` (503 with ``Retry-After``) is raised at once, instead of
letting latency grow without bound. While the queue is full, :class:`ShedWhenFull`
answers 503 before a body is even parsed, so that shedding stays cheap under a storm of
retries.

Examples
--------
>>> import asyncio
>>> def score(groups):
...     return "v1", [[{"prediction": 2 * x} for x in rows] for rows in groups], [{} for rows in groups for _ in rows]
>>> async def commit(records):
...     pass
>>> async def main():
...     batcher = MicroBatcher(score, commit, max_batch_rows=64, max_wait_ms=0, max_queue_rows=100)
...     await batcher.start()
...     answers = await asyncio.gather(*[batcher.submit([i]) for i in range(3)])
...     await batcher.stop()
...     return answers, batcher.model_calls
>>> asyncio.run(main())  # three requests, one model call
([('v1', [{'prediction': 0}]), ('v1', [{'prediction': 2}]), ('v1', [{'prediction': 4}])], 1)
"""

from __future__ import annotations

import asyncio
import contextlib
import math
from collections import deque
from collections.abc import Awaitable, Callable, Sized
from dataclasses import dataclass
from typing import Any

from leanloop.errors import LeanloopError

__all__ = ["MicroBatcher", "Overloaded", "ScoreBatch", "ShedWhenFull"]

#: ``score(groups) -> (version, outputs per group, log records of all rows)``; runs in a thread.
#: A group is one request's rows: any sized collection (the server's carries their ids and times too).
ScoreBatch = Callable[[list[Any]], tuple[str, list[list[dict[str, Any]]], list[dict[str, Any]]]]


class Overloaded(LeanloopError):
    """More rows are waiting than the server accepts; retry after ``retry_after`` seconds."""

    http_status = 503

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


@dataclass
class _Pending:
    rows: Sized
    future: asyncio.Future[tuple[str, list[dict[str, Any]]]]


class MicroBatcher:
    """Gather the rows of concurrent requests into one model call and one log commit."""

    def __init__(self, score: ScoreBatch, commit: Callable[[list[dict[str, Any]]], Awaitable[None]], *,
                 max_batch_rows: int, max_wait_ms: float, max_queue_rows: int,
                 observe: Callable[[int, int], None] | None = None) -> None:
        self.score = score
        self.commit = commit
        self.max_batch_rows = max_batch_rows
        self.max_wait_ms = max_wait_ms
        self.max_queue_rows = max_queue_rows
        self.observe = observe
        self.model_calls = 0
        self.pending_rows = 0
        self._queue: deque[_Pending] = deque()
        self._wake: asyncio.Event | None = None
        self._worker: asyncio.Task[None] | None = None
        self._finishing: set[asyncio.Task[None]] = set()
        self._rows_per_second = 0.0
        self._last_requests = 0

    async def start(self) -> None:
        """Start the worker on the running event loop."""
        self._wake = asyncio.Event()
        self._worker = asyncio.get_running_loop().create_task(self._run(), name="leanloop-batcher")

    async def stop(self) -> None:
        """Answer what is queued, then stop."""
        if self._worker is None:
            return
        while self._queue or self._finishing:
            await asyncio.sleep(0.001)
        self._worker.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._worker
        self._worker = None

    def refusal(self, rows: int) -> Overloaded | None:
        """The :class:`Overloaded` error a request of ``rows`` rows would get now, or None."""
        if self._worker is None or self._wake is None:
            return Overloaded("the server is not accepting predictions (starting or shutting down)", retry_after=1)
        if self.pending_rows and self.pending_rows + rows > self.max_queue_rows:
            retry = max(1, math.ceil(self.pending_rows / self._rows_per_second)) if self._rows_per_second else 1
            return Overloaded(
                f"the server is at capacity ({self.pending_rows} rows waiting, limit {self.max_queue_rows}, "
                "[serve] queue_max_rows); retry later", retry_after=retry)
        return None

    async def submit(self, rows: Sized) -> tuple[str, list[dict[str, Any]]]:
        """Queue one request's rows; returns ``(version, outputs)`` once they are scored and logged."""
        refusal = self.refusal(len(rows))
        if refusal is not None:
            raise refusal
        assert self._wake is not None
        future: asyncio.Future[tuple[str, list[dict[str, Any]]]] = asyncio.get_running_loop().create_future()
        self._queue.append(_Pending(rows, future))
        self.pending_rows += len(rows)
        self._wake.set()
        try:
            return await future
        finally:
            self.pending_rows -= len(rows)

    async def _run(self) -> None:
        from starlette.concurrency import run_in_threadpool

        assert self._wake is not None
        loop = asyncio.get_running_loop()
        while True:
            if not self._queue:
                self._wake.clear()
                await self._wake.wait()
                continue
            if self.max_wait_ms > 0 and self._last_requests > 1:
                await self._gather(loop.time() + self.max_wait_ms / 1000)
            batch = self._take()
            self._last_requests = len(batch)
            started = loop.time()
            try:
                version, outputs, records = await run_in_threadpool(self.score, [p.rows for p in batch])
            except Exception as exc:  # one bad request must not fail the others it rode with
                if len(batch) == 1:
                    _fail(batch, exc)
                    continue
                for single in batch:
                    self._queue.appendleft(single)
                self._last_requests = 0
                await self._score_alone(len(batch))
                continue
            rows = sum(len(p.rows) for p in batch)
            elapsed = loop.time() - started
            if elapsed > 0:
                self._rows_per_second = rows / elapsed
            self.model_calls += 1
            if self.observe is not None:
                self.observe(len(batch), rows)
            task = loop.create_task(self._finish(batch, version, outputs, records))
            self._finishing.add(task)
            task.add_done_callback(self._finishing.discard)

    async def _score_alone(self, count: int) -> None:
        """After a shared call failed, score its requests one by one so only the culprit fails."""
        from starlette.concurrency import run_in_threadpool

        for _ in range(count):
            single = self._queue.popleft()
            try:
                version, outputs, records = await run_in_threadpool(self.score, [single.rows])
            except Exception as exc:
                _fail([single], exc)
                continue
            self.model_calls += 1
            await self._finish([single], version, outputs, records)

    async def _gather(self, deadline: float) -> None:
        """Wait until as many requests are queued as rode in the last batch (the clients it
        answered are coming back), or the rows fill a batch, or ``deadline`` passes."""
        assert self._wake is not None
        loop = asyncio.get_running_loop()
        while len(self._queue) < self._last_requests and self._queued_rows() < self.max_batch_rows:
            remaining = deadline - loop.time()
            if remaining <= 0:
                return
            self._wake.clear()
            try:
                await asyncio.wait_for(self._wake.wait(), remaining)
            except TimeoutError:
                return

    def _queued_rows(self) -> int:
        return sum(len(p.rows) for p in self._queue)

    def _take(self) -> list[_Pending]:
        batch = [self._queue.popleft()]
        rows = len(batch[0].rows)
        while self._queue and rows + len(self._queue[0].rows) <= self.max_batch_rows:
            item = self._queue.popleft()
            batch.append(item)
            rows += len(item.rows)
        return batch

    async def _finish(self, batch: list[_Pending], version: str, outputs: list[list[dict[str, Any]]],
                      records: list[dict[str, Any]]) -> None:
        try:
            await self.commit(records)
        except Exception as exc:  # every waiting request hears of the failure; none is answered 200
            _fail(batch, exc)
            return
        for pending, output in zip(batch, outputs, strict=True):
            if not pending.future.done():
                pending.future.set_result((version, output))


def _fail(batch: list[_Pending], exc: BaseException) -> None:
    for pending in batch:
        if not pending.future.done():
            pending.future.set_exception(exc)


class ShedWhenFull:
    """ASGI middleware: while ``batcher``'s queue is full, POSTs to ``path`` get 503 +
    ``Retry-After`` before their body is parsed.

    Parsing and validating a 1,000-row body costs milliseconds of the event loop; spent on
    requests refused anyway (clients retrying at once), that work starved the requests
    being answered: under 3x overload, none was answered within seconds. The body is
    read and dropped (not parsed), so the connection stays usable.
    """

    def __init__(self, app: Any, *, batcher: MicroBatcher, path: str = "/predict",
                 on_reject: Callable[[str], None] | None = None) -> None:
        self.app = app
        self.batcher = batcher
        self.path = path
        self.on_reject = on_reject

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        refusal = None
        if scope["type"] == "http" and scope["method"] == "POST" and scope["path"] == self.path:
            refusal = self.batcher.refusal(1)
        if refusal is None:
            await self.app(scope, receive, send)
            return
        import json

        while (await receive()).get("more_body", False):
            pass
        if self.on_reject is not None:
            self.on_reject("overloaded")
        scope.setdefault("state", {})["rejection"] = "overloaded"
        body = json.dumps({"error": "overloaded", "detail": [str(refusal)]}).encode()
        await send({"type": "http.response.start", "status": 503,
                    "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                                (b"retry-after", str(refusal.retry_after).encode())]})
        await send({"type": "http.response.body", "body": body})
