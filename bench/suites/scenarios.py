"""Issue 11: the loop's decisions in five scenarios, against the frozen first model and an oracle.

Each scenario of :mod:`bench.scenarios` is replayed through ``leanloop serve`` in
batches with a cycle after each, its labels 0, 1 or 3 batches late (the ``concept``
scenario with all three; the others with 0 and 1). The table gives, per run, the KPI
over the period for the loop (what was served), the frozen first model and the oracle
(retrained with hindsight on the post-change rows, cross-fitted), the share of the
oracle's gain the loop kept, the decisions (one letter per cycle, upper case where it
promoted), the challengers trained and their seconds, and the rows from the change to
the first promotion after it. Full size: 15,000 rows in 10 batches per scenario, the
first model built on 25,000 reference rows; ``--quick``: 4,000 rows in 4 batches.
"""

from __future__ import annotations

import sys

from bench.options import Options
from bench.report import Table, write_json
from bench.scenarios import (
    SCENARIOS,
    Sizes,
    first_harm_batch,
    frozen_errors,
    make_scenarios,
    oracle_yardsticks,
    prepare,
    reachable_by_batch,
    replay,
    with_frozen_split,
)

__all__ = ["run", "sizes_for", "DELAYS"]

#: Label delays (in batches) per scenario: the concept change with all three the issue names.
DELAYS = {"concept": (0, 1, 3), "prior": (0, 1), "drift": (0, 1), "none": (0, 1), "gradual": (0, 1)}


def sizes_for(options: Options) -> Sizes:
    """Full size, ``--quick`` or ``--rows N`` (N rows per scenario in 10 batches).

    >>> sizes_for(Options(quick=True)).rows, sizes_for(Options()).batch_rows, sizes_for(Options(rows=5000)).rows
    (4000, 1500, 5000)
    """
    if options.quick:
        return Sizes(build_rows=6000, rows=4000, batches=4)
    return Sizes(build_rows=25_000, rows=options.rows or 15_000, batches=10)


def run(options: Options) -> list[Table]:
    from leanloop.datasets import car_loan
    from leanloop.project import Project

    sizes = sizes_for(options)
    data = car_loan()
    folder = options.data / "scenarios"
    template = prepare(folder / "template", data, sizes)
    made = make_scenarios(data, sizes)
    table = Table(f"Scenarios: {sizes.rows:,} rows each in {sizes.batches} batches of {sizes.batch_rows:,}, "
                  f"first model on {sizes.build_rows:,} reference rows",
                  ["scenario", "label delay", "KPI loop", "KPI frozen", "KPI oracle", "gain kept", "reachable",
                   "reachable by batch", "decisions",
                   "retrains", "retrain s", "rows to promotion"], digits=2)
    runs, notes = [], []
    for name in SCENARIOS:
        with Project(template) as project:
            scenario = with_frozen_split(project, made[name])
            found = oracle_yardsticks(project, scenario, sizes.batch_rows, seed=sizes.seed)
            oracle = (found.frozen, found.oracle)
            harm = (first_harm_batch(frozen_errors(project, scenario), sizes.batch_rows,
                                     max(1, (scenario.change_at or 0) // sizes.batch_rows))
                    if scenario.change_at else None)
        before, after = scenario.frozen_before, scenario.frozen_after
        notes.append(f"{name}: {scenario.says}" + (
            f"; frozen model's error {before.error:.4f} -> {after.error:.4f}, KPI per row "
            f"{before.kpi_per_row:,.0f} -> {after.kpi_per_row:,.0f} before -> after the change (row "
            f"{scenario.change_at:,})" if before and after else "")
            + (f"; the frozen model's error is first significantly above its pre-change rate in batch {harm}"
               if harm is not None else ""))
        for delay in DELAYS[name]:
            done = replay(template, folder / f"{name}-{delay}", scenario, batches=sizes.batches, label_delay=delay,
                          request_rows=sizes.request_rows, oracle=oracle)
            runs.append(done)
            print(f"[scenarios] {name} delay {delay}: {done.decisions} ({done.seconds:.0f} s)", file=sys.stderr,
                  flush=True)
            table.add(name, delay, round(done.kpi_loop), round(done.kpi_frozen), round(done.kpi_oracle),
                      done.gain_kept, done.gain_reachable,
                      reachable_by_batch(found, scenario.change_at, sizes.batch_rows, delay), done.decisions,
                      done.retrains, done.retrain_seconds, done.rows_to_promotion)
    table.notes += notes
    table.notes += [
        ("KPI: the demo's profit over the period (+1,000 per granted loan repaid, -5,000 per granted loan "
        "defaulted); gain kept = (loop - frozen) / (oracle - frozen); reachable: the share of the post-change "
        "rows served after the first cycle whose labels include one (the most a loop promoting a model as good "
        "as the oracle there could keep, were its gain even over the period); reachable by batch: the oracle's own "
        "gain on those rows, as a share of its gain (what a model exactly as good as the oracle there would keep)"),
        ("decisions: one letter per cycle (c continue, w wait, r retrain, b rollback, p pivot, k recalibrate), "
        "upper case where a challenger was promoted; labels of batch i arrive before the cycle of batch i + delay"),
        "[measure] window_rows is one batch; every other setting is the default",
        "retrain s: seconds training challengers and judging them at the gate (cycle durations)",
    ]
    write_json("scenarios", {"sizes": sizes.__dict__, "runs": [r.to_json() for r in runs]})
    return [table]
