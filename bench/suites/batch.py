"""Issue 15: batch scoring (``leanloop predict``) against the HTTP path, on one model.

One project (``leanloop init`` + ``leanloop build`` on the car-loan reference period).
The HTTP path: ``leanloop serve`` (SQLite ``FULL``, the default) under 1,000-row
requests at 1 and 4 connections (the load generator is its own process); rows/s scored
and logged. Batch: ``leanloop predict FILE.parquet`` on a file of ``--rows`` rows
(default 10M; sampled with a fixed seed from the car-loan analysis period, ids unique,
written in 1M-row groups to a temporary folder), as a subprocess measured from outside:
wall time (start-up and imports included), peak RSS, and rows/s, with ``--no-log``;
then logged, as Parquet and as CSV, on a file of at most 1M rows (every logged row
costs the store's insert, which the HTTP path pays too). Targets: batch >= 5x the HTTP
path's best rows/s; peak memory < 1 GB at 10M rows.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path
from typing import Any

from bench.options import Options
from bench.project import fresh_project, server, token
from bench.report import Table, write_json
from bench.runner import Run, run_measured

__all__ = ["run", "generate"]

TOOLS = Path(__file__).resolve().parent.parent / "tools"
SEED = 15
#: Rows of the logged runs (at most).
LOGGED_ROWS = 1_000_000


def generate(rows: int, folder: Path, *, seed: int = SEED, group: int = 1_000_000) -> Path:
    """A Parquet file of ``rows`` car-loan analysis rows drawn with ``seed``, written a
    group at a time (the generator holds one group, never the file)."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    from leanloop.datasets import car_loan

    source = car_loan().analysis.drop(columns=["repaid"], errors="ignore").reset_index(drop=True)
    rng = np.random.default_rng(seed)
    path = folder / f"batch-{rows}.parquet"
    writer = None
    try:
        for start in range(0, rows, group):
            size = min(group, rows - start)
            part = source.iloc[rng.integers(0, len(source), size)].reset_index(drop=True)
            part["id"] = np.arange(start, start + size, dtype="int64")
            table = pa.Table.from_pandas(part, preserve_index=False)
            writer = writer or pq.ParquetWriter(path, table.schema)
            writer.write_table(table)
    finally:
        if writer is not None:
            writer.close()
    return path


def _http(root: Path, folder: Path, connections: list[int], seconds: float) -> dict[int, dict[str, Any]]:
    """rows/s of ``leanloop serve`` under 1,000-row requests, per connection count."""
    import json

    from leanloop.datasets import car_loan
    from leanloop.demo import free_port
    from leanloop.project import Project

    with Project(root) as project:
        features = project.config.schema_.names
    records = car_loan().analysis[features].to_dict("records")
    bodies = folder / "batch-bodies.jsonl"
    bodies.write_text("\n".join(json.dumps({"rows": records[s:s + 1000]}) for s in range(0, 20_000, 1000)),
                      encoding="utf-8")
    port, bearer, found = free_port(), token(root), {}
    command = [sys.executable, "-m", "leanloop.cli", "serve", "--port", str(port), "--dir", str(root), "--no-loop",
               "--quiet"]
    with server(command, f"http://127.0.0.1:{port}", log=folder / "serve.log") as url:
        for n in connections:
            load = [sys.executable, str(TOOLS / "load.py"), f"{url}/predict", str(bodies), "--connections", str(n),
                    "--seconds", str(seconds), *(["--token", bearer] if bearer else [])]
            found[n] = run_measured(f"http x{n}", load, timeout=seconds + 120).result
            print(f"[bench] batch: HTTP 1,000-row requests x{n}: {found[n].get('rows_per_s')} rows/s", flush=True)
    return found


def _predict(root: Path, source: Path, out: Path, name: str, *extra: str, timeout: float) -> Run:
    command = [sys.executable, "-m", "leanloop.cli", "predict", str(source), "-o", str(out), "--json",
               "--dir", str(root), *extra]
    done = run_measured(name, command, timeout=timeout, env={"OMP_NUM_THREADS": "1"})
    print(f"[bench] batch: {name}: {done.wall_s:.1f} s wall, {done.peak_rss_mb:.0f} MB peak, "
          f"{done.result.get('rows_per_second')} rows/s in the run {done.failure}", flush=True)
    return done


def run(options: Options) -> list[Table]:
    rows = options.rows or (200_000 if options.quick else 10_000_000)
    folder = options.data / "batch"
    root = fresh_project(folder, "batch")
    http = _http(root, folder, [1, 4], options.load_seconds)
    best_http = max((r.get("rows_per_s") or 0.0) for r in http.values())
    with tempfile.TemporaryDirectory(prefix="leanloop-batch-") as temporary:
        work = Path(temporary)
        print(f"[bench] batch: generating {rows:,} rows (seed {SEED})", flush=True)
        source = generate(rows, work)
        runs = {f"Parquet, {rows:,} rows, --no-log": _predict(root, source, work / "out.parquet", "parquet --no-log",
                                                               "--no-log", timeout=options.timeout)}
        # Logged runs on a smaller file: each logged row costs the store's insert (the
        # same one the server does), so 10M logged rows would take most of an hour.
        logged = min(rows, LOGGED_ROWS)
        part = generate(logged, work)
        csv = work / "batch.csv"
        _to_csv(part, csv)
        runs[f"Parquet, {logged:,} rows, logged"] = _predict(root, part, work / "out-logged.parquet",
                                                             "parquet logged", timeout=options.timeout)
        runs[f"CSV, {logged:,} rows, logged"] = _predict(root, csv, work / "out.csv", "CSV logged",
                                                         timeout=options.timeout)
    table = Table("Batch scoring vs the HTTP path (1,000-row requests), one model, one machine",
                  ["path", "rows/s (whole command)", "rows/s (scoring run)", "x best HTTP", "wall s", "peak MB", "ok"])
    for n, r in http.items():
        table.add(f"HTTP, leanloop serve, 1,000 rows x{n}", r.get("rows_per_s"), None, None, None, None, bool(r))
    for name, r in runs.items():
        whole = r.result.get("rows", 0) / r.wall_s if r.ok else None
        table.add(f"leanloop predict, {name}", whole, r.result.get("rows_per_second"),
                  whole / best_http if whole and best_http else None, r.wall_s, r.peak_rss_mb, r.ok)
    table.notes.append("targets (issue 15): >= 5x the HTTP path's best rows/s; peak memory < 1 GB at 10M rows")
    table.notes += [f"{r.name} failed: {r.stderr_tail[-300:]!r}" for r in runs.values() if not r.ok]
    write_json("batch", {"rows": rows, "http": http, "runs": {k: r.to_json() for k, r in runs.items()}})
    return [table]


def _to_csv(source: Path, target: Path) -> None:
    """The Parquet file as CSV, a record batch at a time."""
    import pyarrow.parquet as pq

    with open(target, "w", encoding="utf-8", newline="") as handle:
        for number, batch in enumerate(pq.ParquetFile(source).iter_batches(batch_size=500_000)):
            batch.to_pandas().to_csv(handle, header=number == 0, index=False)
