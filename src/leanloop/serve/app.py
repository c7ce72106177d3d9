"""The HTTP service: validate, predict, log durably, take feedback.

``create_app(project)`` builds the FastAPI app from its parts; nothing happens at import
time. The parts: :class:`~leanloop.serve.runtime.ServerRuntime` (holder, logger,
batcher with its :class:`~leanloop.serve.scorer.BatchScorer`, shadow scorer; start,
stop, the champion watcher), the error handlers (:mod:`~leanloop.serve.handlers`) and
the routes by concern (:mod:`~leanloop.serve.routes`).

- ``POST /predict`` ``{"rows": [...]}``: concurrent requests share one model call
  (:mod:`~leanloop.serve.batching`); answered only after every row's log record is
  committed. Token-protected when ``[serve] predict_auth``.
- ``POST /feedback`` ``{"feedback": [{"prediction_id", "label"}]}``: all or nothing;
  needs the project's bearer token (:mod:`~leanloop.serve.security`); answers with the
  counts (recorded, duplicates, updated, parked).
- ``GET /predictions/{id}`` (token): the logged record and its feedback.
- ``GET /health``, ``GET /models``, ``GET /models/{version}``, ``GET /metrics``.
- ``GET /ui``: the read-only dashboard (:mod:`~leanloop.serve.routes.ui`).
- ``POST /shadow`` ``{"version"}``, ``DELETE /shadow`` (token), ``GET /shadow``: shadow
  mode (:mod:`~leanloop.serve.shadow`): the version scores every request too, logged,
  never returned.
- ``POST /reload`` (token): re-read the champion and shadow aliases now.
- ``GET /ready``: 200 ``ready`` or ``degraded`` (the store unavailable or the spool
  still draining; with the spool's size and age), 503 while starting, stopping (after
  SIGTERM) or when nothing can be logged.

Slow clients are cut off (``[serve] read_timeout_s``: 408 for headers, 400 for a body),
failed authentications are rate-limited per address (429), and a full spool answers 503
with ``Retry-After``. Every refusal is a 4xx naming what was wrong, counted by reason in ``/metrics``; an
unexpected error is a 500 carrying an error id that the server log repeats with the
traceback (never sent to the client).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from leanloop.serve.handlers import describe_validation_error
from leanloop.serve.scorer import prediction_ids

if TYPE_CHECKING:
    from fastapi import FastAPI

    from leanloop.project import Project

__all__ = ["create_app", "describe_validation_error", "prediction_ids", "FROM_PROJECT"]

#: ``create_app(project, token=FROM_PROJECT)``: ``LEANLOOP_TOKEN`` or the workspace's token file.
FROM_PROJECT = "<from-project>"


def create_app(project: Project, *, token: str | None = FROM_PROJECT, own_process: bool = False) -> FastAPI:
    """Build the app for ``project``: request models from its schema, its store and registry.

    ``token`` guards the write endpoints; by default ``LEANLOOP_TOKEN`` or the token
    ``leanloop init`` wrote. ``None`` turns the write endpoints off.
    ``own_process`` (for a server process of its own, as ``leanloop serve`` runs) tunes
    the process once the model is loaded: every object alive then leaves the garbage
    collector's sight (:func:`gc.freeze`; the ~200,000 objects of the imported libraries
    would otherwise be rescanned by each full collection, a pause of 100 ms or more in
    the middle of requests), and BLAS gets one thread: concurrency comes from
    micro-batching (``leanloop serve`` also sets ``OMP_NUM_THREADS=1`` before OpenMP loads,
    as OpenMP reads it only then).
    """
    from fastapi import Depends, FastAPI

    from leanloop.serve.batching import ShedWhenFull
    from leanloop.serve.handlers import install_error_handlers
    from leanloop.serve.limits import BodyLimit, strict_json_route
    from leanloop.serve.metrics import RequestMetrics
    from leanloop.serve.routes import ROUTERS
    from leanloop.serve.runtime import ServerRuntime
    from leanloop.serve.security import require_token, resolve_token

    if token == FROM_PROJECT:
        token = resolve_token(project.paths.workspace)
    runtime = ServerRuntime(project, own_process=own_process, token=token)
    metrics, serve = runtime.metrics, runtime.serve
    auth = Depends(require_token(token, failures_per_minute=serve.auth_failures_per_minute))

    app = FastAPI(title="leanloop", description="Predictions, logged durably; feedback joined to them.",
                  lifespan=runtime.lifespan)
    app.router.route_class = strict_json_route()
    # Inside BodyLimit: 413 and 415 come first.
    app.add_middleware(ShedWhenFull, batcher=runtime.batcher, on_reject=metrics.reject)
    app.add_middleware(BodyLimit, max_bytes=serve.max_body_bytes, on_reject=metrics.reject,
                       read_timeout_s=serve.read_timeout_s)
    app.add_middleware(RequestMetrics, metrics=metrics)
    app.state.runtime = runtime
    app.state.logger = runtime.logger
    app.state.holder = runtime.holder
    app.state.batcher = runtime.batcher
    app.state.metrics = metrics
    app.state.shadow = runtime.shadow
    app.state.auth = auth
    install_error_handlers(app, metrics)
    for make_router in ROUTERS:
        app.include_router(make_router(runtime, auth))
    return app
