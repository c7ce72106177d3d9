"""Retraining: a challenger from the reference data plus labelled production rows.

The labelled production rows are split by time: the latest ``recent_eval_share``
are held out to judge champion against challenger on the same rows; the rest, less
the rows of the enriched test set (held out for the gate), join the champion's
training data, weighted ``production_weight`` times, de-duplicated.
The challenger's recorded test metrics are those on the recent rows (the population
it will serve); it is registered as ``challenger`` with lineage to its parent and
cycle, and compared with the champion on the recent rows and the champion's holdout.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from leanloop.errors import DataError

if TYPE_CHECKING:
    import pandas as pd

    from leanloop.project import Project
    from leanloop.registry import ModelVersion

__all__ = ["Retrained", "labelled_production", "retrain"]


@dataclass(frozen=True)
class Retrained:
    """The challenger and the rows it must be judged on."""

    challenger: ModelVersion
    recent: pd.DataFrame
    holdout: pd.DataFrame


def labelled_production(project: Project) -> pd.DataFrame:
    """Every logged prediction with a label, as a table of features plus the target,
    oldest first, indexed by prediction id."""
    import pandas as pd

    window = project.store.window(labelled_only=True)
    target = project.config.data.target
    if window.empty:
        return pd.DataFrame(columns=[*project.config.schema_.names, target])
    features = pd.DataFrame(window["features"].tolist(), index=pd.Index(window["prediction_id"], name="prediction_id"))
    features = project.config.schema_.coerce(features, "logged predictions")
    return features.assign(**{target: window["label"].to_numpy()})


def retrain(project: Project, *, cycle: int | None = None) -> Retrained:
    """Train and register a challenger; raises :class:`DataError` without enough labels."""
    import numpy as np
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
    # The enriched test set is held out so the gate judges both versions on unseen rows.
    held_out = learn_rows.index.isin([r["prediction_id"] for r in project.store.testset_rows()])
    learn_rows = learn_rows[~held_out]
    columns = [*config.schema_.names, config.data.target]
    reference = pd.read_parquet(project.paths.datasets / champion.train_data)
    holdout = pd.read_parquet(project.paths.datasets / champion.test_data)
    reference_part = config.schema_.coerce(reference, "reference data").assign(
        **{config.data.target: reference[config.data.target].to_numpy()})
    combined = pd.concat([reference_part[columns].assign(_weight=1.0),
                          learn_rows[columns].assign(_weight=config.policy.production_weight)],
                         ignore_index=True)
    combined = combined.drop_duplicates(subset=columns, keep="last").reset_index(drop=True)
    weights = combined.pop("_weight").to_numpy(dtype=float)
    # The challenger's own test metrics come from the recent rows, so the policy later
    # compares its production performance with what it achieved on today's data,
    # not on a past period it no longer serves.
    challenger = train_version(
        config, project.paths, project.registry, train=combined, test=recent, source="retrain",
        parent=champion.version, cycle=cycle, sample_weight=np.asarray(weights), alias="challenger",
        rows={"reference": len(reference_part), "production": len(learn_rows), "recent_eval": len(recent),
              "testset_held_out": int(held_out.sum())},
    )
    return Retrained(challenger=challenger, recent=recent.reset_index(drop=True), holdout=holdout)
