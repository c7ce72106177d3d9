"""``leanloop models``: the registered versions with their aliases, parent, metrics, and
when each was created and promoted."""

from __future__ import annotations

from pathlib import Path

from leanloop.cli._shared import DirOption, JsonOption, _console, _open, _print_json
from leanloop.cli.errors import handles_errors

__all__ = ["models"]


@handles_errors
def models(directory: DirOption = Path("."), as_json: JsonOption = False) -> None:
    """List model versions: alias, parent, source, model (the user's own or leanloop's, and its
    estimator), metrics, created and promoted (ISO 8601, UTC)."""
    from rich.table import Table

    from leanloop.report import load_report

    with _open(directory) as project:
        data = load_report(project.workspace, distributions=False)
    if as_json:
        _print_json({"main_metric": data.main_metric, "versions": [v.model_dump(mode="json") for v in data.versions]})
        return
    table = Table(title=f"model versions (main metric: {data.main_metric})")
    for column in ("version", "aliases", "parent", "source", "model", "trained on", data.main_metric, "label rule",
                   "created", "promoted"):
        table.add_column(column, overflow="fold")
    for v in data.versions:
        promoted = "\n".join(f"{at} ({by})" for at, by in zip(v.promoted_at, v.promoted_by, strict=True))
        metric = v.metrics.get(data.main_metric)
        rows = "" if v.train_rows is None else f"{v.train_rows:,} rows"
        model = v.model_kind if v.estimator is None else f"{v.model_kind}: {v.estimator}"
        table.add_row(v.version, ", ".join(v.aliases), v.parent or "", v.source, model, rows,
                      "" if metric is None else f"{metric:.4f}", v.label_rule, v.created_at, promoted)
    _console().print(table)
