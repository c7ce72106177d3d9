"""A project with logged predictions, made the way production makes them: through the server.

The car-loan analysis period is posted to ``leanloop serve`` in 1,000-row requests
(cycled until ``rows`` are logged); the true label of every logged prediction is
written to ``labels.parquet`` (``prediction_id``, ``label``) for ``leanloop feedback``.
The result is cached by size; suites copy it before changing it.
"""

from __future__ import annotations

import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

from bench.project import make_project, server, token

__all__ = ["LoggedProject", "logged_project", "copy_project", "cached_folder"]


@dataclass(frozen=True)
class LoggedProject:
    root: Path
    labels: Path
    rows: int


def copy_project(source: Path, target: Path) -> Path:
    """A fresh copy of a (stopped) project folder."""
    if target.exists():
        shutil.rmtree(target)
    shutil.copytree(source, target)
    return target


def cached_folder(folder: Path) -> bool:
    """True when ``folder`` holds a finished result (its ``done`` file); else ``folder``
    is made empty, to be filled and marked ``done``."""
    if (folder / "done").exists():
        return True
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    return False


def logged_project(folder: Path, rows: int) -> LoggedProject:
    import httpx
    import pandas as pd

    from leanloop.datasets import car_loan
    from leanloop.demo import free_port
    from leanloop.project import Project

    folder = folder / f"logged-{rows}"
    done = LoggedProject(folder / "project", folder / "labels.parquet", rows)
    if cached_folder(folder):
        return done
    print(f"[bench] logging {rows:,} predictions through leanloop serve", flush=True)
    root = make_project(done.root)
    data = car_loan()
    analysis = data.analysis.merge(data.analysis_targets, on="id").sort_values("timestamp", kind="stable")
    with Project(root) as project:
        records = analysis[project.config.schema_.names].to_dict("records")
    truth = analysis["repaid"].tolist()
    bearer = token(root)
    headers = {"authorization": f"Bearer {bearer}"} if bearer else {}
    ids: list[str] = []
    labels: list[int] = []
    port = free_port()
    command = [sys.executable, "-m", "leanloop.cli", "serve", "--port", str(port), "--dir", str(root), "--no-loop"]
    with server(command, f"http://127.0.0.1:{port}", log=folder / "server.log") as url, \
            httpx.Client(base_url=url, timeout=120.0, headers=headers) as client:
        while len(ids) < rows:
            start = len(ids) % len(records)
            size = min(1000, rows - len(ids), len(records) - start)
            response = client.post("/predict", json={"rows": records[start:start + size]})
            response.raise_for_status()
            ids += [p["prediction_id"] for p in response.json()["predictions"]]
            labels += truth[start:start + size]
    pd.DataFrame({"prediction_id": ids, "label": labels}).to_parquet(done.labels, index=False)
    (folder / "done").touch()
    return done
