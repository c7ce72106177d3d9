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

One cycle runs at a time: every cycle holds the cycle lock (:mod:`leanloop.leader`)
from its first ledger write to its last. A manual cycle waits for it (``on_wait`` is
told, so the CLI can say so); the unattended loop (:func:`try_cycle`) skips its turn
when another holder has it. Each stage is written to the cycle's ledger entry as it
starts (``measuring``, ``deciding``, ``training``, ``comparing``, ``promoting``), so
when a process dies mid-cycle the next holder of the lock records that cycle as
``interrupted`` at its stage (:func:`recover_interrupted`). The registry writes a
version's files before its record and moves aliases in one transaction, so such a
death leaves no half-registered version and no alias on a missing artifact. A cycle
that raises is recorded with its ``error`` (and raised). After a cycle, with ``[mlflow]
tracking_uri`` set, what is not in MLflow yet is logged there (:mod:`leanloop.integrations`).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from leanloop.engines.dask_window import window_engine
from leanloop.integrations.mlflow_tracking import log_pending
from leanloop.leader import cycle_lock
from leanloop.learn import ledger
from leanloop.learn.compare import compare
from leanloop.learn.evidence import History, evidence_from
from leanloop.learn.ledger import Cycle
from leanloop.learn.policy import Action, Decision, Rule, decide
from leanloop.learn.promotion import previous_evidence
from leanloop.learn.recalibrate import recalibrate
from leanloop.learn.retrain import retrain
from leanloop.learn.shadow import judge_trial, loop_trial
from leanloop.learn.testset import add_hard_cases
from leanloop.loop_state import rows_and_seconds
from leanloop.measure.measurement import measure_window
from leanloop.schedule import Schedule, Trigger
from leanloop.store.features import feature_frame

if TYPE_CHECKING:
    import pandas as pd

    from leanloop.config import EngineConfig
    from leanloop.measure.records import Measurement
    from leanloop.workspace import Workspace

__all__ = ["Cycle", "run_cycle", "try_cycle", "recover_interrupted", "save_measurement", "StageHook"]

#: Called with each stage's name as the stage starts (after it is in the ledger).
StageHook = Callable[[str], None]


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
    features = config.schema_.coerce(feature_frame(window), "logged predictions")
    return features.assign(**{config.data.target: window["label"].to_numpy()})


def _past(ws: Workspace) -> list[Cycle]:
    """The ledger's cycles, less those interrupted or failed before measuring (they saw nothing)."""
    return [c for c in ledger.cycles(ws.store) if not (c.error and not c.measurement)]


def _decide(ws: Workspace, measurement: Measurement, window: pd.DataFrame, models: dict[str, tuple[Any, Any]],
            act: bool, fields: dict[str, Any]) -> tuple[Decision, History]:
    """Judge the loop's shadow trial (when acting), gather the evidence, decide; with the
    decision, the history it was taken on."""
    past = _past(ws)
    trial = loop_trial(ws, past)
    if trial is not None and act:
        report = judge_trial(ws, trial)
        fields["shadow"] = report.to_json()
        fields["promoted"] = report.verdict == "promote"
        trial = trial if report.verdict == "wait" else None
    previous = previous_evidence(ws, _window_labelled(ws, window), models=models)
    history = ledger.history(past, min_new_labels=ws.config.policy.min_labels)
    adapt_rows = (None if history.adapting_since is None
                  else len(ws.store.window(since=history.adapting_since, labelled_only=True)))
    evidence = evidence_from(measurement, ws.config, history=history, previous=previous, adapt_rows=adapt_rows,
                             shadow_trial=trial)
    return decide(evidence, ws.config.policy), history


class _Progress:
    """The running cycle's ledger entry, rewritten as each stage starts."""

    def __init__(self, ws: Workspace, cycle_id: int, running: dict[str, Any], on_stage: StageHook | None) -> None:
        self.ws, self.cycle_id, self.running, self.on_stage = ws, cycle_id, running, on_stage

    def __call__(self, stage: str, **known: Any) -> None:
        self.running = {**self.running, **known, "stage": stage}
        ledger.progress(self.ws.store, self.cycle_id, self.running)
        if self.on_stage is not None:
            self.on_stage(stage)


def _retrain_and_judge(ws: Workspace, cycle_id: int, champion: str, models: dict[str, tuple[Any, Any]],
                       fields: dict[str, Any], durations: dict[str, float], stage: _Progress,
                       focus_since: float | None = None, recalibrating: bool = False, relearn: bool = False) -> None:
    """Train (or recalibrate) a challenger, put it through the gate, and promote it or start its trial."""
    stage("training")
    clock = time.perf_counter()
    retrained = (recalibrate(ws, cycle=cycle_id) if recalibrating
                 else retrain(ws, cycle=cycle_id, focus_since=focus_since, relearn=relearn))
    durations["retrain"] = time.perf_counter() - clock
    version = retrained.challenger
    fields["challenger"] = version.version
    fields["training"] = {"strategy": retrained.strategy, "rows": version.rows,
                          "fingerprint": version.fingerprint, "parent": version.parent,
                          "model_kind": version.model_kind.value, "estimator": version.estimator,
                          "focus_since": focus_since}
    stage("comparing", challenger=version.version)
    clock = time.perf_counter()
    models[version.version] = (retrained.model, retrained.baseline)
    comparison = compare(ws, champion, version.version, recent=retrained.recent, holdout=retrained.holdout,
                         hard=retrained.hard, models=models, relearn_since=retrained.relearn_since,
                         out_of_fold=retrained.out_of_fold)
    durations["compare"] = time.perf_counter() - clock
    fields["comparison"] = comparison
    if comparison.promote:
        stage("promoting")
    if comparison.promote and ws.config.gate.shadow_before_promote:
        ws.registry.shadow(version.version)
        fields["shadowed"] = version.version
    elif comparison.promote:
        ws.registry.promote(version.version)
        fields["promoted"] = True


def _stopped(rule: str, says: str) -> Decision:
    """The decision recorded for a cycle that stopped before it decided: nothing done."""
    return Decision(action=Action.WAIT, reasons=[Rule(rule=rule, value=None, threshold=None, fired=True, says=says)])


def recover_interrupted(ws: Workspace) -> list[Cycle]:
    """Record as ``interrupted`` every cycle that started and never finished.

    Call it only while holding the cycle lock: then no other cycle is running, so an
    unfinished entry is one whose process died. What it had measured and decided is
    kept; the champion is the one the registry names now (a death after the aliases
    moved leaves the promotion made, and the entry says so).
    """
    recovered = []
    champion = ws.registry.champion().version
    for body in ledger.running(ws.store):
        state = body["running"]
        stage = state.get("stage", "measuring")
        says = f"the process running this cycle stopped during {stage}; nothing after that was done"
        challenger = state.get("challenger")
        cycle = Cycle(
            cycle=body["cycle"], created_at=state.get("started_at", 0.0), measurement=state.get("measurement") or {},
            decision=state.get("decision") or _stopped("interrupted", says),
            champion_before=state.get("champion_before", champion), champion_after=champion,
            challenger=challenger, promoted=challenger is not None and champion == challenger,
            trigger=state.get("trigger"), logged_rows=state.get("logged_rows"), interrupted=True, stage=stage,
            error=says,
        )
        ledger.write(ws.store, cycle)
        recovered.append(cycle)
    return recovered


def _harmed(decision: Decision) -> bool:
    return any(r.fired and r.rule in {"metric_drop", "kpi_drop"} for r in decision.reasons)


def _harm_since(measurement: Measurement, history: History) -> float | None:
    """When the labelled rows the harm was seen on start, in this cycle's window or, when
    the harm has lasted, in the first window of its streak (the challenger learns mostly from them)."""
    from datetime import datetime

    window = measurement.labelled_window
    if window is None or window.start is None:
        return history.harm_since
    # ISO text keeps microseconds: a microsecond earlier keeps the first row in
    start = datetime.fromisoformat(window.start).timestamp() - 1e-6
    return start if history.harm_since is None else min(start, history.harm_since - 1e-6)


def run_cycle(ws: Workspace, *, last: int | None = None, since: float | None = None, act: bool = True,
              measurement: Measurement | None = None, trigger: Trigger = Trigger.MANUAL,
              on_wait: Callable[[], None] | None = None, on_stage: StageHook | None = None,
              engine: EngineConfig | None = None) -> Cycle:
    """Take the cycle lock (waiting for it; ``on_wait`` is called first if another cycle
    holds it), then measure (unless ``measurement`` is given), decide and (with ``act``)
    retrain, compare and promote, or roll back; record the cycle in the ledger.

    A failure (e.g. a retrain that cannot train) leaves the registry as it was, is
    written to the ledger entry, and is raised. ``engine``: where the window is
    measured (default ``[engine]``; :mod:`leanloop.engines.dask_window`).
    """
    lock = cycle_lock(ws.store.engine)
    try:
        if not lock.acquire():
            if on_wait is not None:
                on_wait()
            lock.acquire(wait=float("inf"))
        recover_interrupted(ws)
        cycle = _locked_cycle(ws, last=last, since=since, act=act, measurement=measurement, trigger=trigger,
                              on_stage=on_stage, engine=engine)
    finally:
        lock.close()
    log_pending(ws)  # after the lock: MLflow, slow or away, never holds the next cycle up
    return cycle


def try_cycle(ws: Workspace, schedule: Schedule, *, now: float | None = None,
              on_stage: StageHook | None = None) -> Cycle | None:
    """The unattended loop's turn: if the cycle lock is free and a cycle is due (checked
    again under the lock: another process may just have run one), run it. ``None``
    when nothing ran. A cycle that fails is recorded (its ``error``) and returned."""
    cycle = _try_locked(ws, schedule, now=now, on_stage=on_stage)
    if cycle is not None:
        log_pending(ws)
    return cycle


def _try_locked(ws: Workspace, schedule: Schedule, *, now: float | None, on_stage: StageHook | None) -> Cycle | None:
    """:func:`try_cycle`'s turn under the cycle lock."""
    lock = cycle_lock(ws.store.engine)
    try:
        if not lock.acquire():
            return None
        recover_interrupted(ws)
        rows, seconds = rows_and_seconds(ws, now=now)
        trigger = schedule.due(rows_since=rows, seconds_since=seconds)
        if trigger is None:
            return None
        try:
            return _locked_cycle(ws, trigger=trigger, on_stage=on_stage)
        except Exception:  # recorded in the ledger by _locked_cycle; the loop goes on
            return ledger.cycles(ws.store)[-1]
    finally:
        lock.close()


def _locked_cycle(ws: Workspace, *, last: int | None = None, since: float | None = None, act: bool = True,
                  measurement: Measurement | None = None, trigger: Trigger = Trigger.MANUAL,
                  on_stage: StageHook | None = None, engine: EngineConfig | None = None) -> Cycle:
    """One cycle, under the cycle lock."""
    started = time.time()
    durations: dict[str, float] = {}
    champion_before = ws.registry.champion().version
    logged_rows = ws.store.logged_total()  # not count(): retention deletes rows
    running = {"started_at": started, "trigger": trigger.value, "logged_rows": logged_rows,
               "champion_before": champion_before, "pid": os.getpid()}
    cycle_id = ledger.start(ws.store, started, running)
    stage = _Progress(ws, cycle_id, running, on_stage)
    fields: dict[str, Any] = {}
    decision: Decision | None = None
    try:
        stage("measuring")
        clock = time.perf_counter()
        # The window is read and the champion loaded once; measuring, the rollback evidence
        # and the gate all use them.
        if since is None and last is None:
            last = ws.config.measure.window_rows
        window = ws.window(last=last, since=since, proba_columns=True)
        models = {champion_before: ws.registry.load(champion_before)}
        if measurement is None:
            # labels that arrived after the last counted cycle are this one's new evidence
            counted = ledger.history(_past(ws), min_new_labels=ws.config.policy.min_labels).labels_until
            with window_engine(ws, engine) as columns:
                measured = measure_window(ws, last=last, since=since, window=window, loaded=models[champion_before],
                                          labels_after=counted, columns=columns)
            measurement = save_measurement(ws, measured)
        durations["measure"] = time.perf_counter() - clock

        stage("deciding", measurement=measurement.to_json())
        clock = time.perf_counter()
        decision, history = _decide(ws, measurement, window, models, act, fields)
        durations["decide"] = time.perf_counter() - clock
        stage("deciding", decision=decision.model_dump(mode="json"))
        if act:
            fields["testset"] = add_hard_cases(ws.store, measurement.hard_case_rows, cycle=cycle_id,
                                               max_rows=ws.config.testset.max_rows, at=started)
        if act and decision.action is Action.RETRAIN:
            # on harm the challenger focuses on the rows it was seen on; adapting, on every row since the change;
            # both relearn the changed relation (learn.retrain), drift alone (retrain_on_drift) does not
            adapt = any(r.rule == "adapt" and r.fired for r in decision.reasons) and not _harmed(decision)
            _retrain_and_judge(ws, cycle_id, champion_before, models, fields, durations, stage,
                               focus_since=history.adapting_since if adapt else _harm_since(measurement, history),
                               relearn=adapt or _harmed(decision))
        elif act and decision.action is Action.RECALIBRATE:
            _retrain_and_judge(ws, cycle_id, champion_before, models, fields, durations, stage, recalibrating=True)
        elif act and decision.action is Action.ROLLBACK:
            stage("promoting")
            ws.registry.rollback()
            fields["rolled_back"] = True
    except Exception as exc:
        fields["error"] = str(exc) or type(exc).__name__
        fields["stage"] = stage.running.get("stage")
        raise
    finally:
        durations["total"] = time.time() - started
        cycle = Cycle(
            cycle=cycle_id, created_at=started, measurement={} if measurement is None else measurement.to_json(),
            decision=decision or _stopped("failed", f"the cycle failed before it decided: {fields.get('error')}"),
            champion_before=champion_before, champion_after=ws.registry.champion().version,
            durations=durations, trigger=trigger, logged_rows=logged_rows, **fields,
        )
        ledger.write(ws.store, cycle)
    return cycle
