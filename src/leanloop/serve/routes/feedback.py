"""``POST /feedback`` and ``GET /predictions/{id}``: ground truth joined to logged predictions."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from leanloop.serve.requests import PREDICTION_ID, FeedbackRequest, FeedbackResponse
from leanloop.times import iso

if TYPE_CHECKING:
    from fastapi import APIRouter

    from leanloop.serve.runtime import ServerRuntime

__all__ = ["router"]


def router(runtime: ServerRuntime, auth: Any) -> APIRouter:
    """The feedback and audit routes (both need the token)."""
    from fastapi import APIRouter, Path
    from fastapi.concurrency import run_in_threadpool

    from leanloop.serve.limits import strict_json_route

    project = runtime.project
    api = APIRouter(route_class=strict_json_route())

    @api.post("/feedback", response_model=FeedbackResponse, dependencies=[auth],
              summary="Join ground truth to logged predictions (needs the token)")
    async def feedback(request: FeedbackRequest) -> dict[str, Any]:
        items = [(item.prediction_id, item.label) for item in request.feedback]
        counts = await run_in_threadpool(project.feedback, items, source="api")
        return counts.to_json()

    @api.get("/predictions/{prediction_id}", dependencies=[auth],
             summary="A logged prediction and its feedback, for audits (needs the token)")
    async def prediction(prediction_id: str = Path(pattern=PREDICTION_ID, max_length=64)) -> dict[str, Any]:
        row = await run_in_threadpool(project.store.get_prediction, prediction_id)
        feedback = None if row.get("label") is None else {"label": row["label"], "received_at": iso(row["received_at"])}
        return {"prediction_id": row["prediction_id"], "created_at": iso(row["created_at"]),
                "model_version": row["model_version"], "features": row["features"],
                "prediction": row["prediction"], "probabilities": row["probabilities"], "feedback": feedback}

    return api
