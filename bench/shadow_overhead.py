"""Benchmark: what shadow mode costs the caller (goal: latency within a small bound).

Builds a car-loan project with two versions (v1 champion, v2 registered), serves it
with the real CLI (``leanloop serve``) and sends single-row ``/predict`` requests for
``--seconds`` from 1 and from ``--clients`` concurrent connections, first with no shadow,
then with v2 in shadow mode. Prints p50 / p99 latency and throughput for each, the
ratio shadow/no-shadow, and how many rows the shadow scored or dropped.

Run: ``.venv/bin/python bench/shadow_overhead.py [--seconds 20] [--clients 8]``.
"""

from __future__ import annotations

import argparse
import tempfile
import threading
import time
from pathlib import Path

import httpx
import numpy as np

from leanloop.datasets import car_loan
from leanloop.demo import free_port, running_server
from leanloop.project import Project

FEATURES = ["car_value", "salary_range", "debt_to_income_ratio", "loan_length", "repaid_loan_on_prev_car",
            "size_of_downpayment", "driver_tenure"]


def load(url: str, rows: list[dict], clients: int, seconds: float) -> tuple[list[float], int]:
    """Closed-loop load: each client sends the next request when the last is answered."""
    latencies: list[float] = []
    failures = [0]
    lock = threading.Lock()
    stop = time.monotonic() + seconds

    def client(seed: int) -> None:
        rng = np.random.default_rng(seed)
        mine: list[float] = []
        with httpx.Client(base_url=url, timeout=30) as http:
            while time.monotonic() < stop:
                row = rows[int(rng.integers(len(rows)))]
                began = time.perf_counter()
                status = http.post("/predict", json={"rows": [row]}).status_code
                mine.append(time.perf_counter() - began)
                if status != 200:
                    failures[0] += 1
        with lock:
            latencies.extend(mine)

    threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return latencies, failures[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--clients", type=int, default=8)
    args = parser.parse_args()
    data = car_loan()
    rows = data.analysis.head(5000)[FEATURES].to_dict("records")
    results = []
    with tempfile.TemporaryDirectory() as folder:
        train = Path(folder) / "loans.csv"
        data.reference.to_csv(train, index=False)
        project = Project.init(train, target="repaid", id_column="id", time_column="timestamp",
                               root=Path(folder) / "p")
        project.build()
        project.build()
        project.registry.promote("v1")
        root = project.paths.root
        project.close()
        with running_server(root, free_port()) as url:
            load(url, rows, 1, 3.0)  # warm up
            for shadow in (False, True):
                if shadow:
                    with Project(root) as p:
                        p.shadow("v2", reason="benchmark")
                    while httpx.get(f"{url}/shadow").json()["worker"]["version"] != "v2":
                        time.sleep(0.05)
                for clients in (1, args.clients):
                    latencies, failed = load(url, rows, clients, args.seconds)
                    ms = np.array(latencies) * 1000
                    results.append({"shadow": shadow, "clients": clients, "requests": len(ms), "failed": failed,
                                    "rps": len(ms) / args.seconds, "p50": float(np.percentile(ms, 50)),
                                    "p99": float(np.percentile(ms, 99))})
            worker = httpx.get(f"{url}/shadow").json()["worker"]
    print("| shadow | connections | requests | failed | req/s | p50 ms | p99 ms |")
    print("|---|---|---|---|---|---|---|")
    for r in results:
        print(f"| {'v2' if r['shadow'] else 'off'} | {r['clients']} | {r['requests']} | {r['failed']} | "
              f"{r['rps']:.1f} | {r['p50']:.2f} | {r['p99']:.2f} |")
    for clients in (1, args.clients):
        off, on = (next(r for r in results if r["shadow"] is s and r["clients"] == clients) for s in (False, True))
        print(f"{clients} connection(s): p50 x{on['p50'] / off['p50']:.2f}, p99 x{on['p99'] / off['p99']:.2f}, "
              f"throughput x{on['rps'] / off['rps']:.2f} with the shadow on")
    print(f"shadow scorer: {worker}")


if __name__ == "__main__":
    main()
