"""One cycle of the loop: measure a window, decide, act, and write it to the ledger.

The ledger (the ``cycles`` table) is the project's memory: each entry holds the
measurement, the decision with its rules, what was done (hard cases added to the
enriched test set, challenger trained, comparison, promotion) and how long each step
took. A cycle that acts copies its window's hard cases into the enriched test set
before retraining, so the gate already judges the challenger on them.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field

from leanloop.learn.compare import Comparison
from leanloop.learn.policy import Action, Decision
from leanloop.learn.testset import Added

if TYPE_CHECKING:
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
    testset: Added | None = None
    durations: dict[str, float] = Field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        """The stable JSON shape."""
        body = self.model_dump(mode="json")
        if self.comparison is not None:
            body["comparison"]["promote"] = self.comparison.promote
        return body


def run_cycle(project: Project, *, last: int | None = None, since: float | None = None,
              act: bool = True, measurement: Measurement | None = None) -> Cycle:
    """Measure (unless ``measurement`` is given), decide and (with ``act``) retrain,
    compare and promote; record the cycle in the ledger."""
    from leanloop.learn.compare import compare
    from leanloop.learn.policy import decide
    from leanloop.learn.retrain import retrain
    from leanloop.learn.testset import add_hard_cases

    started = time.time()
    durations: dict[str, float] = {}
    champion_before = project.registry.champion().version
    clock = time.perf_counter()
    if measurement is None:
        measurement = project.measure(last=last, since=since)
    durations["measure"] = time.perf_counter() - clock

    decision = decide(
        rows=measurement.window.rows, champion_rows=measurement.served_by.get(champion_before, 0),
        labelled=measurement.window.labelled, drift_share=measurement.drift_share,
        realized=measurement.performance.realized, reference=measurement.performance.reference,
        policy=project.config.policy, data=project.config.data, kpi_name=project.config.kpi.name,
        realized_kpi=measurement.kpis.get(project.config.kpi.name),
        reference_kpi=measurement.reference_kpis.get(project.config.kpi.name),
    )
    cycle_id = project.store.add_cycle({}, at=started)
    challenger = comparison = added = None
    promoted = False
    if act:
        added = add_hard_cases(project.store, measurement.hard_case_rows, cycle=cycle_id,
                               max_rows=project.config.testset.max_rows, at=started)
    if act and decision.action is Action.RETRAIN:
        clock = time.perf_counter()
        retrained = retrain(project, cycle=cycle_id)
        durations["retrain"] = time.perf_counter() - clock
        challenger = retrained.challenger.version
        clock = time.perf_counter()
        comparison = compare(project, champion_before, challenger, recent=retrained.recent,
                             holdout=retrained.holdout)
        durations["compare"] = time.perf_counter() - clock
        if comparison.promote:
            project.registry.promote(challenger)
            promoted = True
    durations["total"] = time.time() - started
    cycle = Cycle(
        cycle=cycle_id, created_at=started, measurement=measurement.to_json(), decision=decision,
        champion_before=champion_before, champion_after=project.registry.champion().version,
        challenger=challenger, comparison=comparison, promoted=promoted, testset=added,
        durations=durations,
    )
    project.store.update_cycle(cycle_id, cycle.to_json())
    return cycle
