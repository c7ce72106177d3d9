"""A model fitted with the mark of the rows since a change (leanloop.build.since_change)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from leanloop.build.since_change import SinceChange, fit_since_change
from leanloop.build.train import _quantile
from leanloop.config import DataConfig, KpiConfig, ProjectConfig
from leanloop.schema import Feature, Schema


def _frame(n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=n)
    return pd.DataFrame({"x": x, "y": 3 * x + rng.normal(size=n)})


def test_a_regressor_with_the_mark_answers_the_new_relation_at_the_configured_quantile() -> None:
    config = ProjectConfig(data=DataConfig(path="d.csv", target="y", task="regression"),
                           schema=Schema(features=[Feature(name="x", kind="numeric")]),
                           kpi=KpiConfig(over_cost_per_unit=1.0, under_cost_per_unit=4.0))
    old, new = _frame(4000, 0), _frame(1000, 1)
    new["y"] = new["y"] + 10.0  # the relation moved up by 10 for the rows since the change
    rows = pd.concat([old, new], ignore_index=True)
    fitted = fit_since_change(config, rows, np.arange(len(rows)) >= len(old))
    final = fitted.model.steps[-1][1]
    assert isinstance(final, SinceChange) and not hasattr(final, "predict_proba")
    assert _quantile(fitted.model) == pytest.approx(0.8)  # recorded on the version as for every regressor
    at_zero = fitted.model.predict(config.schema_.model_frame(pd.DataFrame({"x": [0.0]}), "x"))[0]
    assert 10.0 < at_zero < 12.0  # the new relation, above its median (the 0.8 quantile)
    assert fitted.baseline.predict(pd.DataFrame({"x": [0.0]}))[0] == pytest.approx(new["y"].mean())


def test_the_mark_follows_scikit_learn_parameters_and_refuses_to_score_unfitted() -> None:
    from sklearn.base import clone
    from sklearn.exceptions import NotFittedError
    from sklearn.linear_model import LogisticRegression
    from sklearn.utils.validation import check_is_fitted

    model = SinceChange(LogisticRegression(C=2.0))
    assert model.get_params()["estimator__C"] == 2.0
    assert clone(model.set_params(estimator__C=0.5)).estimator.C == 0.5
    assert hasattr(model, "predict_proba")
    with pytest.raises(NotFittedError):
        check_is_fitted(model)
    X, y = np.array([[0.0], [1.0]] * 10), np.array([0, 1] * 10)
    fitted = model.fit(X, y, since_change=np.arange(20) >= 10)
    check_is_fitted(fitted)
    assert fitted.estimator_.coef_.shape == (1, 2) and fitted.classes_.tolist() == [0, 1]
    assert fitted.predict_proba(X).shape == (20, 2)
