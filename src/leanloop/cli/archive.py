"""``leanloop export``: the prediction log into its Parquet archive, and retention."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from leanloop.cli._shared import DirOption, JsonOption, _console, _open, _parse_since, _print_json, _progress
from leanloop.cli.errors import handles_errors

__all__ = ["export"]


@handles_errors
def export(
    to: Annotated[Path | None, typer.Option(
        help="Archive folder (default: \\[store] archive_dir); Parquet in day=/model_version= partitions.")] = None,
    since: Annotated[str | None, typer.Option(
        help="Skip rows logged before this time (ISO 8601 or epoch seconds).")] = None,
    directory: DirOption = Path("."),
    as_json: JsonOption = False,
) -> None:
    """Export the predictions logged since the last export, with their labels, as Parquet.

    Incremental (a manifest keeps the high-water mark; a second run writes nothing new),
    atomic per file; labels that arrived for rows already exported are merged into their
    files. With \\[store] retention_days, rows older than that are then deleted from the
    store, but only rows read back from the archive.
    """
    from leanloop.cli.collector import long_running

    long_running()  # a log of any size, chunk after chunk: full collections, as usual
    with _open(directory) as project, _progress("exporting the prediction log"):
        done = project.export(to=to, since=_parse_since(since))
    if as_json:
        _print_json(done.model_dump(mode="json"))
        return
    exported = done.export
    console = _console()
    console.print(f"exported {exported.rows:,} rows in {len(exported.files)} files to {exported.archive}; "
                  f"{exported.relabelled_rows:,} late labels merged into {len(exported.relabelled_files)} files; "
                  f"archive: {exported.total_rows:,} rows up to seq {exported.seq}", highlight=False)
    if done.retention is not None:
        kept = done.retention
        console.print(f"retention: deleted {kept.deleted:,} of {kept.older:,} rows older than the cut-off"
                      + (f" ({kept.not_archived:,} not in the archive, kept)" if kept.not_archived else ""),
                      highlight=False)
