"""Build: from a table and a target to a registered model version.

A minimal pipeline (imputation, scaling, one-hot encoding, gradient boosting) and a
trivial baseline, split by time or stratified, evaluated on the holdout with the
project's metrics and KPIs, saved with skops and registered with its lineage.

The names below are imported on first use: the registry reads this package's records
(:mod:`leanloop.build.calibration`, :mod:`leanloop.build.checks`), and a command that only
measures should not load the training modules with them.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

# Eager, and light: the function must win over the submodule of the same name.
from leanloop.build.split import split

__all__ = ["Evaluation", "evaluate", "fit_pipeline", "make_baseline", "make_pipeline", "split", "train_version"]

# evaluation lives with the measurement (build reads it, measure never imports build)
_HOMES = {"Evaluation": "leanloop.measure.evaluation", "evaluate": "leanloop.measure.evaluation",
          "fit_pipeline": "leanloop.build.train", "train_version": "leanloop.build.train",
          "make_baseline": "leanloop.build.pipeline", "make_pipeline": "leanloop.build.pipeline"}


def __getattr__(name: str) -> Any:
    if name in _HOMES:
        return getattr(import_module(_HOMES[name]), name)
    raise AttributeError(f"module 'leanloop.build' has no attribute {name!r}")
