"""Issue 17: NannyML and Evidently at the largest size each completes (the scale suite's peers).

The drift suite's tools, in their own venvs, on the drift suite's generated data: first
at ``--size`` rows per side (default 20M; ``--quick`` 200k) and, where a tool cannot
finish within the timeout (30 min) and the memory cap (16 GB), at half the size, and so
on down to 1M. The table gives the largest size each completes and where it stopped
above that, with the 1-minute load average as each run ended (the machine is shared).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from bench.data import generate, parse_size
from bench.envs import peer_python
from bench.options import Options
from bench.report import Table, write_json
from bench.runner import run_measured

__all__ = ["run"]

TOOLS = Path(__file__).resolve().parent.parent / "tools"
PEERS = {"nannyml": {"NML_DISABLE_USAGE_LOGGING": "1"}, "evidently": {"DO_NOT_TRACK": "1"}}
#: Below this many rows per side a peer's failure is reported, not halved again.
_FLOOR = 1_000_000


def run(options: Options) -> list[Table]:
    rows = parse_size(options.drift_size or ("200k" if options.quick else "20M"))
    table = Table(f"Peers at the largest size each completes (from {rows:,} + {rows:,} rows down, halving)",
                  ["tool", "rows per side", "wall s", "peak MB", "outcome", "load avg"])
    found: dict[str, Any] = {}
    for name, env in PEERS.items():
        size = rows
        while True:
            data = generate(size, options.data)
            manifest = str(Path(data.reference).parent / "manifest.json")
            print(f"[bench] scale_peers: {name} at {size:,} ...", flush=True)
            r = run_measured(name, [peer_python(name), str(TOOLS / f"drift_{name}.py"), manifest], env=env,
                             timeout=options.timeout, max_rss_mb=options.max_memory_gb * 1024)
            load = round(os.getloadavg()[0], 2)
            print(f"[bench] scale_peers: {name} at {size:,}: {r.wall_s:.0f} s, {r.peak_rss_mb:.0f} MB, "
                  f"{'ok' if r.ok else r.failure}, load {load}", flush=True)
            table.add(name, size, r.wall_s, r.peak_rss_mb, "completed" if r.ok else f"stopped: {r.failure}", load)
            found[f"{name}-{size}"] = r.to_json() | {"load_avg_1m": load}
            if r.ok or size <= min(_FLOOR, rows):
                break
            size //= 2
    table.notes.append(f"a tool is stopped after {options.timeout:.0f} s or at {options.max_memory_gb:g} GB")
    write_json(f"scale-peers-{rows}", found)
    return [table]
