"""leanloop's drift + quality of two Parquet files on a Dask LocalCluster (repo's .venv).

Usage: scale_dask.py MANIFEST.json WORKERS. Prints JSON with the compute time, the
result's drifted features and the peak RSS of each worker process (sampled every
0.2 s from the workers' /proc, since the workers are other processes than this one).
"""

from __future__ import annotations

import json
import os
import sys
import threading
import time


def _rss_mb() -> float:
    with open(f"/proc/{os.getpid()}/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def _cpu_s() -> float:
    times = os.times()
    return times.user + times.system


def main(manifest_path: str, workers: int) -> None:
    import distributed

    from leanloop.engines.dask_files import measure_parquet

    manifest = json.loads(open(manifest_path, encoding="utf-8").read())
    with distributed.LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                                  dashboard_address=None) as cluster, distributed.Client(cluster) as client:
        peaks: dict[str, float] = {}
        stop = threading.Event()

        def sample() -> None:
            while not stop.wait(0.2):
                try:
                    for worker, mb in client.run(_rss_mb).items():
                        peaks[worker] = max(peaks.get(worker, 0.0), mb)
                except Exception:
                    continue

        watcher = threading.Thread(target=sample, daemon=True)
        watcher.start()
        started = time.perf_counter()
        result = measure_parquet(manifest["reference"], manifest["current"], client=client)
        elapsed = time.perf_counter() - started
        stop.set()
        watcher.join()
        # CPU seconds (user + system) of each worker and of this client: steadier than wall
        # time on a machine other jobs share.
        worker_cpu = client.run(_cpu_s)
    print(json.dumps({"tool": f"leanloop dask {workers}w", "compute_s": round(elapsed, 3),
                      "drifted": sorted(result.drift.drifted),
                      "worker_peak_mb": sorted(round(v) for v in peaks.values()),
                      "worker_cpu_s": sorted(round(v, 1) for v in worker_cpu.values()),
                      "client_cpu_s": round(_cpu_s(), 1)}))


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]))
