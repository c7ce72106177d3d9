"""Label coverage and delay on constructed windows, checked against numpy."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from leanloop.measure.labels import LabelDelay, label_coverage, label_delay
from leanloop.measure.measurement import Chunk, Measurement, Performance, Window


def window(created: list[float], received: list[float | None]) -> pd.DataFrame:
    labels = [None if r is None else 1 for r in received]
    return pd.DataFrame({"created_at": pd.Series(created, dtype="float64"),
                         "label": pd.Series(labels, dtype=object),
                         "received_at": pd.Series(received, dtype="float64")})


def test_coverage_and_delay_of_a_constructed_window() -> None:
    rng = np.random.default_rng(7)
    created = np.sort(rng.uniform(0, 86_400, 200))
    delays = rng.exponential(3_600, 200)
    labelled = rng.random(200) < 0.3
    received = [float(c + d) if keep else None for c, d, keep in zip(created, delays, labelled, strict=True)]
    frame = window(created.tolist(), received)
    assert label_coverage(frame) == pytest.approx(labelled.mean(), abs=1e-15)
    result = label_delay(frame)
    expected = delays[labelled]
    assert result.count == labelled.sum()
    assert result.min == pytest.approx(expected.min(), rel=1e-9)
    assert result.max == pytest.approx(expected.max(), rel=1e-9)
    assert result.mean == pytest.approx(expected.mean(), rel=1e-9)
    assert result.p50 == pytest.approx(np.median(expected), rel=1e-9)
    assert result.p90 == pytest.approx(np.percentile(expected, 90), rel=1e-9)


def test_exact_values_and_edges() -> None:
    frame = window([0.0, 10.0, 20.0, 30.0, 40.0], [5.0, None, 40.0, None, 30.0])
    assert label_coverage(frame) == 0.6
    # delays 5, 20, -10: a label parked before its (replayed) prediction's time counts as is
    assert label_delay(frame) == LabelDelay(count=3, min=-10.0, p50=5.0, p90=17.0, max=20.0, mean=5.0)
    unlabelled = window([0.0, 1.0], [None, None])
    assert label_coverage(unlabelled) == 0.0
    assert label_delay(unlabelled) == LabelDelay(count=0)
    assert label_coverage(unlabelled.iloc[:0]) is None and label_delay(unlabelled.iloc[:0]).count == 0


def test_json_keys_and_old_measurements_still_load() -> None:
    delay = LabelDelay(count=2, min=1.0, p50=1.5, p90=1.9, max=2.0, mean=1.5)
    chunk = Chunk(start=None, end=None, rows=4, labelled=2, drift=[], performance=Performance(), kpis={},
                  coverage=0.5, label_delay=delay)
    measurement = Measurement(
        window=Window(start=None, end=None, rows=4, labelled=2, coverage=0.5, label_delay=delay),
        champion="v1", served_by={}, drift=[], drifted_features=[], prediction_drift=None,
        performance=Performance(), kpis={}, baseline_kpis={}, reference_kpis={}, chunks=[chunk])
    body = measurement.to_json()
    assert body["window"]["coverage"] == 0.5
    assert body["window"]["label_delay"] == {"count": 2, "min": 1.0, "p50": 1.5, "p90": 1.9, "max": 2.0, "mean": 1.5}
    assert body["chunks"][0]["coverage"] == 0.5 and body["chunks"][0]["label_delay"]["count"] == 2
    # A measurement stored before these fields existed still loads (``leanloop learn`` reads it).
    for key in ("coverage", "label_delay"):
        del body["window"][key]
        del body["chunks"][0][key]
    old = Measurement.model_validate(body)
    assert old.window.coverage is None and old.window.label_delay is None
