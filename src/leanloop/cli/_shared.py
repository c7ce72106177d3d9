"""What every command shares: the Typer app, the common options, the console, and
opening a project. Heavy libraries stay out of this module so ``--help`` is instant."""

from __future__ import annotations

import json
import sys
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer
from rich.console import Console

from leanloop.errors import InputError

__all__ = ["app", "DirOption", "JsonOption", "_console", "_fail", "_print_json", "_open", "_parse_since"]

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
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[bool, typer.Option("--version", help="Print the version and exit.", is_eager=True,
                                          callback=_show_version)] = False,
) -> None:
    """Build -> Measure -> Learn for a model in production."""


DirOption = Annotated[Path, typer.Option("--dir", help="Project folder (holds leanloop.toml).")]
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON for scripts instead of a table.")]


def _console() -> Console:
    return Console()


def _fail(message: str) -> NoReturn:
    """Refuse bad usage; :func:`handles_errors` prints it like any other error."""
    raise InputError(message)


def _print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2, default=str) + "\n")


def _open(directory: Path) -> Any:
    from leanloop.project import Project

    return Project(directory)


def _parse_since(value: str | None) -> float | None:
    if value is None:
        return None
    try:
        return float(value)
    except ValueError:
        pass
    try:
        stamp = datetime.fromisoformat(value)
    except ValueError:
        _fail(f"--since {value!r} is not a time; give ISO 8601 (2024-05-01T12:00:00+00:00) or epoch seconds")
    if stamp.tzinfo is None:
        from datetime import UTC

        stamp = stamp.replace(tzinfo=UTC)
    return stamp.timestamp()
