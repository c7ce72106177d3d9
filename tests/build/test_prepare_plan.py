"""The compiled prepare step gives scikit-learn's output bit for bit, or steps aside.

:mod:`leanloop.build.prepare_plan` repeats the arithmetic of the fitted imputers,
scaler and one-hot encoder that :func:`~leanloop.build.pipeline.make_pipeline` builds;
these tests fit that pipeline on generated frames and compare the plan with the
``ColumnTransformer`` itself on generated inputs (missing values, unseen categories,
integers, a single row), and check that every configuration it does not repeat gets
``None`` (scikit-learn then runs).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.pipeline import make_pipeline as chain
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from leanloop.build.pipeline import make_pipeline
from leanloop.build.prepare_plan import compile_prepare
from leanloop.config import ModelConfig, Task
from leanloop.schema import Feature, Schema
from leanloop.scoring import InputFormat, rows_input, score

SCHEMA = Schema(features=[
    Feature(name="amount", kind="numeric", nullable=True),
    Feature(name="age", kind="numeric", nullable=True),
    Feature(name="band", kind="categorical", nullable=True),
    Feature(name="owner", kind="boolean", nullable=True),
    Feature(name="city", kind="categorical", nullable=True),
])
_numbers = st.none() | st.floats(-1e6, 1e6, allow_nan=False) | st.integers(-1000, 1000).map(float)
_bands = st.none() | st.sampled_from(["low", "mid", "high", "unseen", "", "Low"])
_cities = st.none() | st.sampled_from(["Oslo", "Lima", "Pune", "Quito", "(missing)"])
_rows = st.lists(st.fixed_dictionaries({"amount": _numbers, "age": _numbers, "band": _bands,
                                        "owner": st.none() | st.booleans(), "city": _cities}), min_size=1, max_size=40)


def _fitted(seed: int = 0) -> object:
    rng = np.random.default_rng(seed)
    n = 300
    rows = [{"amount": None if rng.random() < 0.1 else float(rng.normal(100, 30)),
             "age": float(rng.integers(18, 80)), "band": rng.choice(["low", "mid", "high", None]),
             "owner": bool(rng.random() < 0.5), "city": rng.choice(["Oslo", "Lima", "Pune"])} for _ in range(n)]
    frame = rows_input(SCHEMA, rows, InputFormat.ENCODED)
    y = (frame["amount"].fillna(100) > 100).to_numpy()
    return make_pipeline(SCHEMA, Task.CLASSIFICATION, ModelConfig(max_iter=20)).fit(frame, y)


MODEL = _fitted()


@settings(max_examples=200, deadline=None)
@given(rows=_rows)
def test_the_plan_equals_the_column_transformer_bit_for_bit(rows: list[dict]) -> None:
    frame = rows_input(SCHEMA, rows, InputFormat.ENCODED)
    plan = compile_prepare(MODEL[0])
    assert plan is not None
    ours, theirs = plan.transform(frame), MODEL[0].transform(frame)
    assert ours.dtype == theirs.dtype and ours.shape == theirs.shape
    assert np.array_equal(ours, theirs, equal_nan=True)


def test_scores_are_the_pipelines_own_on_the_plan() -> None:
    rows = [{"amount": 120.0, "age": 40.0, "band": "mid", "owner": True, "city": "Oslo"},
            {"amount": None, "age": None, "band": None, "owner": None, "city": "Atlantis"}]
    frame = rows_input(SCHEMA, rows, InputFormat.ENCODED)
    scored = score(MODEL, frame, "classification")
    assert np.array_equal(scored.probabilities, MODEL.predict_proba(frame))
    assert scored.labels == MODEL.predict(frame).tolist()


def test_integer_columns_are_converted_as_scikit_learn_converts_them() -> None:
    frame = rows_input(SCHEMA, [{"amount": 1.0, "age": 30.0, "band": "low", "owner": False, "city": "Lima"}] * 3,
                       InputFormat.ENCODED)
    frame["age"] = np.array([30, 31, 32], dtype="int64")
    assert np.array_equal(compile_prepare(MODEL[0]).transform(frame), MODEL[0].transform(frame))


def test_input_only_scikit_learn_can_judge_gets_none() -> None:
    plan = compile_prepare(MODEL[0])
    frame = rows_input(SCHEMA, [{"amount": 1.0, "age": 30.0, "band": "low", "owner": False, "city": "Lima"}],
                       InputFormat.ENCODED)
    assert plan.transform(frame.drop(columns=["city"])) is None  # scikit-learn names the missing column
    assert plan.transform(frame.astype({"band": "string"})) is None  # not the object text the plan repeats
    numbers_as_text = frame.assign(city=pd.Series([7], dtype=object))
    assert plan.transform(numbers_as_text) is None  # the encoder's own type checks decide
    assert plan.transform(frame.assign(amount=["1.0"])) is None


def _text_chain(**options: object) -> object:
    encoder = {"handle_unknown": "ignore", "sparse_output": False} | options
    return chain(SimpleImputer(strategy="constant", fill_value="(missing)"), OneHotEncoder(**encoder))


@pytest.mark.parametrize("transformer", [
    ColumnTransformer([("n", chain(SimpleImputer(strategy="median", add_indicator=True), StandardScaler()), ["x"])]),
    ColumnTransformer([("n", chain(SimpleImputer(strategy="median"), StandardScaler()), ["x"])],
                      remainder="passthrough"),
    ColumnTransformer([("c", _text_chain(drop="first"), ["c"])]),
    ColumnTransformer([("c", _text_chain(handle_unknown="error"), ["c"])]),
    ColumnTransformer([("c", _text_chain(min_frequency=2, handle_unknown="infrequent_if_exist"), ["c"])]),
    ColumnTransformer([("c", chain(SimpleImputer(strategy="constant", fill_value="?"), OneHotEncoder()), ["c"])]),
    ColumnTransformer([("n", chain(SimpleImputer(strategy="median"), StandardScaler()), ["x"])]).set_output(
        transform="pandas"),
    ColumnTransformer([("n", chain(SimpleImputer(strategy="median"), StandardScaler(), "passthrough"), ["x"])]),
], ids=["indicator", "passthrough-remainder", "drop-first", "unknown-error", "infrequent", "sparse",
        "pandas-output", "passthrough-step"])
def test_configurations_the_plan_does_not_repeat_are_left_to_scikit_learn(transformer: ColumnTransformer) -> None:
    frame = pd.DataFrame({"x": [1.0, 2.0, np.nan, 4.0, 5.0], "y": [1.0] * 5,
                          "c": pd.Series(["a", "b", "a", np.nan, "b"], dtype=object)})
    fitted = transformer.fit(frame)
    assert compile_prepare(fitted) is None


def test_an_unfitted_transformer_or_another_step_is_not_compiled() -> None:
    assert compile_prepare(ColumnTransformer([("n", StandardScaler(), ["x"])])) is None
    assert compile_prepare(StandardScaler().fit([[1.0], [2.0]])) is None


def test_a_column_all_missing_at_fit_is_left_to_scikit_learn() -> None:
    frame = pd.DataFrame({"x": [np.nan, np.nan], "z": [1.0, 2.0]})
    fitted = ColumnTransformer([("n", chain(SimpleImputer(strategy="median"), StandardScaler()), ["x", "z"])]).fit(
        frame)
    assert compile_prepare(fitted) is None
