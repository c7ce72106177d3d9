"""Commands of the Measure stage: ``feedback``, ``measure`` and ``drift``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from leanloop.cli._shared import DirOption, JsonOption, _console, _fail, _open, _parse_since, _print_json, _progress
from leanloop.cli.engine import EngineOption, SchedulerOption, WorkersOption, engine_config
from leanloop.cli.errors import handles_errors
from leanloop.cli.render import _chunks_tables, _drift_table, _metrics_table, _monitor_lines, _segments_table
from leanloop.config.engine import EngineConfig, EngineKind

__all__ = ["feedback", "measure", "drift"]


@handles_errors
def feedback(
    file: Annotated[Path, typer.Argument(help="CSV or Parquet with prediction ids (or your ids) and labels.")],
    id_column: Annotated[str | None, typer.Option(help=(
        "Column holding the prediction id (default: prediction_id if the file has it, else your own ids "
        "in the project's id column)."))] = None,
    row_id_column: Annotated[str | None, typer.Option(help="Column holding your own ids instead (the ids "
                                                      "/predict rows carried in the project's id column).")] = None,
    label_column: Annotated[str, typer.Option(help="Column holding the ground truth.")] = "label",
    directory: DirOption = Path("."),
    as_json: JsonOption = False,
) -> None:
    """Join ground-truth labels from a file to their predictions by id (all or nothing).

    A repeated label changes nothing, a different one replaces it (the latest wins, the
    history keeps both), and a label whose prediction is not logged yet is parked until
    it is. By your own id, a label joins the newest prediction with that id (counted as
    reused when several carry it), or the first one logged after it.
    """
    with _open(directory) as project:
        if id_column and row_id_column:
            _fail("give --id-column or --row-id-column, not both")
        counts = project.feedback_file(file, id_column=id_column, label_column=label_column,
                                       row_id_column=row_id_column)
    if as_json:
        _print_json(counts.to_json())
    else:
        _console().print(f"recorded {counts.recorded} of {counts.received} labels: {counts.updated} updated, "
                         f"{counts.duplicates} duplicates, {counts.parked} parked (prediction not logged yet)"
                         + (f", {counts.reused} by an id several predictions carry (joined the newest)"
                            if counts.reused else ""))


@handles_errors
def measure(
    last: Annotated[int | None, typer.Option(
        min=1, help="Measure the last N predictions (default: \\[measure] window_rows).")] = None,
    since: Annotated[str | None, typer.Option(
        help="Measure predictions since this time (ISO 8601 or epoch seconds).")] = None,
    until: Annotated[str | None, typer.Option(
        help="... and before this time (ISO 8601 or epoch seconds; event time under "
             "\\[measure] time = event).")] = None,
    chunks: Annotated[int, typer.Option(min=0, help="Also measure the window in N time-ordered chunks.")] = 0,
    period: Annotated[str | None, typer.Option(
        help="Also measure the window per time period (e.g. 1h, 1D, 7D).")] = None,
    directory: DirOption = Path("."),
    engine: EngineOption = None,
    scheduler: SchedulerOption = None,
    workers: WorkersOption = None,
    as_json: JsonOption = False,
) -> None:
    """Drift, data quality, multivariate and prediction drift, realized performance and KPIs of a window.

    With --engine dask, the window's feature drift and data quality run on a Dask cluster
    (per-partition summaries merged exactly: the local engine's numbers).
    """
    if last is not None and (since is not None or until is not None):
        _fail("give --last or --since/--until, not both")
    if chunks and period:
        _fail("give --chunks or --period, not both")
    from leanloop.measure.memory import map_large_blocks

    # A process-wide allocator setting, so set here for this one-window process, not in the
    # library (a server's loop keeps glibc's own): a window's large arrays go back to the
    # system when freed instead of piling up in the heap (leanloop.measure.memory).
    map_large_blocks()
    with _open(directory) as project:
        chosen = engine_config(project.config.engine, engine, scheduler, workers)
        with _progress("measuring the window" + (" and its chunks" if chunks or period else "")
                       + (" on Dask" if chosen.kind is EngineKind.DASK else "")):
            result = project.measure(last=last, since=_parse_since(since), chunks=chunks, period=period,
                                     until=_parse_since(until, "--until"), engine=chosen)
        metric = project.config.policy.main_metric_for(project.config.data)
    body = result.to_json()
    if as_json:
        _print_json(body)
        return
    console = _console()
    console.print(_drift_table(body))
    for line in _monitor_lines(body):
        console.print(line, highlight=False)
    if body["performance"]["realized"]:
        _metrics_table("realized performance on labelled rows", body["performance"]["realized"],
                       body["performance"]["baseline"])
    if body["performance"].get("estimated"):
        bands = body["performance"]["estimated_intervals"]
        console.print("estimated on all rows ({}): {}".format(body["performance"]["estimation_method"], ", ".join(
            f"{k} {v:.4f} [{bands[k]['lower']:.4f}, {bands[k]['upper']:.4f}]"
            for k, v in body["performance"]["estimated"].items())))
    console.print(f"KPIs: {body['kpis'] or 'no labelled rows yet'}")
    if body.get("argmax_kpis"):
        console.print(f"argmax would have earned on the same rows: {body['argmax_kpis']}")
    if body.get("segments"):
        console.print(_segments_table(body["segments"]))
    if body.get("hard_cases"):
        console.print(f"hard cases: {body['hard_cases']}")
    for table in _chunks_tables(body, metric):
        console.print(table)


def _parse_methods(pairs: list[str]) -> dict[str, Any]:
    from leanloop.config import DriftMethod

    methods: dict[str, Any] = {}
    for pair in pairs:
        feature, sep, name = pair.partition("=")
        if not sep or not feature or not name:
            _fail(f"--method {pair!r} must be FEATURE=METHOD, e.g. --method age=psi")
        try:
            methods[feature] = DriftMethod(name)
        except ValueError:
            _fail(f"--method {pair!r}: unknown method {name!r}; methods are {[m.value for m in DriftMethod]}")
    return methods


@handles_errors
def drift(
    reference: Annotated[str, typer.Argument(
        help="Reference data: CSV or Parquet file; with --engine dask also a Parquet folder or fsspec URL.")],
    current: Annotated[str, typer.Argument(help="Current data to compare, as REFERENCE.")],
    chunks: Annotated[int, typer.Option(min=0, help="Also compare N consecutive chunks of CURRENT.")] = 0,
    method: Annotated[list[str] | None, typer.Option(help="FEATURE=METHOD, e.g. age=psi (repeatable).")] = None,
    calibrated: Annotated[bool, typer.Option(help="Thresholds calibrated on reference chunks.")] = False,
    exclude: Annotated[list[str] | None, typer.Option(
        help="A column to leave out (repeatable), e.g. --exclude signup_date.")] = None,
    directory: Annotated[Path, typer.Option(
        "--dir", help="A project folder: its id and time columns are left out too (when it has "
                      "leanloop.toml).")] = Path("."),
    engine: EngineOption = None,
    scheduler: SchedulerOption = None,
    workers: WorkersOption = None,
    as_json: JsonOption = False,
) -> None:
    """Drift of every shared column between two files, without a project.

    Columns left out (--exclude, and the id and time columns of the project in --dir,
    by default the current folder) are listed as skipped and count in no share.
    """
    from leanloop.config import CONFIG_FILE, load_config
    from leanloop.measure.drift import DriftOptions, ThresholdMode

    methods = _parse_methods(method or [])
    options = DriftOptions(threshold_mode=ThresholdMode.CALIBRATED if calibrated else ThresholdMode.FIXED)
    project: dict[str, str] = {}
    if (directory / CONFIG_FILE).is_file():
        data = load_config(directory).data
        project = {c: role for c, role in ((data.id_column, "id column"), (data.time_column, "time column")) if c}
    chosen = engine_config(EngineConfig(), engine, scheduler, workers)
    if chosen.kind is EngineKind.DASK:
        from leanloop.engines import dask_client
        from leanloop.engines.dask_files import measure_parquet

        if chunks:
            _fail("--chunks reads the current rows in order on one machine: drop it or use --engine local")
        if exclude:
            _fail("--exclude is applied by the local engine only: drop it or use --engine local")
        with _progress("measuring drift on Dask"), dask_client(chosen) as client:
            report = measure_parquet(reference, current, client=client, options=options, methods=methods,
                                     with_quality=False).drift
    else:
        from leanloop.measure.files import measure_files

        for path in (reference, current):
            if "://" in path or Path(path).is_dir():
                _fail(f"{path} is a folder or URL: the Dask engine reads those; add --engine dask")
        # Parquet is read one column at a time: files larger than memory are compared too.
        report = measure_files(reference, current, options=options, methods=methods, chunks=chunks,
                               with_quality=False, exclude=exclude, project_columns=project).drift
    body = report.to_json()
    if as_json:
        _print_json(body)
        return
    table = Table(title=f"drift: {Path(current).name} vs {Path(reference).name}")
    for column in ("feature", "method", "statistic", "p-value", "threshold", "drifted", "n ref", "n cur", "note"):
        table.add_column(column)
    for r in report.results:
        note = "; ".join(f"{k} {v}" for k, v in (("unseen", r.unseen), ("vanished", r.vanished)) if v)
        table.add_row(r.feature, r.method.value, f"{r.statistic:.4g}",
                      "" if r.p_value is None else f"{r.p_value:.3g}", f"{r.threshold:.4g}",
                      "[red]yes[/]" if r.drifted else "no", str(r.n_reference), str(r.n_current), note)
    console = _console()
    console.print(table)
    for c in report.chunks or []:
        console.print(f"chunk {c.index} (rows {c.start}..{c.end - 1}): drifted {', '.join(c.drifted) or '-'}")
    for name, reason in report.skipped.items():
        console.print(f"skipped {name}: {reason}")
    console.print(f"drifted: {', '.join(report.drifted) or 'none'} ({len(report.drifted)} of {len(report.features)})")
