"""A retrain reads from the log only the labelled rows its cap can use."""

from __future__ import annotations

import math
from typing import Any

from leanloop.learn.retrain import retrain
from leanloop.project import Project
from tests.measure.test_monitoring import predict_and_label


def test_a_retrain_reads_only_the_newest_rows_the_cap_needs(project: Project, car_loan_data: Any) -> None:
    frame = car_loan_data.analysis.merge(car_loan_data.analysis_targets, on="id").sort_values(
        "timestamp", kind="stable")
    predict_and_label(project, frame.iloc[30000:31200])
    config = project.config
    project.config = config.model_copy(update={
        "retrain": config.retrain.model_copy(update={"max_rows": 300}),
        "policy": config.policy.model_copy(update={"min_labels": 100}),
    })
    read = math.ceil(300 / (1 - config.retrain.recent_eval_share)) + len(project.store.testset_rows())
    trained = retrain(project.workspace)
    # of the 1,200 labelled rows only the newest 429 were read: 300 to learn from, the rest judge
    assert trained.challenger.rows["recent_eval"] == read - int(read * (1 - config.retrain.recent_eval_share))
    assert trained.challenger.rows["production"] <= 300
    # without the cap on reading, the newest 30 % of all 1,200 rows (360) would judge it
    assert len(trained.recent) == trained.challenger.rows["recent_eval"] < 1200 * config.retrain.recent_eval_share
