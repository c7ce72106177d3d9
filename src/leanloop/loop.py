"""One cycle of the loop: measure a window, decide, act, and write it to the ledger.

The ledger (:mod:`leanloop.learn.ledger`) is the project's memory: each cycle holds the
measurement, the decision with its rules, what was done (challenger trained with
its strategy, row counts and fingerprint; the comparison; promotion or rollback)
and how long each step took. Manual promotions and rollbacks are ledger entries too
(:mod:`leanloop.learn.promotion`). A cycle that acts first copies its window's hard
cases into the enriched test set (:mod:`leanloop.learn.testset`; how many, by reason,
under ``testset``), so the gate already judges a challenger on them.

With ``[gate] shadow_before_promote`` a challenger that passes the gate goes on
trial in shadow mode instead (``shadowed``); each later cycle first judges it on the
live rows it scored (``shadow``: :mod:`leanloop.learn.shadow`) and promotes it, ends
the trial, or lets it run.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from leanloop.learn import ledger
from leanloop.learn.compare import compare
from leanloop.learn.evidence import evidence_from
from leanloop.learn.ledger import Cycle
from leanloop.learn.policy import Action, Decision, decide
from leanloop.learn.promotion import previous_evidence
from leanloop.learn.recalibrate import recalibrate
from leanloop.learn.retrain import retrain
from leanloop.learn.shadow import judge_trial, loop_trial
from leanloop.learn.testset import add_hard_cases
from leanloop.measure.measurement import measure_window

if TYPE_CHECKING:
    import pandas as pd

    from leanloop.measure.records import Measurement
    from leanloop.workspace import Workspace

__all__ = ["Cycle", "run_cycle", "save_measurement"]


def save_measurement(ws: Workspace, measurement: Measurement) -> Measurement:
    """Store ``measurement`` (``leanloop learn`` decides on the latest one)."""
    ws.store.add_measurement(measurement.to_json(), at=time.time())
    return measurement


def _window_labelled(ws: Workspace, window: pd.DataFrame) -> pd.DataFrame:
    """The labelled rows of the measured window, as features plus the target."""
    import pandas as pd

    config = ws.config
    window = window[window["label"].notna()]
    if window.empty:
        return pd.DataFrame(columns=[*config.schema_.names, config.data.target])
    features = config.schema_.coerce(pd.DataFrame(window["features"].tolist()), "logged predictions")
    return features.assign(**{config.data.target: window["label"].to_numpy()})


def _decide(ws: Workspace, measurement: Measurement, window: pd.DataFrame, models: dict[str, tuple[Any, Any]],
            act: bool, fields: dict[str, Any]) -> Decision:
    """Judge the loop's shadow trial (when acting), gather the evidence, decide."""
    past = ledger.cycles(ws.store)
    trial = loop_trial(ws, past)
    if trial is not None and act:
        report = judge_trial(ws, trial)
        fields["shadow"] = report.to_json()
        fields["promoted"] = report.verdict == "promote"
        trial = trial if report.verdict == "wait" else None
    previous = previous_evidence(ws, _window_labelled(ws, window), models=models)
    evidence = evidence_from(measurement, ws.config, history=ledger.history(past), previous=previous,
                             shadow_trial=trial)
    return decide(evidence, ws.config.policy)


def _retrain_and_judge(ws: Workspace, cycle_id: int, champion: str, models: dict[str, tuple[Any, Any]],
                       fields: dict[str, Any], durations: dict[str, float], trainer: Any = retrain) -> None:
    """Train (or recalibrate) a challenger, put it through the gate, and promote it or start its trial."""
    clock = time.perf_counter()
    retrained = trainer(ws, cycle=cycle_id)
    durations["retrain"] = time.perf_counter() - clock
    version = retrained.challenger
    fields["challenger"] = version.version
    fields["training"] = {"strategy": retrained.strategy, "rows": version.rows,
                          "fingerprint": version.fingerprint, "parent": version.parent}
    clock = time.perf_counter()
    models[version.version] = (retrained.model, retrained.baseline)
    comparison = compare(ws, champion, version.version, recent=retrained.recent, holdout=retrained.holdout,
                         models=models)
    durations["compare"] = time.perf_counter() - clock
    fields["comparison"] = comparison
    if comparison.promote and ws.config.gate.shadow_before_promote:
        ws.registry.shadow(version.version)
        fields["shadowed"] = version.version
    elif comparison.promote:
        ws.registry.promote(version.version)
        fields["promoted"] = True


def run_cycle(ws: Workspace, *, last: int | None = None, since: float | None = None,
              act: bool = True, measurement: Measurement | None = None) -> Cycle:
    """Measure (unless ``measurement`` is given), decide and (with ``act``) retrain,
    compare and promote, or roll back; record the cycle in the ledger.

    A failure while acting (e.g. a retrain that cannot train) leaves the registry as it
    was, is written to the ledger entry, and is raised.
    """
    started = time.time()
    durations: dict[str, float] = {}
    champion_before = ws.registry.champion().version
    clock = time.perf_counter()
    # The window is read and the champion loaded once; measuring, the rollback evidence
    # and the gate all use them.
    if since is None and last is None:
        last = ws.config.measure.window_rows
    window = ws.store.window(last=last, since=since)
    models = {champion_before: ws.registry.load(champion_before)}
    if measurement is None:
        measurement = save_measurement(ws, measure_window(ws, window=window, loaded=models[champion_before]))
    durations["measure"] = time.perf_counter() - clock

    clock = time.perf_counter()
    fields: dict[str, Any] = {}
    decision = _decide(ws, measurement, window, models, act, fields)
    durations["decide"] = time.perf_counter() - clock
    cycle_id = ledger.reserve(ws.store, at=started)
    try:
        if act:
            fields["testset"] = add_hard_cases(ws.store, measurement.hard_case_rows, cycle=cycle_id,
                                               max_rows=ws.config.testset.max_rows, at=started)
        if act and decision.action is Action.RETRAIN:
            _retrain_and_judge(ws, cycle_id, champion_before, models, fields, durations)
        elif act and decision.action is Action.RECALIBRATE:
            _retrain_and_judge(ws, cycle_id, champion_before, models, fields, durations, trainer=recalibrate)
        elif act and decision.action is Action.ROLLBACK:
            ws.registry.rollback()
            fields["rolled_back"] = True
    except Exception as exc:
        fields["error"] = str(exc)
        raise
    finally:
        durations["total"] = time.time() - started
        cycle = Cycle(
            cycle=cycle_id, created_at=started, measurement=measurement.to_json(), decision=decision,
            champion_before=champion_before, champion_after=ws.registry.champion().version,
            durations=durations, **fields,
        )
        ledger.write(ws.store, cycle)
    return cycle
