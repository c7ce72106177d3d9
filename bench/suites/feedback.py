"""Issue 4: feedback ingestion into a SQLite project store, 100k labels in one go.

Two ways in, each on its own fresh copy of one logged project: the Python API
(``Project.feedback``, timed in process) and the CLI (``leanloop feedback FILE``, timed
from outside, so it includes start-up and reading the file).
"""

from __future__ import annotations

import sys
from pathlib import Path

from bench.logged import copy_project, logged_project
from bench.options import Options
from bench.report import Table, write_json
from bench.runner import run_measured

__all__ = ["run"]

TOOLS = Path(__file__).resolve().parent.parent / "tools"


def run(options: Options) -> list[Table]:
    logged = logged_project(options.data, options.logged_rows)
    work = options.data / "feedback"
    api_root = copy_project(logged.root, work / "api")
    cli_root = copy_project(logged.root, work / "cli")
    api = run_measured("Project.feedback", [sys.executable, str(TOOLS / "feedback_api.py"), str(api_root),
                                            str(logged.labels)], timeout=options.timeout)
    cli = run_measured("leanloop feedback", [sys.executable, "-m", "leanloop.cli", "feedback", str(logged.labels),
                                             "--id-column", "prediction_id", "--label-column", "label",
                                             "--dir", str(cli_root)], timeout=options.timeout)
    table = Table(f"Feedback: {logged.rows:,} labels into SQLite", ["way in", "seconds", "labels/s", "peak MB", "ok"])
    api_seconds = api.result.get("seconds")
    table.add("Project.feedback (in process)", api_seconds, api.result.get("labels_per_s"), api.peak_rss_mb, api.ok)
    table.add("leanloop feedback FILE (whole command)", cli.wall_s, logged.rows / cli.wall_s if cli.ok else None,
              cli.peak_rss_mb, cli.ok)
    table.notes.append("target (issue 4): >= 20,000 labels/s")
    for r in (api, cli):
        if not r.ok:
            table.notes.append(f"{r.name} failed: {r.stderr_tail[-300:]!r}")
    write_json("feedback", {"labels": logged.rows, "api": api.to_json(), "cli": cli.to_json()})
    return [table]
