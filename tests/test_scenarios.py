"""The scenario bench of issue 11 at small size: each scenario replayed through the real
server, labels late, a cycle after each batch (see :mod:`bench.scenarios`).

The tests check the harness and the scenarios' premises, and the issue's expectations
of the loop's decisions.

Sizes: the first model on 6,000 reference rows; 4,000 rows per scenario in 4 batches
of 1,000 (the measurement window is one batch), the change after batch 2 (after batch
1 for ``gradual``, whose ramp spans batches 1-2). The concept change replays batches of
2,000 (:data:`CONCEPT`); with labels 3 batches late, 10,000 rows in 5 batches with the
change after batch 1, so that the first post-change batch's labels arrive before the
last cycle.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from bench.scenarios import (
    Run,
    Scenario,
    Sizes,
    first_harm_batch,
    frozen_errors,
    make_scenarios,
    oracle_kpi,
    prepare,
    replay,
    with_frozen_split,
)

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

SIZES = Sizes(build_rows=6000, rows=4000, batches=4)
#: The concept change's runs have batches of 2,000 rows: the gate judges the first
#: relearning challenger cross-fitted on every row since the change (learn.crossfit), and
#: its out-of-fold lift (about +30 profit per loan on 1,000 rows, interval about +-50)
#: did not clear the interval with batches of 1,000 (nor the one-sided test: +32, bound
#: -5); with 2,000 it was promoted at the
#: first cycle with post-change labels at every delay with seeds 0, 1 and 2 (lift +55 to
#: +78, interval from +26 at worst). Full size: make bench SUITE=scenarios.
CONCEPT = Sizes(build_rows=6000, rows=8000, batches=4)
#: the concept change with labels three batches late: more batches after the change
LATE = Sizes(build_rows=6000, rows=10000, batches=5, change_share=0.2)


def sizes_for(name: str, delay: int) -> Sizes:
    """The sizes of a run: the concept change's own (above), else :data:`SIZES`."""
    if name != "concept":
        return SIZES
    return LATE if delay == 3 else CONCEPT


ALARMS = ("drift_share", "multivariate_drift", "prediction_drift")


class Bench:
    """The template project, the scenarios and their runs, each made once per module."""

    def __init__(self, folder: Path, server: Any) -> None:
        from leanloop.datasets import car_loan

        self.folder, self.server = folder, server
        self.data = car_loan()
        self.templates: dict[tuple[int, int], Path] = {}
        self.scenarios: dict[tuple[str, Sizes], Scenario] = {}
        self.oracles: dict[tuple[str, Sizes], tuple[float, float]] = {}
        self.runs: dict[tuple[str, int], Run] = {}

    def template(self, sizes: Sizes) -> Path:
        """The first model's project for ``sizes``' seed and batch size (built once for each)."""
        # one per seed and batch size: the template's measurement window is one batch
        # (prepare), so the concept change's batches of 2,000 must not reuse one made for 1,000
        key = (sizes.seed, sizes.batch_rows)
        if key not in self.templates:
            self.templates[key] = prepare(self.folder / f"template-{sizes.seed}-{sizes.batch_rows}", self.data, sizes)
        return self.templates[key]

    def scenario(self, name: str, sizes: Sizes = SIZES) -> Scenario:
        from leanloop.project import Project

        if (name, sizes) not in self.scenarios:
            with Project(self.template(sizes)) as project:
                scenario = with_frozen_split(project, make_scenarios(self.data, sizes, [name])[name])
                self.scenarios[name, sizes] = scenario
                self.oracles[name, sizes] = oracle_kpi(project, scenario, seed=sizes.seed)
        return self.scenarios[name, sizes]

    def run(self, name: str, delay: int) -> Run:
        if (name, delay) not in self.runs:
            sizes = sizes_for(name, delay)
            scenario = self.scenario(name, sizes)
            self.runs[name, delay] = replay(self.template(sizes), self.folder / f"{name}-{delay}", scenario,
                                            batches=sizes.batches, label_delay=delay,
                                            oracle=self.oracles[name, sizes], server=self.server)
            done = self.runs[name, delay]
            print(f"{name} delay {delay}: {done.decisions} loop {done.kpi_loop:,.0f} frozen {done.kpi_frozen:,.0f} "
                  f"oracle {done.kpi_oracle:,.0f} ({done.seconds:.0f} s)")
        return self.runs[name, delay]

    def harm_batch(self, name: str) -> int | None:
        from leanloop.project import Project

        scenario = self.scenario(name)
        assert scenario.change_at is not None
        with Project(self.template(SIZES)) as project:
            errors = frozen_errors(project, scenario)
        return first_harm_batch(errors, SIZES.batch_rows, scenario.change_at // SIZES.batch_rows)


@pytest.fixture(scope="module")
def bench(tmp_path_factory: pytest.TempPathFactory, forked_server: Any) -> Bench:
    # Each replay's server forked from the session's pre-imported one (seven starts)
    return Bench(tmp_path_factory.mktemp("scenarios"), forked_server)


def _post_change_labelled_cycle(run: Run, sizes: Sizes) -> int:
    """The cycle at which the first post-change batch's labels have arrived."""
    assert run.change_at is not None
    return run.change_at // sizes.batch_rows + run.label_delay


def _retrain_cycles(run: Run) -> list[int]:
    return [i for i, action in enumerate(run.actions) if action == "retrain"]


# -- the harness and the scenarios' premises ----------------------------------------------


@pytest.mark.parametrize(("name", "delay"), [("concept", 0), ("concept", 1), ("concept", 3), ("prior", 0),
                                             ("drift", 0), ("none", 0), ("gradual", 0)])
def test_every_row_is_served_logged_and_cycled(bench: Bench, name: str, delay: int) -> None:
    run = bench.run(name, delay)
    sizes = sizes_for(name, delay)
    assert run.rows == run.logged == sizes.rows
    assert len(run.cycles) == sizes.batches and [c["served"] for c in run.cycles] == [
        sizes.batch_rows * (b + 1) for b in range(sizes.batches)]
    challengers = sum(1 for c in run.cycles if c.get("challenger"))  # retrained or recalibrated
    assert (run.retrain_seconds > 0) == (challengers > 0)
    assert len(run.decisions.split()) == sizes.batches
    if run.promotions == 0:
        # what was served, read back from the log, is exactly the frozen model's outputs
        assert run.kpi_loop == run.kpi_frozen


def test_the_scenarios_change_what_they_say(bench: Bench) -> None:
    concept, prior, drift, none = (bench.scenario(n) for n in ("concept", "prior", "drift", "none"))
    assert none.change_at is None and bench.oracles["none", SIZES][0] == bench.oracles["none", SIZES][1]
    # concept change: the frozen model errs more after it; the oracle earns more
    assert concept.frozen_after.error > concept.frozen_before.error + 0.02  # type: ignore[union-attr]
    # prior shift: the positive share halves
    share = [float(part["repaid"].mean()) for part in (prior.rows.iloc[:prior.change_at],
                                                        prior.rows.iloc[prior.change_at:])]
    assert share[1] == pytest.approx(share[0] / 2, abs=0.01)
    # drift without harm: the features move, the frozen model's error does not grow
    assert drift.frozen_after.error <= drift.frozen_before.error  # type: ignore[union-attr]
    assert drift.frozen_after.kpi_per_row >= drift.frozen_before.kpi_per_row  # type: ignore[union-attr]
    assert drift.rows.iloc[drift.change_at:]["car_value"].min() > drift.rows.iloc[:drift.change_at][
        "car_value"].median()
    for name in ("concept", "prior", "gradual"):
        bench.scenario(name)  # made (with its oracle) by this worker, whichever tests it ran before
        frozen, oracle = bench.oracles[name, SIZES]
        assert oracle > frozen, name
    # the gradual change harms the frozen model significantly at some batch after the ramp starts
    assert bench.harm_batch("gradual") is not None


def test_same_seed_same_scenarios(bench: Bench) -> None:
    again = make_scenarios(bench.data, SIZES)
    for name, scenario in again.items():
        assert scenario.rows.equals(bench.scenario(name).rows.reset_index(drop=True)), name


# -- what today's loop already does right ---------------------------------------------------


def test_drift_without_harm_is_not_retrained(bench: Bench) -> None:
    run = bench.run("drift", 0)
    assert run.fired("drift_share") or run.fired("multivariate_drift")  # the drift is seen ...
    assert run.retrains == 0 and "pivot" not in run.actions  # ... and not taken for harm


def test_concept_change_with_labels_in_time_is_retrained(bench: Bench) -> None:
    run = bench.run("concept", 0)
    first = _post_change_labelled_cycle(run, sizes_for("concept", 0))
    assert _retrain_cycles(run) and min(_retrain_cycles(run)) >= first
    assert not any(run.actions[i] == "retrain" for i in range(first))


def test_gradual_change_is_retrained_once_the_harm_is_significant_not_before(bench: Bench) -> None:
    run = bench.run("gradual", 0)
    harm = bench.harm_batch("gradual")
    assert harm is not None
    retrains = _retrain_cycles(run)
    assert retrains and min(retrains) >= harm, (run.decisions, harm)


# -- issue 11: label-aware windows, model harm apart from population change --------------


@pytest.mark.parametrize("delay", [0, 1, 3])
def test_concept_change_is_retrained_at_the_first_cycle_with_post_change_labels(bench: Bench, delay: int) -> None:
    run = bench.run("concept", delay)
    sizes = sizes_for("concept", delay)
    first = _post_change_labelled_cycle(run, sizes)
    assert _retrain_cycles(run) and min(_retrain_cycles(run)) == first, run.decisions


@pytest.mark.parametrize("delay", [0, 1, 3])
def test_concept_change_is_promoted_within_two_cycles_and_keeps_half_the_oracle_gain(bench: Bench,
                                                                                     delay: int) -> None:
    run = bench.run("concept", delay)
    sizes = sizes_for("concept", delay)
    first = _post_change_labelled_cycle(run, sizes)
    promoted = [i for i, c in enumerate(run.cycles) if c.get("promoted") and c["served"] > (run.change_at or 0)]
    assert promoted and promoted[0] <= first + 1, run.decisions
    if delay <= 1:
        # the first relearning challenger itself, judged cross-fitted on every row since the
        # change by the gate's one-sided lift test: promoted at the first cycle with those labels
        assert promoted[0] == first, run.decisions
    assert not any(run.actions[i] == "retrain" for i in range(first)), run.decisions
    # At this size few batches are left after the promotion (none when the labels arrive
    # with the last one): the loop must keep half of the oracle's gain over the batches
    # its challenger served. At full size (make bench SUITE=scenarios) that is >= 0.5 overall.
    assert run.change_at is not None and run.gain_kept is not None
    served_after = sizes.batches - 1 - promoted[0]
    share = served_after / (sizes.batches - run.change_at // sizes.batch_rows)
    assert run.gain_kept >= 0.5 * share, (run.gain_kept, share)


def _mentions_population(cycle: dict[str, Any]) -> bool:
    return any(r["rule"] == "population" and r["fired"] and "business change" in r["says"]
               for r in cycle["decision"]["reasons"])


def test_prior_shift_is_a_population_finding_not_a_retrain(bench: Bench) -> None:
    """No retrain and no pivot; a recalibration (``k``: the same fitted model, new priors)
    is the cheap answer the issue allows."""
    run = bench.run("prior", 0)
    assert run.retrains == 0 and not set(run.actions) & {"retrain", "pivot"}, run.decisions
    change_batch = (run.change_at or 0) // SIZES.batch_rows
    assert any(_mentions_population(c) for c in run.cycles[change_batch:])
    assert not any(_mentions_population(c) for c in run.cycles[:change_batch])


def test_no_change_no_retrain_no_drift_alarm(bench: Bench) -> None:
    run = bench.run("none", 0)
    assert run.retrains == 0 and "retrain" not in run.actions, run.decisions
    assert not any(run.fired(rule) for rule in ALARMS), {rule: run.fired(rule) for rule in ALARMS}


def test_scenario_doctests() -> None:
    import doctest

    import bench.scenarios
    import bench.suites.scenarios

    for module in (bench.scenarios, bench.suites.scenarios):
        failures, tried = doctest.testmod(module, optionflags=doctest.NORMALIZE_WHITESPACE)
        assert failures == 0 and tried > 0, module.__name__
