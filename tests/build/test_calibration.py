"""Calibration: ECE by hand, calibration that helps a miscalibrated model and leaves a
calibrated one alone, and the Saerens-Latinne-Decaestecker prior correction."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import skops.io as sio
from sklearn.linear_model import LogisticRegression
from sklearn.naive_bayes import GaussianNB

from leanloop.build.calibration import (
    CalibrationMethod,
    PriorShift,
    adjust_priors,
    calibrate,
    em_priors,
    expected_calibration_error,
    reliability,
)
from leanloop.model_files import load_model_bytes, untrusted_names


def correlated(n: int, seed: int) -> tuple[pd.DataFrame, np.ndarray]:
    """Features that repeat each other: naive Bayes counts the same evidence three times
    and becomes over-confident."""
    rng = np.random.default_rng(seed)
    X = pd.DataFrame(rng.normal(size=(n, 2)), columns=["a", "b"])
    for copy in ("a1", "a2", "a3"):
        X[copy] = X["a"] + rng.normal(0, 0.1, n)
    y = (X["a"] + 0.5 * X["b"] + rng.normal(0, 1, n) > 0).astype(int).to_numpy()
    return X, y


def test_reliability_and_ece_by_hand() -> None:
    y = np.array(["a", "b", "b", "a", "b"])
    proba = np.array([[0.95, 0.05], [0.15, 0.85], [0.65, 0.35], [0.55, 0.45], [0.25, 0.75]])
    table = reliability(y, proba, classes=np.array(["a", "b"]), bins=2)
    # every top-label confidence is at least 0.5: one bin; the third row's top class is wrong
    assert [(b.rows, round(b.confidence, 4), b.accuracy) for b in table] == [
        (5, round((0.95 + 0.85 + 0.65 + 0.55 + 0.75) / 5, 4), 0.8)]
    ece = expected_calibration_error(y, proba, classes=np.array(["a", "b"]), bins=10)
    by_hand = (abs(0.95 - 1) + abs(0.85 - 1) + abs(0.65 - 0) + abs(0.55 - 1) + abs(0.75 - 1)) / 5
    assert ece == pytest.approx(by_hand)


def test_calibration_lowers_ece_of_an_over_confident_model() -> None:
    X, y = correlated(8000, 0)
    model = GaussianNB().fit(X[:4000], y[:4000])
    calibrated, report = calibrate(model, X[4000:6000], y[4000:6000])
    assert report.method is not CalibrationMethod.NONE
    assert report.ece_after < report.ece_before / 2 and report.log_loss_after < report.log_loss_before
    fresh = X[6000:], y[6000:]  # rows neither the model nor the calibrator saw
    assert expected_calibration_error(fresh[1], calibrated.predict_proba(fresh[0])) < \
        expected_calibration_error(fresh[1], model.predict_proba(fresh[0])) / 2
    assert untrusted_names(sio.dumps(calibrated)) == []  # it registers without trust


def test_calibration_does_not_make_a_calibrated_model_worse() -> None:
    X, y = correlated(8000, 1)
    model = LogisticRegression().fit(X[:4000], y[:4000])
    chosen, report = calibrate(model, X[4000:], y[4000:])
    assert report.log_loss_after <= report.log_loss_before
    assert report.ece_after <= report.ece_before + 0.01
    if report.method is CalibrationMethod.NONE:
        assert chosen is model


def test_em_recovers_a_prior_shift_and_adjusts_probabilities() -> None:
    rng = np.random.default_rng(3)
    X, y = correlated(40_000, 3)
    model = LogisticRegression().fit(X[:20_000], y[:20_000])
    train = np.bincount(y[:20_000]) / 20_000
    rest, truth = X[20_000:], y[20_000:]
    keep = (truth == 0) | (rng.random(len(truth)) < 0.3)  # positives thinned: a prior shift
    shifted, shifted_truth = rest[keep], truth[keep]
    priors = em_priors(model.predict_proba(shifted), train)
    assert priors[1] == pytest.approx(shifted_truth.mean(), abs=0.02)
    assert np.allclose(adjust_priors(model.predict_proba(shifted), train, train), model.predict_proba(shifted))
    corrected = PriorShift(model, train, priors)
    from sklearn.metrics import log_loss

    # the model's mean probability still says the training share; corrected, it says the new one
    assert model.predict_proba(shifted)[:, 1].mean() > shifted_truth.mean() + 0.1
    assert corrected.predict_proba(shifted)[:, 1].mean() == pytest.approx(shifted_truth.mean(), abs=0.02)
    assert log_loss(shifted_truth, corrected.predict_proba(shifted)) < log_loss(shifted_truth,
                                                                                 model.predict_proba(shifted))
    loaded = load_model_bytes(sio.dumps(corrected), "prior.skops", trust=False)
    np.testing.assert_allclose(loaded.predict_proba(shifted), corrected.predict_proba(shifted))
    assert (loaded.predict(shifted) == corrected.predict(shifted)).all()
