"""Tests for leanloop.target: task inference, target normalisation, feedback label checks."""

from __future__ import annotations

import math
import re

import numpy as np
import pandas as pd
import pytest

from leanloop.config import Task
from leanloop.errors import DataError, InputError
from leanloop.target import MAX_CLASSES, check_label, infer_task, normalize_target


def re_repr(value: object) -> str:
    return re.escape(repr(value))


# --- infer_task ---------------------------------------------------------------------


@pytest.mark.parametrize(("values", "task"), [
    ([0, 1, 1, 0], Task.CLASSIFICATION),
    ([0.0, 1.0, None, 2.0], Task.CLASSIFICATION),
    ([True, False, True], Task.CLASSIFICATION),
    (["yes", "no", None], Task.CLASSIFICATION),
    ([0.5, 1.7, 2.2], Task.REGRESSION),
    (list(range(MAX_CLASSES)), Task.CLASSIFICATION),
    (list(range(MAX_CLASSES + 1)), Task.REGRESSION),
])
def test_infer_task(values: list[object], task: Task) -> None:
    assert infer_task(pd.Series(values)) is task


def test_infer_task_continuous_random() -> None:
    rng = np.random.default_rng(0)
    assert infer_task(pd.Series(rng.normal(size=50))) is Task.REGRESSION


# --- normalize_target ---------------------------------------------------------------


def test_integral_floats_become_ints() -> None:
    out = normalize_target(pd.Series([1.0, 0.0, 2.0]), Task.CLASSIFICATION)
    assert out.dtype == np.int64 and out.tolist() == [1, 0, 2]


def test_booleans_and_text() -> None:
    assert normalize_target(pd.Series([True, False]), Task.CLASSIFICATION).tolist() == [True, False]
    out = normalize_target(pd.Series(["a", "b"]), Task.CLASSIFICATION)
    assert out.tolist() == ["a", "b"] and all(isinstance(v, str) for v in out)


def test_regression_becomes_float() -> None:
    out = normalize_target(pd.Series([1, 2, 3]), Task.REGRESSION)
    assert out.dtype == np.float64 and out.tolist() == [1.0, 2.0, 3.0]


def test_missing_target_rows_are_counted_and_named() -> None:
    target = pd.Series([1.0, None, 0.0, None], index=[10, 11, 12, 13])
    with pytest.raises(DataError,
                       match=r"the target is missing in 2 rows \(e\.g\. rows \[11, 13\]\); drop or fill them"):
        normalize_target(target, Task.CLASSIFICATION)


def test_fractional_classification_target() -> None:
    with pytest.raises(DataError, match="must hold labels, not fractional numbers; use --task regression"):
        normalize_target(pd.Series([0.0, 0.5, 1.0]), Task.CLASSIFICATION)


@pytest.mark.parametrize("values", [["a", "b"], [True, False]])
def test_non_numeric_regression_target(values: list[object]) -> None:
    with pytest.raises(DataError, match="a regression target must be numeric; use --task classification"):
        normalize_target(pd.Series(values), Task.REGRESSION)


# --- check_label --------------------------------------------------------------------


def test_known_labels_are_returned_in_class_type() -> None:
    assert check_label(1, Task.CLASSIFICATION, [0, 1], row=0) == 1
    assert check_label(1.0, Task.CLASSIFICATION, [0, 1], row=0) == 1
    assert type(check_label(1.0, Task.CLASSIFICATION, [0, 1], row=0)) is int
    assert check_label("b", Task.CLASSIFICATION, ["a", "b"], row=0) == "b"
    assert check_label(True, Task.CLASSIFICATION, [False, True], row=0) is True


@pytest.mark.parametrize("text", ["1", " 1 ", "True"])
def test_text_of_a_number_class_is_refused_like_predict_refuses_it(text: str) -> None:
    classes = [False, True] if text == "True" else [0, 1]
    with pytest.raises(InputError, match=rf"^row 3: label {re_repr(text)} is text, but the classes are numbers "
                                         rf"{re.escape(str(classes))}: send it as a number"):
        check_label(text, Task.CLASSIFICATION, classes, row=3)
    assert check_label("1", Task.CLASSIFICATION, ["0", "1"], row=0) == "1"  # text classes take text


@pytest.mark.parametrize("value", ["yes", 2, 0.5, True, math.nan, math.inf])
def test_wrong_class_names_row_and_classes(value: object) -> None:
    with pytest.raises(InputError, match=rf"^row 4: label {re_repr(value)} is not one of the classes \[0, 1\]$"):
        check_label(value, Task.CLASSIFICATION, [0, 1], row=4)


def test_no_classes_known() -> None:
    with pytest.raises(InputError, match=r"row 0: label 'a' is not one of the classes \[\]"):
        check_label("a", Task.CLASSIFICATION, None, row=0)


@pytest.mark.parametrize(("value", "expected"), [(3, 3.0), (2.5, 2.5), (-1, -1.0)])
def test_regression_label_becomes_float(value: float, expected: float) -> None:
    out = check_label(value, Task.REGRESSION, None, row=0)
    assert out == expected and type(out) is float


@pytest.mark.parametrize("value", ["3.5", None, True, math.nan, math.inf, -math.inf])
def test_regression_label_must_be_finite_number(value: object) -> None:
    with pytest.raises(InputError,
                       match=rf"^row 7: label {re_repr(value)} must be a finite number for this regression"):
        check_label(value, Task.REGRESSION, None, row=7)
