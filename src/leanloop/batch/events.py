"""The project's id and time columns of a batch file: what a logged row carries beside
its features (``row_id``, ``event_at``), never fed to the model.

An id is kept as text (the store's ``row_id``). A time is ISO 8601 text or epoch
seconds; text with a zone and text without one never mix in one file (which zone
would the bare ones be in?): the first row that breaks the file's habit is refused.
Text without any zone is read as UTC.

Examples
--------
>>> import pandas as pd
>>> zones = Zones()
>>> seconds, bad = event_seconds(pd.Series(["2024-01-01T00:00:00Z", None, "soon"]), zones, first_row=0)
>>> seconds.tolist(), bad
([1704067200.0, nan, nan], {2: "must be a date-time (ISO 8601) or epoch seconds, got 'soon'"})
>>> event_seconds(pd.Series(["2024-01-02T00:00:00"]), zones, first_row=3)[1]
{0: 'has no time zone, but row 0 has one; give every time a zone (or none)'}
>>> row_ids(pd.Series([17, None, "a-9"], dtype=object))
['17', None, 'a-9']
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

__all__ = ["Zones", "event_seconds", "row_ids"]

#: An ISO 8601 time that names its zone: ``Z`` or an offset at the end.
_ZONED = r"(?:[zZ]|[+-]\d\d(?::?\d\d)?)$"


@dataclass
class Zones:
    """Whether the file's times carry a zone, as its first dated row said (and which row)."""

    zoned: bool | None = None
    row: int | None = None


def event_seconds(column: pd.Series, zones: Zones, *, first_row: int) -> tuple[np.ndarray, dict[int, str]]:
    """Epoch seconds of each time (NaN where none is given) and ``{position: problem}``
    for the times that cannot be read; ``zones`` carries the zone habit across chunks."""
    import numpy as np
    import pandas as pd

    if pd.api.types.is_datetime64_any_dtype(column):
        stamps = column.dt.tz_localize("UTC") if column.dt.tz is None else column.dt.tz_convert("UTC")
        return _seconds(stamps), {}
    if pd.api.types.is_numeric_dtype(column) and not pd.api.types.is_bool_dtype(column):
        values = column.to_numpy(dtype="float64", na_value=np.nan)
        return values, {p: f"must be finite epoch seconds, got {values[p]}" for p in np.isinf(values).nonzero()[0]}
    text = column.astype(object).where(column.notna(), None)
    numbers = pd.to_numeric(text, errors="coerce")
    stamps = pd.to_datetime(text.where(numbers.isna(), None), errors="coerce", utc=True, format="ISO8601")
    seconds = np.where(numbers.notna(), numbers.to_numpy(dtype="float64", na_value=np.nan), _seconds(stamps))
    present = text.notna().to_numpy()
    bad = {p: f"must be a date-time (ISO 8601) or epoch seconds, got {text.iloc[p]!r}"
           for p in (np.isnan(seconds) & present).nonzero()[0].tolist()}
    dated = (stamps.notna() & numbers.isna()).to_numpy()
    zoned = text.where(dated, "").astype(str).str.contains(_ZONED, regex=True).to_numpy()
    for position in dated.nonzero()[0].tolist():
        if zones.zoned is None:
            zones.zoned, zones.row = bool(zoned[position]), first_row + position
        elif bool(zoned[position]) != zones.zoned:
            state = ("has no time zone, but row {} has one" if zones.zoned else "has a time zone, but row {} has none")
            bad[position] = state.format(zones.row) + "; give every time a zone (or none)"
    for position in bad:
        seconds[position] = np.nan
    return seconds, bad


def _seconds(stamps: pd.Series) -> np.ndarray:
    import numpy as np
    import pandas as pd

    delta = (stamps - pd.Timestamp(0, tz="UTC")).dt.total_seconds()
    return delta.to_numpy(dtype="float64", na_value=np.nan)


def row_ids(column: pd.Series) -> list[Any]:
    """The id column's values as text (None where missing); whole floats without ``.0``
    (a Parquet integer column with gaps reads as floats)."""
    import pandas as pd

    if pd.api.types.is_integer_dtype(column):
        return column.astype(str).tolist()
    if pd.api.types.is_string_dtype(column) and not pd.api.types.is_object_dtype(column):
        return column.astype(object).where(column.notna(), None).tolist()  # text already: no per-value call

    def text(value: Any) -> Any:
        if value is None or (isinstance(value, float) and pd.isna(value)):
            return None
        if isinstance(value, float) and value.is_integer():
            return str(int(value))
        return str(value)

    return [text(v) for v in column.astype(object).tolist()]
