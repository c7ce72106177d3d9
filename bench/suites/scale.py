"""Issue 17: drift + quality at scale, the local engine beside Dask on 1 and 2 workers.

The data is the drift suite's generator (20 numeric + 5 categorical features, 6
shifted, fixed seed) at ``--size`` rows per side (default 20M; ``--quick`` 200k).
Each run is its own process: the local engine's peak is that process's RSS; a Dask
run reports its client process's peak (where the merged summaries live) and each
worker's, sampled from the workers. A last step measures what two processes at once reach
on this machine just then (``bench/tools/two_cores.py``), the ceiling of the 2 workers'
speed-up. NannyML and Evidently at the largest size each completes: ``SUITE=scale_peers``.
"""

from __future__ import annotations

import os
from pathlib import Path

from bench.data import generate, parse_size
from bench.envs import repo_python
from bench.options import Options
from bench.report import Table, ratio, write_json
from bench.runner import Run, run_measured

__all__ = ["run"]

TOOLS = Path(__file__).resolve().parent.parent / "tools"


def run(options: Options) -> list[Table]:
    rows = parse_size(options.drift_size or ("200k" if options.quick else "20M"))
    print(f"[bench] scale: generating {rows:,} + {rows:,} rows (cached in {options.data})", flush=True)
    data = generate(rows, options.data)
    manifest = str(Path(data.reference).parent / "manifest.json")
    commands = {"local": [repo_python(), str(TOOLS / "drift_leanloop.py"), manifest],
                "dask 1 worker": [repo_python(), str(TOOLS / "scale_dask.py"), manifest, "1", "again"],
                "dask 2 workers": [repo_python(), str(TOOLS / "scale_dask.py"), manifest, "2", "again"]}
    runs: dict[str, Run] = {}
    load: dict[str, float] = {}  # the 1-minute load average as each run ended: other jobs share the cores
    for name, command in commands.items():
        print(f"[bench] scale: {name} ...", flush=True)
        runs[name] = run_measured(name, command, timeout=options.timeout, max_rss_mb=options.max_memory_gb * 1024)
        load[name] = round(os.getloadavg()[0], 2)
        print(f"[bench] scale: {name} {runs[name].wall_s:.1f} s, {runs[name].peak_rss_mb:.0f} MB, load {load[name]}, "
              f"{'ok' if runs[name].ok else runs[name].stderr_tail[-400:]}", flush=True)

    def wall(name: str) -> float | None:
        """The run's wall time; a Dask run's without its second (warm) measurement, so that
        it is the time of one measurement on a cluster started for it, as the local one's is."""
        if not runs[name].ok:
            return None
        return runs[name].wall_s - float(runs[name].result.get("again_compute_s", 0.0))

    def compute(name: str, key: str = "compute_s") -> float | None:
        return runs[name].result.get(key) if runs[name].ok else None

    # A Dask run measures twice on the same cluster: the first measurement pays each fresh
    # worker's imports and first memory (1 to 1.5 s a worker), the second is a cluster that
    # stays up between measurements (warm workers). Both are reported, neither stands in for
    # the other; the wall time leaves the second out.
    table = Table(f"Drift + quality at scale, {rows:,} + {rows:,} rows x 25 features",
                  ["engine", "wall s", "compute s", "compute s, warm workers", "client / process peak MB",
                   "worker peak MB", "drifted", "wall / local", "1 worker / this (wall; compute; warm)",
                   "CPU s client / workers", "load avg"])
    for name, r in runs.items():
        speedup = "; ".join("-" if v is None else f"{v:.2f}" for v in
                            (ratio(f("dask 1 worker"), f(name)) for f in
                             (wall, compute, lambda n: compute(n, "again_compute_s"))))
        table.add(name, wall(name), r.result.get("compute_s"), r.result.get("again_compute_s", "-"),
                  r.peak_rss_mb if r.ok else None,
                  ", ".join(str(v) for v in r.result.get("worker_peak_mb", [])) or "-",
                  len(r.result.get("drifted", [])) if r.ok else r.failure,
                  ratio(wall(name), wall("local")), speedup if name != "local" else "-",
                  f"{r.result.get('client_cpu_s', r.cpu_s if r.ok else '-')} / {r.result.get('worker_cpu_s', '-')}",
                  load[name])
    table.notes.append("targets (issue 17): Dask under 2 GB per worker at 20M + 20M; 2 workers >= 1.6x faster "
                       "than 1; Dask within 1.5x of the local engine at 10M + 10M")
    costs = run_measured("per-partition costs", [repo_python(), str(TOOLS / "scale_costs.py"), manifest],
                         timeout=options.timeout)
    table.notes.append(f"per-partition costs, s per million values, one core (the cost model's inputs): "
                       f"{costs.result.get('costs', costs.failure)}")
    # What two processes at once can reach on this machine now: 2 workers' speed-up is read against it.
    ceiling = run_measured("two-core ceiling", [repo_python(), str(TOOLS / "two_cores.py"), "3"],
                           timeout=options.timeout)
    table.notes.append(f"this machine's two-core ceiling just after (two_cores.py 3: 2 x one process alone / the "
                       f"slower of two at once, per round): "
                       f"{[r['ceiling'] for r in ceiling.result.get('rounds', [])] or ceiling.failure}")
    write_json(f"scale-{rows}", {"rows": rows, "runs": {n: r.result | {"wall_s": r.wall_s, "peak_rss_mb": r.peak_rss_mb,
                                                                     "load_avg_1m": load[n]}
                                                for n, r in runs.items()}, "costs": costs.result.get("costs"),
                                 "two_core_ceiling": ceiling.result.get("rounds")})
    return [table]
