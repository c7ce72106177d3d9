"""Every model version and every cycle, logged to a team's MLflow tracking server.

With ``[mlflow] tracking_uri`` set, :func:`log_pending` runs after each ``build``,
``adopt`` and cycle: each version and each finished cycle not logged yet becomes one
run of the experiment (what goes in it: :mod:`~leanloop.integrations.mlflow_runs`).

MLflow is a guest in the loop, never a gate: a server that cannot be reached (or MLflow
not installed) makes :func:`log_pending` warn on the ``leanloop.mlflow`` logger, record
the error in ``.leanloop/mlflow.json`` and return; what waits is logged the next time.
Requests get ``timeout_seconds`` and one retry (MLflow's own default retries for minutes,
which would hold a cycle up), and the first failure ends the attempt.

Nothing is logged twice: the record keeps each item's run id, and each run is tagged
with the project and the item (``leanloop.key``) and marked complete as its last step,
so after a crash between the two (or with the record lost) the runs already complete are
found by a search and kept, and a half-made one is deleted and made again. Two processes
never log at once (an exclusive lock file beside the record; the one that finds it
taken leaves the work to the holder).

Examples
--------
>>> import tempfile
>>> from pathlib import Path
>>> from leanloop.config import DataConfig, ProjectConfig
>>> from leanloop.workspace import Workspace
>>> config = ProjectConfig(data=DataConfig(path="d.csv", target="y", task="regression"))
>>> with Workspace(config, Path(tempfile.mkdtemp())) as ws:
...     log_pending(ws) is None   # no [mlflow] tracking_uri: nothing to do
True
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import logging
import os
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field

from leanloop.config.mlflow import shown_uri
from leanloop.errors import ProjectError
from leanloop.integrations.mlflow_runs import RunContent, cycle_run, version_run
from leanloop.learn import ledger

if TYPE_CHECKING:
    from mlflow import MlflowClient

    from leanloop.workspace import Workspace

__all__ = ["MlflowRecord", "log_pending", "log_now", "record_path", "read_record"]

log = logging.getLogger("leanloop.mlflow")

#: The tag that names what a run holds (``version:v3``, ``cycle:7``) and the one that says
#: every part of it was logged.
KEY_TAG, COMPLETE_TAG, PROJECT_TAG = "leanloop.key", "leanloop.complete", "leanloop.project"


class MlflowRecord(BaseModel):
    """What was logged where, and how the last attempt went (``.leanloop/mlflow.json``)."""

    model_config = ConfigDict(frozen=True)

    tracking_uri: str
    experiment: str
    experiment_id: str | None = None
    #: ``version:v3`` / ``cycle:7`` -> the MLflow run id.
    runs: dict[str, str] = Field(default_factory=dict)
    #: Items that existed and were not logged after the last attempt.
    pending: list[str] = Field(default_factory=list)
    logged_now: list[str] = Field(default_factory=list)
    attempted_at: float | None = None
    error: str | None = None
    #: Attempts in a row that failed (0 after one that logged everything).
    failures: int = 0

    def to_json(self) -> dict[str, Any]:
        """The stable JSON shape ``leanloop mlflow --json`` prints."""
        return self.model_dump(mode="json")


def record_path(ws: Workspace) -> Any:
    """Where the record is kept: ``.leanloop/mlflow.json``."""
    return ws.paths.workspace / "mlflow.json"


def read_record(ws: Workspace) -> MlflowRecord | None:
    """The record of the last attempt, if any (``None`` also for an unreadable file: it is rewritten)."""
    path = record_path(ws)
    try:
        return MlflowRecord.model_validate_json(path.read_bytes())
    except (OSError, ValueError):
        return None


def _destination(ws: Workspace) -> tuple[str, str]:
    settings = ws.config.mlflow
    assert settings.tracking_uri is not None
    return settings.tracking_uri, settings.experiment or ws.paths.root.name


@contextlib.contextmanager
def _exclusive(ws: Workspace, *, wait: bool) -> Iterator[bool]:
    """Hold the lock file beside the record (waiting for it, or not); yields whether it was taken."""
    ws.paths.workspace.mkdir(parents=True, exist_ok=True)
    with open(ws.paths.workspace / "mlflow.lock", "a+b") as handle:
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
        except BlockingIOError:
            yield False
            return
        try:
            yield True
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


@contextlib.contextmanager
def _client_settings(timeout: int) -> Iterator[None]:
    """MLflow's client reads its HTTP settings from the environment on each request: a
    short timeout and one retry (its default, 7 retries with backoff, waits minutes on a
    server that is down), and no run URL printed to stdout (it would break ``--json``).
    A value the user exported is kept."""
    wanted = {"MLFLOW_HTTP_REQUEST_TIMEOUT": str(timeout), "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "1",
              "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR": "1", "MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT": "true"}
    added = {k: v for k, v in wanted.items() if k not in os.environ}
    os.environ.update(added)
    try:
        yield
    finally:
        for key in added:
            os.environ.pop(key, None)


def _items(ws: Workspace) -> dict[str, Any]:
    """Every version and every finished cycle, by key, oldest first."""
    items: dict[str, Any] = {f"version:{v.version}": v for v in ws.registry.versions()}
    items |= {f"cycle:{c.cycle}": c for c in ledger.cycles(ws.store)}
    return items


def _client(uri: str) -> MlflowClient:
    try:
        from mlflow import MlflowClient
    except ImportError as exc:
        raise ProjectError("[mlflow] tracking_uri is set but MLflow is not installed: pip install "
                           "'leanloop[mlflow]' (or remove tracking_uri from leanloop.toml)") from exc
    return MlflowClient(tracking_uri=uri)


def _experiment_id(client: MlflowClient, name: str) -> str:
    experiment = client.get_experiment_by_name(name)
    if experiment is None:
        return str(client.create_experiment(name, tags={"leanloop": "true"}))
    if experiment.lifecycle_stage == "deleted":
        raise ProjectError(f"the MLflow experiment {name!r} is deleted; restore it in MLflow or set another "
                           "[mlflow] experiment")
    return str(experiment.experiment_id)


def _existing(client: MlflowClient, experiment_id: str, project: str) -> tuple[dict[str, str], list[str]]:
    """This project's runs in the experiment: complete ones by key, and half-made ones."""
    complete: dict[str, str] = {}
    partial: list[str] = []
    token = None
    while True:
        page = client.search_runs([experiment_id], filter_string=f"tags.`{PROJECT_TAG}` = '{project}'",
                                  max_results=1000, page_token=token)
        for run in page:
            key = run.data.tags.get(KEY_TAG)
            if key and run.data.tags.get(COMPLETE_TAG) == "true":
                complete.setdefault(key, run.info.run_id)
            else:
                partial.append(run.info.run_id)
        token = page.token
        if not token:
            return complete, partial


def _log_run(client: MlflowClient, experiment_id: str, project: dict[str, str], key: str, content: RunContent) -> str:
    """One run: created, filled, finished, then marked complete (``project``: the tags
    that name the project)."""
    from mlflow.entities import Metric, Param

    run = client.create_run(experiment_id, start_time=content.start_ms, run_name=content.name,
                            tags={**content.tags, **project, KEY_TAG: key})
    run_id = run.info.run_id
    params = [Param(k, v) for k, v in content.params.items()]
    metrics = [Metric(k, v, content.start_ms, 0) for k, v in content.metrics.items()]
    for start in range(0, max(len(params), len(metrics)), 100):  # MLflow takes 100 params per batch
        client.log_batch(run_id, metrics=metrics[start:start + 100], params=params[start:start + 100])
    for name, body in content.documents.items():
        client.log_text(run_id, body, name)
    for path, folder in content.files:
        client.log_artifact(run_id, str(path), folder)
    client.set_terminated(run_id, content.status, end_time=content.end_ms)
    client.set_tag(run_id, COMPLETE_TAG, "true")
    return run_id


def _content(ws: Workspace, item: Any) -> RunContent:
    return cycle_run(item) if isinstance(item, ledger.Cycle) else version_run(ws, item)


def _project_id(ws: Workspace) -> str:
    """The project's tag value: its folder, hashed (a path may hold quotes a search filter cannot)."""
    return hashlib.sha256(str(ws.paths.root).encode()).hexdigest()[:16]


def _attempt(ws: Workspace, record: MlflowRecord, items: dict[str, Any], uri: str) -> MlflowRecord:
    """Log what waits to ``uri``; stop at the first failure. Returns the new record."""
    name = record.experiment
    runs = dict(record.runs)
    logged: list[str] = []
    error = None
    experiment_id = record.experiment_id
    try:
        with _client_settings(ws.config.mlflow.timeout_seconds):
            client = _client(uri)
            experiment_id = _experiment_id(client, name)
            project = {PROJECT_TAG: _project_id(ws), "leanloop.root": str(ws.paths.root)}
            waiting = [key for key in items if key not in runs]
            if waiting:
                complete, partial = _existing(client, experiment_id, project[PROJECT_TAG])
                for run_id in partial:
                    client.delete_run(run_id)
                runs |= {k: v for k, v in complete.items() if k in items}
            for key in [k for k in items if k not in runs]:
                runs[key] = _log_run(client, experiment_id, project, key, _content(ws, items[key]))
                logged.append(key)
    except Exception as exc:  # MLflow's client raises many types (its own, requests', OSError); any one means "later"
        error = f"{type(exc).__name__}: {exc}"[:2000]
    pending = [key for key in items if key not in runs]
    return MlflowRecord(tracking_uri=shown_uri(uri), experiment=name, experiment_id=experiment_id, runs=runs,
                        pending=pending, logged_now=logged, attempted_at=time.time(), error=error,
                        failures=0 if error is None else record.failures + 1)


def _write(ws: Workspace, record: MlflowRecord) -> None:
    path = record_path(ws)
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(record.to_json(), indent=1), encoding="utf-8")
    os.replace(tmp, path)


def log_pending(ws: Workspace, *, wait: bool = False, warn: bool = True) -> MlflowRecord | None:
    """Log to MLflow every version and cycle not logged yet; ``None`` when ``[mlflow]
    tracking_uri`` is not set, or another process is logging now (unless ``wait``).

    Never raises for MLflow's sake: a failure is warned about, recorded (``error``,
    ``pending``) and retried at the next call.
    """
    if not ws.config.mlflow.enabled:
        return None
    uri, name = _destination(ws)
    try:
        with _exclusive(ws, wait=wait) as mine:
            if not mine:
                return None
            previous = read_record(ws)
            if previous is None or (previous.tracking_uri, previous.experiment) != (shown_uri(uri), name):
                previous = MlflowRecord(tracking_uri=shown_uri(uri), experiment=name)  # a new destination: all of it
            record = _attempt(ws, previous, _items(ws), uri)
            _write(ws, record)
    except OSError as exc:  # the lock or the record could not be written: MLflow waits, the loop goes on
        log.warning("could not keep the MLflow record in %s: %s; nothing was logged to MLflow this time",
                    ws.paths.workspace, exc)
        return None
    if record.error is not None and warn:
        log.warning("could not log to MLflow at %s (experiment %r): %s. %d item(s) wait and are logged on the next "
                    "build or cycle, or by 'leanloop mlflow'", record.tracking_uri, name, record.error,
                    len(record.pending))
    return record


def log_now(ws: Workspace) -> MlflowRecord:
    """:func:`log_pending`, waiting for another process that is logging (``leanloop mlflow``);
    a project without ``[mlflow] tracking_uri`` is an error that says how to set it."""
    if not ws.config.mlflow.enabled:
        raise ProjectError(f"no MLflow to log to: set tracking_uri under [mlflow] in {ws.paths.config} "
                           "(e.g. tracking_uri = \"http://mlflow.internal:5000\")")
    record = log_pending(ws, wait=True, warn=False)  # the caller reports the error itself
    if record is None:
        raise ProjectError(f"could not keep the MLflow record in {ws.paths.workspace}; check that you may write there")
    return record
