"""Benchmark: ``SQLStore.log_predictions`` on PostgreSQL, 1,000-row groups (issue 6).

Starts a throw-away server (Debian's packages, :func:`bench.postgres.postgres_server`,
``fsync=on``, ``synchronous_commit=on``), logs ``--preload`` rows, then times ``--groups``
groups of ``--size`` car-loan rows: every fifth group is a replay (half its ids already
logged, as a spool replay is). Prints, per group, the median wall time, the median CPU
time of this process (the client: building parameters, the driver) and the mean CPU time
of the PostgreSQL backend serving the connection (read from ``/proc``: Linux only), and
rows/s from the median wall time. The figures are for the code of the ``leanloop`` on
``sys.path``: to compare with another branch, put its ``src`` first on ``PYTHONPATH``.

Run: ``.venv/bin/python bench/pg_log.py [--groups 30] [--preload 100000] [--size 1000]``.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: the repo root holds the ``bench`` package
    sys.path.insert(1, str(Path(__file__).resolve().parents[1]))

from bench.postgres import postgres_server, postgres_unavailable


def records(frame: Any, size: int, start: int) -> list[dict[str, Any]]:
    """``size`` prediction records shaped as the server logs them, features from ``frame``."""
    rows = frame.to_dict("records")
    out = []
    for k in range(size):
        i = start + k
        p1 = (i % 997) / 997
        out.append({"prediction_id": uuid.UUID(int=i).hex, "created_at": 1.7e9 + i, "model_version": "v1",
                    "features": rows[i % len(rows)], "prediction": int(p1 > 0.5),
                    "probabilities": {"0": 1 - p1, "1": p1}})
    return out


def backend_cpu(pid: int) -> float | None:
    """CPU seconds (user + system) a process has used, from ``/proc`` (None elsewhere)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@dataclass
class Timings:
    """Per timed group: wall and client CPU seconds, and the backend's CPU seconds when readable."""

    wall: list[float] = field(default_factory=list)
    client: list[float] = field(default_factory=list)
    server: list[float] = field(default_factory=list)
    inserted: int = 0  # rows the timed groups added
    total: int = 0  # rows in the store at the end
    one_connection: bool = False  # the timed groups all ran on the connection whose backend was read


def measure(folder: Path, features: Any, args: argparse.Namespace) -> Timings:
    """Preload ``args.preload`` rows, then time ``args.groups`` groups."""
    from leanloop.store import SQLStore

    with postgres_server(folder / "pg") as url:
        store = SQLStore(url)
        logged = 0
        while logged < args.preload:
            logged += store.log_predictions(records(features, min(args.size, args.preload - logged), logged))
        with store.engine.connect() as conn:
            pid = int(conn.exec_driver_sql("SELECT pg_backend_pid()").scalar_one())
        out = Timings()
        for g in range(args.groups):
            start = logged - args.size // 2 if g % 5 == 4 else logged
            group = records(features, args.size, start)
            s0, c0, w0 = backend_cpu(pid), time.process_time(), time.perf_counter()
            new = store.log_predictions(group)
            out.wall.append(time.perf_counter() - w0)
            out.client.append(time.process_time() - c0)
            s1 = backend_cpu(pid)
            if s0 is not None and s1 is not None:
                out.server.append(s1 - s0)
            logged += new
            out.inserted += new
        with store.engine.connect() as conn:  # the pool kept one connection: the same backend served all
            out.one_connection = int(conn.exec_driver_sql("SELECT pg_backend_pid()").scalar_one()) == pid
        out.total = store.count_predictions()
        store.close()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--groups", type=int, default=30, help="timed groups (30)")
    parser.add_argument("--preload", type=int, default=100_000, help="rows logged before timing (100000)")
    parser.add_argument("--size", type=int, default=1000, help="rows per group (1000)")
    args = parser.parse_args()
    why = postgres_unavailable()
    if why:
        raise SystemExit(f"cannot run: {why}")

    import leanloop
    from leanloop.datasets import car_loan

    features = car_loan().analysis.drop(columns=["id", "timestamp"]).head(5000)
    folder = Path(tempfile.mkdtemp(prefix="leanloop-pglog-"))
    folder.chmod(0o755)  # the server runs as Debian's postgres user when this runs as root
    try:
        t = measure(folder, features, args)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    wall = statistics.median(t.wall)
    print(f"leanloop from {Path(leanloop.__file__).parent}")
    print(f"{args.groups} groups of {args.size} rows on a store of {args.preload:,} rows; {t.inserted:,} new, "
          f"{t.total:,} in the store at the end")
    print(f"wall per group: median {wall * 1e3:.1f} ms, p90 {sorted(t.wall)[int(0.9 * len(t.wall))] * 1e3:.1f} ms "
          f"-> {args.size / wall:,.0f} rows/s")
    print(f"client CPU per group: median {statistics.median(t.client) * 1e3:.1f} ms")
    if t.server and t.one_connection:
        print(f"server backend CPU per group: mean {statistics.mean(t.server) * 1e3:.1f} ms")
    else:
        print("server backend CPU: not measured (no /proc, or the pool changed connections)")


if __name__ == "__main__":
    main()
