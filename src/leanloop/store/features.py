"""Logged features as columns: decoded straight from the log's JSON text, read as a frame.

The log stores each row's features as one JSON object. Decoding them into a dict per
row and building a frame from a million dicts cost more than the whole drift
measurement, and each stage of a measurement did it again on the same rows. So a window
read for measuring decodes the features once, with pyarrow's JSON reader, into one typed
column per feature named ``features.NAME`` (float64, bool or string by the schema's
kind), and every stage takes them with :func:`feature_frame`, which also accepts the
dict-per-row ``features`` column of :meth:`SQLStore.window <leanloop.store.sql.SQLStore.window>`.
Text that does not fit the declared types (a category logged as a number) is decoded
row by row instead, with the same result.

Examples
--------
>>> from leanloop.schema import Feature, Schema
>>> types = feature_types(Schema(features=[Feature(name="x", kind="numeric"), Feature(name="c", kind="categorical")]))
>>> columns = decode_features(['{"x":1,"c":"a"}', '{"x":null,"c":"b","extra":1}'], types)
>>> import pandas as pd
>>> window = pd.DataFrame({"prediction_id": ["p1", "p2"], **columns})
>>> list(window.columns), feature_frame(window)["x"].tolist()
(['prediction_id', 'features.x', 'features.c'], [1.0, nan])
>>> feature_frame(pd.DataFrame({"features": [{"x": 1.0, "c": "a"}]})).to_dict("records")
[{'x': 1.0, 'c': 'a'}]
>>> feature_row(window.iloc[1])
{'x': None, 'c': 'b'}
"""

from __future__ import annotations

import io
from typing import TYPE_CHECKING, Any

from leanloop.schema import FeatureKind, Schema

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["FEATURE", "feature_types", "decode_features", "feature_frame", "feature_row"]

#: The prefix of a feature's column in a columnar window (and in the Parquet archive).
FEATURE = "features."


def feature_types(schema: Schema) -> dict[str, str]:
    """Each feature's Arrow type: float64 (numeric), bool (boolean), string (categorical, date-time as logged).

    >>> from leanloop.schema import Feature
    >>> feature_types(Schema(features=[Feature(name="ok", kind="boolean"), Feature(name="t", kind="datetime")]))
    {'ok': 'bool', 't': 'string'}
    """
    kinds = {FeatureKind.NUMERIC: "float64", FeatureKind.BOOLEAN: "bool"}
    return {f.name: kinds.get(f.kind, "string") for f in schema.features}


def decode_features(texts: list[str], types: dict[str, str]) -> dict[str, Any]:
    """The features' JSON texts as one column per feature of ``types`` (others are dropped)."""
    import pyarrow as pa
    import pyarrow.json as pa_json

    schema = pa.schema([(name, pa.type_for_alias(kind)) for name, kind in types.items()])
    try:
        # One pass in C++ over newline-delimited objects (JSON text escapes newlines):
        # 1M rows of 6 features in ~1 s, against ~6 s for dicts and a frame built from them.
        table = pa_json.read_json(io.BytesIO("\n".join(texts).encode()), parse_options=pa_json.ParseOptions(
            explicit_schema=schema, unexpected_field_behavior="ignore"))
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        import json

        import pandas as pd

        # The slow way, for text the declared types refuse; json (not orjson) also reads
        # the NaN that rows logged long ago may hold.
        frame = pd.DataFrame([json.loads(t) for t in texts], columns=list(types))
        return {FEATURE + name: frame[name].to_numpy() for name in types}
    if table.num_rows != len(texts):  # not one object per line after all: never guess
        raise ValueError(f"decoded {table.num_rows} feature rows from {len(texts)} texts")
    return {FEATURE + name: table.column(name).to_pandas().to_numpy() for name in types}


def feature_frame(window: pd.DataFrame) -> pd.DataFrame:
    """The features of ``window``'s rows as a frame (a fresh 0..n-1 index), from its
    ``features.NAME`` columns or from its dict-per-row ``features`` column."""
    import pandas as pd

    if "features" in window.columns:
        return pd.DataFrame(window["features"].tolist())
    names = [c for c in window.columns if c.startswith(FEATURE)]
    frame = window[names].reset_index(drop=True)
    frame.columns = [c[len(FEATURE):] for c in names]
    return frame


def feature_row(row: pd.Series) -> dict[str, Any]:
    """One window row's features as the dict it was logged as (missing values as None)."""
    if "features" in row.index:
        return dict(row["features"])
    return {str(name)[len(FEATURE):]: _plain(value) for name, value in row.items() if str(name).startswith(FEATURE)}


def _plain(value: Any) -> Any:
    if value is None or (isinstance(value, float) and value != value):
        return None
    return value.item() if hasattr(value, "item") else value
