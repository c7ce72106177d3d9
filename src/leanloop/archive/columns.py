"""The log's rows as typed Arrow columns, and back.

A window frame (:func:`leanloop.store.predictions.read_window`'s shape, plus ``seq``)
holds features and probabilities as dicts and outputs as JSON values. In Parquet each
feature becomes a typed column ``features.NAME`` (numeric: float64, boolean: bool,
categorical and date-time: string, as the schema says), each class probability a
float64 column ``probabilities.CLASS``, and ``prediction`` and ``label`` take the
target's type (the classes' type, or float64 for a regression). Any other column keeps
its pandas type. A value that does not fit its type (a label of another type than the
classes) turns the whole column into JSON text, marked in the field's metadata, so
nothing is lost and :func:`to_frame` decodes it.

Examples
--------
>>> import pandas as pd
>>> from leanloop.schema import Feature, Schema
>>> spec = ColumnSpec.of(Schema(features=[Feature(name="x", kind="numeric"),
...                                       Feature(name="c", kind="categorical")]), [0, 1])
>>> frame = pd.DataFrame({"seq": [1, 2], "prediction_id": ["a", "b"], "created_at": [1.0, 2.0],
...     "features": [{"x": 1, "c": "u"}, {"x": None, "c": "v"}], "prediction": [1, 0],
...     "probabilities": [{"0": 0.25, "1": 0.75}, None], "label": [None, 0], "received_at": [None, 3.0]})
>>> table = to_table(frame, spec)
>>> [(f.name, str(f.type)) for f in table.schema][3:6]
[('features.x', 'double'), ('features.c', 'string'), ('prediction', 'int64')]
>>> back = to_frame(table)
>>> back["features"].tolist(), back["probabilities"].tolist(), back["label"].tolist()
([{'x': 1.0, 'c': 'u'}, {'x': None, 'c': 'v'}], [{'0': 0.25, '1': 0.75}, None], [None, 0])
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from leanloop.schema import Schema
from leanloop.store.features import FEATURE, feature_types

if TYPE_CHECKING:
    import pandas as pd
    import pyarrow as pa

__all__ = ["ColumnSpec", "to_table", "to_frame", "typed_column", "FEATURE", "PROBABILITY"]

PROBABILITY = "probabilities."
#: Field metadata marking a column stored as JSON text.
_JSON = {b"leanloop": b"json"}


@dataclass(frozen=True)
class ColumnSpec:
    """The Arrow type of each feature and of the outputs, from the schema and the classes."""

    features: dict[str, str]
    output: str
    classes: list[str]
    #: the store's scalar columns, by their SQL type (a column a migration adds comes along)
    scalars: dict[str, str]

    @classmethod
    def of(cls, schema: Schema, classes: list[Any] | None) -> ColumnSpec:
        """The spec of a project: ``classes`` is None for a regression."""
        output = "float64" if classes is None else ("bool" if all(isinstance(c, bool) for c in classes) else
                                                    "int64" if all(isinstance(c, int) for c in classes) else "string")
        return cls(features=feature_types(schema), output=output,
                   classes=[str(c) for c in classes or []], scalars=_scalar_types())


def _scalar_types() -> dict[str, str]:
    """The Arrow type of each scalar column of the ``predictions`` table, and ``received_at``."""
    import sqlalchemy as sa

    from leanloop.store import tables as t

    kinds = ((sa.Boolean, "bool"), (sa.Integer, "int64"), (sa.Float, "float64"), (sa.String, "string"))
    found = {c.name: next((k for base, k in kinds if isinstance(c.type, base)), None)
             for c in t.predictions.columns if not isinstance(c.type, sa.JSON)}
    return {**{n: k for n, k in found.items() if k is not None}, "received_at": "float64"}


def _typed(values: list[Any], kind: str) -> pa.Array | None:
    """``values`` as an Arrow array of ``kind``, or None when one does not fit."""
    import pyarrow as pa

    try:
        if kind == "string":
            values = [v if v is None or isinstance(v, str) else None if v != v else _text(v) for v in values]
        return pa.array(values, type=pa.type_for_alias(kind), from_pandas=True)
    except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError, ValueError, OverflowError):
        return None


def _text(value: Any) -> str:
    # A category logged as a number keeps its text; bools as JSON writes them.
    return ("true" if value else "false") if isinstance(value, bool) else str(value)


def typed_column(name: str, values: list[Any], kind: str | None) -> tuple[pa.Field, pa.Array]:
    """``values`` as the column ``name`` of Arrow type ``kind`` (None: inferred), or as
    JSON text marked in the field's metadata when they do not fit."""
    import orjson
    import pyarrow as pa

    array = _typed(values, kind) if kind else None
    if array is None and kind is None:
        try:
            array = pa.array(values, from_pandas=True)
        except (pa.ArrowInvalid, pa.ArrowTypeError):
            array = None
    if array is not None and not pa.types.is_null(array.type):
        return pa.field(name, array.type), array
    if array is not None and kind is None:
        return pa.field(name, pa.string()), pa.nulls(len(values), pa.string())
    texts = [None if v is None else orjson.dumps(v, option=orjson.OPT_SERIALIZE_NUMPY).decode() for v in values]
    return pa.field(name, pa.string(), metadata=_JSON), pa.array(texts, type=pa.string())


def to_table(frame: pd.DataFrame, spec: ColumnSpec, *, drop: tuple[str, ...] = ()) -> pa.Table:
    """``frame`` (window rows with ``seq``) as a typed Arrow table, without the ``drop`` columns."""
    import pyarrow as pa

    fields, arrays = [], []

    def add(pair: tuple[pa.Field, pa.Array]) -> None:
        fields.append(pair[0])
        arrays.append(pair[1])

    for name in frame.columns:
        if name in drop:
            continue
        values = frame[name].tolist()
        if name == "features":
            keys = list(spec.features) + sorted({k for d in values if d for k in d} - set(spec.features))
            for key in keys:
                add(typed_column(FEATURE + key, [None if d is None else d.get(key) for d in values],
                            spec.features.get(key)))
        elif name == "probabilities":
            keys = spec.classes + sorted({k for d in values if d for k in d} - set(spec.classes))
            for key in keys:
                add(typed_column(PROBABILITY + key, [None if d is None else d.get(key) for d in values], "float64"))
        elif name in ("prediction", "label"):
            add(typed_column(name, values, spec.output))
        else:
            add(typed_column(name, values, spec.scalars.get(name)))
    return pa.Table.from_arrays(arrays, schema=pa.schema(fields))


def to_frame(table: pa.Table, *, flat: bool = False) -> pd.DataFrame:
    """An archived table back as window rows: dicts of probabilities, and of features
    unless ``flat`` (then their ``features.NAME`` columns, as a columnar window has them)."""
    import orjson
    import pandas as pd

    columns: dict[str, Any] = {}
    features: dict[str, list[Any]] = {}
    probabilities: dict[str, list[Any]] = {}
    for field, column in zip(table.schema, table.columns, strict=True):
        values = column.to_pylist()
        if field.metadata and field.metadata.get(b"leanloop") == b"json":
            values = [None if v is None else orjson.loads(v) for v in values]
        if field.name.startswith(FEATURE) and flat:
            columns[field.name] = column.to_pandas().to_numpy()
        elif field.name.startswith(FEATURE):
            features[field.name[len(FEATURE):]] = values
            columns.setdefault("features", None)
        elif field.name.startswith(PROBABILITY):
            probabilities[field.name[len(PROBABILITY):]] = values
            columns.setdefault("probabilities", None)
        else:
            columns[field.name] = values
    rows = table.num_rows
    if "features" in columns:
        columns["features"] = [dict(zip(features, v, strict=True)) for v in zip(*features.values(), strict=True)] \
            if features else [{} for _ in range(rows)]
    if "probabilities" in columns:
        pairs = [[(k, p) for k, p in zip(probabilities, v, strict=True) if p is not None]
                 for v in zip(*probabilities.values(), strict=True)]
        columns["probabilities"] = [dict(p) if p else None for p in pairs]
    return pd.DataFrame({name: pd.Series(values, dtype="float64" if name in ("created_at", "received_at", "event_at")
                                         else None if name == "seq" else object)
                         for name, values in columns.items()})
