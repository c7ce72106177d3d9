"""What every command shares: the Typer app, the common options, the console, and
opening a project. Heavy libraries stay out of this module so ``--help`` is instant."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer
from rich.console import Console

from leanloop.errors import InputError

__all__ = ["app", "DirOption", "JsonOption", "Display", "FoldingConsole", "_console", "_display", "_progress",
           "_fail", "_print_json", "_open", "_parse_since"]

#: The width ``--wide`` draws tables at: wide enough that no cell folds.
WIDE = 1000


@dataclass(frozen=True)
class Display:
    """How the command prints, from the options before the command name."""

    wide: bool = False
    quiet: bool = False


class FoldingConsole(Console):
    """A console whose tables fold a cell that does not fit onto the next line instead of
    cutting it short ("retra…"): every number and word stays readable at 80 columns."""

    def print(self, *objects: Any, **kwargs: Any) -> None:
        from rich.table import Table

        for item in objects:
            if isinstance(item, Table):
                for column in item.columns:
                    if column.overflow == "ellipsis":
                        column.overflow = "fold"
        super().print(*objects, **kwargs)


app = typer.Typer(
    name="leanloop",
    help="Build -> Measure -> Learn for a model in production: init, build, serve, feedback, "
         "measure, drift, learn, cycle, history, models, report, testset, demo.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

def _show_version(value: bool) -> None:
    if value:
        from leanloop import __version__

        sys.stdout.write(f"leanloop {__version__}\n")
        raise typer.Exit


@app.callback()
def _root(
    ctx: typer.Context,
    version: Annotated[bool, typer.Option("--version", help="Print the version and exit.", is_eager=True,
                                          callback=_show_version)] = False,
    wide: Annotated[bool, typer.Option("--wide", help="Draw tables at full width instead of folding cells "
                                                      "to the terminal's width.")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", help="No progress bars (they are off anyway when the "
                                                        "output is not a terminal).")] = False,
) -> None:
    """Build -> Measure -> Learn for a model in production."""
    ctx.obj = Display(wide=wide, quiet=quiet)


DirOption = Annotated[Path, typer.Option("--dir", help="Project folder (holds leanloop.toml).")]
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON for scripts instead of a table.")]


def _display() -> Display:
    # Typer 0.2x runs commands in its own copy of click's context stack; older Typer in
    # click's. Reading the root context keeps the options off every command's signature.
    import importlib

    try:
        globals_module = importlib.import_module("typer._click.globals")
    except ImportError:
        globals_module = importlib.import_module("click.globals")
    ctx = globals_module.get_current_context(silent=True)
    found = ctx.find_root().obj if ctx is not None else None
    return found if isinstance(found, Display) else Display()


def _console() -> Console:
    return FoldingConsole(width=WIDE if _display().wide else None)


@contextmanager
def _progress(description: str, total: int | None = None) -> Iterator[Callable[[int], None]]:
    """A progress bar for a long step (a pulsing one without ``total``); yields
    ``advance(n)``. Off with ``--quiet`` and when the output is not a terminal."""
    # On stderr: a bar never mixes with the table or JSON a script reads from stdout.
    console = Console(stderr=True)
    if _display().quiet or not console.is_terminal:
        yield _no_progress
        return
    from rich.progress import BarColumn, Progress, SpinnerColumn, TaskProgressColumn, TextColumn, TimeElapsedColumn

    columns = [SpinnerColumn(), TextColumn("{task.description}"), BarColumn(),
               *([TaskProgressColumn()] if total else []), TimeElapsedColumn()]
    with Progress(*columns, console=console, transient=True) as bar:
        task = bar.add_task(description, total=total)

        def advance(n: int = 1) -> None:
            bar.advance(task, n)

        yield advance


def _no_progress(n: int = 1) -> None:
    """What ``_progress`` yields when no bar is drawn."""


def _fail(message: str) -> NoReturn:
    """Refuse bad usage; :func:`handles_errors` prints it like any other error."""
    raise InputError(message)


def _print_json(data: Any) -> None:
    from leanloop.times import for_people

    # One time format for people: every moment (a "..._at" field) as ISO 8601 UTC.
    sys.stdout.write(json.dumps(for_people(data), indent=2, default=str) + "\n")


def _open(directory: Path) -> Any:
    from leanloop.project import Project

    return Project(directory)


def _parse_since(value: str | None, option: str = "--since") -> float | None:
    if value is None:
        return None
    try:
        return float(value)
    except ValueError:
        pass
    try:
        stamp = datetime.fromisoformat(value)
    except ValueError:
        _fail(f"{option} {value!r} is not a time; give ISO 8601 (2024-05-01T12:00:00+00:00) or epoch seconds")
    if stamp.tzinfo is None:
        from datetime import UTC

        stamp = stamp.replace(tzinfo=UTC)
    return stamp.timestamp()
