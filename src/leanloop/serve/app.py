"""The HTTP service: validate, predict, log durably, take feedback.

``create_app(project)`` builds the FastAPI app; nothing happens at import time.

- ``POST /predict`` ``{"rows": [...]}``: answered only after the log record of every
  row is committed.
- ``POST /feedback`` ``{"feedback": [{"prediction_id", "label"}]}``: all or nothing;
  answers with the counts (recorded, duplicates, updated, parked).
- ``GET /health``, ``GET /models``.
- ``GET /ready``: 200 ``ready`` or ``degraded`` (logging to the spool), 503 while
  starting, stopping (after SIGTERM) or when nothing can be logged.
"""

from __future__ import annotations

import time
import uuid
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any

from leanloop.errors import LeanloopError
from leanloop.serve.requests import FeedbackRequest, FeedbackResponse, PredictResponse, predict_request_model

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from fastapi import FastAPI

    from leanloop.project import Project

__all__ = ["create_app", "describe_validation_error"]


def describe_validation_error(error: dict[str, Any]) -> str:
    """One line per pydantic error: which row, which field, what is wrong.

    >>> describe_validation_error({"loc": ("body", "rows", 3, "age"), "msg": "Input should be a valid number"})
    "row 3, field 'age': Input should be a valid number"
    """
    loc = [p for p in error.get("loc", ()) if p != "body"]
    parts = []
    if len(loc) >= 2 and loc[0] in ("rows", "feedback") and isinstance(loc[1], int):
        parts.append(f"row {loc[1]}")
        loc = loc[2:]
    if loc:
        parts.append(f"field {'.'.join(map(str, loc))!r}")
    where = ", ".join(parts) or "request body"
    return f"{where}: {error.get('msg', 'invalid')}"


def create_app(project: Project) -> FastAPI:
    """Build the app for ``project``: request models from its schema, its store and registry."""
    import pandas as pd
    from fastapi import FastAPI
    from fastapi.concurrency import run_in_threadpool
    from fastapi.exceptions import RequestValidationError
    from fastapi.responses import JSONResponse
    from starlette.requests import Request

    from leanloop.scoring import model_input, score, to_python
    from leanloop.serve.lifecycle import Readiness, on_sigterm
    from leanloop.serve.logger import PredictionLogger, Spool
    from leanloop.serve.models import ModelHolder

    config = project.config
    schema = config.schema_
    task = config.data.task.value
    holder = ModelHolder(project.registry, refresh_seconds=config.serve.model_refresh_seconds)
    logger = PredictionLogger(project.store, Spool(project.paths.spool), max_rows=config.serve.commit_max_rows,
                              max_wait_ms=config.serve.commit_max_wait_ms,
                              retry_seconds=config.store.spool_retry_seconds)
    readiness = Readiness()
    PredictRequest = predict_request_model(schema, config.serve.max_rows_per_request)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        holder.current()
        logger.start()
        restore = on_sigterm(readiness.stop, drain_seconds=config.serve.shutdown_drain_seconds)
        try:
            yield
        finally:
            readiness.stop()
            logger.stop()
            restore()

    app = FastAPI(title="leanloop", description="Predictions, logged durably; feedback joined to them.",
                  lifespan=lifespan)
    app.state.logger = logger
    app.state.holder = holder

    @app.exception_handler(RequestValidationError)
    async def _invalid(_request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [describe_validation_error(e) for e in exc.errors()]
        return JSONResponse(status_code=422, content={"error": "invalid_request", "detail": errors})

    @app.exception_handler(LeanloopError)
    async def _leanloop_error(_request: Request, exc: LeanloopError) -> JSONResponse:
        return JSONResponse(status_code=exc.http_status,
                            content={"error": type(exc).__name__, "detail": [str(exc)]})

    def _score(rows: list[dict[str, Any]]) -> tuple[str, list[dict[str, Any]], list[dict[str, Any]]]:
        champion, model = holder.current()
        version = champion.version
        frame = model_input(schema, pd.DataFrame(rows, columns=schema.names), champion.input_format, "request")
        scored = score(model, frame, task)
        now = time.time()
        outputs, records = [], []
        for row, label, proba in zip(rows, scored.labels, scored.probability_dicts(), strict=True):
            prediction_id = uuid.uuid4().hex
            outputs.append({"prediction_id": prediction_id, "prediction": to_python(label), "probabilities": proba})
            records.append({"prediction_id": prediction_id, "created_at": now, "model_version": version,
                            "features": row, "prediction": to_python(label), "probabilities": proba})
        return version, outputs, records

    async def predict(request: Any) -> dict[str, Any]:
        rows = [row.model_dump(by_alias=True, mode="json") for row in request.rows]
        version, outputs, records = await run_in_threadpool(_score, rows)
        await logger.log(records)
        return {"model_version": version, "predictions": outputs}

    # The body model is built at run time from the schema, so it is attached here
    # rather than written in the signature (postponed annotations cannot see it).
    predict.__annotations__["request"] = PredictRequest
    app.post("/predict", response_model=PredictResponse,
             summary="Score rows; each is logged before the answer")(predict)

    @app.post("/feedback", response_model=FeedbackResponse, summary="Join ground truth to logged predictions")
    async def feedback(request: FeedbackRequest) -> dict[str, Any]:
        items = [(item.prediction_id, item.label) for item in request.feedback]
        counts = await run_in_threadpool(project.feedback, items, source="api")
        return counts.to_json()

    @app.get("/health", summary="Liveness and the serving version")
    async def health() -> dict[str, Any]:
        champion, _ = await run_in_threadpool(holder.current)
        return {"status": "ok", "model_version": champion.version}

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
            "versions": [{"version": v.version, "created_at": v.created_at, "source": v.source,
                          "parent": v.parent, "metrics": v.metrics, "baseline_metrics": v.baseline_metrics}
                         for v in versions],
        }

    return app
