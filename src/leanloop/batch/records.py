"""The log records of a scored chunk, built column by column: the bulk load of batch scoring.

The server logs a prediction as a dict per row, its JSON columns written by orjson. A
batch chunk holds 100,000 rows, and building that many dicts (then their JSON) cost
more than scoring them: here each feature's column is written as JSON once (numbers by
one orjson call over the NumPy array, text and booleans once per distinct value), then
the rows' objects are put together by one format string, so the text is the very text
``orjson.dumps`` writes for the server's dict (the tests compare both).

Examples
--------
>>> import numpy as np, pandas as pd
>>> from leanloop.schema import Feature, Schema
>>> schema = Schema(features=[Feature(name="x", kind="numeric"), Feature(name="c", kind="categorical")])
>>> frame = pd.DataFrame({"x": [1.5, np.nan], "c": np.array(["a", None], dtype=object)})
>>> features_json(frame, schema)
['{"x":1.5,"c":"a"}', '{"x":null,"c":null}']
>>> json_values(np.array([2.0, 1e16])), json_values(["yes", None, "yes"])
(['2.0', '1e+16'], ['"yes"', 'null', '"yes"'])
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from leanloop.schema import FeatureKind, Schema
from leanloop.store.predictions import LogColumns

if TYPE_CHECKING:
    import pandas as pd

    from leanloop.scoring import Scored

__all__ = ["features_json", "json_values", "log_columns"]


def json_values(values: Any) -> list[str]:
    """Each value as JSON text, as orjson writes it (NaN and None as ``null``): a float
    array in one call, anything else once per distinct value."""
    import numpy as np
    import orjson
    import pandas as pd

    if isinstance(values, np.ndarray) and values.dtype.kind == "f":
        if not len(values):
            return []
        array = np.ascontiguousarray(values, dtype="float64")  # orjson writes only contiguous arrays
        return orjson.dumps(array, option=orjson.OPT_SERIALIZE_NUMPY).decode()[1:-1].split(",")
    codes, uniques = pd.factorize(np.asarray(values, dtype=object), use_na_sentinel=True)
    table = np.array([_json_text(u) for u in uniques.tolist()] + ["null"], dtype=object)
    return table[codes].tolist()


def _json_text(value: Any) -> str:
    import orjson

    try:
        return orjson.dumps(value).decode()
    except TypeError:  # integers beyond 64 bits, as the store's own fallback
        import json

        return json.dumps(value)


def _template(names: list[str]) -> str:
    """A format string of a JSON object with ``names`` as keys, in order."""
    import orjson

    keys = [orjson.dumps(n).decode().replace("{", "{{").replace("}", "}}") for n in names]
    return "{{" + ",".join(f"{k}:{{}}" for k in keys) + "}}"


def _objects(names: list[str], columns: list[list[str]], count: int) -> list[str]:
    if not names:
        return ["{}"] * count
    return list(map(_template(names).format, *columns))


def features_json(frame: pd.DataFrame, schema: Schema) -> list[str]:
    """The good rows' features as the server logs them, as JSON text: numbers as floats,
    text as text, booleans as booleans, date-times as ISO 8601 text, missing as null."""
    import numpy as np

    columns = []
    for feature in schema.features:
        values = frame[feature.name]
        if feature.kind is FeatureKind.NUMERIC:
            columns.append(json_values(np.asarray(values, dtype="float64")))
        elif feature.kind is FeatureKind.DATETIME:
            columns.append(json_values([None if v is None or v != v else v.isoformat()
                                        for v in values.astype(object).tolist()]))
        else:
            columns.append(json_values(values.to_numpy(dtype=object)))
    return _objects(schema.names, columns, len(frame))


def _probabilities_json(scored: Scored, count: int) -> list[str]:
    """Per row ``{"class": probability}`` as JSON text (``null`` without probabilities)."""
    import numpy as np

    if scored.probabilities is None or scored.classes is None:
        return ["null"] * count
    table = np.asarray(scored.probabilities, dtype="float64")
    return _objects([str(c) for c in scored.classes], [json_values(table[:, k]) for k in range(table.shape[1])],
                    count)


def log_columns(*, ids: list[str], frame: pd.DataFrame, schema: Schema, scored: Scored, version: str, at: float,
                row_ids: list[Any] | None, event_at: Any, source: str) -> LogColumns:
    """The log records of the scored rows of ``frame``: the server's columns plus
    ``row_id`` (the id column as text), ``event_at`` (epoch seconds) and ``source``.

    >>> import pandas as pd
    >>> from leanloop.schema import Feature
    >>> from leanloop.scoring import Scored
    >>> schema = Schema(features=[Feature(name="x", kind="numeric")])
    >>> log_columns(ids=["p1"], frame=pd.DataFrame({"x": [1.0]}), schema=schema, scored=Scored([0], None, None),
    ...             version="v2", at=5.0, row_ids=None, event_at=None, source="batch").to_records()
    [{'prediction_id': 'p1', 'created_at': 5.0, 'model_version': 'v2', 'features': {'x': 1.0}, 'prediction': 0, \
'probabilities': None, 'row_id': None, 'event_at': None, 'source': 'batch'}]
    """
    import numpy as np

    count = len(ids)
    labels = scored.labels
    predictions = json_values(np.asarray(labels, dtype="float64") if labels and all(
        type(v) is float for v in labels[:1]) else labels)
    times: list[float | None] = [None] * count if event_at is None else \
        [None if t != t else t for t in np.asarray(event_at, dtype="float64").tolist()]
    return LogColumns(prediction_id=list(ids), created_at=[float(at)] * count, model_version=[version] * count,
                      features=features_json(frame, schema), prediction=predictions,
                      probabilities=_probabilities_json(scored, count),
                      row_id=list(row_ids) if row_ids is not None else [None] * count, event_at=times,
                      source=[source] * count)
