"""leanloop's drift + quality of two Parquet files on a Dask LocalCluster (repo's .venv).

Usage: scale_dask.py MANIFEST.json WORKERS. Prints JSON with the compute time, the
result's drifted features, each worker process's peak RSS and CPU seconds, and this
client's CPU seconds. The workers' peaks are their kernel high-water marks (``VmHWM``),
read once at the end: an earlier version sampled each worker's RSS over the scheduler
every 0.2 s, and those round trips cost the client more CPU than the measurement
itself on a busy machine.
"""

from __future__ import annotations

import json
import os
import sys
import time


def _peak_mb() -> float:
    """This process's peak resident memory (the kernel's high-water mark), in MB."""
    with open(f"/proc/{os.getpid()}/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return 0.0


def _cpu_s() -> float:
    """CPU seconds (user + system) of this process so far."""
    times = os.times()
    return times.user + times.system


def main(manifest_path: str, workers: int) -> None:
    import distributed

    from leanloop.engines.dask_files import measure_parquet

    with open(manifest_path, encoding="utf-8") as handle:
        manifest = json.load(handle)
    with distributed.LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                                  dashboard_address=None) as cluster, distributed.Client(cluster) as client:
        started, client_cpu = time.perf_counter(), _cpu_s()
        result = measure_parquet(manifest["reference"], manifest["current"], client=client)
        elapsed, client_cpu = time.perf_counter() - started, _cpu_s() - client_cpu
        peaks, worker_cpu = client.run(_peak_mb), client.run(_cpu_s)
    print(json.dumps({"tool": f"leanloop dask {workers}w", "compute_s": round(elapsed, 3),
                      "drifted": sorted(result.drift.drifted),
                      "worker_peak_mb": sorted(round(v) for v in peaks.values()),
                      "worker_cpu_s": sorted(round(v, 1) for v in worker_cpu.values()),
                      "client_cpu_s": round(client_cpu, 1)}))


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]))
