"""Retraining: a challenger from the reference data plus labelled production rows.

The labelled production rows are split by time: the latest ``recent_eval_share``
are held out to judge champion against challenger on the same rows; the rest are
the production part of the training set, assembled by ``policy.retrain_strategy``
(:class:`~leanloop.config.RetrainStrategy`: reference plus recent rows with recency
weights, an expanding window, or a sliding window), de-duplicated; the row counts and
the training set's fingerprint are recorded on the version.
The challenger's recorded test metrics are those on the recent rows (the population
it will serve); it is registered as ``challenger`` with lineage to its parent and
cycle, and compared with the champion on the recent rows and the champion's holdout.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from leanloop.errors import DataError

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

    from leanloop.project import Project
    from leanloop.registry import ModelVersion

__all__ = ["Retrained", "labelled_production", "training_rows", "retrain"]


@dataclass(frozen=True)
class Retrained:
    """The challenger and the rows it must be judged on."""

    challenger: ModelVersion
    recent: pd.DataFrame
    holdout: pd.DataFrame
    strategy: str = "reference_plus_recent"


def labelled_production(project: Project) -> pd.DataFrame:
    """Every logged prediction with a label, as a table of features plus the target, oldest first."""
    import pandas as pd

    window = project.store.window(labelled_only=True)
    target = project.config.data.target
    if window.empty:
        return pd.DataFrame(columns=[*project.config.schema_.names, target])
    features = pd.DataFrame(window["features"].tolist())
    features = project.config.schema_.coerce(features, "logged predictions")
    return features.assign(**{target: window["label"].to_numpy()})


def training_rows(project: Project, production: pd.DataFrame, reference: pd.DataFrame,
                  ) -> tuple[pd.DataFrame, np.ndarray, dict[str, int]]:
    """The challenger's training rows, their weights and row counts, by the configured strategy.

    ``production`` holds the labelled production rows the challenger may learn from
    (oldest first); ``reference`` the champion's training data.
    """
    import numpy as np
    import pandas as pd

    from leanloop.config import RetrainStrategy

    config = project.config
    policy = config.policy
    columns = [*config.schema_.names, config.data.target]
    strategy = policy.retrain_strategy
    if strategy is RetrainStrategy.SLIDING:
        parts = [production[columns].iloc[-policy.retrain_window_rows:].assign(_weight=1.0)]
    else:
        weight = 1.0 if strategy is RetrainStrategy.EXPANDING else policy.production_weight
        recent_weights = np.full(len(production), weight)
        if strategy is RetrainStrategy.REFERENCE_PLUS_RECENT and policy.recency_half_life_rows:
            age = np.arange(len(production))[::-1]  # 0 for the newest row
            recent_weights = recent_weights * 0.5 ** (age / policy.recency_half_life_rows)
        parts = [reference[columns].assign(_weight=1.0), production[columns].assign(_weight=recent_weights)]
    combined = pd.concat(parts, ignore_index=True)
    before = len(combined)
    combined = combined.drop_duplicates(subset=columns, keep="last").reset_index(drop=True)
    weights = combined.pop("_weight").to_numpy(dtype=float)
    used_reference = 0 if strategy is RetrainStrategy.SLIDING else len(reference)
    counts = {"reference": used_reference, "production": len(parts[-1]), "duplicates_dropped": before - len(combined)}
    return combined, weights, counts


def retrain(project: Project, *, cycle: int | None = None) -> Retrained:
    """Train and register a challenger; raises :class:`DataError` without enough labels.

    A failure at any step (training, evaluation, saving) registers nothing: the
    registry and its aliases stay as they were.
    """
    import pandas as pd

    from leanloop.build.train import train_version

    config = project.config
    champion = project.registry.champion()
    production = labelled_production(project)
    if len(production) < config.policy.min_labels:
        raise DataError(
            f"retraining needs at least {config.policy.min_labels} labelled production rows, "
            f"the log has {len(production)}; send more feedback first"
        )
    cut = int(len(production) * (1 - config.policy.recent_eval_share))
    learn_rows, recent = production.iloc[:cut], production.iloc[cut:]
    reference = pd.read_parquet(project.paths.datasets / champion.train_data)
    holdout = pd.read_parquet(project.paths.datasets / champion.test_data)
    reference_part = config.schema_.coerce(reference, "reference data").assign(
        **{config.data.target: reference[config.data.target].to_numpy()})
    combined, weights, counts = training_rows(project, learn_rows, reference_part)
    # The challenger's own test metrics come from the recent rows, so the policy later
    # compares its production performance with what it achieved on today's data,
    # not on a past period it no longer serves.
    challenger = train_version(
        config, project.paths, project.registry, train=combined, test=recent, source="retrain",
        parent=champion.version, cycle=cycle, sample_weight=weights, alias="challenger",
        rows={**counts, "recent_eval": len(recent)},
    )
    return Retrained(challenger=challenger, recent=recent.reset_index(drop=True), holdout=holdout,
                     strategy=config.policy.retrain_strategy.value)
