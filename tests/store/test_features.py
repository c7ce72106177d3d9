"""Columnar feature reads equal the dict-per-row reads they replace, on every backend."""

from __future__ import annotations

import pandas as pd
import pytest

from leanloop.schema import Feature, Schema
from leanloop.store import SQLStore
from leanloop.store.features import feature_frame, feature_row, feature_types

SCHEMA = Schema(features=[Feature(name="x", kind="numeric"), Feature(name="c", kind="categorical"),
                          Feature(name="ok", kind="boolean"), Feature(name="t", kind="datetime")])


def rows(values: list[dict[str, object]]) -> list[dict[str, object]]:
    return [{"prediction_id": f"p{i}", "created_at": float(i), "model_version": "v1", "features": v,
             "prediction": 1, "probabilities": None} for i, v in enumerate(values)]


@pytest.mark.parametrize("values", [
    [{"x": 1, "c": "a", "ok": True, "t": "2024-01-02T03:04:05"}, {"x": 2.5, "c": None, "ok": None, "t": None},
     {"x": None, "c": "b", "ok": False, "t": "2024-02-01T00:00:00+00:00", "unknown": [1, 2]}],
    # A category logged as a number: the typed decode refuses it and the slow way reads it.
    [{"x": 1.0, "c": 3, "ok": True, "t": None}, {"x": 2.0, "c": "3", "ok": False, "t": None}],
], ids=["typed", "fallback"])
def test_columnar_features_coerce_to_the_same_frame(store: SQLStore, values: list[dict[str, object]]) -> None:
    store.log_predictions(rows(values))
    by_dicts = store.window()
    columnar = store.window(feature_types=feature_types(SCHEMA))
    assert "features" not in columnar and [c for c in columnar if c.startswith("features.")] == [
        "features.x", "features.c", "features.ok", "features.t"]
    pd.testing.assert_frame_equal(SCHEMA.coerce(feature_frame(columnar), "log"),
                                  SCHEMA.coerce(feature_frame(by_dicts), "log"))
    pd.testing.assert_frame_equal(columnar.drop(columns=[c for c in columnar if c.startswith("features.")]),
                                  by_dicts.drop(columns=["features"]))
    assert feature_row(columnar.iloc[1])["x"] == values[1]["x"] and list(feature_row(columnar.iloc[1])) == SCHEMA.names
    assert feature_frame(columnar.iloc[1:]).index.tolist() == list(range(len(values) - 1))  # as a new frame's


def test_a_window_read_in_steps_equals_one_read_whole(store: SQLStore, monkeypatch: pytest.MonkeyPatch) -> None:
    from leanloop.store import predictions

    store.log_predictions(rows([{"x": float(i), "c": "a", "ok": True, "t": None} for i in range(7)]))
    store.add_feedback([("p1", 1), ("p5", 0)], received_at=9.0)
    whole = {kind: store.window(**kwargs) for kind, kwargs in READS.items()}
    monkeypatch.setattr(predictions, "_STEP", 2)
    for kind, kwargs in READS.items():
        pd.testing.assert_frame_equal(store.window(**kwargs), whole[kind])
    assert store.window(last=5)["prediction_id"].tolist() == ["p2", "p3", "p4", "p5", "p6"]


READS = {"all": {}, "last": {"last": 5}, "labelled": {"labelled_only": True},
         "columnar": {"last": 3, "feature_types": feature_types(SCHEMA)}}


def test_probabilities_read_as_class_columns_score_as_the_dicts(store: SQLStore,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    from leanloop.config import Task
    from leanloop.measure.logged import logged_scored
    from leanloop.store import predictions

    logged = rows([{"x": 1.0}] * 4)
    # A class left out and a class logged as null both score 0; a row with none: no probabilities.
    for row, proba in zip(logged, [{"a": 0.2, "b": 0.8}, {"b": 1.0}, {"a": 0.7, "b": None}, {"a": 0.5, "b": 0.5}],
                          strict=True):
        row["probabilities"] = proba
    store.log_predictions(logged)
    monkeypatch.setattr(predictions, "_STEP", 3)  # two steps: columns from both join in order
    by_dicts, columnar = store.window(), store.window(classes=["a", "b"])
    assert "probabilities" not in columnar
    assert columnar["probability:b"].tolist()[:2] == [0.8, 1.0] and columnar["has_probabilities"].all()
    pd.testing.assert_frame_equal(columnar[list(by_dicts.columns.drop("probabilities"))],
                                  by_dicts.drop(columns=["probabilities"]))
    mine, theirs = (logged_scored(w, Task.CLASSIFICATION, ["a", "b"]) for w in (columnar, by_dicts))
    assert mine.probabilities.tolist() == theirs.probabilities.tolist() == [[0.2, 0.8], [0.0, 1.0], [0.7, 0.0],
                                                                            [0.5, 0.5]]
    store.log_predictions([{**rows([{"x": 2.0}])[0], "prediction_id": "p9"}])  # no probabilities logged
    columnar = store.window(classes=["a", "b"])
    assert columnar["has_probabilities"].tolist() == [True] * 4 + [False]
    assert logged_scored(columnar, Task.CLASSIFICATION, ["a", "b"]).probabilities is None
    assert logged_scored(store.window(), Task.CLASSIFICATION, ["a", "b"]).probabilities is None
