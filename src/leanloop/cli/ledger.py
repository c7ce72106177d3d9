"""Commands that read or move the champion by hand: ``explain``, ``promote``,
``rollback`` and ``shadow``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from leanloop.cli._shared import DirOption, JsonOption, _console, _open, _print_json
from leanloop.cli.errors import handles_errors
from leanloop.cli.render import _event_output

__all__ = ["explain", "promote", "rollback", "shadow"]


@handles_errors
def explain(
    cycle_id: Annotated[int, typer.Argument(metavar="CYCLE", help="A cycle number from 'leanloop history'.")],
    directory: DirOption = Path("."),
    as_json: JsonOption = False,
) -> None:
    """Every rule of a cycle's decision with the value it saw, its threshold and whether it fired."""
    with _open(directory) as project:
        entry = project.explain(cycle_id)
    if as_json:
        _print_json(entry.to_json())
        return
    _console().print(entry.explain(), markup=False, highlight=False)


@handles_errors
def promote(
    version: Annotated[str, typer.Argument(help="The version to make champion, e.g. v3.")],
    directory: DirOption = Path("."),
    reason: Annotated[str, typer.Option(help="Why, for the ledger.")] = "manual",
    as_json: JsonOption = False,
) -> None:
    """Make VERSION the champion (the old one becomes 'previous'); a running server switches to it."""
    with _open(directory) as project:
        event = project.promote(version, reason=reason)
    _event_output(event, as_json)


@handles_errors
def rollback(
    directory: DirOption = Path("."),
    reason: Annotated[str, typer.Option(help="Why, for the ledger.")] = "manual",
    as_json: JsonOption = False,
) -> None:
    """Make the previous champion the champion again; a running server switches to it."""
    with _open(directory) as project:
        event = project.rollback(reason=reason)
    _event_output(event, as_json)


@handles_errors
def shadow(
    version: Annotated[str | None, typer.Argument(help="The version to score every request with too, e.g. v3.")] = None,
    stop: Annotated[bool, typer.Option("--stop", help="End shadow mode.")] = False,
    status: Annotated[bool, typer.Option(
        "--status",
        help="Compare the shadow version (or VERSION) with the champion on the live rows both scored.")] = False,
    directory: DirOption = Path("."),
    reason: Annotated[str, typer.Option(help="Why, for the ledger.")] = "manual",
    as_json: JsonOption = False,
) -> None:
    """Shadow mode: a running server also scores every request with VERSION (logged, never
    returned); '--status' compares it with the champion once labels arrive; '--stop' ends it."""
    from leanloop.errors import InputError

    if stop and (status or version):
        raise InputError("'--stop' takes no VERSION and no '--status'; run 'leanloop shadow --stop'")
    with _open(directory) as project:
        if stop:
            _event_output(project.stop_shadow(reason=reason), as_json)
        elif version is None or status:
            report = project.shadow_report(version)
            _print_json(report.to_json()) if as_json else _console().print(report.explain(), markup=False)
        else:
            _event_output(project.shadow(version, reason=reason), as_json)
