"""Retraining on a Dask cluster: LightGBM's Dask interface fits the model step.

With ``[retrain] engine = "dask"`` a retrain that fits leanloop's pipeline
(``[policy] retrain_model``, or any champion leanloop built) fits it here instead of in
this process: the prepare step (imputers, scaler, one-hot encoder) is fitted on the
client, the prepared rows are split into one chunk per worker, and
``lightgbm.dask.DaskLGBMClassifier`` (or ``DaskLGBMRegressor``) trains one model across
the workers of the ``[engine]`` cluster (``scheduler``, or a ``LocalCluster`` of
``workers``). The trained model is converted to the plain ``LGBMClassifier`` /
``LGBMRegressor`` (``to_local()``) and put in the pipeline as its model step, so the
version is an ordinary one: calibrated, registered, saved by skops and served like any
other, with no Dask needed to load or serve it. Same hyper-parameters as the local
pipeline: ``[model] max_iter`` trees, ``learning_rate``, ``seed``; a regression under
asymmetric costs targets the same quantile.

A user's own model (``retrain_model = "own"`` on an adopted champion) is refitted as
itself, in this process: its class has no Dask interface in general.
Needs ``pip install 'leanloop[lightgbm]'`` (LightGBM and Dask).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from leanloop.build.pipeline import MODEL_STEP, make_baseline, make_pipeline
from leanloop.config import Task
from leanloop.engines.cluster import dask_client
from leanloop.errors import EngineError
from leanloop.target import normalize_target

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd
    from distributed import Client

    from leanloop.config import ProjectConfig

__all__ = ["require_lightgbm", "fit_pipeline_dask"]


def require_lightgbm() -> Any:
    """The ``lightgbm.dask`` module, or an error naming the extra to install.

    Raises
    ------
    EngineError
        If LightGBM or Dask is not installed.

    Examples
    --------
    >>> require_lightgbm().DaskLGBMClassifier.__name__
    'DaskLGBMClassifier'
    """
    try:
        import distributed  # noqa: F401  (lightgbm.dask imports without it, then fails at fit)
        import lightgbm.dask as lgb_dask
    except ImportError as err:
        raise EngineError(f"[retrain] engine = \"dask\" trains with LightGBM's Dask interface ({err.name} is not "
                          "installed): pip install 'leanloop[lightgbm]', or set [retrain] engine = \"local\"") from err
    return lgb_dask


def fit_pipeline_dask(config: ProjectConfig, train: pd.DataFrame, sample_weight: np.ndarray | None = None,
                      *, client: Client | None = None) -> tuple[Any, Any]:
    """Fit leanloop's pipeline with its model step trained by LightGBM on a Dask cluster
    (that of ``client``, else the ``[engine]`` one, opened and closed here), and the
    trivial baseline; the same signature and result as
    :func:`leanloop.build.train.fit_pipeline`, so :func:`~leanloop.build.train.fit_served`
    calibrates it the same way.

    Raises
    ------
    EngineError
        If LightGBM or Dask is missing, or the cluster cannot be reached.
    """
    lgb_dask = require_lightgbm()
    from sklearn.pipeline import Pipeline

    task = config.data.task
    X = config.schema_.model_frame(train, "training data")
    y = normalize_target(train[config.data.target], task)
    prepare = make_pipeline(config.schema_, task, config.model).steps[0][1]
    prepared = prepare.fit_transform(X)
    if client is not None:
        local = _fit_on(client, lgb_dask, config, prepared, y, sample_weight)
    else:
        with dask_client(config.engine) as opened:
            local = _fit_on(opened, lgb_dask, config, prepared, y, sample_weight)
    baseline = make_baseline(task).fit(X, y)
    return Pipeline([("prepare", prepare), (MODEL_STEP, local)]), baseline


def _fit_on(client: Client, lgb_dask: Any, config: ProjectConfig, prepared: Any, y: Any,
            sample_weight: np.ndarray | None) -> Any:
    """Train on the cluster of ``client``; the plain LightGBM model."""
    import dask.array as da
    import numpy as np

    workers = max(1, len(client.scheduler_info()["workers"]))
    rows = np.asarray(prepared, dtype=float)
    # One chunk per worker: LightGBM's Dask interface trains one process per worker holding data.
    step = -(-len(rows) // workers)
    X = da.from_array(rows, chunks=(step, rows.shape[1]))
    labels = np.asarray(y)
    target = da.from_array(labels, chunks=(step,))
    weights = None if sample_weight is None else da.from_array(np.asarray(sample_weight, dtype=float), chunks=(step,))
    params: dict[str, Any] = {"n_estimators": config.model.max_iter, "learning_rate": config.model.learning_rate,
                              "random_state": config.model.seed, "deterministic": True, "verbose": -1}
    quantile = config.kpi.quantile if config.data.task is Task.REGRESSION else None
    if quantile is not None:
        params |= {"objective": "quantile", "alpha": quantile}
    estimator_class = lgb_dask.DaskLGBMRegressor if config.data.task is Task.REGRESSION else lgb_dask.DaskLGBMClassifier
    estimator = estimator_class(client=client, **params)
    try:
        estimator.fit(X, target, sample_weight=weights)
    except (OSError, RuntimeError) as err:  # LightGBM's network set-up between workers, a worker lost
        raise EngineError(f"LightGBM's Dask training failed on the cluster: {err}; check the workers can reach "
                          "each other, or set [retrain] engine = \"local\"") from err
    return estimator.to_local()
