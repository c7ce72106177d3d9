"""Page-Hinkley in blocks: River's changes exactly, its statistic within the stated bound."""

from __future__ import annotations

import numpy as np
import pytest

from leanloop.config import StreamConfig, StreamDetectorKind
from leanloop.measure.page_hinkley import (
    _first_change,
    page_hinkley_changes,
    page_hinkley_loop,
    page_hinkley_statistic,
    statistic_error_bound,
)
from leanloop.measure.stream import make_detector


def _river(values: np.ndarray, options: StreamConfig) -> tuple[list[int], np.ndarray]:
    """River's own detector: where it fires, and its statistic after each value."""
    detector, fired, stats = make_detector(StreamDetectorKind.PAGE_HINKLEY, options), [], []
    for i, value in enumerate(values.tolist()):
        detector.update(value)
        stats.append(max(detector._sum_increase - detector._min_increase,
                         detector._max_decrease - detector._sum_decrease))
        if detector.drift_detected:
            fired.append(i)
    return fired, np.array(stats)


@pytest.mark.parametrize(("scale", "delta"), [(1.0, 0.005), (100.0, 0.5)])
def test_the_blocks_statistic_is_rivers_within_the_stated_bound(scale: float, delta: float) -> None:
    # No reset (a threshold never reached): 40,000 values span several blocks.
    rng = np.random.default_rng(int(scale))
    values = np.r_[rng.random(20_000), rng.normal(0.7, 0.3, 20_000)] * scale
    options = StreamConfig(page_hinkley_threshold=1e12, page_hinkley_delta=delta)
    fired, expected = _river(values, options)
    got = page_hinkley_statistic(values, options)
    bound = statistic_error_bound(len(values), float(np.abs(values).max()), delta)
    assert not fired
    assert np.abs(got - expected).max() <= bound
    assert np.abs(expected).max() > 1e3 * bound  # the bound is small beside the statistic


@pytest.mark.parametrize(("threshold", "delta"), [(50.0, 0.005), (20.0, 0.0), (3.0, 0.1)])
def test_the_blocks_fire_where_river_does(threshold: float, delta: float) -> None:
    rng = np.random.default_rng(3)
    values = np.r_[rng.random(30_000), (rng.random(30_000) < 0.2), rng.normal(0.4, 0.3, 20_000)].astype(float)
    options = StreamConfig(page_hinkley_threshold=threshold, page_hinkley_delta=delta)
    fired, _ = _river(values, options)
    assert len(fired) > 1
    assert page_hinkley_changes(values, options) == fired


def test_a_statistic_at_the_threshold_is_left_to_the_loop() -> None:
    # The threshold set to a value the statistic reaches: the blocks cannot tell it from
    # the loop's within the bound, so the loop decides, and River's rows come out.
    rng = np.random.default_rng(11)
    values = np.r_[rng.random(5_000), rng.random(5_000) + 0.3]
    _, stats = _river(values, StreamConfig(page_hinkley_threshold=1e12))
    options = StreamConfig(page_hinkley_threshold=float(stats[6_000]))
    margin = statistic_error_bound(len(values), float(values.max()), options.page_hinkley_delta)
    fired, _ = _river(values, options)
    assert _first_change(values, 0, options, margin) is None
    assert fired
    assert page_hinkley_changes(values, options) == fired == page_hinkley_loop(values.tolist(), options)


def test_dense_changes_and_infinities_go_to_the_loop() -> None:
    rng = np.random.default_rng(2)
    values = rng.random(20_000)
    dense = StreamConfig(page_hinkley_threshold=0.5)
    assert page_hinkley_changes(values, dense) == _river(values, dense)[0]
    spiked = np.r_[values[:500], np.inf, values[500:1000]]
    assert page_hinkley_changes(spiked, StreamConfig()) == page_hinkley_loop(spiked.tolist(), StreamConfig())
