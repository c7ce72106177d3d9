"""The yardsticks the demo and the scenario bench print: frozen and the hindsight oracle."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from leanloop.datasets import CarLoan
from leanloop.learn.oracle import gain_kept, yardsticks
from tests.conftest import small_built_project


def test_the_oracle_learns_the_change_and_is_the_frozen_model_without_one(
        tmp_path: Path, car_loan_data: CarLoan, analysis_with_truth: pd.DataFrame) -> None:
    project = small_built_project(tmp_path, car_loan_data)
    try:
        model, _ = project.registry.load(project.registry.champion().version)
        # 2,000 rows before the car-loan shift and 2,000 after it, in time order
        rows = pd.concat([analysis_with_truth.iloc[23_000:25_000], analysis_with_truth.iloc[25_000:27_000]],
                         ignore_index=True)
        none = yardsticks(project.config, model, rows, None)
        assert none.oracle == none.frozen and gain_kept(none.frozen, none.frozen, none.oracle) is None
        changed = yardsticks(project.config, model, rows, 2000, seed=0)
        assert changed.frozen == none.frozen
        assert changed.oracle > changed.frozen  # a model of the new population earns more there
        assert changed == yardsticks(project.config, model, rows, 2000, seed=0)  # seeded
        # per batch: the same folds, each batch's totals adding up to the period's
        batched = yardsticks(project.config, model, rows, 2000, seed=0, batch_rows=1500)
        assert (batched.frozen, batched.oracle) == (changed.frozen, changed.oracle)
        assert len(batched.frozen_batches) == len(batched.oracle_batches) == 3
        assert sum(batched.oracle_batches) == changed.oracle and sum(batched.frozen_batches) == changed.frozen
        # before the change the oracle is the frozen model
        assert batched.oracle_batches[0] == batched.frozen_batches[0]
        assert yardsticks(project.config, model, rows, None, batch_rows=1000).oracle_batches == \
            yardsticks(project.config, model, rows, None, batch_rows=1000).frozen_batches
    finally:
        project.close()
