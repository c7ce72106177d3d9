"""Which rows a challenger learns from, by strategy."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from leanloop.config import DataConfig, ProjectConfig, RetrainConfig, RetrainStrategy
from leanloop.learn.retrain import training_rows
from leanloop.schema import Feature, Schema


def _project(**retrain: object) -> ProjectConfig:
    config = ProjectConfig(data=DataConfig(path="d.csv", target="y", task="classification", classes=[0, 1]),
                           schema=Schema(features=[Feature(name="x", kind="numeric")]),
                           retrain=RetrainConfig(**retrain))
    return config


REFERENCE = pd.DataFrame({"x": [1.0, 2.0, 3.0], "y": [0, 1, 0]})
PRODUCTION = pd.DataFrame({"x": [10.0, 11.0, 12.0, 13.0, 3.0], "y": [1, 1, 0, 1, 0]})


def test_reference_plus_recent_weights_production() -> None:
    rows, weights, counts = training_rows(_project(production_weight=3.0), PRODUCTION, REFERENCE)
    # (3.0, 0) appears in both parts: kept once, with the production weight.
    assert len(rows) == 7 and counts == {"reference": 3, "production": 5, "duplicates_dropped": 1,
                                   "capped": 0}
    assert weights.tolist() == [1.0, 1.0, 3.0, 3.0, 3.0, 3.0, 3.0]


def test_recency_half_life_decays_older_rows() -> None:
    _, weights, _ = training_rows(_project(production_weight=2.0, recency_half_life_rows=1), PRODUCTION, REFERENCE)
    assert weights[-5:].tolist() == pytest.approx([2.0 / 16, 2.0 / 8, 2.0 / 4, 2.0 / 2, 2.0])


def test_expanding_weights_all_rows_equally() -> None:
    _, weights, _ = training_rows(_project(strategy=RetrainStrategy.EXPANDING), PRODUCTION, REFERENCE)
    assert np.all(weights == 1.0)


def test_sliding_keeps_only_the_latest_rows() -> None:
    rows, _, counts = training_rows(_project(strategy="sliding", window_rows=10), PRODUCTION, REFERENCE)
    assert rows["x"].tolist() == [10.0, 11.0, 12.0, 13.0, 3.0] and counts["reference"] == 0
    rows, _, _ = training_rows(_project(strategy="sliding", window_rows=10),
                               pd.concat([PRODUCTION] * 3, ignore_index=True).assign(x=np.arange(15.0)), REFERENCE)
    assert rows["x"].tolist() == list(np.arange(5.0, 15.0))


def test_every_strategy_is_capped_keeping_the_newest_production_rows() -> None:
    reference = pd.DataFrame({"x": -np.arange(1.0, 301.0), "y": 0})
    production = pd.DataFrame({"x": np.arange(400.0), "y": 1})
    rows, weights, counts = training_rows(_project(max_rows=200), production, reference)
    # Half the cap stays with the reference (a seeded sample), the newest production rows fill the rest.
    assert counts == {"reference": 100, "production": 100, "duplicates_dropped": 0, "capped": 500}
    assert rows["x"].tolist()[100:] == list(np.arange(300.0, 400.0)) and (rows["x"][:100] < 0).all()
    assert len(weights) == 200
    again, _, _ = training_rows(_project(max_rows=200), production, reference)
    assert again.equals(rows)
    # Few production rows: the reference fills the rest of the cap.
    _, _, counts = training_rows(_project(max_rows=200), production.tail(50), reference)
    assert counts["production"] == 50 and counts["reference"] == 150 and counts["capped"] == 150
    rows, _, counts = training_rows(_project(strategy="sliding", window_rows=300, max_rows=200),
                                    production, reference)
    assert rows["x"].tolist() == list(np.arange(200.0, 400.0)) and counts["capped"] == 100


def test_the_gate_rows_are_drawn_from_focus_rows_the_champion_never_saw() -> None:
    from leanloop.learn.retrain import _split_recent

    production = pd.DataFrame({"x": np.arange(100.0)})
    focus = np.arange(100) >= 40                    # the rows since the change
    unseen = np.arange(100) >= 60                   # logged after the champion was made
    learn, recent = _split_recent(_project(), production, focus, unseen)
    assert len(recent) == int(60 * 0.3) and recent["x"].min() >= 60
    assert len(learn) + len(recent) == 100
    # too few unseen rows: drawn from all the focus rows, as before
    learn, recent = _split_recent(_project(), production, focus, np.arange(100) >= 95)
    assert len(recent) == 18 and recent["x"].min() >= 40
