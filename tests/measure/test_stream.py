"""River streaming detectors: planted changes found near their row, none on a stationary stream."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pytest

from leanloop.config import StreamConfig, StreamDetectorKind
from leanloop.measure.stream import StreamSignal, detect_changes

EVERY = StreamConfig(detectors=list(StreamDetectorKind))


@pytest.mark.parametrize("seed", [0, 1])
def test_a_planted_change_is_found_soon_after_its_row(seed: int) -> None:
    rng = np.random.default_rng(seed)
    values = np.r_[rng.normal(0.3, 0.1, 600), rng.normal(0.6, 0.1, 600)]
    for result in detect_changes(values, signal=StreamSignal.PREDICTION, options=EVERY):
        assert result.changes, result.detector
        # Page-Hinkley needs about threshold / shift = 50 / 0.3 rows of evidence.
        assert 600 <= result.changes[0].row < 850, (result.detector, result.changes[0].row)


def test_a_rise_in_the_error_rate_is_found_on_the_loss_stream() -> None:
    rng = np.random.default_rng(3)
    loss = np.r_[rng.random(2000) < 0.1, rng.random(2000) < 0.4].astype(float)
    adwin = detect_changes(loss, signal=StreamSignal.LOSS, options=StreamConfig(detectors=["adwin"]))[0]
    assert 2000 <= adwin.changes[0].row < 2300


def test_a_stationary_stream_raises_no_alarm() -> None:
    rng = np.random.default_rng(0)
    for values in (rng.normal(0.3, 0.1, 2000), (rng.random(2000) < 0.2).astype(float)):
        found = detect_changes(values, signal=StreamSignal.PREDICTION, options=EVERY)
        assert [r.changes for r in found] == [[], [], []]


def test_changes_name_the_window_row_the_prediction_and_its_time() -> None:
    values = np.r_[np.zeros(300), np.ones(300)]
    rows = np.arange(600) * 2 + 1
    ids = [f"p{i}" for i in range(600)]
    times = 1_700_000_000.0 + np.arange(600)
    result = detect_changes(values, signal=StreamSignal.LOSS, rows=rows, ids=ids, times=times,
                            options=StreamConfig(detectors=["page_hinkley"]))[0]
    change = result.changes[0]
    i = ids.index(change.prediction_id)
    assert change.row == rows[i] and i >= 300
    assert change.time == datetime.fromtimestamp(times[i], UTC).isoformat()
    assert result.signal is StreamSignal.LOSS and result.n == 600


def test_kswin_is_seeded() -> None:
    rng = np.random.default_rng(5)
    values = np.r_[rng.normal(0, 1, 500), rng.normal(0.8, 1, 500)]
    options = StreamConfig(detectors=["kswin"], seed=7)
    assert detect_changes(values, signal=StreamSignal.PREDICTION, options=options) == \
        detect_changes(values, signal=StreamSignal.PREDICTION, options=options)


@pytest.mark.parametrize(("threshold", "delta"), [(1.0, 0.0), (5.0, 0.005), (50.0, 0.1)])
def test_page_hinkley_signals_where_rivers_detector_does(threshold: float, delta: float) -> None:
    # The hand-written loop must fire on exactly the rows River's PageHinkley fires on,
    # resets after each change included.
    from leanloop.measure.stream import make_detector, page_hinkley_changes

    rng = np.random.default_rng(int(threshold))
    values = np.r_[[rng.normal(rng.uniform(-2, 2), rng.uniform(0.1, 3), 800) for _ in range(5)]].ravel()
    values = np.r_[values, (rng.random(2000) < 0.3).astype(float)].tolist()
    options = StreamConfig(page_hinkley_threshold=threshold, page_hinkley_delta=delta)
    river, expected = make_detector(StreamDetectorKind.PAGE_HINKLEY, options), []
    for i, value in enumerate(values):
        river.update(value)
        if river.drift_detected:
            expected.append(i)
    assert len(expected) > 1
    assert page_hinkley_changes(values, options) == expected


@pytest.mark.parametrize("delta", [0.002, 0.5])
def test_adwin_fed_directly_signals_where_rivers_update_does(delta: float) -> None:
    # Feeding ADWIN's window directly must fire on exactly the rows River's public
    # update fires on, resets after each change included.
    from leanloop.measure.stream import adwin_changes, make_detector

    rng = np.random.default_rng(7)
    values = np.r_[rng.random(4000) < 0.2, rng.random(4000) < 0.4, rng.normal(0, 1, 2000)].astype(float).tolist()
    options = StreamConfig(adwin_delta=delta)
    river, expected = make_detector(StreamDetectorKind.ADWIN, options), []
    for i, value in enumerate(values):
        river.update(value)
        if river.drift_detected:
            expected.append(i)
    assert len(expected) > 1
    assert adwin_changes(values, options) == expected
