"""Scoring: one way to get labels, probabilities and values out of any fitted model.

Examples
--------
>>> import pandas as pd
>>> from sklearn.dummy import DummyClassifier
>>> model = DummyClassifier().fit(pd.DataFrame({"x": [0, 1, 1]}), [0, 1, 1])
>>> scored = score(model, pd.DataFrame({"x": [3]}), "classification")
>>> scored.labels, scored.probabilities.round(3).tolist(), scored.classes
([1], [[0.333, 0.667]], [0, 1])
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import TYPE_CHECKING, Any

from leanloop.errors import InputError
from leanloop.schema import FeatureKind, Schema

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

__all__ = ["Scored", "score", "to_python", "model_input", "InputFormat"]



class InputFormat(str, Enum):
    """How a version wants its features."""

    #: leanloop's pipeline: numbers as float, categories and booleans as text,
    #: date-times as epoch seconds (:meth:`Schema.model_frame`).
    ENCODED = "encoded"
    #: an adopted model: the schema's own types, booleans as bool, date-times as
    #: timestamps, as in the user's training frame (:meth:`Schema.coerce`).
    NATIVE = "native"


@dataclass(frozen=True)
class Scored:
    """A batch's outputs: labels (or values), class probabilities if any, class order."""

    labels: list[Any]
    probabilities: np.ndarray | None
    classes: list[Any] | None

    def probability_dicts(self) -> list[dict[str, float] | None]:
        """Per row ``{class: probability}`` with classes as text (JSON object keys)."""
        if self.probabilities is None or self.classes is None:
            return [None] * len(self.labels)
        names = [str(c) for c in self.classes]
        return [dict(zip(names, map(float, row), strict=True)) for row in self.probabilities]


def to_python(value: Any) -> Any:
    """A NumPy scalar as the plain Python value JSON needs."""
    return value.item() if hasattr(value, "item") else value


def model_input(schema: Schema, frame: pd.DataFrame, input_format: InputFormat, source: str) -> pd.DataFrame:
    """The features of ``frame`` in the form a version expects (see :data:`InputFormat`)."""
    if InputFormat(input_format) is InputFormat.NATIVE:
        coerced = schema.coerce(frame, source)
        for name in schema.of_kind(FeatureKind.BOOLEAN):
            if coerced[name].notna().all():
                coerced[name] = coerced[name].astype(bool)
        return coerced
    return schema.model_frame(frame, source)


def score(model: Any, frame: pd.DataFrame, task: str) -> Scored:
    """Score ``frame`` (already in model form, see :meth:`Schema.model_frame`)."""
    try:
        raw = model.predict(frame)
    except ValueError as exc:
        raise InputError(f"the model could not score these rows: {exc}") from exc
    labels = [to_python(v) for v in raw]
    if task == "regression":
        return Scored(labels=[float(v) for v in labels], probabilities=None, classes=None)
    if hasattr(model, "predict_proba"):
        proba = model.predict_proba(frame)
        classes = [to_python(c) for c in model.classes_]
        return Scored(labels=labels, probabilities=proba, classes=classes)
    return Scored(labels=labels, probabilities=None, classes=None)
