"""Request and response models, generated from the project's schema.

Because the row model is built from the :class:`~leanloop.schema.Schema`, the
OpenAPI docs at ``/docs`` list the real features, and a bad row gets a 422 naming
the row, the field and the problem. Numbers must be JSON numbers (a numeric string
is rejected, not guessed), finite, and booleans must be JSON booleans.

Examples
--------
>>> from leanloop.schema import Feature, Schema
>>> Row = row_model(Schema(features=[Feature(name="car value", kind="numeric")]))
>>> Row.model_validate({"car value": 3}).model_dump(by_alias=True)
{'car value': 3.0}
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidatorFunctionWrapHandler,
    WrapValidator,
    create_model,
)
from pydantic_core import PydanticCustomError

from leanloop.schema import FeatureKind, Schema

__all__ = ["row_model", "predict_request_model", "FeedbackItem", "FeedbackRequest",
           "PredictionOut", "PredictResponse", "FeedbackResponse"]

_TYPES: dict[FeatureKind, Any] = {
    FeatureKind.NUMERIC: Annotated[float, Field(strict=True, allow_inf_nan=False)],
    FeatureKind.CATEGORICAL: Annotated[str, Field(strict=True, max_length=1000)],
    FeatureKind.BOOLEAN: Annotated[bool, Field(strict=True)],
    FeatureKind.DATETIME: datetime,
}


def row_model(schema: Schema) -> type[BaseModel]:
    """A pydantic model of one row: every feature, typed, extra fields forbidden."""
    fields: dict[str, Any] = {}
    for position, feature in enumerate(schema.features):
        annotation = _TYPES[feature.kind]
        description = f"{feature.kind.value} feature"
        if feature.categories:
            description += f"; known categories: {', '.join(feature.categories[:20])}"
        if feature.minimum is not None:
            description += f"; training range {feature.minimum:g} to {feature.maximum:g}"
        if feature.nullable:
            fields[f"f{position}"] = (annotation | None, Field(None, alias=feature.name, description=description))
        else:
            fields[f"f{position}"] = (annotation, Field(..., alias=feature.name, description=description))
    return create_model("Row", __config__=ConfigDict(extra="forbid", populate_by_name=False), **fields)


def predict_request_model(schema: Schema, max_rows: int) -> type[BaseModel]:
    """``{"rows": [Row, ...]}`` with between 1 and ``max_rows`` rows."""
    row = row_model(schema)
    return create_model(
        "PredictRequest", __config__=ConfigDict(extra="forbid"),
        rows=(list[row], Field(..., min_length=1, max_length=max_rows)),  # type: ignore[valid-type]
    )


def _scalar_label(value: Any, handler: ValidatorFunctionWrapHandler) -> Any:
    # One message for the whole union instead of one per member ("label.bool: ...").
    try:
        return handler(value)
    except ValidationError:
        raise PydanticCustomError(
            "label_type", "a label must be a number, a string (at most 1000 characters) or a boolean, got {kind}",
            {"kind": type(value).__name__},
        ) from None


class FeedbackItem(BaseModel):
    """Ground truth for one prediction, logged already or not yet (then it is parked).

    >>> FeedbackItem.model_validate({"prediction_id": "p1", "label": [1]})
    Traceback (most recent call last):
    ...
    pydantic_core._pydantic_core.ValidationError: 1 validation error for FeedbackItem
    label
      a label must be a number, a string (at most 1000 characters) or a boolean, got list [...]
    """

    model_config = ConfigDict(extra="forbid")

    prediction_id: Annotated[str, Field(min_length=1, max_length=64)]
    label: Annotated[bool | int | float | Annotated[str, Field(max_length=1000)], WrapValidator(_scalar_label)]


class FeedbackRequest(BaseModel):
    """``{"feedback": [{"prediction_id": ..., "label": ...}, ...]}``."""

    model_config = ConfigDict(extra="forbid")

    feedback: Annotated[list[FeedbackItem], Field(min_length=1, max_length=100_000)]


class PredictionOut(BaseModel):
    """One answered row."""

    prediction_id: str
    prediction: Any
    probabilities: dict[str, float] | None = None


class PredictResponse(BaseModel):
    """The model version that answered and one output per row, in request order."""

    model_version: str
    predictions: list[PredictionOut]


class FeedbackResponse(BaseModel):
    """What the labels did (see :class:`leanloop.store.FeedbackCounts`)."""

    received: int = Field(description="labels in the request")
    recorded: int = Field(description="labels that took effect: new, or replacing a different label")
    duplicates: int = Field(description="labels equal to the one in force; nothing changed")
    updated: int = Field(description="recorded labels that replaced a different one (the latest wins)")
    parked: int = Field(description="ids with no logged prediction yet; they join when it arrives")
