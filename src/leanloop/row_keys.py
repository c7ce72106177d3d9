"""The caller's own id and event time of a row: checked at every door, then logged.

A project may name an id column and a time column (``[data] id_column``,
``time_column``). Rows sent to ``/predict`` (and batch files) may carry them; they are
never features. What each door accepts:

- **id**: of the project's ``[data] id_type`` (``integer``: a whole number, never a
  boolean; ``text``: 1 to 255 characters; unset: either). It is logged as text, so
  ``7`` sent as a number and ``"7"`` in a labels file name the same row.
- **event time**: ISO 8601 text (``2024-05-01T12:00:00+02:00``, ``2024-05-01``) or epoch
  seconds (a number). A time without a zone is UTC, unless another value of the same
  request or file has a zone (or is epoch seconds): then which zone was meant is
  unknown, and it is refused, naming its row and field.

Each refusal is an :class:`~leanloop.errors.InputError` (422, exit code 2) that names
the row (counted from 0) and the field, before anything is logged.

Examples
--------
>>> keys = RowKeys(id_column="loan", id_type=IdType.INTEGER, time_column="at")
>>> keys.ids([7, 8])
['7', '8']
>>> event_seconds(["2024-05-01T00:00:00Z", 1714521600, None, float("nan")], field="at")
[1714521600.0, 1714521600.0, None, None]
>>> event_seconds(["2024-05-01T00:00:00+00:00", "2024-05-01T02:00:00"], field="at")  # doctest: +ELLIPSIS
Traceback (most recent call last):
...
leanloop.errors.InputError: row 1, field 'at': '2024-05-01T02:00:00' has no time zone, but row 0 has one; ...
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, Any

from leanloop.config import IdType
from leanloop.errors import DataError, InputError

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

    from leanloop.config import DataConfig

__all__ = ["RowKeys", "RowId", "Zones", "event_seconds", "time_seconds", "infer_id_type", "iso_time", "file_key",
           "MAX_ID"]

#: The longest id, in characters (the log's ``row_id`` column).
MAX_ID = 255
_WHOLE = re.compile(r"[+-]?\d{1,40}")
#: An ISO 8601 time of day that names its zone: ``Z`` or an offset at the end (a date
#: alone, ``2024-05-01``, has none: its ``-01`` is the day).
_ZONED = r"[T ]\d.*(?:[zZ]|[+-]\d\d(?::?\d\d)?)$"
#: Epoch seconds of years 1 and 9999: the moments ISO 8601 text can show.
_EARLIEST, _LATEST = -62_135_596_800.0, 253_402_300_799.0


class RowId(str):
    """A feedback key that is the project's id of a row (as text), not a prediction id."""

    __slots__ = ()


@dataclass(frozen=True)
class RowKeys:
    """The project's id and time columns (None: the project has none)."""

    id_column: str | None = None
    id_type: IdType | None = None
    time_column: str | None = None

    @classmethod
    def of(cls, data: DataConfig) -> RowKeys:
        """The keys ``[data]`` names."""
        return cls(id_column=data.id_column, id_type=data.id_type, time_column=data.time_column)

    def ids(self, values: list[Any], *, first_row: int = 0) -> list[str | None]:
        """``values`` of the id column as logged text (None stays None); the wrong type
        raises naming its row (``first_row``: the number of the first value's row)."""
        return [None if v is None else self.id_text(v, first_row + k) for k, v in enumerate(values)]

    def file_ids(self, values: list[Any], *, source: str) -> list[str]:
        """A file's id column as :class:`RowId` keys; a CSV holds
        only text, so there a whole number in text is an integer id.

        >>> RowKeys(id_column="loan", id_type=IdType.INTEGER).file_ids(["7", 8], source="f.csv")
        ['7', '8']
        """
        found: list[str] = []
        for row, value in enumerate(values):
            if isinstance(value, str) and self.id_type is IdType.INTEGER and _WHOLE.fullmatch(value.strip()):
                value = int(value)
            try:
                found.append(RowId(self.id_text(value, row)))
            except InputError as exc:
                raise InputError(f"{source}: {exc} (rows count from 0 after the header)") from exc
        return found

    def id_text(self, value: Any, row: int) -> str:
        """One id as text; :class:`InputError` naming ``row`` when it is not of ``id_type``."""
        text, problem = self._id(value)
        if problem is not None:
            raise InputError(f"row {row}, field {self.id_column or 'id'!r}: {problem}")
        return str(text)

    def _id(self, value: Any) -> tuple[str | None, str | None]:
        """``(text, None)`` for an id of ``id_type``, else ``(None, problem)``."""
        integer = isinstance(value, int) and not isinstance(value, bool)
        if integer and self.id_type is not IdType.TEXT:
            return str(value), None
        if isinstance(value, str) and self.id_type is not IdType.INTEGER:
            if not 0 < len(value) <= MAX_ID:
                return None, f"an id must have 1 to {MAX_ID} characters, got {len(value)}"
            return value, None
        return None, self._wrong(f"{type(value).__name__} {str(value)[:40]!r}")

    def _wrong(self, got: str) -> str:
        wanted = {IdType.INTEGER: "a whole number", IdType.TEXT: "text"}.get(self.id_type,  # type: ignore[arg-type]
                                                                            "a whole number or text")
        return f"the id must be {wanted} ([data] id_type), got {got}"

    def id_texts(self, column: pd.Series) -> tuple[list[str | None], dict[int, str]]:
        """A batch column of ids as logged text (None where missing) and ``{position:
        problem}`` for the ids not of ``id_type``. A file holds ids as text (a CSV has
        nothing else; leanloop reads a Parquet id column as text), so there, as in a
        labels file, a whole number written as text is an integer id (``007`` is ``7``);
        a frame's values are judged by their own type, as the API judges them.

        >>> import pandas as pd
        >>> keys = RowKeys(id_column="loan", id_type=IdType.INTEGER)
        >>> keys.id_texts(pd.Series(["17", None, "007", "L-9"]))
        (['17', None, '7', None], {3: "the id must be a whole number ([data] id_type), got text 'L-9'"})
        >>> keys.id_texts(pd.Series([17.0, None]))[0]
        ['17', None]
        """
        import numpy as np
        import pandas as pd

        values = column.to_numpy(dtype=object)
        present = ~pd.isna(values)
        kind = pd.api.types.infer_dtype(values[present], skipna=True)
        if kind == "string" or not present.any():
            return self._text_ids(values, present)
        if kind == "floating":  # integer ids with gaps, as a frame holds them
            values = np.array([int(v) if isinstance(v, float) and v.is_integer() else v for v in values],
                              dtype=object)
        texts: list[str | None] = [None] * len(values)
        bad: dict[int, str] = {}
        for position in np.flatnonzero(present).tolist():
            texts[position], problem = self._id(values[position])
            if problem is not None:
                bad[position] = problem
        return texts, bad

    def _text_ids(self, values: np.ndarray, present: np.ndarray) -> tuple[list[str | None], dict[int, str]]:
        import numpy as np
        import pyarrow as pa
        import pyarrow.compute as pc

        # Arrow's compute, not pandas' .str: one regex pass in C++ rather than a Python
        # call per id (1.5 s -> 0.1 s per 1M ids), and outside the interpreter lock.
        text = pa.array(values, type=pa.string(), from_pandas=True)
        texts = values.copy()
        bad: dict[int, str] = {}
        if self.id_type is IdType.INTEGER:
            stripped = pc.utf8_trim_whitespace(text)
            whole = pc.match_substring_regex(stripped, r"^[+-]?[0-9]{1,40}$").fill_null(False).to_numpy(
                zero_copy_only=False)
            canonical = pc.match_substring_regex(stripped, r"^(0|[1-9][0-9]*)$").fill_null(False).to_numpy(
                zero_copy_only=False)
            for position in np.flatnonzero(present & ~whole).tolist():
                bad[position] = self._wrong(f"text {str(values[position])[:40]!r}")
            for position in np.flatnonzero(whole & ~canonical).tolist():  # "007", "+7", " 7": the number's text
                texts[position] = str(int(values[position]))
        else:
            lengths = pc.utf8_length(text).fill_null(1).to_numpy(zero_copy_only=False)
            for position in np.flatnonzero(present & ((lengths < 1) | (lengths > MAX_ID))).tolist():
                bad[position] = f"an id must have 1 to {MAX_ID} characters, got {int(lengths[position])}"
        texts[~present] = None
        texts[list(bad)] = None
        return texts.tolist(), bad


@dataclass
class Zones:
    """Whether a file's (or a request's) times carry a zone, as its first dated row said
    (and which row): the habit every later time must keep, carried across chunks."""

    zoned: bool | None = None
    row: int | None = None


def event_seconds(values: list[Any], *, field: str, first_row: int = 0) -> list[float | None]:
    """Event times as epoch seconds (None stays None); see the module for what is
    accepted. ``first_row``: the number of the first value's row, for messages. The
    first bad time raises, naming its row and ``field`` (:func:`time_seconds` judges them)."""
    import numpy as np
    import pandas as pd

    column = pd.Series(values, dtype=object)
    seconds, bad = time_seconds(column, Zones(), first_row=first_row)
    if bad:
        position = min(bad)
        raise InputError(f"row {first_row + position}, field {field!r}: {bad[position]}")
    return [None if np.isnan(v) else v for v in seconds.tolist()]


def time_seconds(column: pd.Series, zones: Zones, *, first_row: int = 0) -> tuple[np.ndarray, dict[int, str]]:
    """Epoch seconds of each time of ``column`` (NaN where none is given) and
    ``{position: problem}`` for the times refused; ``zones`` carries the zone habit
    across chunks. The one reader of event times, for every door: a column at a time
    (vectorised: ISO 8601 text parsed by pandas, value by value only what it leaves).

    >>> import pandas as pd
    >>> zones = Zones()
    >>> seconds, bad = time_seconds(pd.Series(["2024-01-01T00:00:00Z", None, "soon", "1704067200"]), zones)
    >>> seconds.tolist(), bad
    ([1704067200.0, nan, nan, 1704067200.0], {2: "'soon' is not a time; give ISO 8601 \
(2024-05-01T12:00:00+00:00) or epoch seconds"})
    >>> time_seconds(pd.Series(["2024-01-02T00:00:00"]), zones, first_row=3)[1]
    {0: "'2024-01-02T00:00:00' has no time zone, but row 0 has one; give every time a zone (or none)"}
    """
    import numpy as np
    import pandas as pd

    count = len(column)
    seconds = np.full(count, np.nan)
    zoned = np.zeros(count, dtype=bool)
    bad: dict[int, str] = {}
    if pd.api.types.is_datetime64_any_dtype(column):
        present = column.notna().to_numpy()
        tz = column.dt.tz is not None
        stamps = column.dt.tz_convert("UTC") if tz else column.dt.tz_localize("UTC")
        seconds, zoned[:] = _seconds(stamps), tz
    elif pd.api.types.is_numeric_dtype(column) and not pd.api.types.is_bool_dtype(column):
        seconds = column.to_numpy(dtype="float64", na_value=np.nan, copy=True)  # written below: not a view
        present, zoned[:] = ~np.isnan(seconds), True
        bad.update(_out_of_bounds(seconds, column))
    else:
        values = column.to_numpy(dtype=object)
        present = ~pd.isna(values)
        _read_objects(values, present, seconds, zoned, bad)
    dated = present.copy()
    dated[list(bad)] = False
    bad.update(_zone_habit(dated, zoned, column, zones, first_row))
    if bad:
        seconds[list(bad)] = np.nan
    return seconds, bad


def _read_objects(values: np.ndarray, present: np.ndarray, seconds: np.ndarray, zoned: np.ndarray,
                  bad: dict[int, str]) -> None:
    """Times of an object column: text (ISO 8601, or epoch seconds a file wrote as text),
    numbers (epoch seconds, zoned: they name one moment), date-times and dates."""
    import numpy as np
    import pandas as pd

    kind = pd.api.types.infer_dtype(values[present], skipna=True)
    types = np.full(len(values), "str", dtype=object) if kind == "string" else \
        np.array([_type_of(v) for v in values], dtype=object)
    text = present & (types == "str")
    if text.any():
        strings = pd.Series(values[text], dtype=object).str.strip()
        numbers = pd.to_numeric(strings, errors="coerce").to_numpy(dtype="float64", na_value=np.nan)
        positions = np.flatnonzero(text)
        number = ~np.isnan(numbers)
        seconds[positions[number]], zoned[positions[number]] = numbers[number], True
        rest = strings[~number]
        stamps = pd.to_datetime(rest, errors="coerce", utc=True, format="ISO8601")
        parsed = stamps.notna().to_numpy()
        where = positions[~number]
        seconds[where[parsed]] = _seconds(stamps[parsed])
        zoned[where[parsed]] = rest[parsed].str.contains(_ZONED, regex=True).to_numpy()
        for position in where[~parsed].tolist():  # what pandas cannot hold (years before 1677) or read
            _read_one(values[position], position, seconds, zoned, bad)
    for position in np.flatnonzero(present & ~text).tolist():
        _read_one(values[position], position, seconds, zoned, bad)
    bad.update(_out_of_bounds(seconds, pd.Series(values, dtype=object)))


def _type_of(value: Any) -> str:
    if isinstance(value, str):
        return "str"
    return "bool" if isinstance(value, bool) else "other"


def _read_one(value: Any, position: int, seconds: np.ndarray, zoned: np.ndarray, bad: dict[int, str]) -> None:
    """One value pandas did not read: its moment, or its problem in ``bad``."""
    import numpy as np

    if isinstance(value, bool | np.bool_):
        bad[position] = "a time must be ISO 8601 text or epoch seconds, got a boolean"
        return
    if isinstance(value, int | float | np.integer | np.floating):
        seconds[position], zoned[position] = float(value), True
        return
    moment: datetime | None = None
    if isinstance(value, datetime):  # a parsed file column (pandas' Timestamp is one)
        moment = value
    elif isinstance(value, date):
        moment = datetime(value.year, value.month, value.day)
    elif isinstance(value, str):
        try:
            moment = datetime.fromisoformat(value.strip())
        except ValueError:
            moment = None
    if moment is None:
        bad[position] = f"{_shown(value)} is not a time; give ISO 8601 (2024-05-01T12:00:00+00:00) or epoch seconds"
        return
    zoned[position] = moment.tzinfo is not None
    seconds[position] = (moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)).timestamp()


def _out_of_bounds(seconds: np.ndarray, column: pd.Series) -> dict[int, str]:
    """Epoch seconds that are not a time between the years 1 and 9999 (infinities too)."""
    import numpy as np

    with np.errstate(invalid="ignore"):
        outside = np.isinf(seconds) | (seconds < _EARLIEST) | (seconds > _LATEST)
    return {p: f"{_shown(column.iloc[p])} epoch seconds is not a time between the years 1 and 9999"
            for p in np.flatnonzero(outside).tolist()}


def _zone_habit(dated: np.ndarray, zoned: np.ndarray, column: pd.Series, zones: Zones,
                first_row: int) -> dict[int, str]:
    """The times that break the habit of the first dated row (a zone, or none)."""
    import numpy as np

    positions = np.flatnonzero(dated)
    if not len(positions):
        return {}
    if zones.zoned is None:
        zones.zoned, zones.row = bool(zoned[positions[0]]), first_row + int(positions[0])
    wrong = positions[zoned[positions] != zones.zoned]
    state = "has no time zone, but row {} has one" if zones.zoned else "has a time zone, but row {} has none"
    return {p: f"{_shown(column.iloc[p])} {state.format(zones.row)}; give every time a zone (or none)"
            for p in wrong.tolist()}


def _seconds(stamps: pd.Series) -> np.ndarray:
    """Epoch seconds of date-times (NaN for NaT), to the microsecond as Python's
    ``datetime.timestamp`` gives them, for years 1 to 9999 (not only pandas' ns range)."""
    import numpy as np

    naive = stamps.dt.tz_convert("UTC").dt.tz_localize(None) if stamps.dt.tz is not None else stamps
    moments = naive.to_numpy().astype("datetime64[us]")
    seconds = moments.astype("int64") / 1e6
    seconds[np.isnat(moments)] = np.nan
    return seconds


def _shown(value: Any) -> str:
    text = repr(value.item() if hasattr(value, "item") and not isinstance(value, datetime) else value)
    return text if len(text) <= 60 else text[:57] + "..."


def iso_time(seconds: float) -> str:
    """Epoch seconds as ISO 8601 UTC, to the microsecond given.

    >>> iso_time(1714521600.25)
    '2024-05-01T00:00:00.250000+00:00'
    """
    return datetime.fromtimestamp(seconds, UTC).isoformat()


def file_key(frame: pd.DataFrame, id_column: str | None, source: str) -> str:
    """The column of a labels file that names the predictions: ``prediction_id`` when it
    has one, else the project's id column.

    >>> import pandas as pd
    >>> file_key(pd.DataFrame({"loan": [1], "label": [0]}), "loan", "f.csv")
    'loan'
    """
    for column in ("prediction_id", id_column):
        if column and column in frame.columns:
            return column
    named = "'prediction_id'" + (f" or the project's id column {id_column!r}" if id_column else "")
    raise DataError(f"{source} has no column {named} to join the labels by; columns are: {list(frame.columns)} "
                    "(or name one with --id-column)")


def infer_id_type(column: pd.Series) -> IdType:
    """``integer`` when every id of a training column is a whole number, else ``text``.

    >>> import pandas as pd
    >>> infer_id_type(pd.Series([3, 4])).value, infer_id_type(pd.Series(["a3", "a4"])).value
    ('integer', 'text')
    """
    import pandas as pd

    return IdType.INTEGER if pd.api.types.is_integer_dtype(column.dtype) else IdType.TEXT
