"""Commands of the Learn stage: ``learn``, ``cycle`` and the ledger's ``history``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from leanloop.cli._shared import DirOption, JsonOption, _console, _fail, _open, _parse_since, _print_json, _progress
from leanloop.cli.engine import EngineOption, SchedulerOption, WorkersOption, engine_config
from leanloop.cli.errors import handles_errors
from leanloop.cli.render import _cycle_output
from leanloop.times import iso

__all__ = ["learn", "cycle", "history"]


@handles_errors
def learn(directory: DirOption = Path("."), as_json: JsonOption = False,
          dry_run: Annotated[bool, typer.Option(help="Decide but do not retrain or promote.")] = False) -> None:
    """Turn the latest measurement into a decision and act on it (retrain, compare, promote)."""
    with _open(directory) as project, _progress("deciding (and retraining if the policy says so)"):
        cycle = project.learn(act=not dry_run)
    _cycle_output(cycle, as_json)


@handles_errors
def cycle(
    last: Annotated[int | None, typer.Option(min=1, help="Measure the last N predictions.")] = None,
    since: Annotated[str | None, typer.Option(help="Measure predictions since this time.")] = None,
    directory: DirOption = Path("."),
    as_json: JsonOption = False,
    dry_run: Annotated[bool, typer.Option(help="Decide but do not retrain or promote.")] = False,
    engine: EngineOption = None,
    scheduler: SchedulerOption = None,
    workers: WorkersOption = None,
) -> None:
    """One turn of the loop: measure (with --engine dask, on a Dask cluster), then learn."""
    if last is not None and since is not None:
        _fail("give --last or --since, not both")
    from leanloop.measure.memory import map_large_blocks

    # A process-wide allocator setting, so set here for this one-window process, not in the
    # library (a server's loop keeps glibc's own): a window's large arrays go back to the
    # system when freed instead of piling up in the heap (leanloop.measure.memory).
    map_large_blocks()

    def waiting() -> None:
        typer.echo("another cycle is running (the server's loop or another 'leanloop cycle'); waiting for it "
                   "to finish...", err=True)

    with _open(directory) as project, _progress("measuring, deciding (and retraining if the policy says so)"):
        result = project.cycle(last=last, since=_parse_since(since), act=not dry_run, on_wait=waiting,
                               engine=engine_config(project.config.engine, engine, scheduler, workers))
    _cycle_output(result, as_json)


@handles_errors
def history(directory: DirOption = Path("."), as_json: JsonOption = False) -> None:
    """The ledger of cycles: window, drift, performance, KPI, decision, versions, durations."""
    from leanloop.learn.ledger import Cycle

    with _open(directory) as project:
        entries = project.ledger()
        kpi_name = project.config.kpi.name
        metric = project.config.policy.main_metric_for(project.config.data)
    if as_json:
        _print_json([e.to_json() for e in entries])
        return
    table = Table(title="cycles")
    for column in ("cycle", "started", "rows", "labelled", "drifted", metric, kpi_name, "decision", "champion",
                   "seconds"):
        table.add_column(column)
    for e in entries:
        champions = f"{e.champion_before} -> {e.champion_after}"
        if not isinstance(e, Cycle):
            kind = e.kind + (f" {e.evidence['shadow']}" if "shadow" in e.evidence else "")
            table.add_row(str(e.cycle), iso(e.created_at), "", "", "", "", "", f"{kind} ({e.reason})", champions, "")
            continue
        m = e.measurement
        if not m:  # interrupted or failed before it measured
            table.add_row(str(e.cycle), iso(e.created_at), "", "", "", "", "",
                          f"{'interrupted' if e.interrupted else 'failed'} ({e.stage})", champions,
                          f"{e.durations.get('total', 0):.1f}")
            continue
        value = m["performance"]["realized"].get(metric)
        kpi = m["kpis"].get(kpi_name)
        table.add_row(str(e.cycle), iso(e.created_at), str(m["window"]["rows"]), str(m["window"]["labelled"]),
                      ", ".join(m["drifted_features"]) or "-", "" if value is None else f"{value:.4f}",
                      "" if kpi is None else f"{kpi:.4g}", e.decision.action.value, champions,
                      f"{e.durations.get('total', 0):.1f}")
    _console().print(table)
