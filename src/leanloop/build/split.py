"""Train/test split: by time when the data has a time column (the test set is the
latest rows, as production will be), else stratified by class, else random.

Examples
--------
>>> import pandas as pd
>>> frame = pd.DataFrame({"t": pd.date_range("2024-01-01", periods=20, freq="D"), "y": [0, 1] * 10})
>>> train, test = split(frame, target="y", task="classification", test_size=0.3, time_column="t", seed=0)
>>> len(train), len(test), test["t"].min() > train["t"].max()
(14, 6, True)
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from leanloop.errors import DataError

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["split", "check_splittable", "MIN_ROWS", "MIN_PER_CLASS"]

#: Fewest rows a build accepts: below this a test set says nothing.
MIN_ROWS = 20
#: Fewest rows of each class, so that both splits can hold it.
MIN_PER_CLASS = 2


def check_splittable(frame: pd.DataFrame, target: str, task: str) -> None:
    """Refuse data too small or too uniform to train and test on."""
    if len(frame) < MIN_ROWS:
        raise DataError(f"the data has {len(frame)} rows; a train/test split needs at least {MIN_ROWS}")
    counts = frame[target].value_counts()
    if len(counts) < 2:
        raise DataError(f"target {target!r} has the single value {counts.index[0]!r} in every row; "
                        "a model needs variation to learn")
    if task == "classification":
        rare = counts[counts < MIN_PER_CLASS]
        if len(rare):
            raise DataError(
                f"target classes {rare.index.tolist()} have fewer than {MIN_PER_CLASS} rows; "
                "add rows or merge those classes"
            )


def split(frame: pd.DataFrame, *, target: str, task: str, test_size: float, time_column: str | None,
          seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Split ``frame`` into train and test frames."""
    from sklearn.model_selection import train_test_split

    check_splittable(frame, target, task)
    if time_column:
        ordered = frame.sort_values(time_column, kind="stable")
        cut = round(len(ordered) * (1 - test_size))
        return ordered.iloc[:cut], ordered.iloc[cut:]
    stratify = frame[target] if task == "classification" else None
    try:
        train, test = train_test_split(frame, test_size=test_size, random_state=seed, stratify=stratify)
    except ValueError:
        train, test = train_test_split(frame, test_size=test_size, random_state=seed)
    return train, test
