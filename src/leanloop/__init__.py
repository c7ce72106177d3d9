"""leanloop: a closed Build -> Measure -> Learn loop for a model in production.

Build a minimal pipeline (or adopt your own model), serve it with every prediction
logged durably, join late labels, measure drift, performance and KPIs, and let a
policy decide — with its reasons — whether to continue, wait or retrain.

The entry point is :class:`leanloop.project.Project`, also reachable as
``leanloop.Project`` (imported on first use, so ``import leanloop`` stays instant);
:func:`drift` compares two data frames without a project.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

    from leanloop.measure.drift import DriftReport

__all__ = ["Project", "drift", "__version__"]

__version__ = "0.1.0"


def drift(reference: pd.DataFrame, current: pd.DataFrame, **options: Any) -> DriftReport:
    """Drift of every column two data frames share, without a project: what ``leanloop
    drift`` computes from two files (keyword options: those of
    :func:`leanloop.measure.drift.drift_report`: ``options``, ``methods``, ``chunks``, ``schema``).
    The report's ``to_frame()`` gives one row per result.

    >>> import numpy as np, pandas as pd
    >>> rng = np.random.default_rng(0)
    >>> report = drift(pd.DataFrame({"age": rng.normal(40, 9, 800)}), pd.DataFrame({"age": rng.normal(47, 9, 800)}))
    >>> report.drifted, report.to_frame()[["feature", "method", "drifted"]].values.tolist()
    (['age'], [['age', 'ks', True], ['age', 'psi', True]])
    """
    from leanloop.measure.drift import drift_report

    return drift_report(reference, current, **options)


def __getattr__(name: str) -> Any:
    if name == "Project":
        from leanloop.project import Project

        return Project
    raise AttributeError(f"module 'leanloop' has no attribute {name!r}")
