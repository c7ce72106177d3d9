"""The project's id and time columns at the HTTP door.

``/predict`` rows may carry the id column and the time column beside the features
(typed in the request model, so ``/docs`` shows them); :func:`split_keys` takes them out
of the rows before scoring (they are never features), checks them
(:mod:`leanloop.row_keys`) and keeps them for the log and the answer, where each
output repeats the id as sent and the event time as ISO 8601 UTC. ``/feedback`` items
name their prediction by ``prediction_id`` or by the id column
(:func:`feedback_request_model`).

Examples
--------
>>> from leanloop.config import IdType
>>> from leanloop.row_keys import RowKeys
>>> keys = RowKeys(id_column="loan", id_type=IdType.INTEGER, time_column="at")
>>> rows = [{"x": 1.0, "loan": 7, "at": "2024-05-01T00:00:00Z"}, {"x": 2.0}]
>>> keyed = split_keys(rows, keys)
>>> rows, keyed.row_ids, keyed.event_at
([{'x': 1.0}, {'x': 2.0}], ['7', None], [1714521600.0, None])
>>> keyed.answer_fields(0, keys)
{'loan': 7, 'at': '2024-05-01T00:00:00+00:00'}
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated, Any, NotRequired

from pydantic import ConfigDict, Field

from leanloop.config import IdType
from leanloop.errors import InputError
from leanloop.row_keys import MAX_ID, RowId, RowKeys, event_seconds, iso_time
from leanloop.serve.requests import PREDICTION_ID, typed_dict

__all__ = ["KeyedRows", "key_fields", "split_keys", "feedback_request_model", "feedback_keys"]

_INTEGER = Annotated[int, Field(strict=True)]
_TEXT = Annotated[str, Field(strict=True, min_length=1, max_length=MAX_ID)]
_TIME = (Annotated[str, Field(strict=True, max_length=64)] | Annotated[float, Field(strict=True, allow_inf_nan=False)]
         | None)


@dataclass
class KeyedRows:
    """One request's validated rows (features only) with their ids and event times."""

    rows: list[dict[str, Any]]
    ids: list[Any] | None = None
    row_ids: list[str | None] | None = None
    event_at: list[float | None] | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.rows)

    def answer_fields(self, index: int, keys: RowKeys) -> dict[str, Any]:
        """What the answer repeats of row ``index``: its id as sent, its event time in ISO."""
        found: dict[str, Any] = {}
        if self.ids is not None and self.ids[index] is not None and keys.id_column:
            found[keys.id_column] = self.ids[index]
        if self.event_at is not None and self.event_at[index] is not None and keys.time_column:
            found[keys.time_column] = iso_time(self.event_at[index])  # type: ignore[arg-type]
        return found


def _id_annotation(keys: RowKeys) -> Any:
    return {IdType.INTEGER: _INTEGER, IdType.TEXT: _TEXT}.get(keys.id_type, _INTEGER | _TEXT)  # type: ignore[arg-type]


def key_fields(keys: RowKeys) -> dict[str, Any]:
    """The optional id and time fields of a ``/predict`` row."""
    fields: dict[str, Any] = {}
    if keys.id_column:
        fields[keys.id_column] = NotRequired[Annotated[_id_annotation(keys) | None, Field(
            description=f"the row's own id ({(keys.id_type or IdType.TEXT).value}); stored and answered, "
                        "never a feature")]]
    if keys.time_column:
        fields[keys.time_column] = NotRequired[Annotated[_TIME, Field(
            description="the row's event time, ISO 8601 or epoch seconds; windows go by it")]]
    return fields


def split_keys(rows: list[dict[str, Any]], keys: RowKeys) -> KeyedRows:
    """Take the id and time fields out of validated ``rows`` (in place) and check them."""
    ids = [row.pop(keys.id_column, None) for row in rows] if keys.id_column else None
    times = [row.pop(keys.time_column, None) for row in rows] if keys.time_column else None
    keyed = KeyedRows(rows=rows)
    if ids is not None and any(v is not None for v in ids):
        keyed.ids, keyed.row_ids = ids, keys.ids(ids)
    if times is not None and any(v is not None for v in times):
        keyed.event_at = event_seconds(times, field=keys.time_column or "time")
    return keyed


def feedback_request_model(keys: RowKeys, label: Any) -> type[dict[str, Any]]:
    """``{"feedback": [item, ...]}`` where an item names ``prediction_id`` or the id column."""
    assert keys.id_column is not None
    item = typed_dict("FeedbackItem", {
        "prediction_id": NotRequired[Annotated[str, Field(pattern=PREDICTION_ID)]],
        keys.id_column: NotRequired[Annotated[_id_annotation(keys), Field(
            description="the id the row carried at /predict: the label joins the newest prediction with it, "
                        "or waits for the first one")]],
        "label": label,
    })
    item.__pydantic_config__ = ConfigDict(extra="forbid")
    items: Any = list[item]  # type: ignore[valid-type]  # a class made at run time
    request = typed_dict("FeedbackRequest", {"feedback": Annotated[items, Field(min_length=1, max_length=100_000)]})
    request.__pydantic_config__ = ConfigDict(extra="forbid")
    return request


def feedback_keys(items: list[dict[str, Any]], keys: RowKeys) -> list[tuple[str, Any]]:
    """``(key, label)`` per validated item: the prediction id, or a
    :class:`~leanloop.row_keys.RowId` of the project's id; both or neither is refused."""
    column = keys.id_column or "id"
    pairs: list[tuple[str, Any]] = []
    for index, item in enumerate(items):
        if (column in item) == ("prediction_id" in item):
            raise InputError(f"feedback item {index}: give prediction_id or {column!r}, exactly one of them")
        key = RowId(keys.id_text(item[column], index)) if column in item else item["prediction_id"]
        pairs.append((key, item["label"]))
    return pairs
