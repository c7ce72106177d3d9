"""Retraining: a challenger from the reference data plus labelled production rows.

The labelled production rows are split by time: the latest ``recent_eval_share``
are held out to judge champion against challenger on the same rows; the rest, less
the rows of the enriched test set (held out so the gate judges both versions on rows
neither trained on), are the production part of the training set, assembled by ``[retrain] strategy``
(:class:`~leanloop.config.RetrainStrategy`: reference plus recent rows with recency
weights, an expanding window, or a sliding window), de-duplicated; the row counts and
the training set's fingerprint are recorded on the version.

**The cap** (``[retrain] max_rows``, default 50,000): every strategy trains on at
most that many rows, so a retrain costs the same on a log of 100k or 10M labelled
rows. The newest production rows are kept; the reference keeps at least half the cap
when it has that many rows (a random sample, seeded by ``model.seed``), so
``reference_plus_recent`` still remembers the population the champion was built for.
The rows the cap dropped are counted (``capped``).
The challenger's recorded test metrics are those on the recent rows (the population
it will serve); it is registered as ``challenger`` with lineage to its parent and
cycle, and compared with the champion on the recent rows and the champion's holdout.

**Relearning after model harm** (``relearn``): when the measurement found harm the
model is responsible for (its own error grew on the labelled rows, beyond what the
population's mix explains), the relation it learned no longer holds, and the rows of
the old relation, taken as they are, teach the challenger the wrong answer. Then the
strategy above is set aside (:func:`~leanloop.learn.relearn_rows.since_change_rows`): the challenger learns from the
labelled rows logged since the harm began (the focus rows) and every older row
(reference and earlier production, under the cap), with one more input that marks the
focus rows (:class:`~leanloop.build.since_change.SinceChange`): gradient boosting splits
on the mark where the relation changed, shares the rest with the old rows, and serves
with the mark on. On the scenario bench's car-loan concept change, trained on the first
1,500 post-change rows, it earned +41 profit per loan over the first model on later
post-change loans, where the older rows as a light prior (:func:`~leanloop.learn.relearn_rows.relearn_rows`: a seeded
sample of as many rows as the focus rows, ``RELEARN_PRIOR_ROWS``, at 30 % of the weight,
``RELEARN_PRIOR_SHARE``) earned +20. The user's own model and the Dask engine cannot take
the mark and keep that prior. The hard
cases logged since the harm began are learnt from, not held out (``_relearn_hard_cases``).

**Judged cross-fitted** (:mod:`leanloop.learn.crossfit`). A relearning challenger is
judged on every labelled row logged since the harm began (those the champion never
trained on, when it trained on some), not on a held-out share: the rows since the harm
are dealt into ``RELEARN_FOLDS`` seeded folds; each fold's model learns from the other
folds (with the older rows, as the final model) and scores its own fold. The gate pairs
the champion's outputs with these out-of-fold outputs row by row; the version registered
and served is fitted on all the rows. The out-of-fold estimate is the standard
cross-validation estimate of that final model: slightly pessimistic (each fold model
learned from fewer rows), never optimistic (no row is scored by a model that trained on
it). The version's recorded test figures are its out-of-fold figures on those rows, and
so are the outputs on them the measurement reads (``_outputs_out_of_fold``); its
feature-drift reference is its training rows, as for every version. A held-out share judged the
first relearning challenger of the scenario bench's concept change on about 450 rows,
too few for its real gain (about +31 profit per loan) to clear the KPI lift's interval;
cross-fitted, on all 1,500 it measured +38 (one-sided 95 % bound +2.6: promoted by the
gate's one-sided test, :func:`~leanloop.learn.compare.lift_check`).
The cost is ``RELEARN_FOLDS + 1`` fits, counted in the cycle's training seconds.

While the harm lasts, each retrain after the cooldown learns from every labelled row since
it began (the loop's ``focus_since``), and once a challenger is promoted, a cycle with twice
as many labelled rows since the change retrains again (the policy's ``adapt``): a later
challenger learns from more of the new relation and, through the same gate, replaces the
first.

**Which model.** A champion that is the user's own model (adopted) is retrained as
itself: a clone of its estimator, same class and hyper-parameters, is fitted on the
rows above (:mod:`leanloop.build.own_model`), unless ``[policy] retrain_model =
"leanloop"`` asks for leanloop's pipeline; the version's ``model_kind`` and
``estimator`` say which.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from leanloop.build.dask_train import fit_pipeline_dask
from leanloop.build.since_change import fit_since_change
from leanloop.build.train import Fitted, fit_served, register_version
from leanloop.config import EngineKind, ModelKind, ProjectConfig, RetrainStrategy
from leanloop.errors import DataError, NotFoundError
from leanloop.learn.compare import OutOfFold
from leanloop.learn.crossfit import RELEARN_FOLDS, cross_fit
from leanloop.learn.relearn_rows import relearn_rows, since_change_rows
from leanloop.learn.testset import hard_case_frame
from leanloop.measure.columnar import take, write_scored
from leanloop.scoring import InputFormat
from leanloop.store.features import feature_frame

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

    from leanloop.registry import ModelVersion
    from leanloop.scoring import Scored
    from leanloop.workspace import Workspace

__all__ = ["Retrained", "labelled_production", "training_rows", "retrain"]


@dataclass(frozen=True)
class Retrained:
    """The challenger and the rows it must be judged on."""

    challenger: ModelVersion
    recent: pd.DataFrame
    holdout: pd.DataFrame
    strategy: str = "reference_plus_recent"
    #: the fitted challenger and its baseline, so the gate need not load them again
    model: Any = None
    baseline: Any = None
    #: relearning after model harm: the rows logged from this time on are the population
    #: the challenger learned and will serve (None: not relearning)
    relearn_since: float | None = None
    #: relearning: the hard cases the gate judges on (None: the whole enriched test set)
    hard: pd.DataFrame | None = None
    #: relearning: the challenger's cross-fitted outputs on ``recent`` and ``hard``
    out_of_fold: OutOfFold | None = None


def labelled_production(ws: Workspace, newest: int | None = None) -> pd.DataFrame:
    """Every logged prediction with a label (the ``newest`` ones only, given a count), as a
    table of features plus the target, oldest first, indexed by prediction id."""
    import pandas as pd

    window = ws.window(labelled_only=True, last=newest)
    target = ws.config.data.target
    if window.empty:
        return pd.DataFrame(columns=[*ws.config.schema_.names, target])
    features = feature_frame(window).set_axis(pd.Index(window["prediction_id"], name="prediction_id"))
    features = ws.config.schema_.coerce(features, "logged predictions")
    return features.assign(**{target: window["label"].to_numpy()})


def training_rows(config: ProjectConfig, production: pd.DataFrame, reference: pd.DataFrame,
                  ) -> tuple[pd.DataFrame, np.ndarray, dict[str, int]]:
    """The challenger's training rows, their weights and row counts, by the configured strategy.

    ``production`` holds the labelled production rows the challenger may learn from
    (oldest first); ``reference`` the champion's training data.
    """
    import numpy as np
    import pandas as pd

    retrain = config.retrain
    columns = [*config.schema_.names, config.data.target]
    strategy = retrain.strategy
    cap = retrain.max_rows
    if strategy is RetrainStrategy.SLIDING:
        available = min(len(production), retrain.window_rows)
        parts = [production[columns].iloc[len(production) - min(available, cap):].assign(_weight=1.0)]
    else:
        available = len(production) + len(reference)
        kept_reference = min(len(reference), cap // 2) if available > cap else len(reference)
        production = production.iloc[len(production) - min(len(production), cap - kept_reference):]
        kept_reference = min(len(reference), cap - len(production))
        if kept_reference < len(reference):
            reference = reference.sample(n=kept_reference, random_state=config.model.seed).sort_index()
        weight = 1.0 if strategy is RetrainStrategy.EXPANDING else retrain.production_weight
        recent_weights = np.full(len(production), weight)
        if strategy is RetrainStrategy.REFERENCE_PLUS_RECENT and retrain.recency_half_life_rows:
            age = np.arange(len(production))[::-1]  # 0 for the newest row
            recent_weights = recent_weights * 0.5 ** (age / retrain.recency_half_life_rows)
        parts = [reference[columns].assign(_weight=1.0), production[columns].assign(_weight=recent_weights)]
    combined = pd.concat(parts, ignore_index=True)
    before = len(combined)
    combined = combined.drop_duplicates(subset=columns, keep="last").reset_index(drop=True)
    weights = combined.pop("_weight").to_numpy(dtype=float)
    used_reference = 0 if strategy is RetrainStrategy.SLIDING else len(reference)
    counts = {"reference": used_reference, "production": len(parts[-1]), "duplicates_dropped": before - len(combined),
              "capped": available - before}
    return combined, weights, counts


def _focus(ws: Workspace, production: pd.DataFrame, since: float | None) -> np.ndarray | None:
    """Which labelled production rows are the evidence of harm (logged from ``since`` on)."""
    if since is None:
        return None
    ids = ws.window(since=since, labelled_only=True)["prediction_id"]
    mask = production.index.isin(ids.tolist())
    return mask if 0 < mask.sum() < len(mask) else None


def _split_recent(config: ProjectConfig, production: pd.DataFrame, focus: np.ndarray | None,
                  unseen: np.ndarray | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Learn rows and the recent rows that judge the challenger: the newest
    ``recent_eval_share`` by time; with a ``focus`` (the rows the harm was seen on), a
    seeded share of those rows instead, so that the challenger also learns from them,
    drawn from the focus rows logged after the champion was made (``unseen``) where they
    suffice: a champion that learned from some focus rows would be judged on its own
    training rows otherwise."""
    import numpy as np

    if focus is None:
        cut = int(len(production) * (1 - config.retrain.recent_eval_share))
        return production.iloc[:cut], production.iloc[cut:]
    rows = np.flatnonzero(focus)
    size = int(len(rows) * config.retrain.recent_eval_share)
    fresh = rows if unseen is None else np.flatnonzero(focus & unseen)
    rng = np.random.default_rng(config.model.seed)
    held = np.sort(rng.choice(fresh if len(fresh) >= size else rows, size, replace=False))
    keep = np.ones(len(production), dtype=bool)
    keep[held] = False
    return production.iloc[np.flatnonzero(keep)], production.iloc[held]


#: Focus rows weigh this many times everything else together (1: half the weight): the
#: population the challenger will serve weighs as much as everything it was built on
#: before, which keeps it from forgetting the rest (the gate checks the old holdout).
#: Three quarters was tried and did worse on the scenarios' post-change rows.
_FOCUS_ODDS = 1.0


def _focus_weights(weights: np.ndarray, focus: np.ndarray) -> np.ndarray:
    """Weights under which the focus rows carry ``_FOCUS_ODDS`` times the rest's."""
    rest = float(weights[~focus].sum())
    mine = float(weights[focus].sum())
    if mine <= 0 or rest <= 0:
        return weights
    scaled = weights.copy()
    scaled[focus] = weights[focus] * _FOCUS_ODDS * rest / mine
    return scaled


def _relearn_hard_cases(ws: Workspace, recent: pd.DataFrame) -> pd.DataFrame:
    """The hard cases a relearning challenger is judged on: those among its recent rows.

    The hard cases logged since the harm began are the champion's mistakes on the changed
    relation, the very rows that teach it: held out of training (as the enriched test set
    is for other retrains), they left the challenger learning from the rows the old
    relation still explains, and it lost to the champion on the changed loans (-21 profit
    per loan on 2,250 recent rows at the scenario bench's third retrain, with a light
    prior). So it learns from them, and the gate's hard-case check pairs both versions on
    the hard cases among the recent rows, the challenger by its out-of-fold outputs."""
    hard = hard_case_frame(ws)
    return hard[hard["prediction_id"].isin(recent.index.tolist())]


def _outputs_out_of_fold(ws: Workspace, version: ModelVersion, scored: Scored) -> None:
    """Keep ``scored`` (out of fold) with the version as its outputs on its test rows,
    where the measurement reads a champion's outputs on its holdout (the prediction-drift
    reference, the KPI attribution, the performance estimator): the version trained on
    every one of those rows, so its own outputs there would flatter it. A file in the
    data folder named by the version (:attr:`~leanloop.registry.ModelVersion.out_of_fold_data`),
    stored with its other files so a host that never built it fetches it: a cleared cache
    fills from it, never from the model."""
    path = ws.paths.datasets / version.out_of_fold_data
    write_scored(path, scored)
    ws.registry.attach(version, path)


def _relearn(ws: Workspace, champion: ModelVersion, production: pd.DataFrame, reference: pd.DataFrame,
             holdout: pd.DataFrame, *, since: float, cycle: int | None, estimator: Any) -> Retrained:
    """A challenger that relearns after model harm (module docstring): judged cross-fitted
    on every labelled row since the harm (:func:`~leanloop.learn.crossfit.cross_fit`; those
    the champion never trained on, when it trained on some), fitted on all to be registered."""
    import numpy as np
    import pandas as pd

    config = ws.config
    focus = production.index.isin(ws.window(since=since, labelled_only=True)["prediction_id"].tolist())
    if focus.sum() < RELEARN_FOLDS:  # no rows since the harm to relearn from: every labelled row
        focus = np.ones(len(production), dtype=bool)
    unseen = _focus(ws, production, champion.created_at)
    judged = focus if unseen is None or (focus & unseen).sum() < config.policy.min_labels else focus & unseen
    input_format = InputFormat.NATIVE if estimator is not None else InputFormat.ENCODED

    marked = estimator is None and config.retrain.engine is EngineKind.LOCAL

    def fitted_on(keep: np.ndarray) -> tuple[Fitted, pd.DataFrame, dict[str, int]]:
        if marked:
            rows, since_change, counts = since_change_rows(config, production[keep], reference, focus[keep])
            return fit_since_change(config, rows, since_change), rows, counts
        rows, weights, counts = relearn_rows(config, production[keep], reference, focus[keep])
        return fit_served(config, rows, weights, estimator=estimator, pipeline=_pipeline(config)), rows, counts

    def fit_on(keep: np.ndarray) -> Any:
        return fitted_on(keep)[0].model

    out_of_fold, folds = cross_fit(config, production, focus, fit_on, input_format)
    recent_scored = take(out_of_fold, np.flatnonzero(judged[focus]))
    recent = production[judged]
    hard = _relearn_hard_cases(ws, recent)
    hard_scored = take(recent_scored, recent.index.get_indexer(pd.Index(hard["prediction_id"])))
    fitted, combined, counts = fitted_on(np.ones(len(production), dtype=bool))
    challenger = register_version(
        ws, fitted.model, fitted.baseline, train=combined, test=recent, source="retrain",
        calibration=fitted.calibration, parent=champion.version, cycle=cycle, alias="challenger",
        warnings=fitted.warnings, input_format=input_format, trusted=estimator is not None and champion.trusted,
        rows={**counts, "recent_eval": len(recent), "testset_held_out": 0, "focus": int(focus.sum()),
              "folds": int(folds.max()) + 1}, test_scored=recent_scored)
    _outputs_out_of_fold(ws, challenger, recent_scored)
    return Retrained(challenger=challenger, recent=recent.reset_index(drop=True), holdout=holdout,
                     strategy="relearn", model=fitted.model, baseline=fitted.baseline, relearn_since=since,
                     hard=hard, out_of_fold=OutOfFold(recent=recent_scored, hard=hard_scored))


def _pipeline(config: ProjectConfig) -> Any:
    """How leanloop's pipeline is fitted: on the Dask cluster under ``[retrain] engine = "dask"``
    (:func:`~leanloop.build.dask_train.fit_pipeline_dask`), else in this process (None)."""
    return fit_pipeline_dask if config.retrain.engine is EngineKind.DASK else None


def retrain(ws: Workspace, *, cycle: int | None = None, focus_since: float | None = None,
            relearn: bool = False) -> Retrained:
    """Train and register a challenger; raises :class:`DataError` without enough labels.

    ``focus_since``: the time from which the labelled rows the harm was seen on were
    logged (the measurement's labelled window): those rows carry half the
    training weight and a seeded share of them judges the challenger.
    ``relearn`` (with ``focus_since``): the harm is the model's own, so the challenger
    learns the changed relation from the focus rows, marked, beside the older rows
    (:func:`~leanloop.learn.relearn_rows.since_change_rows`; a prior, :func:`relearn_rows`, for a model that cannot
    take the mark), and is judged cross-fitted on every focus row (:func:`~leanloop.learn.crossfit.cross_fit`).

    A failure at any step (training, evaluation, saving) registers nothing: the
    registry and its aliases stay as they were.
    """
    import numpy as np
    import pandas as pd

    config = ws.config
    champion = ws.registry.champion()
    # Only the rows the cap can use are read: a learn part of max_rows besides the test set, and its recent share.
    testset = ws.store.testset_rows()
    production = labelled_production(ws, math.ceil(config.retrain.max_rows / (1 - config.retrain.recent_eval_share))
                                     + len(testset))
    if len(production) < config.policy.min_labels:
        raise DataError(
            f"retraining needs at least {config.policy.min_labels} labelled production rows, "
            f"the log has {len(production)}; send more feedback first"
        )
    if not champion.train_data or not champion.test_data:
        raise NotFoundError(f"the champion {champion.version} has no training or test data in the workspace; "
                            "rebuild or re-adopt it")
    reference = pd.read_parquet(ws.paths.datasets / champion.train_data)
    holdout = pd.read_parquet(ws.paths.datasets / champion.test_data)
    reference_part = config.schema_.coerce(reference, "reference data").assign(
        **{config.data.target: reference[config.data.target].to_numpy()})
    own = champion.model_kind is ModelKind.OWN and config.policy.retrain_model is ModelKind.OWN
    if relearn and focus_since is not None:
        return _relearn(ws, champion, production, reference_part, holdout, since=focus_since, cycle=cycle,
                        estimator=ws.registry.load(champion.version)[0] if own else None)
    # rows logged after the champion was made: it never learned from them (None: all or none were)
    unseen = _focus(ws, production, champion.created_at)
    learn_rows, recent = _split_recent(config, production, _focus(ws, production, focus_since), unseen)
    hard_ids = [r["prediction_id"] for r in testset]
    # The enriched test set is held out so the gate judges both versions on unseen rows.
    held_out = learn_rows.index.isin(hard_ids)
    learn_rows = learn_rows[~held_out]
    focus = _focus(ws, learn_rows, focus_since)
    combined, weights, counts = training_rows(config, learn_rows, reference_part)
    if focus is not None:
        # the focus rows are the newest labelled rows, so the last of the production part
        # (the part comes last, oldest first; a duplicate dropped may shift one or two)
        mask = np.zeros(len(combined), dtype=bool)
        mask[len(combined) - min(int(focus.sum()), counts["production"]):] = True
        weights = _focus_weights(weights, mask)
    # The challenger's own test metrics come from the recent rows, so the policy later
    # compares its production performance with what it achieved on today's data,
    # not on a past period it no longer serves.
    fitted = fit_served(config, combined, weights, estimator=ws.registry.load(champion.version)[0] if own else None,
                        pipeline=_pipeline(config))
    model, baseline = fitted.model, fitted.baseline
    challenger = register_version(
        ws, model, baseline, train=combined, test=recent, source="retrain", calibration=fitted.calibration,
        parent=champion.version, cycle=cycle, alias="challenger", warnings=fitted.warnings,
        input_format=InputFormat.NATIVE if own else InputFormat.ENCODED, trusted=own and champion.trusted,
        rows={**counts, "recent_eval": len(recent), "testset_held_out": int(held_out.sum()),
              **({} if focus is None else {"focus": int(focus.sum())})},
    )
    return Retrained(challenger=challenger, recent=recent.reset_index(drop=True), holdout=holdout,
                     strategy=config.retrain.strategy.value, model=model, baseline=baseline)
