"""The ``demo`` command: the whole loop on a public data set."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from leanloop.cli._shared import JsonOption, _console, _display, _print_json
from leanloop.cli.errors import handles_errors

__all__ = ["demo"]


@handles_errors
def demo(
    directory: Annotated[Path, typer.Option(
        "--dir", help="Folder for the demo project (must not hold one).")] = Path("leanloop-demo"),
    rows: Annotated[int, typer.Option(min=2000, max=50_000, help="Analysis rows to replay.")] = 50_000,
    cycle_every: Annotated[int, typer.Option(min=500, help="Run a cycle every N replayed rows.")] = 5000,
    shuffle_seed: Annotated[int | None, typer.Option(
        help="Replay the rows in a random order with this seed (with --rows 20000: the no-drift control).")] = None,
    as_json: JsonOption = False,
) -> None:
    """The whole loop on NannyML's car-loan data: build, serve, replay, label late, cycle, compare."""
    from leanloop.cli.collector import long_running
    from leanloop.demo import run_demo

    long_running()  # ten cycles and a replay in this process: full collections, as usual

    summary = run_demo(directory, rows=rows, cycle_every=cycle_every, shuffle_seed=shuffle_seed,
                       console=None if as_json else _console(), progress=not _display().quiet)
    if as_json:
        _print_json(summary)
