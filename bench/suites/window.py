"""Issue 17, item 4: ``leanloop measure --last N`` on a project with 1M logged predictions.

The log is written by :mod:`bench.window_log` (group inserts, fixed seed, every row
labelled); each window size is one ``leanloop measure --last N --json`` timed from
outside (wall time includes start-up, reading the window, the reference and the model).
"""

from __future__ import annotations

import sys

from bench.options import Options
from bench.report import Table, write_json
from bench.runner import run_measured
from bench.window_log import window_log

__all__ = ["run"]


def run(options: Options) -> list[Table]:
    rows = options.rows or (100_000 if options.quick else 1_000_000)
    log = window_log(options.data, rows)
    sizes = sorted({min(n, rows) for n in (10_000, 100_000, 1_000_000)})
    table = Table(f"leanloop measure --last N on {rows:,} logged, labelled predictions (SQLite)",
                  ["window rows", "wall s", "CPU s", "peak MB", "ok"])
    runs = []
    for size in sizes:
        done = run_measured(f"measure --last {size}", [sys.executable, "-m", "leanloop.cli", "measure", "--last",
                                                       str(size), "--json", "--dir", str(log.root)],
                            timeout=options.timeout)
        table.add(size, done.wall_s, done.cpu_s, done.peak_rss_mb, done.ok)
        if not done.ok:
            table.notes.append(f"--last {size} failed: {done.stderr_tail[-400:]!r}")
        runs.append({"rows": size, **done.to_json(), "result": {}})
    table.notes.append("targets (issue 17): 1M-row window < 8 s and < 1 GB peak, 10k-row window < 3 s (2 cores)")
    write_json("window", {"logged": rows, "runs": runs})
    return [table]
