"""Direct loss estimation (DLE) for regressors without labels.

On reference rows with known truth, scikit-learn's ``HistGradientBoostingRegressor``
(seeded) learns each row's absolute error, squared error and (if a KPI is configured)
unweighted KPI cost from the features plus the model's prediction. On new rows the
mean predicted loss is the estimate: MAE, RMSE (square root of the mean predicted
squared error) and the KPI (per-row weights applied after). The loss models are fit
on 75 % of the reference; the other 25 % measures how far a row's real loss falls from
its predicted one, and the band is the estimate +- z x that spread x
sqrt(1/n + 1/n_fit): the realized mean's sampling error over ``n`` rows plus, as a
rough bound, the loss model's own error from learning on ``n_fit`` noisy rows (RMSE's
band is the square root of the mean squared error's band).

Examples
--------
>>> import numpy as np, pandas as pd
>>> rng = np.random.default_rng(0)
>>> X = pd.DataFrame({"x": rng.uniform(0, 1, 600)})
>>> truth = X["x"] * 10 + rng.normal(0, 1 + 3 * X["x"])
>>> dle = DLE(seed=0, max_iter=20).fit(X, X["x"] * 10, truth)
>>> est = dle.estimate(pd.DataFrame({"x": [0.1, 0.9]}), [1.0, 9.0])
>>> sorted(est.metrics), est.metrics["mae"].value < est.metrics["rmse"].value
(['mae', 'rmse'], True)
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from leanloop.measure.estimation.result import Estimate, EstimatedPerformance

if TYPE_CHECKING:
    from collections.abc import Sequence

    import numpy as np
    import pandas as pd

    from leanloop.config import KpiConfig

__all__ = ["DLE"]

_PREDICTION = "__prediction__"


class DLE:
    """Estimate MAE, RMSE and the KPI of a regressor from models of its loss.

    Parameters
    ----------
    seed : seeds the loss models and the reference split.
    confidence : coverage of the band.
    kpi : the regression KPI to estimate too.
    max_iter : boosting iterations of each loss model.
    threads : OpenMP threads for boosting (None: all cores). One by default: the loss
        models are small, and on a shared machine more threads are many times slower.
    """

    def __init__(self, *, seed: int = 0, confidence: float = 0.95, kpi: KpiConfig | None = None,
                 max_iter: int = 100, threads: int | None = 1) -> None:
        self.seed = seed
        self.confidence = confidence
        self.kpi = kpi
        self.max_iter = max_iter
        self.threads = threads

    def fit(self, reference_features: pd.DataFrame, reference_predictions: Sequence[float],
            reference_truth: Sequence[float]) -> DLE:
        """Learn the absolute error, squared error and KPI cost of each reference row."""
        import numpy as np
        from sklearn.ensemble import HistGradientBoostingRegressor
        from threadpoolctl import threadpool_limits

        from leanloop.errors import DataError
        from leanloop.measure.kpi import regression_values

        frame = self._frame(reference_features, reference_predictions, fit=True)
        truth = np.asarray(reference_truth, dtype=float)
        prediction = frame[_PREDICTION].to_numpy()
        if len(truth) != len(frame) or len(frame) < 20:
            raise DataError(f"DLE needs at least 20 reference rows with one truth each; got {len(frame)} rows "
                            f"and {len(truth)} truths")
        losses = {"mae": np.abs(truth - prediction), "rmse": (truth - prediction) ** 2}
        if self.kpi is not None:
            losses[self.kpi.name] = -regression_values(truth, prediction, self.kpi)
        order = np.random.default_rng(self.seed).permutation(len(frame))
        cut = int(len(frame) * 0.75)
        train, hold = order[:cut], order[cut:]
        self.train_rows_ = len(train)
        self.models_: dict[str, Any] = {}
        self.spread_: dict[str, float] = {}
        with threadpool_limits(limits=self.threads, user_api="openmp"):
            for name, loss in losses.items():
                model = HistGradientBoostingRegressor(max_iter=self.max_iter, random_state=self.seed,
                                                      categorical_features="from_dtype", early_stopping=False)
                model.fit(frame.iloc[train], loss[train])
                self.models_[name] = model
                self.spread_[name] = float(np.std(loss[hold] - model.predict(frame.iloc[hold])))
        return self

    def estimate(self, features: pd.DataFrame, predictions: Sequence[float],
                 weights: np.ndarray | None = None) -> EstimatedPerformance:
        """Estimated MAE, RMSE (and KPI) of rows with these features and predictions."""
        import numpy as np
        from scipy.stats import norm
        from threadpoolctl import threadpool_limits

        from leanloop.errors import NotFittedError

        if not hasattr(self, "models_"):
            raise NotFittedError("this DLE is not fitted yet; call fit(features, predictions, truth) first")
        frame = self._frame(features, predictions, fit=False)
        n = len(frame)
        if n == 0:
            return EstimatedPerformance(method="dle", rows=0)
        z = float(norm.ppf(0.5 + self.confidence / 2))
        metrics: dict[str, Estimate] = {}
        kpis: dict[str, Estimate] = {}
        with threadpool_limits(limits=self.threads, user_api="openmp"):
            predicted = {name: np.maximum(model.predict(frame), 0.0) for name, model in self.models_.items()}
        for name, loss in predicted.items():
            weighted = weights is not None and name == getattr(self.kpi, "name", None)
            scale = np.asarray(weights, float) if weighted else np.ones(n)
            mean = float(np.mean(loss * scale))
            half = z * self.spread_[name] * float(np.sqrt(np.mean(scale**2))) * math.sqrt(1 / n + 1 / self.train_rows_)
            if name == "mae":
                metrics[name] = Estimate(value=mean, lower=max(mean - half, 0.0), upper=mean + half)
            elif name == "rmse":
                metrics[name] = Estimate(value=math.sqrt(mean), lower=math.sqrt(max(mean - half, 0.0)),
                                         upper=math.sqrt(mean + half))
            else:  # the KPI is minus the cost
                kpis[name] = Estimate(value=-mean, lower=-(mean + half), upper=-max(mean - half, 0.0))
                kpis[f"{name}_total"] = Estimate(value=-mean * n, lower=-(mean + half) * n,
                                                 upper=-max(mean - half, 0.0) * n)
        return EstimatedPerformance(method="dle", rows=n, metrics=metrics, kpis=kpis)

    def _frame(self, features: pd.DataFrame, predictions: Sequence[float], *, fit: bool) -> pd.DataFrame:
        """Features plus the prediction; text and boolean columns as categories fixed on the reference."""
        import pandas as pd

        frame = features.reset_index(drop=True).copy()
        frame[_PREDICTION] = pd.Series(predictions, dtype=float).to_numpy()
        if fit:
            self.columns_ = list(frame.columns)
            self.categories_ = {c: sorted(frame[c].dropna().astype(str).unique())
                                for c in frame.columns
                                if not pd.api.types.is_numeric_dtype(frame[c]) or pd.api.types.is_bool_dtype(frame[c])}
        missing = [c for c in self.columns_ if c not in frame.columns]
        if missing:
            from leanloop.errors import DataError

            raise DataError(f"DLE was fitted with columns {missing} that these rows lack")
        frame = frame[self.columns_]
        for column, categories in self.categories_.items():
            coded = pd.Categorical(frame[column].astype(str).where(frame[column].notna()), categories=categories)
            # gradient boosting takes at most 255 categories; beyond that, category codes as numbers
            frame[column] = (coded if len(categories) <= 250
                             else pd.Series(coded.codes, dtype=float).where(coded.codes >= 0))
        return frame
