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
