"""The target: inferring the task, normalising labels, validating feedback labels.

Examples
--------
>>> import pandas as pd
>>> infer_task(pd.Series([0.0, 1.0, 1.0])).value, infer_task(pd.Series([0.5, 1.7, 2.2])).value
('classification', 'regression')
>>> normalize_target(pd.Series([1.0, 0.0]), Task.CLASSIFICATION).tolist()
[1, 0]
>>> check_label("yes", Task.CLASSIFICATION, [0, 1], row=4)
Traceback (most recent call last):
...
leanloop.errors.InputError: row 4: label 'yes' is not one of the classes [0, 1]
>>> check_label("1", Task.CLASSIFICATION, [0, 1], row=5)  # doctest: +ELLIPSIS
Traceback (most recent call last):
...
leanloop.errors.InputError: row 5: label '1' is text, but the classes are numbers [0, 1]: send it as a number ...
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from leanloop.config import Task
from leanloop.errors import DataError, InputError

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["infer_task", "normalize_target", "check_label", "csv_labels", "MAX_CLASSES"]

#: A numeric target with more distinct values than this is taken as regression.
MAX_CLASSES = 20


def infer_task(target: pd.Series) -> Task:
    """Classification for text, booleans and few integer values; regression otherwise."""
    import pandas as pd

    present = target.dropna()
    if pd.api.types.is_bool_dtype(present) or not pd.api.types.is_numeric_dtype(present):
        return Task.CLASSIFICATION
    integral = bool((present == present.round()).all())
    if integral and present.nunique() <= MAX_CLASSES:
        return Task.CLASSIFICATION
    return Task.REGRESSION


def normalize_target(target: pd.Series, task: Task) -> pd.Series:
    """Labels as the model and the API see them: integral floats become ints."""
    import pandas as pd

    target = target.infer_objects()  # labels read back from JSON arrive as object columns
    if target.isna().any():
        rows = target[target.isna()].index[:5].tolist()
        raise DataError(f"the target is missing in {int(target.isna().sum())} rows (e.g. rows {rows}); "
                        "drop or fill them")
    if task is Task.REGRESSION:
        if not pd.api.types.is_numeric_dtype(target) or pd.api.types.is_bool_dtype(target):
            raise DataError("a regression target must be numeric; use --task classification for labels")
        return target.astype("float64")
    if pd.api.types.is_bool_dtype(target):
        return target.astype(bool)
    if pd.api.types.is_numeric_dtype(target):
        if bool((target == target.round()).all()):
            return target.astype("int64")
        raise DataError("a classification target must hold labels, not fractional numbers; use --task regression")
    return target.astype(str).astype(object)


def check_label(value: Any, task: Task, classes: list[Any] | None, row: int) -> Any:
    """Validate one feedback label and return it in the target's type."""
    if task is Task.REGRESSION:
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise InputError(f"row {row}: label {value!r} must be a finite number for this regression model")
        return float(value)
    classes = classes or []
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    for known in classes:
        if value == known and type(value) is type(known):
            return known
    # Typed like /predict's features: the text "1" is not the class 1, on every door.
    numeric = [k for k in classes if isinstance(k, (int, bool))]
    if isinstance(value, str) and numeric and value.strip() in {str(k) for k in numeric}:
        raise InputError(f"row {row}: label {value!r} is text, but the classes are numbers {classes}: "
                         f"send it as a number ({value.strip()}, not {value!r})")
    raise InputError(f"row {row}: label {value!r} is not one of the classes {classes}")


def csv_labels(values: list[Any]) -> list[Any]:
    """Labels read from a CSV file with their numbers as numbers.

    A CSV file has no types: a label column holding ``1`` and ``maybe`` is read as text,
    so ``1`` would be refused as text. Here every value that reads as a number becomes
    one, and the refusal names the row that is really wrong. (Parquet and JSON carry
    their types and are checked as sent.)

    Examples
    --------
    >>> csv_labels(["1", "maybe", "2.5", 3, " 4 "])
    [1, 'maybe', 2.5, 3, 4]
    """
    out: list[Any] = []
    for value in values:
        if isinstance(value, str):
            text = value.strip()
            try:
                number = float(text)
                value = int(number) if number.is_integer() and "." not in text else number
            except ValueError:
                pass
        out.append(value)
    return out

