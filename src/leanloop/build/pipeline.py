"""The minimal pipeline: imputation, scaling, one-hot encoding, gradient boosting;
and the trivial baseline every model must beat.

Examples
--------
>>> import pandas as pd
>>> from leanloop.config import ModelConfig, Task
>>> from leanloop.schema import Feature, Schema
>>> schema = Schema(features=[Feature(name="x", kind="numeric"), Feature(name="c", kind="categorical")])
>>> X = schema.model_frame(pd.DataFrame({"x": [0.0, 1, 2, 3] * 10, "c": list("abab") * 10}), "t")
>>> y = [0, 0, 1, 1] * 10
>>> model = make_pipeline(schema, Task.CLASSIFICATION, ModelConfig(max_iter=20)).fit(X, y)
>>> model.predict(X.head(4)).tolist()
[0, 0, 1, 1]
>>> make_baseline(Task.CLASSIFICATION).fit(X, y).predict(X.head(1)).tolist()
[0]
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from leanloop.config import ModelConfig, Task
from leanloop.schema import FeatureKind, Schema

if TYPE_CHECKING:
    from sklearn.pipeline import Pipeline

__all__ = ["make_pipeline", "make_baseline", "MODEL_STEP"]

#: Name of the estimator step, for ``<step>__sample_weight`` fit parameters.
MODEL_STEP = "model"


def make_pipeline(schema: Schema, task: Task, config: ModelConfig, *, quantile: float | None = None) -> Pipeline:
    """An unfitted pipeline for ``schema``; unseen categories are ignored, not errors.

    A regression with ``quantile`` targets that quantile (scikit-learn's quantile loss):
    under absolute costs that differ above and below, the prediction that costs least.
    """
    import numpy as np
    from sklearn.compose import ColumnTransformer
    from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor
    from sklearn.impute import SimpleImputer
    from sklearn.pipeline import Pipeline
    from sklearn.pipeline import make_pipeline as chain
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    numeric = schema.of_kind(FeatureKind.NUMERIC, FeatureKind.DATETIME)
    categorical = schema.of_kind(FeatureKind.CATEGORICAL, FeatureKind.BOOLEAN)
    transformers: list[tuple[str, Any, list[str]]] = []
    if numeric:
        transformers.append(("numeric", chain(SimpleImputer(strategy="median"), StandardScaler()), numeric))
    if categorical:
        transformers.append((
            "categorical",
            chain(
                SimpleImputer(missing_values=np.nan, strategy="constant", fill_value="(missing)"),
                OneHotEncoder(handle_unknown="ignore", sparse_output=False),
            ),
            categorical,
        ))
    estimator_class = HistGradientBoostingRegressor if task is Task.REGRESSION else HistGradientBoostingClassifier
    loss: dict[str, Any] = {} if quantile is None or task is not Task.REGRESSION else {"loss": "quantile",
                                                                                    "quantile": quantile}
    estimator = estimator_class(
        max_iter=config.max_iter, learning_rate=config.learning_rate, random_state=config.seed, **loss,
    )
    return Pipeline([("prepare", ColumnTransformer(transformers)), (MODEL_STEP, estimator)])


def make_baseline(task: Task) -> Any:
    """The trivial model: class priors (majority class) or the mean."""
    from sklearn.dummy import DummyClassifier, DummyRegressor

    return DummyRegressor(strategy="mean") if task is Task.REGRESSION else DummyClassifier(strategy="prior")
