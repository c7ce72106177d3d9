"""``POST /feedback`` and ``GET /predictions/{id}``: ground truth joined to logged predictions."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from leanloop.serve.keys import feedback_keys, feedback_request_model
from leanloop.serve.requests import PREDICTION_ID, FeedbackRequest, FeedbackResponse, LabelValue
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

    keys = runtime.keys

    async def feedback(request: Any) -> dict[str, Any]:
        if keys.id_column is None:
            items = [(item.prediction_id, item.label) for item in request.feedback]
        else:  # by prediction_id or by the project's id column, item by item
            items = feedback_keys(request["feedback"], keys)
        counts = await run_in_threadpool(project.feedback, items, source="api")
        return counts.to_json()

    # The body model names the project's id column, known only at run time.
    model = FeedbackRequest if keys.id_column is None else feedback_request_model(keys, LabelValue)
    feedback.__annotations__.update({"request": model})
    api.post("/feedback", response_model=FeedbackResponse, dependencies=[auth],
             summary="Join ground truth to logged predictions by prediction_id or your id (needs the token)")(feedback)

    @api.get("/predictions/{prediction_id}", dependencies=[auth],
             summary="A logged prediction and its feedback, for audits (needs the token)")
    async def prediction(prediction_id: str = Path(pattern=PREDICTION_ID, max_length=64)) -> dict[str, Any]:
        row = await run_in_threadpool(project.store.get_prediction, prediction_id)
        feedback = None if row.get("label") is None else {"label": row["label"], "received_at": iso(row["received_at"])}
        return {"prediction_id": row["prediction_id"], "created_at": iso(row["created_at"]),
                "row_id": row["row_id"], "event_at": iso(row["event_at"]), "source": row["source"],
                "model_version": row["model_version"], "features": row["features"],
                "prediction": row["prediction"], "probabilities": row["probabilities"], "feedback": feedback}

    return api
