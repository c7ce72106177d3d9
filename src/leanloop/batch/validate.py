"""The API's rules for a row, applied to a chunk of a file column by column.

``POST /predict`` refuses a row whose number is not a finite number, whose text is
too long or holds a NUL character, whose boolean is not a boolean, whose required
feature is missing, or (by ``[serve] unseen_categories`` / ``[serve] out_of_range``)
whose category was never seen or whose number is outside the training range. Batch
files get the same rules, with what a file cannot say otherwise read as the file says
it: numbers and booleans written as CSV text, date-times as ISO 8601 text. Columns the
schema does not name are not read (files carry ids, targets, notes).

Unlike a request, a file is judged in full: :func:`check_chunk` finds every bad row of
a chunk (so ``--skip-invalid`` can set them aside) rather than stopping at the first.
Rows are numbered from 0 after the header, across chunks.

Examples
--------
>>> import pandas as pd
>>> from leanloop.config import ServeConfig
>>> from leanloop.schema import Feature, Schema
>>> schema = Schema(features=[Feature(name="x", kind="numeric", minimum=0, maximum=10),
...                           Feature(name="c", kind="categorical", categories=["a", "b"], nullable=True)])
>>> chunk = pd.DataFrame({"x": ["1.5", "4O", None, "99"], "c": ["a", "b", "a", "z"]})
>>> checked = check_chunk(chunk, schema, ServeConfig(), first_row=100)
>>> checked.rows.tolist(), checked.frame["x"].tolist()
([100, 103], [1.5, 99.0])
>>> [p.text() for p in checked.problems]
["row 101, column 'x': must be a number, got '4O'", "row 102, column 'x': is required (not nullable), got nothing"]
>>> checked.flagged
{'x': {'out_of_range': 1}, 'c': {'unseen_category': 1}}
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict

from leanloop.config import ServeConfig, ValuePolicy
from leanloop.schema import Feature, FeatureKind, Schema

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

__all__ = ["Problem", "Checked", "check_chunk", "MAX_TEXT"]

#: The longest text a feature value may hold (the API's limit).
MAX_TEXT = 1000
#: Text forms of a boolean in a file (CSV has no other); numbers 1 and 0 find True and False.
_BOOLEANS: dict[Any, bool] = {True: True, False: False, "true": True, "false": False, "True": True,
                              "False": False, "TRUE": True, "FALSE": False, "1": True, "0": False}


class Problem(BaseModel):
    """One bad value: its row (from 0 after the header), its column, what is wrong."""

    model_config = ConfigDict(frozen=True)

    row: int
    column: str
    problem: str

    def text(self) -> str:
        """``row N, column 'c': problem``."""
        return f"row {self.row}, column {self.column!r}: {self.problem}"


@dataclass(frozen=True)
class Checked:
    """A chunk judged: the good rows' features in schema types, their row numbers, the
    problems of the bad rows (every one, in row order), the mask of bad rows, and the
    unforeseen values accepted per feature and kind (``[serve]`` policy ``accept``)."""

    frame: pd.DataFrame
    rows: np.ndarray
    problems: list[Problem]
    bad: np.ndarray
    flagged: dict[str, dict[str, int]] = field(default_factory=dict)


@dataclass
class _Column:
    """One feature's column checked: values in schema type, and per bad row its problem."""

    values: Any
    bad: dict[int, str] = field(default_factory=dict)
    flagged: dict[str, int] = field(default_factory=dict)


def check_chunk(chunk: pd.DataFrame, schema: Schema, serve: ServeConfig, *, first_row: int = 0) -> Checked:
    """Judge every row of ``chunk`` (which holds every feature of ``schema``) by the API's rules."""
    import numpy as np
    import pandas as pd

    checked = {f.name: _check(chunk[f.name], f, serve) for f in schema.features}
    bad = np.zeros(len(chunk), dtype=bool)
    problems = []
    for name, column in checked.items():
        for position, problem in column.bad.items():
            bad[position] = True
            problems.append(Problem(row=first_row + position, column=name, problem=problem))
    problems.sort(key=lambda p: p.row)  # stable: a row's problems stay in schema order
    keep = np.flatnonzero(~bad)
    frame = pd.DataFrame({name: _take(c.values, keep, bad) for name, c in checked.items()})
    flagged = {name: c.flagged for name, c in checked.items() if c.flagged}
    return Checked(frame=frame, rows=first_row + keep, problems=problems, bad=bad, flagged=flagged)


def _take(values: Any, keep: np.ndarray, bad: np.ndarray) -> Any:
    """The good rows of a checked column (no copy when every row is good)."""
    import pandas as pd

    if not isinstance(values, pd.Series):
        # Object arrays stay NumPy objects: pandas would make text Arrow-backed, which is
        # slower to read back value by value (the log's features).
        return pd.Series(values if not bad.any() else values[keep], dtype=values.dtype)
    values = values.reset_index(drop=True)
    return values if not bad.any() else values.iloc[keep].reset_index(drop=True)


def _check(column: pd.Series, feature: Feature, serve: ServeConfig) -> _Column:
    checks = {FeatureKind.NUMERIC: _numeric, FeatureKind.CATEGORICAL: _categorical,
              FeatureKind.BOOLEAN: _boolean, FeatureKind.DATETIME: _datetime}
    checked = checks[feature.kind](column, feature, serve)
    if not feature.nullable:
        missing = _missing(checked.values)
        for position in missing.nonzero()[0].tolist():
            checked.bad.setdefault(position, "is required (not nullable), got nothing")
    return checked


def _missing(values: Any) -> np.ndarray:
    import pandas as pd

    return pd.isna(values) if not isinstance(values, pd.Series) else values.isna().to_numpy()


def _bad_values(column: pd.Series, mask: np.ndarray, what: str) -> dict[int, str]:
    """``{position: "must be <what>, got <value>"}`` for each row of ``mask``."""
    positions = mask.nonzero()[0].tolist()
    return {p: f"must be {what}, got {_shown(column.iloc[p])}" for p in positions}


def _shown(value: Any) -> str:
    text = repr(value.item() if hasattr(value, "item") else value)
    return text if len(text) <= 60 else text[:57] + "..."


def _numeric(column: pd.Series, feature: Feature, serve: ServeConfig) -> _Column:
    import numpy as np
    import pandas as pd

    if pd.api.types.is_bool_dtype(column):  # a JSON boolean is not a number either
        return _Column(np.full(len(column), np.nan), _bad_values(column, column.notna().to_numpy(), "a number"))
    if pd.api.types.is_numeric_dtype(column):
        values = column.to_numpy(dtype="float64", na_value=np.nan)
        bad: dict[int, str] = {}
    else:
        values = pd.to_numeric(column, errors="coerce").to_numpy(dtype="float64", na_value=np.nan)
        bad = _bad_values(column, np.isnan(values) & column.notna().to_numpy(), "a number")
    for position in np.isinf(values).nonzero()[0].tolist():
        bad[position] = f"must be a finite number, got {values[position]}"
    low = -np.inf if feature.minimum is None else feature.minimum
    high = np.inf if feature.maximum is None else feature.maximum
    with np.errstate(invalid="ignore"):
        outside = ((values < low) | (values > high)) & np.isfinite(values)
    return _flag(_Column(values, bad), outside, column, "out_of_range", serve.out_of_range,
                 lambda v: f"{v} is outside the training range {low:g} to {high:g} ([serve] out_of_range = \"reject\")")


def _flag(checked: _Column, mask: np.ndarray, column: pd.Series, flag: str, policy: ValuePolicy,
          message: Any) -> _Column:
    """Count the unforeseen values of ``mask``, or refuse them when the policy says so."""
    positions = [p for p in mask.nonzero()[0].tolist() if p not in checked.bad]
    if not positions:
        return checked
    if policy is ValuePolicy.REJECT:
        checked.bad.update({p: message(_shown(column.iloc[p])) for p in positions})
    else:
        checked.flagged[flag] = len(positions)
    return checked


def _codes(column: pd.Series) -> tuple[np.ndarray, list[Any]]:
    """Each row's code into the column's distinct values (-1: missing): a value is judged
    once, not once per row (a file has a handful of categories per feature)."""
    import pandas as pd

    codes, uniques = pd.factorize(column, use_na_sentinel=True)
    return codes, list(uniques)


def _categorical(column: pd.Series, feature: Feature, serve: ServeConfig) -> _Column:
    import numpy as np

    codes, uniques = _codes(column)
    texts = [u if isinstance(u, str) else str(u.item() if hasattr(u, "item") else u) for u in uniques]
    table = np.empty(len(texts) + 1, dtype=object)
    table[:-1] = texts
    table[-1] = None  # code -1, a missing value
    values = table[codes]
    wrong = [i for i, t in enumerate(texts) if len(t) > MAX_TEXT or "\x00" in t]
    bad = {p: (f"text longer than {MAX_TEXT} characters" if len(texts[codes[p]]) > MAX_TEXT
               else "text with a NUL character") for p in np.isin(codes, wrong).nonzero()[0].tolist()}
    known = set(feature.categories or [])
    unseen = [i for i, t in enumerate(texts) if known and t not in known]
    shown = f"{(feature.categories or [])[:20]}"
    return _flag(_Column(values, bad), np.isin(codes, unseen), column, "unseen_category", serve.unseen_categories,
                 lambda v: f"category {v} was never seen in training; known: {shown} "
                           "([serve] unseen_categories = \"reject\")")


def _boolean(column: pd.Series, feature: Feature, serve: ServeConfig) -> _Column:
    import numpy as np

    codes, uniques = _codes(column)
    mapped = [_BOOLEANS.get(u.item() if hasattr(u, "item") else u) for u in uniques]
    table = np.empty(len(mapped) + 1, dtype=object)
    table[:-1] = mapped
    table[-1] = None
    unknown = [i for i, m in enumerate(mapped) if m is None]
    return _Column(table[codes], _bad_values(column, np.isin(codes, unknown), "true or false"))


def _datetime(column: pd.Series, feature: Feature, serve: ServeConfig) -> _Column:
    import pandas as pd

    values = pd.to_datetime(column, errors="coerce", utc=True, format="mixed")
    return _Column(values, _bad_values(column, (values.isna() & column.notna()).to_numpy(), "a date-time"))
