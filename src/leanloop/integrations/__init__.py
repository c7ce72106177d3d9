"""Integrations with tools a team may already run beside leanloop.

MLflow, both ways: :mod:`~leanloop.integrations.mlflow_model` reads a model directory
MLflow saved (its scikit-learn flavour), so ``leanloop adopt`` takes it as it takes a
``.skops`` file; :mod:`~leanloop.integrations.mlflow_tracking` logs every model version
and every cycle to an MLflow tracking server when ``[mlflow] tracking_uri`` is set.
MLflow itself is an optional extra (``pip install 'leanloop[mlflow]'``), imported only
when one of them is used.
"""

from __future__ import annotations

__all__ = ["mlflow_model", "mlflow_tracking"]
