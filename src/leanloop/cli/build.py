"""Commands that make a project and its first model: ``init``, ``build``, ``adopt``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from leanloop.cli._shared import DirOption, JsonOption, _console, _open, _print_json, _progress
from leanloop.cli.errors import handles_errors
from leanloop.cli.render import _lineage, _metrics_table, _print_warnings, _serving, _serving_line, _version_row
from leanloop.config import Task

__all__ = ["init", "build", "adopt"]

CoerceOption = Annotated[bool, typer.Option(
    help="Read the few stray values of a column of numbers or date-times (a typo like '4O') as missing "
         "values; without it, init stops and names them.")]


@handles_errors
def init(
    data: Annotated[Path, typer.Argument(help="Training table, CSV or Parquet.")],
    target: Annotated[str, typer.Option(help="Column to predict.")],
    task: Annotated[Task | None, typer.Option(help="Inferred from the target when not given.")] = None,
    time_column: Annotated[str | None, typer.Option(help="Column with event times (split by time).")] = None,
    id_column: Annotated[str | None, typer.Option(help="Column with row ids (never a feature).")] = None,
    coerce: CoerceOption = False,
    directory: DirOption = Path("."),
    as_json: JsonOption = False,
) -> None:
    """Infer the schema and task from DATA and write leanloop.toml plus the workspace.

    A column of numbers or date-times but for a few stray values (a typo like '4O')
    stops init, naming their rows and values, unless --coerce reads them as missing.
    """
    from leanloop.project import Project

    project = Project.init(data, target=target, task=task,
                           time_column=time_column, id_column=id_column, root=directory, coerce=coerce)
    cfg = project.config
    if as_json:
        _print_json({"config": str(project.paths.config), "task": cfg.data.task.value,
                     "features": cfg.schema_.model_dump(mode="json")["features"],
                     "coerced": [s.model_dump(mode="json") for s in project.coerced]})
        return
    for stray in project.coerced:
        _console().print(f"coerced: {stray.describe()}; read as missing ({stray.count} value"
                         f"{'' if stray.count == 1 else 's'})", markup=False, highlight=False)
    table = Table(title=f"{project.paths.config} ({cfg.data.task.value}, target {cfg.data.target!r})")
    for column in ("feature", "kind", "range / categories", "nullable"):
        table.add_column(column)
    for f in cfg.schema_.features:
        detail = f"{f.minimum:g} .. {f.maximum:g}" if f.minimum is not None else ", ".join((f.categories or [])[:6])
        table.add_row(f.name, f.kind.value, detail, "yes" if f.nullable else "no")
    _console().print(table)
    _console().print("Next: edit [kpi] in leanloop.toml to your money values, then run 'leanloop build'. "
                     "Write endpoints need the token 'leanloop token' prints (kept in .leanloop/token, mode 0600).",
                     markup=False, highlight=False)  # "[kpi]" is text, not a style tag


@handles_errors
def build(directory: DirOption = Path("."), as_json: JsonOption = False) -> None:
    """Split, fit the pipeline and the trivial baseline, register the version as champion."""
    with _open(directory) as project:
        with _progress("training the pipeline and the baseline"):
            version = project.build()
        if as_json:
            _print_json(_version_row(version) | {"kpi": version.kpi} | _serving(version) | _lineage(version))
            return
        _metrics_table(f"{version.version} registered as champion", version.metrics, version.baseline_metrics)
        _console().print(_serving_line(version), markup=False, highlight=False)
        _print_warnings(version.warnings)


@handles_errors
def adopt(
    model: Annotated[Path, typer.Argument(
        help="Your fitted scikit-learn-compatible model (.skops; .pkl/.joblib with --trust).")],
    reference: Annotated[Path, typer.Option(help="Labelled reference data the model was trained on (CSV or Parquet).")],
    target: Annotated[str, typer.Option(help="Target column in the reference data.")],
    trust: Annotated[bool, typer.Option(
        help="Allow pickle/joblib files and non-sklearn types. Only for files you made.")] = False,
    task: Annotated[Task | None, typer.Option(help="Inferred from the target when not given.")] = None,
    time_column: Annotated[str | None, typer.Option(help="Column with event times.")] = None,
    id_column: Annotated[str | None, typer.Option(help="Column with row ids.")] = None,
    calibrate_on: Annotated[Path | None, typer.Option(
        help="Labelled rows the model did not learn from (CSV or Parquet): calibrate its probabilities "
             "on them.")] = None,
    holdout: Annotated[Path | None, typer.Option(
        help="Labelled rows the model did not learn from (CSV or Parquet): its reference metrics are "
             "measured on them (without: on the reference data, which is optimistic).")] = None,
    coerce: CoerceOption = False,
    directory: DirOption = Path("."),
    as_json: JsonOption = False,
) -> None:
    """Register your own fitted model so the loop (serve, measure, learn) works for it.

    Retraining refits a clone of your estimator on the new rows (unless \\[policy]
    retrain_model = "leanloop").
    """
    from leanloop.project import adopt_model

    version = adopt_model(model, reference=reference, target=target, root=directory, trust=trust,
                          task=task, time_column=time_column, id_column=id_column, calibrate_on=calibrate_on,
                          holdout=holdout, coerce=coerce)
    if as_json:
        _print_json(_version_row(version) | _serving(version) | _lineage(version))
        return
    rows = "the holdout" if holdout is not None else "the reference data"
    _metrics_table(f"{version.version} adopted as champion ({version.estimator}; metrics on {rows})",
                   version.metrics, version.baseline_metrics)
    _console().print(_serving_line(version), markup=False, highlight=False)
    _print_warnings(version.warnings)
