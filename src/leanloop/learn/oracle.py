"""The yardsticks a loop is judged by: the first model frozen, and an oracle.

Over a labelled period with a known change at row ``change_at``:

- **frozen**: the first model serves every row, never replaced;
- **oracle**: the frozen model before the change; from the change on, a fresh pipeline
  (:func:`~leanloop.build.pipeline.make_pipeline`) trained on the post-change labelled
  rows, cross-fitted over two seeded folds so that no row is scored by a model that
  trained on it: a model retrained with hindsight the moment the change starts, an
  upper bound of what retraining can bring.

Both serve the project's label rule (the oracle's pipeline is wrapped by
:func:`~leanloop.build.served.served_model`, as a built version is) and are scored by
:func:`~leanloop.measure.evaluation.evaluate`, the path that scores a registered
version. The demo and the scenario bench print the loop's KPI between the two.
Trained on the post-change rows alone, the oracle can fall below the frozen model where
the change does no harm (fewer rows, nothing new to learn): then there is no gain to keep.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from leanloop.build.pipeline import make_pipeline
from leanloop.build.served import served_model
from leanloop.measure.evaluation import evaluate

if TYPE_CHECKING:
    import pandas as pd

    from leanloop.config import ProjectConfig

__all__ = ["Yardsticks", "yardsticks", "gain_kept"]


@dataclass(frozen=True)
class Yardsticks:
    """KPI totals over a period: the first model frozen and the hindsight oracle (and,
    asked for batches, each one's totals per batch of the period, in order)."""

    frozen: float
    oracle: float
    frozen_batches: tuple[float, ...] = ()
    oracle_batches: tuple[float, ...] = ()


def _total(config: ProjectConfig, model: Any, rows: pd.DataFrame) -> float:
    if rows.empty:
        return 0.0
    frame = config.schema_.model_frame(rows, "labelled period")
    truth = rows[config.data.target].tolist()
    return float(evaluate(model, frame, truth, config.data, config.kpi).kpis[f"{config.kpi.name}_total"])


def yardsticks(config: ProjectConfig, frozen_model: Any, rows: pd.DataFrame, change_at: int | None, *,
               seed: int = 0, batch_rows: int | None = None) -> Yardsticks:
    """The frozen and oracle KPI totals over ``rows`` (features and the target, in
    serving order; the change starts at position ``change_at``, None: no change, the
    oracle is the frozen model); with ``batch_rows``, also per batch of that many rows
    (where in the period each one earns: the oracle's gain is seldom even over it)."""
    import numpy as np

    size = batch_rows or len(rows)
    starts = range(0, len(rows), size)

    def per_batch(model: Any, part: pd.DataFrame, positions: np.ndarray) -> list[float]:
        return [_total(config, model, part[(positions >= b) & (positions < b + size)]) for b in starts]

    everywhere = np.arange(len(rows))
    frozen_batches = np.array(per_batch(frozen_model, rows, everywhere))
    if change_at is None or change_at >= len(rows):
        found = tuple(frozen_batches.tolist()) if batch_rows else ()
        return Yardsticks(frozen=float(frozen_batches.sum()), oracle=float(frozen_batches.sum()),
                          frozen_batches=found, oracle_batches=found)
    before = everywhere < change_at
    oracle_batches = np.array(per_batch(frozen_model, rows[before], everywhere[before]))
    after = rows.iloc[change_at:].reset_index(drop=True)
    folds = np.random.default_rng(seed).permutation(len(after)) % 2
    schema, target = config.schema_, config.data.target
    for k in (0, 1):
        train, test = after[folds != k], after[folds == k]
        pipeline = make_pipeline(schema, config.data.task, config.model)
        pipeline.fit(schema.model_frame(train, "oracle"), train[target].to_numpy())
        oracle_batches += per_batch(served_model(pipeline, config.kpi, config.data.task.value), test,
                                    change_at + np.flatnonzero(folds == k))
    return Yardsticks(frozen=float(frozen_batches.sum()), oracle=float(oracle_batches.sum()),
                      frozen_batches=tuple(frozen_batches.tolist()) if batch_rows else (),
                      oracle_batches=tuple(oracle_batches.tolist()) if batch_rows else ())


def gain_kept(loop: float, frozen: float, oracle: float) -> float | None:
    """The share of the oracle's gain over frozen the loop kept (None: no gain to keep).

    >>> gain_kept(150.0, 100.0, 200.0), gain_kept(90.0, 100.0, 100.0)
    (0.5, None)
    """
    gain = oracle - frozen
    return None if gain <= 0 else (loop - frozen) / gain
