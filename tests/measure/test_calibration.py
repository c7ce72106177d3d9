"""Calibration of a window against the reference: one ECE for build and measure, and a
shift that does not take a small window for a miscalibrated one."""

from __future__ import annotations

import numpy as np

from leanloop.build import calibration as build_calibration
from leanloop.measure.bootstrap import BootstrapOptions
from leanloop.measure.calibration import calibration_shift, expected_calibration_error, reliability


def honest(n: int, seed: int, sharpen: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """Binary rows whose probabilities are right as often as they say (``sharpen`` 1), or
    whose outcomes are surer than the probabilities say (``sharpen`` > 1)."""
    rng = np.random.default_rng(seed)
    p = rng.uniform(0.02, 0.98, n)
    truth_p = 1 / (1 + np.exp(-sharpen * np.log(p / (1 - p))))
    return (rng.random(n) < truth_p).astype(int), np.column_stack([1 - p, p])


def test_build_and_measure_share_one_calibration_measure() -> None:
    assert build_calibration.expected_calibration_error is expected_calibration_error
    assert build_calibration.reliability is reliability


def test_a_small_calibrated_window_is_not_taken_for_a_miscalibrated_one() -> None:
    """300 honest rows have a binned ECE several times that of 5,000 (sampling noise in
    each bin); the shift compares at the window's size, so it stays near 0."""
    y_ref, p_ref = honest(5000, seed=0)
    alarms, shifts = 0, []
    for seed in range(1, 21):
        y, p = honest(300, seed=seed)
        assert expected_calibration_error(y, p) > expected_calibration_error(y_ref, p_ref)
        found = calibration_shift(y_ref, p_ref, y, p, options=BootstrapOptions(resamples=300, seed=seed))
        shifts.append(found.shift.value)
        alarms += found.shift.lower > 0.03
    assert alarms <= 1 and abs(float(np.mean(shifts))) < 0.015, (alarms, np.mean(shifts))


def test_a_window_surer_than_its_probabilities_is_found() -> None:
    y_ref, p_ref = honest(5000, seed=0)
    y, p = honest(500, seed=1, sharpen=3.0)
    found = calibration_shift(y_ref, p_ref, y, p, options=BootstrapOptions(resamples=300))
    assert found.shift.lower > 0.05 and found.window.value > found.reference + 0.05
    assert found.window_rows == 500 and found.reference_rows == 5000
    assert sum(b.rows for b in found.reliability) == 500


def test_text_and_numeric_labels_compare_alike() -> None:
    y, p = honest(400, seed=2)
    as_text = calibration_shift(y.astype(str), p, y.astype(str), p, classes=["0", "1"],
                                options=BootstrapOptions(resamples=100))
    as_int = calibration_shift(y, p, y, p, classes=[0, 1], options=BootstrapOptions(resamples=100))
    assert as_text.window.value == as_int.window.value


def test_beyond_max_rows_the_shift_matches_the_full_bootstrap() -> None:
    """A 40,000-row window resampled at 4,000 rows (per-bin means rescaled): the same ECE
    and bounds within a fifth of the full bootstrap's width; below max_rows, the same result."""
    y_ref, p_ref = honest(8000, seed=1)
    y, p = honest(40_000, seed=2, sharpen=1.5)
    options = BootstrapOptions(resamples=300)
    full = calibration_shift(y_ref, p_ref, y, p, options=options)
    capped = calibration_shift(y_ref, p_ref, y, p, options=options.model_copy(update={"max_rows": 4000}))
    for a, b in ((full.window, capped.window), (full.shift, capped.shift)):
        width = a.upper - a.lower
        assert abs(b.value - a.value) < 0.2 * width
        assert abs(b.lower - a.lower) < 0.2 * width and abs(b.upper - a.upper) < 0.2 * width
    assert capped.window.value == full.window.value
    roomy = options.model_copy(update={"max_rows": 100_000})
    assert calibration_shift(y_ref, p_ref, y, p, options=roomy) == full
