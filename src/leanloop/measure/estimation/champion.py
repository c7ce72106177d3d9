"""The champion's estimator: CBPE or DLE fitted on the champion's held-out test rows.

Calibration uses the test split, not the training rows: a boosted model's scores on
its own training rows are over-confident (it has fit their noise), so an isotonic map
learned there would under-correct in production. An adopted model's test rows are its
reference rows (the only labelled rows it came with).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from leanloop.config import Task
from leanloop.measure.estimation.cbpe import CBPE
from leanloop.measure.estimation.dle import DLE
from leanloop.scoring import model_input, score
from leanloop.target import normalize_target

if TYPE_CHECKING:
    from collections.abc import Callable

    import numpy as np
    import pandas as pd

    from leanloop.measure.estimation.result import EstimatedPerformance
    from leanloop.registry import ModelVersion
    from leanloop.scoring import Scored
    from leanloop.workspace import Workspace

__all__ = ["ChampionEstimator", "fit_champion_estimator"]


@dataclass(frozen=True)
class ChampionEstimator:
    """A fitted CBPE (classification) or DLE (regression) and the rows it was fitted on."""

    estimator: CBPE | DLE
    reference_rows: int

    def estimate(self, scored: Scored, features: pd.DataFrame,
                 weights: np.ndarray | None) -> EstimatedPerformance | None:
        """Estimated performance of logged outputs (``features``: the model frame of the same rows)."""
        if isinstance(self.estimator, CBPE):
            if scored.probabilities is None:
                return None
            return self.estimator.estimate(scored.probabilities, scored.labels, weights)
        return self.estimator.estimate(features, [float(v) for v in scored.labels], weights)


def fit_champion_estimator(ws: Workspace, champion: ModelVersion, model: Any,
                           score_rows: Callable[[pd.DataFrame], Scored] | None = None) -> ChampionEstimator | None:
    """Fit the estimator on the champion's test rows scored by ``model`` (or by
    ``score_rows``, e.g. from a cache); None when estimation is off or the champion's
    outputs cannot support it (no probabilities)."""
    import pandas as pd

    config = ws.config
    if not config.performance.estimate:
        return None
    name = champion.test_data or champion.train_data
    if not name or not (ws.paths.datasets / name).is_file():
        return None
    test = pd.read_parquet(ws.paths.datasets / name)
    test = test[test[config.data.target].notna()]
    if len(test) > config.measure.reference_max_rows:
        test = test.sample(n=config.measure.reference_max_rows, random_state=config.model.seed)
    truth = normalize_target(test[config.data.target], config.data.task).tolist()
    scored = (score(model, model_input(config.schema_, test, champion.input_format, "test data"),
                    config.data.task.value) if score_rows is None else score_rows(test))
    options = config.performance
    if config.data.task is Task.REGRESSION:
        if len(test) < 20:
            return None
        features = config.schema_.model_frame(test, "test data")
        dle = DLE(seed=config.model.seed, confidence=options.confidence, kpi=config.kpi)
        return ChampionEstimator(dle.fit(features, scored.labels, truth), len(test))
    classes = list(config.data.classes or scored.classes or [])
    if scored.probabilities is None or len(classes) < 2:
        return None
    proba = scored.probabilities
    if scored.classes is not None and list(scored.classes) != classes:
        proba = proba[:, [list(scored.classes).index(c) for c in classes]]
    cbpe = CBPE(classes=classes, seed=config.model.seed, confidence=options.confidence,
                simulations=options.bootstrap_resamples, kpi=config.kpi, max_rows=options.bootstrap_max_rows)
    return ChampionEstimator(cbpe.fit(proba, truth), len(test))
