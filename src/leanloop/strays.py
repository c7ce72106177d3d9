"""Stray values: the few values that keep a column of numbers or dates from reading as one.

One ``"4O"`` among numbers makes a CSV column text; inferred as it is, it would become
a categorical feature with a category per number, and the API would then refuse the
numbers. :func:`find_strays` finds such columns before the schema is inferred: a text
column whose values are numbers (or date-times) but for at most 5 % of them (at least
one) is named with its stray rows and values. ``leanloop init`` stops on them; with
``--coerce`` it reads them as missing values instead (:func:`coerce_strays`) and
records the columns in ``[data] coerce``, so ``build`` reads the table the same way.
The project's time column is held to the rule of every door (:mod:`leanloop.row_keys`):
each value that is not a time stops ``init`` (named with its row, as many as there are),
or with ``--coerce`` becomes a missing time.

Rows count from 0 after the header, as every other row number leanloop prints.

Examples
--------
>>> import pandas as pd
>>> frame = pd.DataFrame({"income": [str(v) for v in range(30)] + ["4O"], "city": ["a", "b"] * 15 + ["c"]})
>>> [s.describe() for s in find_strays(frame)]
["column 'income' holds numbers but for 1 value: '4O' (row 30)"]
>>> fixed = coerce_strays(frame, ["income"])
>>> fixed["income"].dtype.kind, int(fixed["income"].isna().sum())
('f', 1)
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict

from leanloop.schema import FeatureKind

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["StrayColumn", "find_strays", "coerce_strays", "strays_error", "examples", "time_strays", "STRAY_SHARE"]

#: At most this share of a column's present values may be stray (and at least one may).
STRAY_SHARE = 0.05
#: Stray values a message shows (the count says how many more there are).
_SHOWN = 5
#: What pandas infers for a column of text, or of text and numbers ("mixed" may hold other things too).
_TEXT_AND_NUMBERS = {"string", "mixed-integer", "mixed-integer-float", "mixed"}
#: What a date-time written as text looks like (the schema's own test, see :mod:`leanloop.schema`).
_DATE_TEXT = r"[\d\-/:. T+Z]{8,}"


class StrayColumn(BaseModel):
    """A column of numbers or date-times but for ``count`` stray values."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    column: str
    kind: FeatureKind
    count: int
    #: the first stray values and their rows
    rows: list[int]
    values: list[str]

    def describe(self) -> str:
        """One line naming the column, how many values are stray, and the first few."""
        noun = "numbers" if self.kind is FeatureKind.NUMERIC else "date-times"
        plural = "value" if self.count == 1 else "values"
        shown = ", ".join(f"{v!r} (row {r})" for v, r in zip(self.values, self.rows, strict=True))
        more = f" and {self.count - len(self.rows)} more" if self.count > len(self.rows) else ""
        return f"column {self.column!r} holds {noun} but for {self.count} {plural}: {shown}{more}"


def examples(column: pd.Series, bad: pd.Series, limit: int = _SHOWN) -> tuple[list[int], list[str]]:
    """The positions and text of the first ``limit`` values of ``column`` where ``bad``."""
    positions = bad.to_numpy().nonzero()[0][:limit]
    return [int(p) for p in positions], [str(column.iloc[p]) for p in positions]


def _holds_text(column: pd.Series) -> bool:
    """Whether ``column`` is text or mixed (where a stray value can hide), not numbers or dates."""
    import pandas as pd

    return column.dtype == object or pd.api.types.is_string_dtype(column)


def _is_text_or_number(value: Any) -> bool:
    return isinstance(value, (str, int, float)) and not isinstance(value, bool)


def _not_dates(values: pd.Series) -> pd.Series:
    """Where text ``values`` are not date-times. Each distinct value is parsed once: by the
    format of the first (vectorised), and only what that leaves by dateutil's guessing."""
    import warnings

    import pandas as pd

    distinct = pd.Series(values.unique())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "could not infer format": the mixed pass below decides
        left = distinct[pd.to_datetime(distinct, errors="coerce", utc=True).isna()]
        if not left.empty:
            left = left[pd.to_datetime(left, errors="coerce", utc=True, format="mixed").isna()]
    return values.isin(set(left))


def _stray_mask(column: pd.Series) -> tuple[FeatureKind, pd.Series] | None:
    """The kind a column would have without its stray values, and where they are."""
    import pandas as pd

    present = column.notna()
    values = column[present]
    inferred = pd.api.types.infer_dtype(values, skipna=True)  # in C: a text column is not mapped value by value
    if values.empty or inferred not in _TEXT_AND_NUMBERS or (
            inferred == "mixed" and not values.map(_is_text_or_number).all()):
        return None
    allowed = max(1, int(STRAY_SHARE * len(values)))

    def few(bad: pd.Series) -> bool:
        return 0 < int(bad.sum()) <= allowed and 2 * int(bad.sum()) < len(values)

    bad = pd.to_numeric(values, errors="coerce").isna()
    kind = FeatureKind.NUMERIC
    if not few(bad) and inferred == "string":
        bad = ~values.str.fullmatch(_DATE_TEXT).astype(bool)
        # the cheap test first: parsing is worth it only where nearly every value looks like a date
        bad = bad | _not_dates(values) if int(bad.sum()) <= allowed else bad
        kind = FeatureKind.DATETIME
    if not few(bad):
        return None
    return kind, (present & bad.reindex(column.index, fill_value=False)).astype(bool)


def find_strays(frame: pd.DataFrame, exclude: list[str] | None = None,
                time_column: str | None = None) -> list[StrayColumn]:
    """Every text column of ``frame`` (but ``exclude``) that holds numbers or date-times
    but for a few stray values, in column order; and the ``time_column`` (even when
    excluded) when any of its values is not a time the doors accept
    (:func:`time_strays`)."""
    found = []
    for name in frame.columns:
        column = frame[name]
        if name == time_column:
            stray_time = time_strays(column, str(name))
            found += [stray_time] if stray_time is not None else []
            continue
        if name in (exclude or []) or not _holds_text(column):
            continue
        stray = _stray_mask(column)
        if stray is None:
            continue
        kind, bad = stray
        rows, values = examples(column, bad)
        found.append(StrayColumn(column=str(name), kind=kind, count=int(bad.sum()), rows=rows, values=values))
    return found


def _time_mask(column: pd.Series) -> pd.Series:
    """Where the values of a time column are not times as ``/predict`` and batch files
    read them (:func:`leanloop.row_keys.time_seconds`: ISO 8601 or epoch seconds, one zone habit)."""
    import pandas as pd

    from leanloop.row_keys import Zones, time_seconds

    _, bad = time_seconds(column.reset_index(drop=True), Zones())
    mask = pd.Series(False, index=column.index)
    mask.iloc[sorted(bad)] = True
    return mask


def time_strays(column: pd.Series, name: str) -> StrayColumn | None:
    """The project's time column's values that are not times, however many (every one
    is a typo: the column was named as the time); None when every value is one.

    >>> import pandas as pd
    >>> time_strays(pd.Series(["2024-05-01T10:00:00", "soon", None, "1714557600x"]), "at").describe()
    "column 'at' holds date-times but for 2 values: 'soon' (row 1), '1714557600x' (row 3)"
    """
    bad = _time_mask(column)
    if not bad.any():
        return None
    rows, values = examples(column, bad)
    return StrayColumn(column=name, kind=FeatureKind.DATETIME, count=int(bad.sum()), rows=rows, values=values)


def strays_error(strays: list[StrayColumn], source: str) -> str:
    """The message that stops ``init``: each column, its stray rows and values, the fix.

    >>> stray = StrayColumn(column="x", kind="numeric", count=1, rows=[3], values=["4O"])
    >>> print(strays_error([stray], "loans.csv"))  # doctest: +NORMALIZE_WHITESPACE
    loans.csv: column 'x' holds numbers but for 1 value: '4O' (row 3). Correct these values in loans.csv,
    or pass --coerce to read them as missing values (rows count from 0 after the header)
    """
    lines = "; ".join(s.describe() for s in strays)
    return (f"{source}: {lines}. Correct these values in {source}, or pass --coerce to read them as missing "
            "values (rows count from 0 after the header)")


def coerce_strays(frame: pd.DataFrame, columns: list[str], time_column: str | None = None) -> pd.DataFrame:
    """``frame`` with the stray values of ``columns`` read as missing: a column of numbers
    becomes float, one of date-times keeps its text (the schema reads it), the
    ``time_column`` loses the values that are not times. Columns without strays are
    returned as they are; so is a column no longer mostly numbers or dates."""
    import pandas as pd

    if not columns:
        return frame
    out = frame.copy()
    for name in columns:
        if name not in out.columns:
            continue
        if name == time_column:
            bad = _time_mask(out[name])
            if bad.any():
                out[name] = out[name].astype(object).where(~bad, None)
            continue
        if not _holds_text(out[name]):
            continue
        stray = _stray_mask(out[name])
        if stray is None:
            continue
        kind, mask = stray
        column = out[name].astype(object).where(~mask, None)
        out[name] = pd.to_numeric(column, errors="coerce") if kind is FeatureKind.NUMERIC else column
    return out
