"""``leanloop report``: the loop in one offline HTML file (or Markdown, or JSON)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from leanloop.cli._shared import DirOption, _console, _open, _progress
from leanloop.cli.errors import handles_errors

__all__ = ["report"]


@handles_errors
def report(
    directory: DirOption = Path("."),
    cycle: Annotated[int | None, typer.Option(help="Report this cycle (the timeline ends there).")] = None,
    last: Annotated[int | None, typer.Option(help="Show only the newest N cycles on the timeline.", min=1)] = None,
    output: Annotated[Path | None, typer.Option("--output", "-o", help=(
        "The file to write (default report.html, report.md or report.json in the project folder)."))] = None,
    fmt: Annotated[str, typer.Option("--format", help="html (self-contained, works offline), md or json.")] = "html",
) -> None:
    """Write the loop's report: verdict, performance and KPI over time, drift, gate, lineage."""
    from leanloop.errors import InputError
    from leanloop.report import ReportFormat, write_report

    try:
        chosen = ReportFormat(fmt)
    except ValueError:
        raise InputError(f"--format must be one of {[f.value for f in ReportFormat]}, got {fmt!r}") from None
    with _open(directory) as project:
        target = output or project.paths.root / f"report.{chosen.value}"
        with _progress("writing the report"):
            data = write_report(project.workspace, target, fmt=chosen, cycle=cycle, last=last)
    cycles = len(data.cycles)
    _console().print(f"wrote {target} ({target.stat().st_size:,} bytes, {cycles} cycle(s))", markup=False,
                     highlight=False)
