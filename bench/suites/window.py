"""Issue 17, item 4: ``leanloop measure --last N`` on a project with 1M logged predictions.

The log is written by :mod:`bench.window_log` (group inserts, fixed seed, every row
labelled); each window size is one ``leanloop measure --last N --json`` timed from
outside (wall time includes start-up, reading the window, the reference and the model),
after one untimed ``--last 1000`` that fills the champion's caches (as any window after
the first of a version finds them) and writes leanloop's bytecode, as Python does on a
first run (an installed leanloop has it from ``pip install``): an environment with
``PYTHONDONTWRITEBYTECODE`` set would otherwise compile leanloop's 140 modules from source
in every timed run (0.3 to 0.5 s of a 10k-row window). ``BENCH_WINDOWS=10000,100000``
measures only those window sizes, ``BENCH_REPEAT=3`` each of them three times in turn
(the notes give each size's median); each row notes the load average before it ran.
"""

from __future__ import annotations

import os
import statistics
import sys
from typing import Any

from bench.options import Options
from bench.report import Table, write_json
from bench.runner import run_measured
from bench.window_log import window_log

__all__ = ["run"]


def run(options: Options) -> list[Table]:
    rows = options.rows or (100_000 if options.quick else 1_000_000)
    log = window_log(options.data, rows)
    asked = os.environ.get("BENCH_WINDOWS")
    sizes = sorted({min(int(n), rows) for n in (asked.split(",") if asked else (10_000, 100_000, 1_000_000))})
    table = Table(f"leanloop measure --last N on {rows:,} logged, labelled predictions (SQLite)",
                  ["window rows", "wall s", "CPU s", "peak MB", "load average", "ok"])
    runs = []

    def measure(size: int, env: dict[str, str] | None = None) -> Any:
        return run_measured(f"measure --last {size}", [sys.executable, "-m", "leanloop.cli", "measure", "--last",
                                                       str(size), "--json", "--dir", str(log.root)],
                            timeout=options.timeout, env=env)

    # The champion's caches, filled once per version, and the bytecode (empty: Python writes it).
    measure(1_000, env={"PYTHONDONTWRITEBYTECODE": ""})
    repeat = max(1, int(os.environ.get("BENCH_REPEAT", "1")))
    for _ in range(repeat):
        for size in sizes:
            load = os.getloadavg()[0]
            done = measure(size)
            table.add(size, done.wall_s, done.cpu_s, done.peak_rss_mb, f"{load:.1f}", done.ok)
            if not done.ok:
                table.notes.append(f"--last {size} failed: {done.stderr_tail[-400:]!r}")
            runs.append({"rows": size, **done.to_json(), "result": {}})
    if repeat > 1:
        for size in sizes:
            mine = [r for r in runs if r["rows"] == size and r["returncode"] == 0]
            if mine:
                table.notes.append(f"{size:,} rows, median of {len(mine)}: "
                                   f"{statistics.median(r['wall_s'] for r in mine):.2f} s wall, "
                                   f"{statistics.median(r['peak_rss_mb'] for r in mine):.0f} MB peak")
    table.notes.append("targets (issue 17): 1M-row window < 8 s and < 1 GB peak, 10k-row window < 3 s (2 cores)")
    write_json("window", {"logged": rows, "runs": runs})
    return [table]
