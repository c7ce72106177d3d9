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
leanloop.errors.InputError: row 1, field 'at': '2024-05-01T02:00:00' has no time zone where row 0 has one; ...
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, Any

from leanloop.config import IdType
from leanloop.errors import DataError, InputError

if TYPE_CHECKING:
    import pandas as pd

    from leanloop.config import DataConfig

__all__ = ["RowKeys", "RowId", "event_seconds", "infer_id_type", "iso_time", "file_key", "MAX_ID"]

#: The longest id, in characters (the log's ``row_id`` column).
MAX_ID = 255
_WHOLE = re.compile(r"[+-]?\d{1,40}")
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
        field = self.id_column or "id"
        integer = isinstance(value, int) and not isinstance(value, bool)
        if integer and self.id_type is not IdType.TEXT:
            return str(value)
        if isinstance(value, str) and self.id_type is not IdType.INTEGER:
            if not 0 < len(value) <= MAX_ID:
                raise InputError(f"row {row}, field {field!r}: an id must have 1 to {MAX_ID} characters, "
                                 f"got {len(value)}")
            return value
        wanted = {IdType.INTEGER: "a whole number", IdType.TEXT: "text"}.get(self.id_type,  # type: ignore[arg-type]
                                                                            "a whole number or text")
        raise InputError(f"row {row}, field {field!r}: the id must be {wanted} ([data] id_type), "
                         f"got {type(value).__name__} {str(value)[:40]!r}")


def event_seconds(values: list[Any], *, field: str, first_row: int = 0) -> list[float | None]:
    """Event times as epoch seconds (None stays None); see the module for what is
    accepted. ``first_row``: the number of the first value's row, for messages."""
    seconds: list[float | None] = []
    zoned: int | None = None  # the first row with a zone
    naive: list[tuple[int, Any]] = []
    for k, value in enumerate(values):
        row = first_row + k
        if value is None or value != value:  # NaN and NaT: a file's empty cell
            seconds.append(None)
            continue
        stamp = _moment(value, row, field)
        if isinstance(stamp, float):
            zoned = row if zoned is None else zoned
            seconds.append(stamp)
            continue
        if stamp.tzinfo is None:
            naive.append((row, value))
            stamp = stamp.replace(tzinfo=UTC)
        elif zoned is None:
            zoned = row
        seconds.append(stamp.timestamp())
    if naive and zoned is not None:
        row, value = naive[0]
        raise InputError(f"row {row}, field {field!r}: {str(value)[:60]!r} has no time zone where row {zoned} has "
                         "one; give every time a zone (or none)")
    return seconds


def _moment(value: Any, row: int, field: str) -> datetime | float:
    """A time value as a datetime (zone or none) or epoch seconds (a float)."""
    if isinstance(value, bool):
        raise InputError(f"row {row}, field {field!r}: a time must be ISO 8601 text or epoch seconds, got a boolean")
    if isinstance(value, int | float):
        number = float(value)
        if not (math.isfinite(number) and _EARLIEST <= number <= _LATEST):
            raise InputError(f"row {row}, field {field!r}: {value!r} epoch seconds is not a time between the "
                             "years 1 and 9999")
        return number
    if isinstance(value, datetime):  # a parsed file column (pandas' Timestamp is one)
        return value
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day)
    if isinstance(value, str):
        try:
            return datetime.fromisoformat(value.strip())
        except ValueError:
            pass
    raise InputError(f"row {row}, field {field!r}: {str(value)[:60]!r} is not a time; give ISO 8601 "
                     "(2024-05-01T12:00:00+00:00) or epoch seconds")


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
