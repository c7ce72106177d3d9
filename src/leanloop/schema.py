"""Schema: the features a model expects, inferred from data and enforced at every door.

A :class:`Schema` lists each feature's name, kind (numeric, categorical, boolean,
datetime), allowed range or categories and whether it may be missing. It is inferred
from training data by :func:`infer_schema`, stored in ``leanloop.toml`` where the user
may edit it, and used by the API, feedback files, batch scoring and ``adopt`` alike.

Examples
--------
>>> import pandas as pd
>>> df = pd.DataFrame({"age": [30, 41, 25], "city": ["a", "b", "a"], "y": [0, 1, 0]})
>>> schema = infer_schema(df, exclude=["y"])
>>> [(f.name, f.kind.value) for f in schema.features]
[('age', 'numeric'), ('city', 'categorical')]
>>> schema.feature("age").minimum, schema.feature("age").maximum
(25.0, 41.0)
"""

from __future__ import annotations

from enum import Enum
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field

from leanloop.errors import DataError, InputError

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

__all__ = ["FeatureKind", "Feature", "Schema", "infer_schema", "MAX_CATEGORIES"]

#: A text column with more distinct values than this is not a usable category.
MAX_CATEGORIES = 200


class FeatureKind(str, Enum):
    """What a feature holds; decides preprocessing, validation and drift tests."""

    NUMERIC = "numeric"
    CATEGORICAL = "categorical"
    BOOLEAN = "boolean"
    DATETIME = "datetime"


class Feature(BaseModel):
    """One feature: its kind, allowed range or categories, and whether it may be null."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(description="Column name.")
    kind: FeatureKind = Field(description="numeric, categorical, boolean or datetime.")
    nullable: bool = Field(False, description="Whether the value may be missing.")
    minimum: float | None = Field(None, description="Numeric: smallest value seen in training.")
    maximum: float | None = Field(None, description="Numeric: largest value seen in training.")
    categories: list[str] | None = Field(None, description="Categorical: the categories seen in training.")


class Schema(BaseModel):
    """The ordered list of features a model version expects, inferred by 'leanloop init'.
    Edit ranges, categories and nullable as you know them; every door (API, files)
    enforces this."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    features: list[Feature] = Field(default_factory=list, description="The features, in the model's order.")

    @property
    def names(self) -> list[str]:
        """Feature names in order."""
        return [f.name for f in self.features]

    def feature(self, name: str) -> Feature:
        """The feature called ``name``; raises :class:`InputError` naming the known ones."""
        for feature in self.features:
            if feature.name == name:
                return feature
        raise InputError(f"unknown feature {name!r}; the schema has: {self.names}")

    def of_kind(self, *kinds: FeatureKind) -> list[str]:
        """Names of the features of the given kinds, in order."""
        return [f.name for f in self.features if f.kind in kinds]

    def check_columns(self, columns: list[str], source: str) -> None:
        """Raise a clear error when ``columns`` lacks any feature of the schema."""
        missing = [n for n in self.names if n not in columns]
        if missing:
            raise DataError(
                f"{source} lacks the model's features {missing}; it has columns "
                f"{list(columns)}. Add the columns or edit [schema] in leanloop.toml."
            )

    def coerce(self, frame: pd.DataFrame, source: str) -> pd.DataFrame:
        """Return the feature columns of ``frame`` in schema order with schema types.

        Raises :class:`DataError` naming the first row and column whose value cannot
        be read as its kind (e.g. text in a numeric feature).

        Examples
        --------
        >>> import pandas as pd
        >>> s = Schema(features=[Feature(name="x", kind="numeric")])
        >>> s.coerce(pd.DataFrame({"x": ["1.5", "2"]}), "t.csv")["x"].tolist()
        [1.5, 2.0]
        >>> s.coerce(pd.DataFrame({"x": ["1", "forty"]}), "t.csv")
        Traceback (most recent call last):
        ...
        leanloop.errors.DataError: t.csv: feature 'x' must be a number, got 'forty' (row 1)
        """
        import pandas as pd

        self.check_columns(list(frame.columns), source)
        out: dict[str, Any] = {}
        for feature in self.features:
            column = frame[feature.name]
            out[feature.name] = _coerce_column(column, feature, source)
        return pd.DataFrame(out, index=frame.index)

    def model_frame(self, frame: pd.DataFrame, source: str) -> pd.DataFrame:
        """The frame a model receives: numbers as float, categories and booleans as
        text, date-times as seconds since the epoch, missing values as NaN.

        Examples
        --------
        >>> import pandas as pd
        >>> s = Schema(features=[Feature(name="ok", kind="boolean"), Feature(name="c", kind="categorical")])
        >>> s.model_frame(pd.DataFrame({"ok": [True, None], "c": ["a", None]}), "t").values.tolist()
        [['True', 'a'], [nan, nan]]
        """
        return self.model_columns(self.coerce(frame, source))

    def model_columns(self, coerced: pd.DataFrame) -> pd.DataFrame:
        """:meth:`model_frame` of a frame already made by :meth:`coerce` (not coerced a
        second time: 0.15 s of a 1M-row window).

        Examples
        --------
        >>> import pandas as pd
        >>> s = Schema(features=[Feature(name="x", kind="numeric"), Feature(name="c", kind="categorical")])
        >>> s.model_columns(s.coerce(pd.DataFrame({"x": ["1"], "c": [2]}), "t")).values.tolist()
        [[1.0, '2']]
        """
        import numpy as np
        import pandas as pd

        out: dict[str, Any] = {}
        for feature in self.features:
            column = coerced[feature.name]
            if feature.kind is FeatureKind.NUMERIC:
                out[feature.name] = column.astype("float64")
            elif feature.kind is FeatureKind.DATETIME:
                seconds = (column - pd.Timestamp(0, tz="UTC")).dt.total_seconds()
                out[feature.name] = seconds.astype("float64")
            else:
                out[feature.name] = _distinct_map(column, str, np.nan)
        return pd.DataFrame(out, index=coerced.index)


def _coerce_column(column: pd.Series, feature: Feature, source: str) -> pd.Series:
    import pandas as pd

    if feature.kind is FeatureKind.NUMERIC:
        if column.dtype == bool:
            return column.astype("float64")
        values = pd.to_numeric(column, errors="coerce")
        bad = values.isna() & column.notna()
        _raise_first_bad(column, bad, feature, "a number", source)
        return values.astype("float64")
    if feature.kind is FeatureKind.BOOLEAN:
        # 1 and 0 (and 1.0, 0.0) find True and False: equal numbers hash alike.
        mapping = {True: True, False: False, "true": True, "false": False, "True": True,
                   "False": False, "1": True, "0": False}
        values = pd.Series(_distinct_map(column, lambda v: mapping.get(v), None), index=column.index)
        bad = values.isna() & column.notna()
        _raise_first_bad(column, bad, feature, "true or false", source)
        return values.astype("object")
    if feature.kind is FeatureKind.DATETIME:
        values = pd.to_datetime(column, errors="coerce", utc=True, format="mixed")
        bad = values.isna() & column.notna()
        _raise_first_bad(column, bad, feature, "a date-time", source)
        return values
    return pd.Series(_distinct_map(column, str, None), index=column.index, dtype="object")


def _distinct_map(column: pd.Series, convert: Any, missing: Any) -> np.ndarray:
    """``convert`` of each present value, ``missing`` for None/NaN, as an object array;
    ``convert`` runs once per distinct value (a 100k-row log has a handful per feature)."""
    import numpy as np
    import pandas as pd

    # Values of one type only: equal values then have equal text (a column mixing 1 and
    # 1.0, or 1 and True, or holding unhashable lists goes one call per row instead).
    if pd.api.types.infer_dtype(column, skipna=True) not in ("string", "boolean", "integer", "floating", "empty"):
        return np.array([convert(v) if _is_present(v) else missing for v in column], dtype=object)
    codes, uniques = pd.factorize(column, use_na_sentinel=True)
    table = np.empty(len(uniques) + 1, dtype=object)
    table[:-1] = [convert(v) for v in uniques]
    table[-1] = missing  # code -1 (a missing value) reads the last entry
    return table[codes]


def _is_present(value: Any) -> bool:
    import pandas as pd

    return not (value is None or (isinstance(value, float) and pd.isna(value)))


def _raise_first_bad(column: pd.Series, bad: pd.Series, feature: Feature, expected: str,
                     source: str) -> None:
    if bool(bad.any()):
        position = int(bad.to_numpy().nonzero()[0][0])
        raise DataError(
            f"{source}: feature {feature.name!r} must be {expected}, "
            f"got {column.iloc[position]!r} (row {position})"
        )


def infer_schema(frame: pd.DataFrame, exclude: list[str] | None = None) -> Schema:
    """Infer a :class:`Schema` from a training frame.

    Booleans (including text 'true'/'false' and 0/1 columns typed as bool) become
    boolean, numbers numeric, date-times datetime, text with at most
    :data:`MAX_CATEGORIES` distinct values categorical. A column it cannot use (free
    text, an all-empty column, nested objects) raises :class:`DataError` naming it.

    Examples
    --------
    >>> import pandas as pd
    >>> df = pd.DataFrame({"ok": [True, False], "t": ["2024-01-01", "2024-02-01"]})
    >>> [(f.name, f.kind.value) for f in infer_schema(df).features]
    [('ok', 'boolean'), ('t', 'datetime')]
    """
    import pandas as pd

    exclude = exclude or []
    features: list[Feature] = []
    for name in frame.columns:
        if name in exclude:
            continue
        column = frame[name]
        nullable = bool(column.isna().any())
        present = column.dropna()
        if present.empty:
            raise DataError(
                f"column {name!r} is empty in every row; drop it from the data or "
                "fill it, since a model cannot learn from it"
            )
        if pd.api.types.is_bool_dtype(column) or _looks_boolean(present):
            features.append(Feature(name=name, kind=FeatureKind.BOOLEAN, nullable=nullable))
        elif pd.api.types.is_numeric_dtype(column):
            features.append(Feature(
                name=name, kind=FeatureKind.NUMERIC, nullable=nullable,
                minimum=float(present.min()), maximum=float(present.max()),
            ))
        elif pd.api.types.is_datetime64_any_dtype(column) or _looks_datetime(present):
            features.append(Feature(name=name, kind=FeatureKind.DATETIME, nullable=nullable))
        elif present.map(lambda v: isinstance(v, str)).all():
            categories = sorted(present.unique().tolist())
            if len(categories) > MAX_CATEGORIES:
                raise DataError(
                    f"column {name!r} holds text with {len(categories)} distinct values "
                    f"(at most {MAX_CATEGORIES} make a category); exclude it with "
                    "--exclude or turn it into a usable feature"
                )
            features.append(Feature(
                name=name, kind=FeatureKind.CATEGORICAL, nullable=nullable,
                categories=categories,
            ))
        else:
            example = present.iloc[0]
            raise DataError(
                f"column {name!r} holds values of type {type(example).__name__} "
                f"(e.g. {example!r}) that leanloop cannot use as a feature; "
                "exclude it or convert it to numbers, text or dates"
            )
    if not features:
        raise DataError("the data has no feature columns besides the target and ids")
    return Schema(features=features)


def _looks_boolean(present: pd.Series) -> bool:
    if present.map(lambda v: isinstance(v, bool)).all():
        return True
    values = set(present.map(lambda v: str(v).lower()).unique().tolist())
    numbers = present.map(lambda v: isinstance(v, (int, float)) and not isinstance(v, bool))
    return values <= {"true", "false"} and not numbers.any()


def _looks_datetime(present: pd.Series) -> bool:
    import warnings

    import pandas as pd

    if not present.map(lambda v: isinstance(v, str)).all():
        return False
    sample = present.head(50)
    if not sample.str.fullmatch(r"[\d\-/:. T+Z]+").all():
        return False
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        parsed = pd.to_datetime(sample, errors="coerce", format="mixed")
    return bool(parsed.notna().all()) and bool(sample.str.len().min() >= 8)
