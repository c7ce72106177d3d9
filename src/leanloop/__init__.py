"""leanloop: a closed Build -> Measure -> Learn loop for a model in production.

Build a minimal pipeline (or adopt your own model), serve it with every prediction
logged durably, join late labels, measure drift, performance and KPIs, and let a
policy decide — with its reasons — whether to continue, wait or retrain.

The entry point is :class:`leanloop.project.Project`, also reachable as
``leanloop.Project`` (imported on first use, so ``import leanloop`` stays instant).
"""

from __future__ import annotations

from typing import Any

__all__ = ["Project", "__version__"]

__version__ = "0.1.0"


def __getattr__(name: str) -> Any:
    if name == "Project":
        from leanloop.project import Project

        return Project
    raise AttributeError(f"module 'leanloop' has no attribute {name!r}")
