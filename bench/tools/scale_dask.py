"""leanloop's drift + quality of two Parquet files on a Dask LocalCluster (repo's .venv).

Usage: scale_dask.py MANIFEST.json WORKERS [stream] [again]. Prints JSON with the compute
time, the result's drifted features, each worker process's peak RSS and CPU seconds (in
all, and during the measurement), and this client's CPU seconds; with ``stream``, also the
tasks each worker ran and its busy seconds (Dask's task stream, recorded on the scheduler
during the run); with ``again``, also the compute time of a second measurement on the same
workers. The workers' peaks are their kernel high-water marks (``VmHWM``), read once at the
end: an earlier version sampled each worker's RSS over the scheduler every 0.2 s, and those
round trips cost the client more CPU than the measurement itself on a busy machine.
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


def _system_s() -> float:
    """System CPU seconds of this process so far (the kernel's share: page faults, reads)."""
    return os.times().system


def _stream(records: list[dict], by: str) -> dict[str, list[float]]:
    """Per worker (``by="worker"``) or per task's function (``by="key"``): tasks run and
    seconds busy computing them."""
    out: dict[str, list[float]] = {}
    for record in records:
        busy = sum(s["stop"] - s["start"] for s in record["startstops"] if s["action"] == "compute")
        name = record["worker"] if by == "worker" else str(record["key"]).strip("('").rsplit("-", 1)[0]
        tasks, seconds = out.get(name, [0, 0.0])
        out[name] = [tasks + 1, round(seconds + busy, 2)]
    return out


def _spans(records: list[dict], started: float) -> list[list[float]]:
    """Per worker: when its first task started and its last one stopped, in seconds from ``started``."""
    spans: dict[str, list[float]] = {}
    for record in records:
        for s in record["startstops"]:
            first, last = spans.get(record["worker"], [s["start"], s["stop"]])
            spans[record["worker"]] = [min(first, s["start"]), max(last, s["stop"])]
    return sorted([round(a - started, 2), round(b - started, 2)] for a, b in spans.values())


def main(manifest_path: str, workers: int, stream: bool = False, again: bool = False) -> None:
    import contextlib

    import distributed

    from leanloop.engines.dask_files import measure_parquet

    with open(manifest_path, encoding="utf-8") as handle:
        manifest = json.load(handle)
    with distributed.LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                                  dashboard_address=None) as cluster, distributed.Client(cluster) as client:
        cpu_before, system_before = client.run(_cpu_s), client.run(_system_s)
        recording = distributed.get_task_stream(client) if stream else contextlib.nullcontext()
        with recording as tasks:
            started, client_cpu, wall = time.perf_counter(), _cpu_s(), time.time()
            result = measure_parquet(manifest["reference"], manifest["current"], client=client)
            elapsed, client_cpu = time.perf_counter() - started, _cpu_s() - client_cpu
        peaks, worker_cpu, system = client.run(_peak_mb), client.run(_cpu_s), client.run(_system_s)
        if again:  # the same measurement on the workers that have measured once (imported, memory mapped)
            started = time.perf_counter()
            measure_parquet(manifest["reference"], manifest["current"], client=client)
            warm = time.perf_counter() - started
    print(json.dumps({"tool": f"leanloop dask {workers}w", "compute_s": round(elapsed, 3),
                      "drifted": sorted(result.drift.drifted),
                      "worker_peak_mb": sorted(round(v) for v in peaks.values()),
                      "worker_cpu_s": sorted(round(v, 1) for v in worker_cpu.values()),
                      "worker_cpu_run_s": sorted(round(v - cpu_before[w], 1) for w, v in worker_cpu.items()),
                      "worker_system_run_s": sorted(round(v - system_before[w], 1) for w, v in system.items()),
                      "client_cpu_s": round(client_cpu, 1)}
                     | ({"tasks_busy_s": sorted(_stream(tasks.data, "worker").values()),
                        "spans_s": _spans(tasks.data, wall),
                        "by_task": _stream(tasks.data, "key")} if stream else {})
                     | ({"again_compute_s": round(warm, 3)} if again else {})))


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]), stream="stream" in sys.argv[3:], again="again" in sys.argv[3:])
