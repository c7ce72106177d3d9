"""The ``testset`` command group: list, export and prune the enriched test set."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from leanloop.cli._shared import DirOption, JsonOption, _console, _open, _print_json, _progress
from leanloop.cli.errors import handles_errors
from leanloop.times import iso

__all__ = ["testset_app", "_REASONS"]

# Spelled out so --help does not import the measurement stack; a test checks it matches Reason.
_REASONS = "confident_error, high_loss, weak_segment, drifted_region"
testset_app = typer.Typer(help="The enriched test set of hard cases: list, export, prune.", no_args_is_help=True)


@testset_app.command("list")
@handles_errors
def testset_list(
    reason: Annotated[str | None, typer.Option(help=f"Only rows kept for this reason: {_REASONS}.")] = None,
    directory: DirOption = Path("."),
    as_json: JsonOption = False,
) -> None:
    """List the enriched test set, newest first, with each row's provenance."""
    with _open(directory) as project:
        found = project.testset(reason=reason)
    if as_json:
        _print_json([r.model_dump(mode="json") for r in found])
        return
    table = Table(title=f"enriched test set: {len(found)} rows")
    for column in ("prediction id", "added", "cycle", "reason", "detail", "model", "label", "prediction"):
        table.add_column(column)
    for r in found:
        added = iso(r.added_at)
        table.add_row(r.prediction_id, added, "" if r.cycle is None else str(r.cycle), r.reason.value, r.detail,
                      r.model_version, str(r.label), str(r.prediction))
    _console().print(table)


@testset_app.command("export")
@handles_errors
def testset_export(
    file: Annotated[Path, typer.Argument(help="Output file, .csv or .parquet.")],
    directory: DirOption = Path("."),
    as_json: JsonOption = False,
) -> None:
    """Write the enriched test set (provenance, features, label) to CSV or Parquet."""
    with _open(directory) as project, _progress(f"exporting the enriched test set to {file.name}"):
        written = project.export_testset(file)
    if as_json:
        _print_json({"exported": written, "file": str(file)})
    else:
        _console().print(f"exported {written} rows to {file}")


@testset_app.command("prune")
@handles_errors
def testset_prune(
    older_than: Annotated[float | None, typer.Option(
        min=0, help="Remove rows added more than this many days ago.")] = None,
    reason: Annotated[str | None, typer.Option(help=f"Remove rows kept for this reason: {_REASONS}.")] = None,
    keep: Annotated[int | None, typer.Option(
        min=0, help="Of the rows selected (all if no other filter), keep the newest N.")] = None,
    directory: DirOption = Path("."),
    as_json: JsonOption = False,
) -> None:
    """Remove rows from the enriched test set by age, reason or count."""
    with _open(directory) as project:
        removed = project.prune_testset(older_than=None if older_than is None else older_than * 86400,
                                        reason=reason, keep=keep)
        left = len(project.testset())
    if as_json:
        _print_json({"removed": removed, "size": left})
    else:
        _console().print(f"removed {removed} rows; {left} left")
