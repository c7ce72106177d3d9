"""Archived Parquet rows as the columns of a window frame, as the store's read gives them.

:func:`window_frame` turns one archived table into the frame
:func:`leanloop.store.predictions.read_window` gives for the same rows (with ``seq``
first): Python objects for the outputs (an int stays an int), typed feature columns,
probabilities as a float column per class. A column the archive had to keep as JSON
text raises :class:`NotColumnar`: such a window is read row-wise instead.

Examples
--------
>>> import pyarrow as pa
>>> table = pa.table({"seq": [1, 2], "prediction_id": ["a", "b"], "created_at": [1.0, 2.0],
...                   "prediction": [1, 0], "features.x": [0.5, None], "probabilities.1": [0.75, None]})
>>> frame = window_frame(table, "v1", {"x": "float64"}, [0, 1])
>>> frame[["seq", "prediction", "features.x", "probability:1", "has_probabilities"]].values.tolist()
[[1, 1, 0.5, 0.75, True], [2, 0, nan, nan, False]]
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from leanloop.archive.columns import PROBABILITY
from leanloop.store.features import FEATURE
from leanloop.store.predictions import HAS_PROBABILITIES, probability_column

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd
    import pyarrow as pa

__all__ = ["NotColumnar", "needed_columns", "window_frame"]

#: The window frame's columns that come from the archive's scalar columns (and the partition).
_NAMES = ("prediction_id", "created_at", "model_version", "prediction", "label", "received_at", "row_id", "event_at",
          "source")
_OUTPUTS = ("prediction", "label")
_FLOATS = ("created_at", "received_at", "event_at")


class NotColumnar(Exception):
    """An archived column holds JSON text (a value that fit no type): read the window row-wise."""


def window_frame(table: pa.Table, version: str, feature_types: dict[str, str], classes: list[Any] | None,
           ) -> pd.DataFrame:
    """An archived table as window columns (``seq`` first), as the store's read gives them."""
    import pandas as pd

    n, names = table.num_rows, set(table.column_names)
    used = {*_OUTPUTS, *(FEATURE + name for name in feature_types)}
    if any(f.name in used and f.metadata and f.metadata.get(b"leanloop") == b"json" for f in table.schema):
        raise NotColumnar("an archived column holds JSON text")
    columns: dict[str, Any] = {"seq": pd.Series(table.column("seq").to_numpy() if "seq" in names else [],
                                                dtype="int64")}
    for name in _NAMES:
        if name == "model_version":
            columns[name] = pd.Series([version] * n, dtype=object)
        elif name not in names:
            columns[name] = pd.Series([None] * n, dtype="float64" if name in _FLOATS else object)
        elif name in _FLOATS:
            columns[name] = pd.Series(table.column(name).to_numpy(zero_copy_only=False), dtype="float64")
        else:
            columns[name] = _objects(table.column(name), shared=name != "prediction_id")
    for name, kind in feature_types.items():
        columns[FEATURE + name] = _feature(table, FEATURE + name, kind)
    columns |= _probabilities(table) if classes is None else _class_probabilities(table, classes)
    return pd.DataFrame(columns)


def _objects(column: pa.ChunkedArray, *, shared: bool) -> pd.Series:
    """Python objects, as the store's JSON decoding gives them (an int stays an int);
    ``shared``: text of few distinct values as one object per value (the store's read
    does the same: ~50 MB less for a 1M-row window's ``source``)."""
    import numpy as np
    import pandas as pd
    import pyarrow as pa
    import pyarrow.compute as pc

    if shared and pa.types.is_string(column.type) and len(column):
        encoded = pc.dictionary_encode(column).combine_chunks()
        values = np.empty(len(encoded.dictionary) + 1, dtype=object)
        values[:-1] = encoded.dictionary.to_pylist()  # the last slot: None, for nulls
        codes = encoded.indices.fill_null(len(values) - 1).to_numpy(zero_copy_only=False)
        return pd.Series(values[codes], dtype=object)
    return pd.Series(column.to_pylist(), dtype=object)


def needed_columns(names: list[str], feature_types: dict[str, str]) -> list[str]:
    """The archived columns :func:`window_frame` reads, of a file's ``names``.

    >>> needed_columns(["seq", "features.x", "features.old", "probabilities.1", "label"], {"x": "float64"})
    ['seq', 'label', 'features.x', 'probabilities.1']
    """
    wanted = ["seq", *_NAMES, *(FEATURE + name for name in feature_types)]
    return [n for n in wanted if n in names] + [n for n in names if n.startswith(PROBABILITY)]


def _feature(table: pa.Table, name: str, kind: str) -> np.ndarray | pd.Series:
    """One feature's archived column as :func:`~leanloop.store.features.decode_features` gives it
    in a frame (text as pandas' Arrow-backed strings, which a frame makes of text objects:
    kept as such, not made a million Python strings and converted back, 0.2 s at 1M rows)."""
    import pyarrow as pa

    kind_type = pa.type_for_alias(kind)
    if name not in table.column_names:
        column = pa.nulls(table.num_rows, kind_type)
    else:
        column = table.column(name)
        if column.type != kind_type:  # the schema changed since the export
            try:
                column = column.cast(kind_type)
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
                raise NotColumnar(name) from exc
    values = column.to_pandas()
    return values if pa.types.is_string(column.type) else values.to_numpy()


def _probabilities(table: pa.Table) -> dict[str, Any]:
    """The archived probabilities as a dict per row (None where a row logged none), as
    the store's read gives them without classes."""
    import pandas as pd

    held = [name for name in table.column_names if name.startswith(PROBABILITY)]
    rows: list[Any] = [None] * table.num_rows
    if held:
        keys = [name[len(PROBABILITY):] for name in held]
        for i, values in enumerate(zip(*(table.column(name).to_pylist() for name in held), strict=True)):
            pairs = {k: v for k, v in zip(keys, values, strict=True) if v is not None}
            rows[i] = pairs or None
    return {"probabilities": pd.Series(rows, dtype=object)}


def _class_probabilities(table: pa.Table, classes: list[Any]) -> dict[str, Any]:
    """The archived class probabilities as :func:`~leanloop.store.predictions.probability_columns`
    gives them: NaN where a row lacks the class, and whether a row logged any."""
    import numpy as np

    n = table.num_rows
    held = [name for name in table.column_names if name.startswith(PROBABILITY)]
    found = {probability_column(c): table.column(PROBABILITY + str(c)).to_numpy(zero_copy_only=False).astype(float)
             if PROBABILITY + str(c) in held else np.full(n, np.nan) for c in classes}
    logged = np.zeros(n, dtype=bool)
    for name in held:
        logged |= table.column(name).is_valid().to_numpy(zero_copy_only=False)
    return {**found, HAS_PROBABILITIES: logged}
