"""The ``leanloop`` command: a thin shell over :class:`leanloop.project.Project`.

Each command parses its options, calls one library function and prints a table (or
JSON with ``--json``). Errors go to stderr as one paragraph with exit code 2. Heavy
libraries are imported inside the commands so ``--help`` is instant.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from datetime import datetime
from functools import wraps
from pathlib import Path
from typing import Annotated, Any, NoReturn, TypeVar

import typer
from rich.console import Console
from rich.table import Table

from leanloop.config import Task
from leanloop.errors import InputError, LeanloopError

__all__ = ["app", "main"]

app = typer.Typer(
    name="leanloop",
    help="Build -> Measure -> Learn for a model in production: init, build, serve, feedback, "
         "measure, drift, learn, cycle, history, testset, demo.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

F = TypeVar("F", bound=Callable[..., Any])

DirOption = Annotated[Path, typer.Option("--dir", help="Project folder (holds leanloop.toml).")]
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON for scripts instead of a table.")]


def _console() -> Console:
    return Console()


def _fail(message: str) -> NoReturn:
    """Refuse bad usage; :func:`handles_errors` prints it like any other error."""
    raise InputError(message)


def handles_errors(func: F) -> F:
    """Map :class:`LeanloopError` to a message on stderr and its exit code."""

    @wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except LeanloopError as exc:
            Console(stderr=True).print(f"[bold red]error:[/] {exc}", highlight=False, soft_wrap=True)
            raise typer.Exit(code=exc.exit_code) from exc

    return wrapper  # type: ignore[return-value]


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


@app.command()
@handles_errors
def init(
    data: Annotated[Path, typer.Argument(help="Training table, CSV or Parquet.")],
    target: Annotated[str, typer.Option(help="Column to predict.")],
    task: Annotated[Task | None, typer.Option(help="Inferred from the target when not given.")] = None,
    time_column: Annotated[str | None, typer.Option(help="Column with event times (split by time).")] = None,
    id_column: Annotated[str | None, typer.Option(help="Column with row ids (never a feature).")] = None,
    directory: DirOption = Path("."),
    as_json: JsonOption = False,
) -> None:
    """Infer the schema and task from DATA and write leanloop.toml plus the workspace."""
    from leanloop.project import Project

    project = Project.init(data, target=target, task=task,
                           time_column=time_column, id_column=id_column, root=directory)
    cfg = project.config
    if as_json:
        _print_json({"config": str(project.paths.config), "task": cfg.data.task.value,
                     "features": cfg.schema_.model_dump(mode="json")["features"]})
        return
    table = Table(title=f"{project.paths.config} ({cfg.data.task.value}, target {cfg.data.target!r})")
    for column in ("feature", "kind", "range / categories", "nullable"):
        table.add_column(column)
    for f in cfg.schema_.features:
        detail = f"{f.minimum:g} .. {f.maximum:g}" if f.minimum is not None else ", ".join((f.categories or [])[:6])
        table.add_row(f.name, f.kind.value, detail, "yes" if f.nullable else "no")
    _console().print(table)
    _console().print("Next: edit [kpi] in leanloop.toml to your money values, then run 'leanloop build'. "
                     "Write endpoints need the token 'leanloop token' prints (kept in .leanloop/token, mode 0600).")


def _version_row(version: Any) -> dict[str, Any]:
    return {"version": version.version, "metrics": version.metrics, "baseline_metrics": version.baseline_metrics}


@app.command()
@handles_errors
def build(directory: DirOption = Path("."), as_json: JsonOption = False) -> None:
    """Split, fit the pipeline and the trivial baseline, register the version as champion."""
    with _open(directory) as project:
        with _console().status("training the pipeline and the baseline..."):
            version = project.build()
        if as_json:
            _print_json(_version_row(version) | {"kpi": version.kpi})
            return
        _metrics_table(f"{version.version} registered as champion", version.metrics, version.baseline_metrics)


def _metrics_table(title: str, metrics: dict[str, float], baseline: dict[str, float]) -> None:
    table = Table(title=title)
    table.add_column("metric")
    table.add_column("model", justify="right")
    table.add_column("trivial baseline", justify="right")
    for name, value in metrics.items():
        base = baseline.get(name)
        table.add_row(name, f"{value:.4f}", "" if base is None else f"{base:.4f}")
    _console().print(table)


@app.command()
@handles_errors
def adopt(
    model: Annotated[Path, typer.Argument(help="Your fitted scikit-learn-compatible model (.skops; .pkl/.joblib with --trust).")],
    reference: Annotated[Path, typer.Option(help="Labelled reference data the model was trained on (CSV or Parquet).")],
    target: Annotated[str, typer.Option(help="Target column in the reference data.")],
    trust: Annotated[bool, typer.Option(help="Allow pickle/joblib files and non-sklearn types. Only for files you made.")] = False,
    task: Annotated[Task | None, typer.Option(help="Inferred from the target when not given.")] = None,
    time_column: Annotated[str | None, typer.Option(help="Column with event times.")] = None,
    id_column: Annotated[str | None, typer.Option(help="Column with row ids.")] = None,
    directory: DirOption = Path("."),
    as_json: JsonOption = False,
) -> None:
    """Register your own fitted model so the loop (serve, measure, learn) works for it."""
    from leanloop.build.adopt import adopt_model

    version = adopt_model(model, reference=reference, target=target, root=directory, trust=trust,
                          task=task, time_column=time_column, id_column=id_column)
    if as_json:
        _print_json(_version_row(version))
        return
    _metrics_table(f"{version.version} adopted as champion (metrics on the reference data)",
                   version.metrics, version.baseline_metrics)


@app.command()
@handles_errors
def serve(
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535, help="TCP port.")] = 8000,
    quiet: Annotated[bool, typer.Option("--quiet", help="No access log lines (errors are still logged).")] = False,
    workers: Annotated[int, typer.Option(min=1, max=64, help="Worker processes (each switches models by itself).")] = 1,
    directory: DirOption = Path("."),
) -> None:
    """Serve predictions over HTTP (POST /predict, POST /feedback, GET /predictions/ID, GET /metrics, ...).

    Logs one JSON line per request to stderr (leanloop.access) and errors with their id.
    """
    import os

    # One OpenMP thread per server process, set before scikit-learn loads OpenMP (which
    # reads it once): concurrency comes from micro-batching, and OpenMP threads
    # spin-waiting between model calls took the cores the event loop and the logger need
    # (a lone request cost 1.5x the CPU). An explicit OMP_NUM_THREADS is respected.
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    import uvicorn

    from leanloop.serve import create_app
    from leanloop.serve.factory import PROJECT_ENV
    from leanloop.serve.lifecycle import exit_zero_after_sigterm
    from leanloop.serve.metrics import configure_logging
    from leanloop.serve.protocol import uvicorn_http

    project = _open(directory)
    project.registry.champion()
    configure_logging(quiet=quiet)
    exit_zero_after_sigterm()
    http = uvicorn_http(project.config.serve.read_timeout_s)
    if workers == 1:
        uvicorn.run(create_app(project, own_process=True), host=host, port=port, log_level="warning", http=http)
        return
    project.close()
    os.environ[PROJECT_ENV] = str(Path(directory).resolve())
    uvicorn.run("leanloop.serve.factory:app_from_environment", factory=True, workers=workers,
                host=host, port=port, log_level="warning", http=http)


@app.command()
@handles_errors
def token(
    new: Annotated[bool, typer.Option("--new", help="Make a new random token (replacing the old one; restart the server).")] = False,
    directory: DirOption = Path("."),
) -> None:
    """Print the project's bearer token (write endpoints need it: Authorization: Bearer TOKEN)."""
    from leanloop.serve.security import TOKEN_ENV, generate_token, resolve_token

    project = _open(directory)
    workspace = project.paths.workspace
    value = generate_token(workspace, replace=True) if new else resolve_token(workspace)
    if value is None:
        _fail(f"this project has no token; run 'leanloop token --new --dir {directory}' to make one "
              f"(or set {TOKEN_ENV})")
    sys.stdout.write(value + "\n")


@app.command()
@handles_errors
def feedback(
    file: Annotated[Path, typer.Argument(help="CSV or Parquet with prediction ids and labels.")],
    id_column: Annotated[str, typer.Option(help="Column holding the prediction id.")] = "prediction_id",
    label_column: Annotated[str, typer.Option(help="Column holding the ground truth.")] = "label",
    directory: DirOption = Path("."),
    as_json: JsonOption = False,
) -> None:
    """Join ground-truth labels from a file to their predictions by id (all or nothing).

    A repeated label changes nothing, a different one replaces it (the latest wins, the
    history keeps both), and a label whose prediction is not logged yet is parked until
    it is.
    """
    with _open(directory) as project:
        counts = project.feedback_file(file, id_column=id_column, label_column=label_column)
    if as_json:
        _print_json(counts.to_json())
    else:
        _console().print(f"recorded {counts.recorded} of {counts.received} labels: {counts.updated} updated, "
                         f"{counts.duplicates} duplicates, {counts.parked} parked (prediction not logged yet)")


def _drift_table(measurement: dict[str, Any]) -> Table:
    window = measurement["window"]
    table = Table(title=f"window {window['start']} .. {window['end']}: {window['rows']} rows, "
                        f"{window['labelled']} labelled")
    for column in ("feature", "method", "statistic", "p-value", "threshold", "drifted", "n ref", "n cur"):
        table.add_column(column)
    rows = list(measurement["drift"]) + ([measurement["prediction_drift"]] if measurement.get("prediction_drift") else [])
    for r in rows:
        table.add_row(r["feature"], r["method"], f"{r['statistic']:.4f}",
                      "" if r["p_value"] is None else f"{r['p_value']:.3g}", f"{r['threshold']:g}",
                      "[red]yes[/]" if r["drifted"] else "no", str(r["n_reference"]), str(r["n_current"]))
    return table


def _monitor_lines(body: dict[str, Any]) -> list[str]:
    """One line each for data quality, multivariate drift and stream changes."""
    lines = []
    if body.get("quality"):
        flagged = [f"{r['feature'] or 'rows'}:{r['check']}" for r in body["quality"]["results"] if r["flagged"]]
        lines.append(f"data quality: {', '.join(flagged) or 'nothing flagged'}")
    multivariate = body.get("multivariate") or {}
    if multivariate.get("domain_classifier"):
        d = multivariate["domain_classifier"]
        top = ", ".join(f["feature"] for f in d["top_features"][:3])
        lines.append(f"domain classifier AUC {d['auc']:.3f} [{d['auc_low']:.3f}, {d['auc_high']:.3f}] "
                     f"(drift above {d['threshold']:g}: {'yes' if d['drifted'] else 'no'}; driven by {top})")
    if multivariate.get("pca"):
        p = multivariate["pca"]
        lines.append(f"PCA reconstruction error {p['error']:.4f}, band [{p['lower_threshold']:.4f}, "
                     f"{p['upper_threshold']:.4f}] (drift: {'yes' if p['drifted'] else 'no'})")
    for s in body.get("stream") or []:
        if s["changes"]:
            rows = ", ".join(str(c["row"]) for c in s["changes"][:5])
            lines.append(f"{s['detector']} on {s['signal']}: change at row {rows}")
    return lines


@app.command()
@handles_errors
def measure(
    last: Annotated[int | None, typer.Option(min=1, help="Measure the last N predictions (default: [measure] window_rows).")] = None,
    since: Annotated[str | None, typer.Option(help="Measure predictions since this time (ISO 8601 or epoch seconds).")] = None,
    chunks: Annotated[int, typer.Option(min=0, help="Also measure the window in N time-ordered chunks.")] = 0,
    period: Annotated[str | None, typer.Option(help="Also measure the window per time period (e.g. 1h, 1D, 7D).")] = None,
    directory: DirOption = Path("."),
    as_json: JsonOption = False,
) -> None:
    """Drift, data quality, multivariate and prediction drift, realized performance and KPIs of a window."""
    if last is not None and since is not None:
        _fail("give --last or --since, not both")
    if chunks and period:
        _fail("give --chunks or --period, not both")
    with _open(directory) as project:
        result = project.measure(last=last, since=_parse_since(since), chunks=chunks, period=period)
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
            f"{k} {v:.4f} [{bands[k]['lower']:.4f}, {bands[k]['upper']:.4f}]" for k, v in body["performance"]["estimated"].items())))
    console.print(f"KPIs: {body['kpis'] or 'no labelled rows yet'}")
    if body.get("segments"):
        console.print(_segments_table(body["segments"]))
    if body.get("hard_cases"):
        console.print(f"hard cases: {body['hard_cases']}")


def _segments_table(segments: list[dict[str, Any]]) -> Table:
    table = Table(title="weak segments (worst impact first)")
    for column in ("segment", "rows", "metric", "value", "overall", "gap", "adj. p", "impact"):
        table.add_column(column)
    for g in segments:
        table.add_row(g["segment"], str(g["rows"]), g["metric"], f"{g['value']:.4g}", f"{g['overall']:.4g}",
                      f"{g['gap']:.4g}", f"{g['adjusted_p_value']:.3g}", f"{g['impact']:.4g}")
    return table


def _num(value: float | None) -> str:
    return "" if value is None else f"{value:.4f}"


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


@app.command()
@handles_errors
def drift(
    reference: Annotated[Path, typer.Argument(help="Reference data, CSV or Parquet.")],
    current: Annotated[Path, typer.Argument(help="Current data to compare, CSV or Parquet.")],
    chunks: Annotated[int, typer.Option(min=0, help="Also compare N consecutive chunks of CURRENT.")] = 0,
    method: Annotated[list[str] | None, typer.Option(help="FEATURE=METHOD, e.g. age=psi (repeatable).")] = None,
    calibrated: Annotated[bool, typer.Option(help="Thresholds calibrated on reference chunks.")] = False,
    as_json: JsonOption = False,
) -> None:
    """Drift of every shared column between two files, without a project."""
    from leanloop.measure.drift import DriftOptions
    from leanloop.measure.files import measure_files

    methods = _parse_methods(method or [])
    options = DriftOptions(threshold_mode="calibrated" if calibrated else "fixed")
    # Parquet is read one column at a time: files larger than memory are compared too.
    report = measure_files(reference, current, options=options, methods=methods, chunks=chunks,
                           with_quality=False).drift
    body = report.to_json()
    if as_json:
        _print_json(body)
        return
    table = Table(title=f"drift: {current.name} vs {reference.name}")
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


def _cycle_output(cycle: Any, as_json: bool) -> None:
    body = cycle.to_json()
    if as_json:
        _print_json(body)
        return
    table = Table(title=f"cycle {body['cycle']}: {body['decision']['action'].upper()}")
    for column in ("rule", "value", "threshold", "fired", "says"):
        table.add_column(column)
    for r in body["decision"]["reasons"]:
        value = "" if r["value"] is None else f"{r['value']:.4g}"
        threshold = "" if r["threshold"] is None else f"{r['threshold']:g}"
        table.add_row(r["rule"], value, threshold, "[red]yes[/]" if r["fired"] else "no", r["says"])
    console = _console()
    console.print(table)
    if body.get("comparison"):
        check_table = Table(title=f"{body['comparison']['challenger']} vs {body['comparison']['champion']}")
        for column in ("check", "champion", "challenger", "difference (CI)", "threshold", "passed"):
            check_table.add_column(column)
        for c in body["comparison"]["checks"]:
            band = ("" if c.get("difference") is None
                    else f"{c['difference']:+.4g} ({c['lower']:+.4g}..{c['upper']:+.4g})")
            verdict = "[green]yes[/]" if c["passed"] else "[red]no[/]"
            if c.get("skipped"):
                verdict = f"skipped: {c['skipped']}"
            elif c.get("p_value") is not None:
                verdict += f" (p={c['p_value']:.3g}, {c['rows']} rows)"
            check_table.add_row(c["check"], _num(c["champion"]), _num(c["challenger"]), band, f"{c['threshold']:g}",
                                verdict)
        console.print(check_table)
    if body.get("testset"):
        added = body["testset"]
        console.print(f"enriched test set: +{sum(added['added'].values())} hard cases {added['added']}, "
                      f"{added['duplicates']} already in, {added['capped']} dropped by the cap; {added['size']} rows")
    console.print(f"champion: {body['champion_before']} -> {body['champion_after']}")


@app.command()
@handles_errors
def learn(directory: DirOption = Path("."), as_json: JsonOption = False,
          dry_run: Annotated[bool, typer.Option(help="Decide but do not retrain or promote.")] = False) -> None:
    """Turn the latest measurement into a decision and act on it (retrain, compare, promote)."""
    with _open(directory) as project:
        with _console().status("deciding..."):
            cycle = project.learn(act=not dry_run)
    _cycle_output(cycle, as_json)


@app.command()
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


@app.command()
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


# Spelled out so --help does not import the measurement stack; a test checks it matches Reason.
_REASONS = "confident_error, high_loss, weak_segment, drifted_region"
testset_app = typer.Typer(help="The enriched test set of hard cases: list, export, prune.", no_args_is_help=True)
app.add_typer(testset_app, name="testset")


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
        added = datetime.fromtimestamp(r.added_at).isoformat(timespec="seconds")
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
    with _open(directory) as project:
        written = project.export_testset(file)
    if as_json:
        _print_json({"exported": written, "file": str(file)})
    else:
        _console().print(f"exported {written} rows to {file}")


@testset_app.command("prune")
@handles_errors
def testset_prune(
    older_than: Annotated[float | None, typer.Option(min=0, help="Remove rows added more than this many days ago.")] = None,
    reason: Annotated[str | None, typer.Option(help=f"Remove rows kept for this reason: {_REASONS}.")] = None,
    keep: Annotated[int | None, typer.Option(min=0, help="Of the rows selected (all if no other filter), keep the newest N.")] = None,
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


@app.command()
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


@app.command()
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


@app.command()
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


@app.command()
@handles_errors
def shadow(
    version: Annotated[str | None, typer.Argument(help="The version to score every request with too, e.g. v3.")] = None,
    stop: Annotated[bool, typer.Option("--stop", help="End shadow mode.")] = False,
    status: Annotated[bool, typer.Option(
        "--status", help="Compare the shadow version (or VERSION) with the champion on the live rows both scored.")] = False,
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


def _event_output(event: Any, as_json: bool) -> None:
    if as_json:
        _print_json(event.to_json())
        return
    if event.kind == "shadow":
        _console().print(f"shadow: {event.evidence['shadow']} scores every request beside champion "
                         f"{event.champion_after} (ledger entry {event.cycle})")
    elif event.kind == "shadow_stop":
        _console().print(f"shadow mode ended for {event.evidence['shadow']} after {event.evidence['rows_scored']} "
                         f"rows (ledger entry {event.cycle})")
    else:
        _console().print(f"champion: {event.champion_before} -> {event.champion_after} (ledger entry {event.cycle})")


@app.command()
@handles_errors
def demo(
    directory: Annotated[Path, typer.Option("--dir", help="Folder for the demo project (must not hold one).")] = Path("leanloop-demo"),
    rows: Annotated[int, typer.Option(min=2000, max=50_000, help="Analysis rows to replay.")] = 50_000,
    cycle_every: Annotated[int, typer.Option(min=500, help="Run a cycle every N replayed rows.")] = 5000,
    shuffle_seed: Annotated[int | None, typer.Option(
        help="Replay the rows in a random order with this seed (with --rows 20000: the no-drift control).")] = None,
    as_json: JsonOption = False,
) -> None:
    """The whole loop on NannyML's car-loan data: build, serve, replay, label late, cycle, compare."""
    from leanloop.demo import run_demo

    summary = run_demo(directory, rows=rows, cycle_every=cycle_every, shuffle_seed=shuffle_seed, console=None if as_json else _console())
    if as_json:
        _print_json(summary)


def main() -> None:
    """Console-script entry point."""
    app()


if __name__ == "__main__":
    main()
