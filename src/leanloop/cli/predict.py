"""``leanloop predict``: batch scoring of a CSV or Parquet file."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from leanloop.cli._shared import DirOption, JsonOption, _console, _open, _print_json, _progress
from leanloop.cli.engine import EngineOption, SchedulerOption, WorkersOption, engine_config
from leanloop.cli.errors import handles_errors
from leanloop.config.limits import MAX_ROWS

__all__ = ["predict"]


@handles_errors
def predict(
    file: Annotated[str, typer.Argument(
        help="Rows to score, CSV or Parquet (read in chunks: any size); with --engine dask a Parquet file or folder, "
             "or an fsspec URL (with -o).")],
    output: Annotated[Path | None, typer.Option(
        "--output", "-o", help="Where the predictions go, .csv or .parquet (default: FILE.predictions.<suffix>)."),
    ] = None,
    version: Annotated[str | None, typer.Option(help="Score with this version instead of the champion.")] = None,
    no_log: Annotated[bool, typer.Option("--no-log", help="Do not log the rows as predictions.")] = False,
    skip_invalid: Annotated[bool, typer.Option(
        help="Write bad rows to a rejects file (--rejects) and score the rest, instead of stopping.")] = False,
    rejects: Annotated[Path | None, typer.Option(
        help="Where --skip-invalid writes bad rows (default: OUTPUT.rejects.csv).")] = None,
    chunk_rows: Annotated[int, typer.Option(min=1, max=MAX_ROWS, help="Rows read, scored and logged at a time.")
                          ] = 100_000,
    engine: EngineOption = None,
    scheduler: SchedulerOption = None,
    workers: WorkersOption = None,
    directory: DirOption = Path("."),
    as_json: JsonOption = False,
) -> None:
    """Score a file with the champion; rows are judged as POST /predict judges them and logged as predictions.

    A bad row stops the run before anything is written or logged (exit 2, naming its row
    and column; rows count from 0 after the header) unless --skip-invalid. The output
    (row, the project's id column, prediction_id, prediction, probability_<class>) is
    written to a temporary name and renamed into place when complete. With --engine dask,
    FILE is a Parquet file or folder scored partition by partition on a Dask cluster.
    """
    from leanloop.batch import BatchOptions
    from leanloop.cli.collector import long_running

    long_running()  # a file of any size, chunk after chunk: full collections, as usual

    options = BatchOptions(output=output, version=version, log=not no_log, skip_invalid=skip_invalid,
                           rejects=rejects, chunk_rows=chunk_rows)
    with _open(directory) as project:
        chosen = engine_config(project.config.engine, engine, scheduler, workers)
        source = file if "://" in file else Path(file)  # a URL is read through fsspec, as written
        total = _rows(source) if isinstance(source, Path) and source.is_file() else None
        with _progress(f"scoring {Path(file).name}", total=total) as advance:
            result = project.predict_file(source, options, progress=advance, engine=chosen)
    if as_json:
        _print_json(result.to_json())
        return
    line = (f"scored {result.scored:,} of {result.rows:,} rows with {result.model_version} in {result.seconds:.1f} s "
            f"({result.rows_per_second:,.0f} rows/s) -> {result.output}; logged {result.logged:,}")
    if result.rejects is not None:
        line += f"; {result.rejected:,} bad rows -> {result.rejects}"
    _console().print(line, markup=False, highlight=False)
    for feature, counts in result.flagged.items():
        _console().print(f"accepted in {feature!r}: " + ", ".join(f"{n:,} {k}" for k, n in counts.items()),
                         markup=False, highlight=False)


def _rows(file: Path) -> int | None:
    """The file's data rows for the bar (None when it cannot be read: the run says why)."""
    from leanloop.batch.files import InputFile
    from leanloop.errors import LeanloopError

    try:
        return InputFile.open(file, chunk_rows=1).count_rows()
    except LeanloopError:
        return None
