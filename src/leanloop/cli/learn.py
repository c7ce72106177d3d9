"""Commands of the Learn stage: ``learn``, ``cycle`` and the ledger's ``history``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from leanloop.cli._shared import DirOption, JsonOption, _console, _fail, _open, _parse_since, _print_json
from leanloop.cli.errors import handles_errors
from leanloop.cli.render import _cycle_output

__all__ = ["learn", "cycle", "history"]


@handles_errors
def learn(directory: DirOption = Path("."), as_json: JsonOption = False,
          dry_run: Annotated[bool, typer.Option(help="Decide but do not retrain or promote.")] = False) -> None:
    """Turn the latest measurement into a decision and act on it (retrain, compare, promote)."""
    with _open(directory) as project:
        with _console().status("deciding..."):
            cycle = project.learn(act=not dry_run)
    _cycle_output(cycle, as_json)


@handles_errors
def cycle(
    last: Annotated[int | None, typer.Option(min=1, help="Measure the last N predictions.")] = None,
    since: Annotated[str | None, typer.Option(help="Measure predictions since this time.")] = None,
    directory: DirOption = Path("."),
    as_json: JsonOption = False,
    dry_run: Annotated[bool, typer.Option(help="Decide but do not retrain or promote.")] = False,
) -> None:
    """One turn of the loop: measure, then learn."""
    if last is not None and since is not None:
        _fail("give --last or --since, not both")
    with _open(directory) as project:
        with _console().status("measuring and deciding..."):
            result = project.cycle(last=last, since=_parse_since(since), act=not dry_run)
    _cycle_output(result, as_json)


@handles_errors
def history(directory: DirOption = Path("."), as_json: JsonOption = False) -> None:
    """The ledger of cycles: window, drift, performance, KPI, decision, versions, durations."""
    with _open(directory) as project:
        cycles = project.history()
        kpi_name = project.config.kpi.name
        metric = project.config.policy.main_metric_for(project.config.data)
    if as_json:
        _print_json(cycles)
        return
    table = Table(title="cycles")
    for column in ("cycle", "rows", "labelled", "drifted", metric, kpi_name, "decision", "champion", "seconds"):
        table.add_column(column)
    for c in cycles:
        if c.get("kind", "cycle") != "cycle":
            kind = c["kind"] + (f" {c['evidence']['shadow']}" if "shadow" in c.get("evidence", {}) else "")
            table.add_row(str(c["cycle"]), "", "", "", "", "", f"{kind} ({c['reason']})",
                          f"{c['champion_before']} -> {c['champion_after']}", "")
            continue
        if not c.get("measurement"):
            continue
        m = c["measurement"]
        value = m["performance"]["realized"].get(metric)
        kpi = m["kpis"].get(kpi_name)
        table.add_row(str(c["cycle"]), str(m["window"]["rows"]), str(m["window"]["labelled"]),
                      ", ".join(m["drifted_features"]) or "-", "" if value is None else f"{value:.4f}",
                      "" if kpi is None else f"{kpi:.4g}", c["decision"]["action"],
                      f"{c['champion_before']} -> {c['champion_after']}", f"{c['durations'].get('total', 0):.1f}")
    _console().print(table)
