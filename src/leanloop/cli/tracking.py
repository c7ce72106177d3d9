"""``leanloop mlflow``: log to MLflow what is not there yet, and say what is where."""

from __future__ import annotations

from pathlib import Path

from leanloop.cli._shared import DirOption, JsonOption, _console, _open, _print_json
from leanloop.cli.errors import handles_errors
from leanloop.errors import LeanloopError

__all__ = ["mlflow"]


@handles_errors
def mlflow(directory: DirOption = Path("."), as_json: JsonOption = False) -> None:
    """Log every model version and cycle not in MLflow yet (\\[mlflow] tracking_uri); builds and cycles do
    this by themselves, this retries now. Prints what is logged, what waits and the last error."""
    from leanloop.integrations.mlflow_tracking import log_now
    from leanloop.times import iso

    with _open(directory) as project:
        record = log_now(project.workspace)
    if as_json:
        _print_json(record.to_json())
    else:
        kinds = [key.partition(":")[0] for key in record.runs]
        lines = [f"MLflow: {record.tracking_uri}, experiment {record.experiment!r} (id {record.experiment_id})",
                 f"logged: {kinds.count('version')} versions, {kinds.count('cycle')} cycles"
                 + (f"; just now: {', '.join(record.logged_now)}" if record.logged_now else ""),
                 f"waiting: {', '.join(record.pending) or 'nothing'}"]
        if record.attempted_at is not None:
            lines.append(f"attempted at {iso(record.attempted_at)}")
        _console().print("\n".join(lines), markup=False, highlight=False)
    if record.error is not None:
        raise LeanloopError(f"could not log to MLflow at {record.tracking_uri}: {record.error}. Check that the "
                            "server runs and [mlflow] tracking_uri in leanloop.toml; what waits is logged next time")
