"""Tests for leanloop.schema: inference of kinds and ranges, errors, coercion, model frames."""

from __future__ import annotations

import io

import numpy as np
import pandas as pd
import pytest

from leanloop.errors import DataError, InputError
from leanloop.schema import MAX_CATEGORIES, Feature, FeatureKind, Schema, infer_schema


def kinds(schema: Schema) -> dict[str, FeatureKind]:
    return {f.name: f.kind for f in schema.features}


# --- infer_schema: kinds ------------------------------------------------------------


def test_numeric_with_range_and_no_nulls() -> None:
    rng = np.random.default_rng(0)
    values = rng.normal(50, 10, 40)
    schema = infer_schema(pd.DataFrame({"x": values}))
    feature = schema.feature("x")
    assert feature.kind is FeatureKind.NUMERIC
    assert feature.minimum == pytest.approx(values.min())
    assert feature.maximum == pytest.approx(values.max())
    assert feature.nullable is False
    assert feature.categories is None


def test_numeric_nullable_range_ignores_missing() -> None:
    feature = infer_schema(pd.DataFrame({"x": [3.0, None, -1.5, 7.0]})).feature("x")
    assert feature.kind is FeatureKind.NUMERIC
    assert (feature.minimum, feature.maximum, feature.nullable) == (-1.5, 7.0, True)


def test_zero_one_integers_stay_numeric() -> None:
    assert kinds(infer_schema(pd.DataFrame({"x": [0, 1, 1, 0]}))) == {"x": FeatureKind.NUMERIC}


def test_categorical_categories_are_sorted_and_distinct() -> None:
    feature = infer_schema(pd.DataFrame({"city": ["paris", "berlin", None, "paris", "athens"]})).feature("city")
    assert feature.kind is FeatureKind.CATEGORICAL
    assert feature.categories == ["athens", "berlin", "paris"]
    assert feature.nullable is True
    assert (feature.minimum, feature.maximum) == (None, None)


def test_categorical_at_exactly_max_categories() -> None:
    frame = pd.DataFrame({"c": [f"t{i:03d}" for i in range(MAX_CATEGORIES)]})
    feature = infer_schema(frame).feature("c")
    assert feature.kind is FeatureKind.CATEGORICAL
    assert len(feature.categories or []) == MAX_CATEGORIES


def test_boolean_dtype() -> None:
    feature = infer_schema(pd.DataFrame({"ok": [True, False, True]})).feature("ok")
    assert (feature.kind, feature.nullable) == (FeatureKind.BOOLEAN, False)


@pytest.mark.parametrize("values", [["true", "false", "true"], ["True", "FALSE", None]])
def test_boolean_text(values: list[str | None]) -> None:
    feature = infer_schema(pd.DataFrame({"ok": values})).feature("ok")
    assert feature.kind is FeatureKind.BOOLEAN
    assert feature.nullable is (None in values)


def test_boolean_with_missing_values_from_csv() -> None:
    frame = pd.read_csv(io.StringIO("a,ok\n1,True\n2,\n3,False\n"))
    assert kinds(infer_schema(frame))["ok"] is FeatureKind.BOOLEAN


def test_datetime_strings_and_dtype() -> None:
    frame = pd.DataFrame({
        "day": ["2024-01-01", "2024-02-15", None],
        "stamp": pd.to_datetime(["2024-01-01 10:00", "2024-01-02 11:00", "2024-01-03 12:00"]),
    })
    schema = infer_schema(frame)
    assert kinds(schema) == {"day": FeatureKind.DATETIME, "stamp": FeatureKind.DATETIME}
    assert schema.feature("day").nullable is True


def test_short_digit_strings_are_not_datetimes() -> None:
    assert kinds(infer_schema(pd.DataFrame({"code": ["12", "34", "12"]}))) == {"code": FeatureKind.CATEGORICAL}


def test_exclude_and_order() -> None:
    frame = pd.DataFrame({"b": [1.0, 2.0], "y": [0, 1], "a": ["u", "v"]})
    schema = infer_schema(frame, exclude=["y"])
    assert schema.names == ["b", "a"]


# --- infer_schema: errors -----------------------------------------------------------


def test_all_empty_column_is_named() -> None:
    frame = pd.DataFrame({"x": [1.0, 2.0], "blank": [None, None]})
    with pytest.raises(DataError, match=r"column 'blank' is empty in every row"):
        infer_schema(frame)


def test_free_text_over_max_categories() -> None:
    frame = pd.DataFrame({"note": [f"note {i}" for i in range(MAX_CATEGORIES + 1)]})
    with pytest.raises(DataError, match=rf"column 'note' holds text with {MAX_CATEGORIES + 1} distinct values "
                                        rf"\(at most {MAX_CATEGORIES}"):
        infer_schema(frame)


@pytest.mark.parametrize(("values", "type_name"), [
    ([{"a": 1}, {"b": 2}], "dict"),
    ([[1, 2], [3]], "list"),
    ([b"x", b"y"], "bytes"),
])
def test_unusable_object_types(values: list[object], type_name: str) -> None:
    with pytest.raises(DataError, match=rf"column 'obj' holds values of type {type_name} .*cannot use as a feature"):
        infer_schema(pd.DataFrame({"obj": values}))


def test_no_features_left() -> None:
    with pytest.raises(DataError, match="no feature columns besides the target"):
        infer_schema(pd.DataFrame({"y": [0, 1]}), exclude=["y"])


# --- Schema lookups -----------------------------------------------------------------


def test_unknown_feature_names_the_known_ones() -> None:
    schema = Schema(features=[Feature(name="age", kind="numeric")])
    with pytest.raises(InputError, match=r"unknown feature 'agee'; the schema has: \['age'\]"):
        schema.feature("agee")


def test_of_kind() -> None:
    schema = Schema(features=[Feature(name="a", kind="numeric"), Feature(name="b", kind="boolean"),
                              Feature(name="c", kind="numeric")])
    assert schema.of_kind(FeatureKind.NUMERIC) == ["a", "c"]
    assert schema.of_kind(FeatureKind.BOOLEAN, FeatureKind.NUMERIC) == ["a", "b", "c"]


# --- coerce -------------------------------------------------------------------------

MIXED = Schema(features=[
    Feature(name="x", kind="numeric", nullable=True),
    Feature(name="ok", kind="boolean", nullable=True),
    Feature(name="t", kind="datetime", nullable=True),
    Feature(name="c", kind="categorical", nullable=True),
])


def test_coerce_forty_names_row_and_feature() -> None:
    schema = Schema(features=[Feature(name="age", kind="numeric")])
    frame = pd.DataFrame({"age": ["30", "41", "25", "forty"]})
    with pytest.raises(DataError, match=r"^loans\.csv: feature 'age' must be a number, got 'forty' \(row 3\)$"):
        schema.coerce(frame, "loans.csv")


def test_coerce_bad_boolean_and_datetime() -> None:
    with pytest.raises(DataError, match=r"feature 'ok' must be true or false, got 'yes' \(row 1\)"):
        MIXED.coerce(pd.DataFrame({"x": [1, 2], "ok": ["true", "yes"], "t": [None, None], "c": ["a", "b"]}), "s")
    with pytest.raises(DataError, match=r"feature 't' must be a date-time, got 'soon' \(row 0\)"):
        MIXED.coerce(pd.DataFrame({"x": [1], "ok": [True], "t": ["soon"], "c": ["a"]}), "s")


def test_coerce_missing_column() -> None:
    with pytest.raises(DataError, match=r"api lacks the model's features \['t', 'c'\]"):
        MIXED.coerce(pd.DataFrame({"x": [1], "ok": [True]}), "api")


def test_coerce_types_and_order() -> None:
    frame = pd.DataFrame({
        "c": [1, "a", None], "extra": [9, 9, 9], "t": ["1970-01-02", "1970-01-03", None],
        "ok": ["true", 0, None], "x": ["1", "2.5", None],
    })
    out = MIXED.coerce(frame, "s")
    assert list(out.columns) == ["x", "ok", "t", "c"]
    assert out["x"].dtype == np.float64
    assert out["x"].tolist()[:2] == [1.0, 2.5] and np.isnan(out["x"].iloc[2])
    assert out["ok"].tolist() == [True, False, None]
    assert out["t"].iloc[0] == pd.Timestamp("1970-01-02", tz="UTC")
    assert pd.isna(out["t"].iloc[2])
    assert out["c"].tolist()[:2] == ["1", "a"]


def test_coerce_datetimes_of_mixed_precision() -> None:
    schema = Schema(features=[Feature(name="t", kind="datetime")])
    frame = pd.DataFrame({"t": ["2024-01-01", "2024-01-01T10:00:00", "2024-01-01 10:00:00.5"]})
    out = schema.coerce(frame, "s")
    assert out["t"].tolist() == [pd.Timestamp("2024-01-01", tz="UTC"), pd.Timestamp("2024-01-01 10:00", tz="UTC"),
                                 pd.Timestamp("2024-01-01 10:00:00.5", tz="UTC")]


# --- model_frame --------------------------------------------------------------------


def test_model_frame_output_types() -> None:
    frame = pd.DataFrame({
        "x": [1, 2, None], "ok": [True, "false", None],
        "t": ["1970-01-02 00:00:00", "1970-01-01 00:01:00", None], "c": ["a", 7, None],
    }, index=[5, 6, 7])
    out = MIXED.model_frame(frame, "s")
    assert list(out.index) == [5, 6, 7]
    assert out["x"].dtype == np.float64 and out["t"].dtype == np.float64
    assert out["t"].tolist()[:2] == [86400.0, 60.0] and np.isnan(out["t"].iloc[2])
    assert out["ok"].tolist()[:2] == ["True", "False"]
    assert out["c"].tolist()[:2] == ["a", "7"]
    for column in ("ok", "c"):
        assert all(isinstance(v, str) for v in out[column].iloc[:2])
        assert pd.isna(out[column].iloc[2])
