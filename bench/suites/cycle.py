"""Issue 5: one full cycle (measure the logged rows, decide, retrain, compare, promote).

A copy of the logged project gets every label through ``leanloop feedback`` and
``retrain_on_drift = true`` with ``max_drift_share = 0.1`` (the car-loan analysis
period drifts, so the policy retrains); ``leanloop cycle --last N --json`` is then timed from outside.
The notes say how many rows the sampled statistics read (``[performance]
bootstrap_max_rows``, ``[segments] max_rows``) and how many the challenger trained on
(``[retrain] max_rows``).
"""

from __future__ import annotations

import sys

from bench.logged import copy_project, logged_project
from bench.options import Options
from bench.project import cli, set_config
from bench.report import Table, write_json
from bench.runner import run_measured

__all__ = ["run"]


def run(options: Options) -> list[Table]:
    logged = logged_project(options.data, options.logged_rows)
    root = copy_project(logged.root, options.data / "cycle" / "project")
    cli("feedback", str(logged.labels), "--id-column", "prediction_id", "--label-column", "label",
        "--dir", str(root))
    # Any drifted feature is reason enough here: the suite times a cycle that retrains.
    set_config(root, "policy", "retrain_on_drift", True)
    set_config(root, "policy", "max_drift_share", 0.1)
    done = run_measured("leanloop cycle", [sys.executable, "-m", "leanloop.cli", "cycle", "--last",
                                           str(logged.rows), "--json", "--dir", str(root)], timeout=options.timeout)
    body = done.result
    decision = (body.get("decision") or {}).get("action")
    table = Table(f"One cycle on {logged.rows:,} logged, labelled rows",
                  ["wall s", "CPU s", "peak MB", "decision", "challenger", "promoted", "stage seconds"])
    durations = body.get("durations") or {}
    table.add(done.wall_s if done.ok else None, done.cpu_s, done.peak_rss_mb, decision, body.get("challenger"),
              body.get("promoted"), ", ".join(f"{k} {v:.1f}" for k, v in durations.items()
                                              if isinstance(v, int | float)) or None)
    table.notes.append("target (issue 5): < 30 s on 2 cores; wall includes CLI start-up")
    measured = body.get("measurement") or {}
    performance = measured.get("performance") or {}
    training = body.get("training") or {}
    sampled = {"bootstrap": performance.get("bootstrap_rows"), "estimation bands": performance.get("estimation_rows"),
               "segment finder": measured.get("segment_rows")}
    if any(v is not None for v in sampled.values()) or training:
        table.notes.append("rows read where the statistics allow a sample: "
                           + ", ".join(f"{k} {v:,}" if v is not None else f"{k} all" for k, v in sampled.items())
                           + (f"; challenger trained on {training.get('rows', {}).get('train', '?'):,} rows"
                              if training.get("rows") else ""))
    if decision != "retrain" and done.ok:
        table.notes.append(f"the policy decided {decision!r}, so this cycle did not retrain")
    if not done.ok:
        table.notes.append(f"failed: {done.stderr_tail[-400:]!r}")
    write_json("cycle", {"rows": logged.rows, "run": {**done.to_json(), "result": {
        k: body.get(k) for k in ("cycle", "decision", "challenger", "promoted", "comparison", "durations",
                                 "training")}}})
    return [table]
