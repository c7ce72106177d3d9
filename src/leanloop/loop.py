"""One cycle of the loop: measure a window, decide, act, and write it to the ledger.

The ledger (the ``cycles`` table) is the project's memory: each entry holds the
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

from pydantic import BaseModel, ConfigDict, Field

from leanloop.learn.compare import Comparison
from leanloop.learn.policy import Action, Decision
from leanloop.learn.testset import Added

if TYPE_CHECKING:
    import pandas as pd

    from leanloop.measure.measurement import Measurement
    from leanloop.project import Project

__all__ = ["Cycle", "run_cycle"]


class Cycle(BaseModel):
    """A ledger entry; ``to_json`` is what ``leanloop cycle --json`` prints."""

    model_config = ConfigDict(frozen=True)

    cycle: int
    created_at: float
    measurement: dict[str, Any]
    decision: Decision
    champion_before: str
    champion_after: str
    challenger: str | None = None
    comparison: Comparison | None = None
    promoted: bool = False
    rolled_back: bool = False
    training: dict[str, Any] | None = None
    testset: Added | None = None
    shadowed: str | None = None
    shadow: dict[str, Any] | None = None
    error: str | None = None
    durations: dict[str, float] = Field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        """The stable JSON shape."""
        body = self.model_dump(mode="json")
        body["kind"] = "cycle"
        if self.comparison is not None:
            body["comparison"]["promote"] = self.comparison.promote
        return body

    def explain(self) -> str:
        """The decision's rules and, if a challenger was judged, the gate's checks."""
        parts = [f"cycle {self.cycle}: champion {self.champion_before} -> {self.champion_after}"]
        if self.shadow is not None:
            parts.append(f"shadow trial of {self.shadow['shadow']}: {self.shadow['verdict']} ({self.shadow['says']})")
        parts.append(self.decision.explain())
        if self.comparison is not None:
            parts.append(self.comparison.explain())
        if self.shadowed:
            parts.append(f"{self.shadowed} passed the gate and went on trial in shadow mode")
        if self.error:
            parts.append(f"error: {self.error}")
        return "\n".join(parts)


def _window_labelled(project: Project, window: pd.DataFrame) -> pd.DataFrame:
    """The labelled rows of the measured window, as features plus the target."""
    import pandas as pd

    config = project.config
    window = window[window["label"].notna()]
    if window.empty:
        return pd.DataFrame(columns=[*config.schema_.names, config.data.target])
    features = config.schema_.coerce(pd.DataFrame(window["features"].tolist()), "logged predictions")
    return features.assign(**{config.data.target: window["label"].to_numpy()})


def run_cycle(project: Project, *, last: int | None = None, since: float | None = None,
              act: bool = True, measurement: Measurement | None = None) -> Cycle:
    """Measure (unless ``measurement`` is given), decide and (with ``act``) retrain,
    compare and promote, or roll back; record the cycle in the ledger.

    A failure while acting (e.g. a retrain that cannot train) leaves the registry as it
    was, is written to the ledger entry, and is raised.
    """
    from leanloop.learn.compare import compare
    from leanloop.learn.evidence import evidence_from, history_from
    from leanloop.learn.policy import decide
    from leanloop.learn.promotion import previous_evidence
    from leanloop.learn.retrain import retrain
    from leanloop.learn.shadow import judge_trial, loop_trial
    from leanloop.learn.testset import add_hard_cases

    started = time.time()
    durations: dict[str, float] = {}
    champion_before = project.registry.champion().version
    clock = time.perf_counter()
    # The window is read and the champion loaded once; measuring, the rollback evidence
    # and the gate all use them.
    if since is None and last is None:
        last = project.config.measure.window_rows
    window = project.store.window(last=last, since=since)
    models = {champion_before: project.registry.load(champion_before)}
    if measurement is None:
        measurement = project.measure(window=window, loaded=models[champion_before])
    durations["measure"] = time.perf_counter() - clock

    clock = time.perf_counter()
    ledger = [c for c in project.store.cycles() if c.get("kind", "cycle") == "cycle" and c.get("decision")]
    fields: dict[str, Any] = {}
    trial = loop_trial(project, ledger)
    if trial is not None and act:
        report = judge_trial(project, trial)
        fields["shadow"] = report.to_json()
        fields["promoted"] = report.verdict == "promote"
        trial = trial if report.verdict == "wait" else None
    previous = previous_evidence(project, _window_labelled(project, window), models=models)
    evidence = evidence_from(measurement, project.config, history=history_from(ledger), previous=previous,
                             shadow_trial=trial)
    decision = decide(evidence, project.config.policy)
    durations["decide"] = time.perf_counter() - clock
    cycle_id = project.store.add_cycle({}, at=started)
    try:
        if act:
            fields["testset"] = add_hard_cases(project.store, measurement.hard_case_rows, cycle=cycle_id,
                                               max_rows=project.config.testset.max_rows, at=started)
        if act and decision.action is Action.RETRAIN:
            clock = time.perf_counter()
            retrained = retrain(project, cycle=cycle_id)
            durations["retrain"] = time.perf_counter() - clock
            version = retrained.challenger
            fields["challenger"] = version.version
            fields["training"] = {"strategy": retrained.strategy, "rows": version.rows,
                                  "fingerprint": version.fingerprint, "parent": version.parent}
            clock = time.perf_counter()
            models[version.version] = (retrained.model, retrained.baseline)
            comparison = compare(project, champion_before, version.version, recent=retrained.recent,
                                 holdout=retrained.holdout, models=models)
            durations["compare"] = time.perf_counter() - clock
            fields["comparison"] = comparison
            if comparison.promote and project.config.gate.shadow_before_promote:
                project.registry.shadow(version.version)
                fields["shadowed"] = version.version
            elif comparison.promote:
                project.registry.promote(version.version)
                fields["promoted"] = True
        elif act and decision.action is Action.ROLLBACK:
            project.registry.rollback()
            fields["rolled_back"] = True
    except Exception as exc:
        fields["error"] = str(exc)
        raise
    finally:
        durations["total"] = time.time() - started
        cycle = Cycle(
            cycle=cycle_id, created_at=started, measurement=measurement.to_json(), decision=decision,
            champion_before=champion_before, champion_after=project.registry.champion().version,
            durations=durations, **fields,
        )
        project.store.update_cycle(cycle_id, cycle.to_json())
    return cycle
