"""The HTTP service: validate, predict, log durably, take feedback.

``create_app(project)`` builds the FastAPI app; nothing happens at import time.

- ``POST /predict`` ``{"rows": [...]}``: concurrent requests share one model call
  (:mod:`~leanloop.serve.batching`); answered only after every row's log record is
  committed. Token-protected when ``[serve] predict_auth``.
- ``POST /feedback`` ``{"feedback": [{"prediction_id", "label"}]}``: all or nothing;
  needs the project's bearer token (:mod:`~leanloop.serve.security`); answers with the
  counts (recorded, duplicates, updated, parked).
- ``GET /predictions/{id}`` (token): the logged record and its feedback.
- ``GET /health``, ``GET /models``, ``GET /models/{version}``, ``GET /metrics``.
- ``POST /shadow`` ``{"version"}``, ``DELETE /shadow`` (token), ``GET /shadow``: shadow
  mode (:mod:`~leanloop.serve.shadow`): the version scores every request too, logged,
  never returned.
- ``POST /reload`` (token): re-read the champion and shadow aliases now.
- ``GET /ready``: 200 ``ready`` or ``degraded`` (logging to the spool), 503 while
  starting, stopping (after SIGTERM) or when nothing can be logged.

Every refusal is a 4xx naming what was wrong, counted by reason in ``/metrics``; an
unexpected error is a 500 carrying an error id that the server log repeats with the
traceback (never sent to the client).
"""

from __future__ import annotations

import asyncio
import gc
import logging
import os
import time
import uuid
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any

from leanloop.errors import InputError, LeanloopError, NotFoundError
from leanloop.serve.requests import (
    PREDICTION_ID,
    FeedbackRequest,
    FeedbackResponse,
    PredictResponse,
    PromoteRequest,
    RollbackRequest,
    ShadowRequest,
    ValueChecker,
    complete_rows,
    safe_text,
    predict_request_model,
)

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from fastapi import FastAPI

    from leanloop.project import Project

__all__ = ["create_app", "describe_validation_error", "prediction_ids", "FROM_PROJECT"]

#: ``create_app(project, token=FROM_PROJECT)``: ``LEANLOOP_TOKEN`` or the workspace's token file.
FROM_PROJECT = "<from-project>"

_REASONS = {"json_invalid": "malformed_json", "missing": "missing_field", "extra_forbidden": "extra_field",
            "too_long": "too_many_rows", "too_short": "empty_input", "string_too_long": "text_too_long",
            "finite_number": "non_finite_number"}
_STATUS_REASONS = {404: "not_found", 405: "method_not_allowed", 413: "body_too_large", 415: "unsupported_media_type"}


def describe_validation_error(error: dict[str, Any]) -> str:
    """One line per pydantic error: which row, which field, what is wrong.

    >>> describe_validation_error({"loc": ("body", "rows", 3, "age"), "msg": "Input should be a valid number"})
    "row 3, field 'age': Input should be a valid number"
    >>> describe_validation_error({"type": "json_invalid", "loc": ("body", 0), "msg": "JSON decode error",
    ...                            "ctx": {"error": "duplicate key 'a' in one JSON object"}})
    "request body: duplicate key 'a' in one JSON object"
    """
    if error.get("type") == "json_invalid":
        return f"request body: {error.get('ctx', {}).get('error', 'not valid JSON')}"
    loc = [safe_text(p) if isinstance(p, str) else p for p in error.get("loc", ()) if p != "body"]
    parts = []
    if len(loc) >= 2 and loc[0] in ("rows", "feedback") and isinstance(loc[1], int):
        parts.append(f"row {loc[1]}")
        loc = loc[2:]
    if loc:
        parts.append(f"field {'.'.join(map(str, loc))!r}")
    where = ", ".join(parts) or "request body"
    return f"{where}: {error.get('msg', 'invalid')}"


def _reason_of(exc: LeanloopError) -> str:
    reason = getattr(exc, "reason", None)
    if reason:
        return str(reason)
    if isinstance(exc, NotFoundError):
        return "not_found"
    if isinstance(exc, InputError):
        return "invalid_value"
    return type(exc).__name__.removesuffix("Error").lower() or "error"


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
    import orjson
    from fastapi import Depends, FastAPI, Path
    from fastapi.concurrency import run_in_threadpool
    from fastapi.exceptions import RequestValidationError
    from fastapi.responses import JSONResponse, Response
    from starlette.exceptions import HTTPException
    from starlette.requests import Request

    from leanloop.config import ValuePolicy
    from leanloop.scoring import prepare_plan, rows_columns, rows_input, score
    from leanloop.serve.batching import MicroBatcher, Overloaded, ShedWhenFull
    from leanloop.serve.lifecycle import Readiness, on_sigterm
    from leanloop.serve.limits import BodyLimit, strict_json_route
    from leanloop.serve.logger import PredictionLogger, Spool
    from leanloop.serve.metrics import RequestMetrics, ServerMetrics
    from leanloop.serve.models import ModelHolder
    from leanloop.serve.security import require_token, resolve_token
    from leanloop.serve.shadow import ShadowScorer

    config = project.config
    serve = config.serve
    schema = config.schema_
    task = config.data.task.value
    if token == FROM_PROJECT:
        token = resolve_token(project.paths.workspace)
    holder = ModelHolder(project.registry, refresh_seconds=serve.model_refresh_seconds)
    logger = PredictionLogger(project.store, Spool(project.paths.spool), max_rows=serve.commit_max_rows,
                              max_wait_ms=serve.commit_max_wait_ms, retry_seconds=config.store.spool_retry_seconds)
    readiness = Readiness()
    metrics = ServerMetrics(stats=logger.stats, version=lambda: holder.version)
    shadow = ShadowScorer(project.paths.root, project.registry, max_queue_rows=serve.shadow_queue_rows,
                          batch_wait_ms=serve.shadow_batch_wait_ms)
    metrics.registry.register(shadow.collector())
    server_log = logging.getLogger("leanloop.server")
    PredictRequest = predict_request_model(schema, serve.max_rows_per_request)
    check_values = ValueChecker(schema)
    names = schema.names
    policies = {"unseen_category": serve.unseen_categories, "out_of_range": serve.out_of_range}
    auth = Depends(require_token(token))

    def score_batch(groups: list[list[dict[str, Any]]]) -> tuple[str, list[list[dict[str, Any]]], list[dict[str, Any]]]:
        # The version is read once: every row of the batch names the version that answered it.
        champion, model = holder.current()
        version = champion.version
        rows = [row for group in groups for row in group]
        columns = rows_columns(schema, rows, champion.input_format)
        scored = score(model, rows_input(schema, rows, champion.input_format) if columns is None else columns, task)
        now = time.time()
        ids = prediction_ids(len(rows))
        outcomes = list(zip(ids, scored.labels, scored.probability_dicts(), strict=True))
        outputs = [{"prediction_id": i, "prediction": label, "probabilities": proba} for i, label, proba in outcomes]
        records = [{"prediction_id": i, "created_at": now, "model_version": version, "features": row,
                    "prediction": label, "probabilities": proba}
                   for row, (i, label, proba) in zip(rows, outcomes, strict=True)]
        if shadow.version is not None and shadow.version != version:
            shadow.offer(rows, ids, version, now)
        split, start = [], 0
        for group in groups:
            split.append(outputs[start:start + len(group)])
            start += len(group)
        return version, split, records

    batcher = MicroBatcher(score_batch, logger.log, max_batch_rows=serve.batch_max_rows,
                           max_wait_ms=serve.batch_max_wait_ms, max_queue_rows=serve.queue_max_rows,
                           observe=metrics.model_call)

    async def watch_champion() -> None:
        # Moves of the champion alias are picked up here, off the request path: a request
        # finds the new version already loaded, and /health names it without traffic.
        while True:
            await asyncio.sleep(serve.model_refresh_seconds)
            try:
                await run_in_threadpool(holder.current)
                await run_in_threadpool(shadow.refresh)
            except Exception:  # the holder keeps serving; the next round retries
                server_log.exception("could not refresh the champion")

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        champion, model = holder.current()
        # Compiled now, not on the first request (its import is ~0.1 s); and the log says
        # whether this version's prepare step runs compiled or through scikit-learn.
        server_log.info("serving %s; prepare step: %s", champion.version,
                        "compiled to NumPy" if prepare_plan(model) is not None else "scikit-learn")
        if own_process:
            from threadpoolctl import threadpool_limits

            threadpool_limits(limits=1, user_api="blas")
            gc.freeze()  # no collect first: it would cost start-up time to free a few import cycles
        shadow.start()
        logger.start()
        await batcher.start()
        watcher = asyncio.get_running_loop().create_task(watch_champion())
        restore = on_sigterm(readiness.stop, drain_seconds=serve.shutdown_drain_seconds)
        try:
            yield
        finally:
            readiness.stop()
            watcher.cancel()
            await batcher.stop()
            shadow.stop()
            logger.stop()
            restore()

    app = FastAPI(title="leanloop", description="Predictions, logged durably; feedback joined to them.",
                  lifespan=lifespan)
    app.router.route_class = strict_json_route()
    app.add_middleware(ShedWhenFull, batcher=batcher, on_reject=metrics.reject)  # inside BodyLimit: 413/415 first
    app.add_middleware(BodyLimit, max_bytes=serve.max_body_bytes, on_reject=metrics.reject)
    app.add_middleware(RequestMetrics, metrics=metrics)
    app.state.logger = logger
    app.state.holder = holder
    app.state.batcher = batcher
    app.state.metrics = metrics
    app.state.shadow = shadow
    app.state.auth = auth

    def refuse(request: Request, status: int, reason: str, detail: list[str],
               headers: dict[str, str] | None = None) -> JSONResponse:
        metrics.reject(reason)
        request.state.rejection = reason
        return JSONResponse(status_code=status, content={"error": reason, "detail": detail}, headers=headers)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = exc.errors()
        reason = getattr(request.state, "rejection", None) or _REASONS.get(errors[0].get("type", ""), "invalid_value")
        return refuse(request, 422, reason, [describe_validation_error(e) for e in errors[:50]])

    @app.exception_handler(HTTPException)
    async def _http(request: Request, exc: HTTPException) -> JSONResponse:
        reason = _STATUS_REASONS.get(exc.status_code, f"http_{exc.status_code}")
        return refuse(request, exc.status_code, reason, [str(exc.detail)], headers=exc.headers)

    @app.exception_handler(LeanloopError)
    async def _leanloop_error(request: Request, exc: LeanloopError) -> JSONResponse:
        headers = None
        if isinstance(exc, Overloaded):
            headers = {"Retry-After": str(exc.retry_after)}
        elif exc.http_status == 401:
            headers = {"WWW-Authenticate": "Bearer"}
        if exc.http_status >= 500 and not isinstance(exc, Overloaded):
            server_log.error("%s: %s", type(exc).__name__, exc)
            return JSONResponse(status_code=exc.http_status, content={"error": type(exc).__name__, "detail": [str(exc)]})
        reason = getattr(request.state, "rejection", None) or _reason_of(exc)
        return refuse(request, exc.http_status, reason, [str(exc)], headers=headers)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        error_id = uuid.uuid4().hex[:12]
        request.state.error_id = error_id
        server_log.error("unexpected error %s on %s %s", error_id, request.method, request.url.path, exc_info=exc)
        return JSONResponse(status_code=500, content={
            "error": "internal_error", "error_id": error_id,
            "detail": [f"the server failed unexpectedly; quote error id {error_id} (the server log has the details)"]})

    async def predict(http: Any, body: Any) -> Response:
        rows = complete_rows(body["rows"], names)
        flags = check_values(rows)
        refused = [f for f in flags if policies[f[2].value] is ValuePolicy.REJECT]
        if refused:
            http.state.rejection = refused[0][2].value
            raise InputError("; ".join(_flag_message(schema, rows, *f) for f in refused[:10]))
        for _, feature, flag in flags:
            metrics.flagged.labels(feature=feature, flag=flag.value).inc()
        version, outputs = await batcher.submit(rows)
        http.state.predictions = len(outputs)
        http.state.model_version = version
        # orjson: a 1,000-row answer encodes ~8x faster than with the standard library.
        return Response(orjson.dumps({"model_version": version, "predictions": outputs}),
                        media_type="application/json")

    # The body model is built at run time from the schema, so it is attached here
    # rather than written in the signature (postponed annotations cannot see it).
    predict.__annotations__.update({"http": Request, "body": PredictRequest, "return": Response})
    app.post("/predict", response_model=PredictResponse, dependencies=[auth] if serve.predict_auth else [],
             summary="Score rows; each is logged before the answer")(predict)

    @app.post("/feedback", response_model=FeedbackResponse, dependencies=[auth],
              summary="Join ground truth to logged predictions (needs the token)")
    async def feedback(request: FeedbackRequest) -> dict[str, Any]:
        items = [(item.prediction_id, item.label) for item in request.feedback]
        counts = await run_in_threadpool(project.feedback, items, source="api")
        return counts.to_json()

    @app.get("/predictions/{prediction_id}", dependencies=[auth],
             summary="A logged prediction and its feedback, for audits (needs the token)")
    async def prediction(prediction_id: str = Path(pattern=PREDICTION_ID, max_length=64)) -> dict[str, Any]:
        row = await run_in_threadpool(project.store.get_prediction, prediction_id)
        feedback = None if row.get("label") is None else {"label": row["label"], "received_at": row["received_at"]}
        return {"prediction_id": row["prediction_id"], "created_at": row["created_at"],
                "model_version": row["model_version"], "features": row["features"],
                "prediction": row["prediction"], "probabilities": row["probabilities"], "feedback": feedback}

    @app.get("/health", summary="Liveness and the serving version")
    async def health() -> dict[str, Any]:
        return {"status": "ok", "model_version": holder.version}

    @app.get("/metrics", summary="Prometheus metrics", response_class=Response, response_model=None)
    async def prometheus() -> Response:
        from prometheus_client import CONTENT_TYPE_LATEST

        return Response(await run_in_threadpool(metrics.render), media_type=CONTENT_TYPE_LATEST)

    @app.get("/ready", response_model=None, summary="Ready to serve: model loaded, store writable (or degraded: spooling)")
    async def ready() -> Any:
        status, code = readiness.check(logger.stats())
        body: dict[str, Any] = {"status": status, "spool_depth": logger.stats().spool_depth}
        if code == 200:
            champion, _ = await run_in_threadpool(holder.current)
            body["model_version"] = champion.version
        return JSONResponse(status_code=code, content=body)

    @app.get("/models", summary="Registered versions and aliases")
    async def models() -> dict[str, Any]:
        registry = project.registry
        versions = await run_in_threadpool(registry.versions)
        return {
            "aliases": await run_in_threadpool(project.store.aliases),
            "versions": [_version_summary(v) for v in versions],
        }

    @app.get("/models/{version}", summary="One registered version")
    async def model(version: str) -> dict[str, Any]:
        return _version_summary(await run_in_threadpool(project.registry.get, version))

    @app.post("/promote", dependencies=[auth], summary="Make a version the champion (needs the token)")
    async def promote(request: PromoteRequest) -> dict[str, Any]:
        event = await run_in_threadpool(lambda: project.promote(request.version, reason=request.reason))
        return event.to_json()

    @app.post("/rollback", dependencies=[auth], summary="Make the previous champion the champion again (needs the token)")
    async def rollback(request: RollbackRequest) -> dict[str, Any]:
        event = await run_in_threadpool(lambda: project.rollback(reason=request.reason))
        return event.to_json()

    @app.post("/shadow", dependencies=[auth], summary="Score every request with a version too, logged, never returned")
    async def start_shadow(request: ShadowRequest) -> dict[str, Any]:
        event = await run_in_threadpool(lambda: project.shadow(request.version, reason=request.reason))
        return event.to_json()

    @app.delete("/shadow", dependencies=[auth], summary="Stop shadow scoring (needs the token)")
    async def stop_shadow() -> dict[str, Any]:
        event = await run_in_threadpool(project.stop_shadow)
        return event.to_json()

    @app.post("/reload", dependencies=[auth], summary="Re-read the champion and shadow aliases now (needs the token)")
    async def reload() -> dict[str, Any]:
        champion, _ = await run_in_threadpool(holder.reload)
        await run_in_threadpool(shadow.refresh)
        return {"model_version": champion.version, "shadow": shadow.stats().to_json()["version"],
                "load_error": holder.last_error}

    @app.get("/shadow", summary="The shadow version and what this worker's scorer did")
    async def shadow_status() -> dict[str, Any]:
        alias = await run_in_threadpool(project.store.get_alias, "shadow")
        return {"shadow": alias, "worker": shadow.stats().to_json()}

    return app


def prediction_ids(count: int, now_ns: int | None = None) -> list[str]:
    """``count`` prediction ids of 32 hex digits: the time in milliseconds (12 digits) then
    80 random bits from the OS, as a UUIDv7 lays them out.

    Ids that grow with time land at the end of the store's unique index instead of at
    random pages of it: a 1,000-row group commit on a 150,000-row SQLite log took a
    quarter of the time (CPU and disk) with them. 80 random bits per millisecond keep
    ids of concurrent workers apart.

    >>> ids = prediction_ids(3, now_ns=1_700_000_000_123_456_789)
    >>> len(set(ids)), {len(i) for i in ids}, {i[:12] for i in ids}
    (3, {32}, {'018bcfe5687b'})
    """
    prefix = f"{(time.time_ns() if now_ns is None else now_ns) // 1_000_000:012x}"
    text = os.urandom(10 * count).hex()
    return [prefix + text[20 * k:20 * k + 20] for k in range(count)]


def _version_summary(v: Any) -> dict[str, Any]:
    return {"version": v.version, "created_at": v.created_at, "source": v.source, "parent": v.parent,
            "metrics": v.metrics, "baseline_metrics": v.baseline_metrics}


def _flag_message(schema: Any, rows: list[dict[str, Any]], row: int, feature: str, flag: Any) -> str:
    spec = schema.feature(feature)
    value = rows[row][feature]
    if flag.value == "out_of_range":
        return (f"row {row}, field {feature!r}: {value!r} is outside the training range {spec.minimum:g} to "
                f"{spec.maximum:g} ([serve] out_of_range = \"reject\")")
    return (f"row {row}, field {feature!r}: category {safe_text(str(value))!r} was never seen in training; known: "
            f"{spec.categories[:20]} ([serve] unseen_categories = \"reject\")")
