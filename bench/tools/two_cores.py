"""How much two busy processes slow each other on this machine (repo's .venv): the ceiling
of any 2-worker speed-up here.

Usage: two_cores.py [ROUNDS]. Each round times one process alone, then two at once, each
running the same work as a Dask worker's column task (sorting copies of 20M floats, then
a pure-Python loop). Prints JSON: each round's seconds alone and at once, and the best
speed-up two processes can reach, ``2 x alone / slower of the two at once``, per round and
at the median; the same for the work alone (``work_``: without the process's start, its
imports and its array's fresh memory). On a machine whose two cores share caches, memory
bandwidth or a host's time, this is under 2 before Dask's client, scheduler and nannies take
their share.
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import time

_WORK = """
import time
import numpy as np
a = np.random.default_rng(0).random(20_000_000)  # fresh memory: outside the work's time
computing = time.perf_counter()
for _ in range(6):
    b = a.copy()
    b.sort()
x = 0
for i in range(3_000_000):
    x += i * i
print(time.perf_counter() - computing)
"""


def _timed(processes: int) -> tuple[list[float], list[float]]:
    """Seconds each of ``processes`` processes took, started together: in all (start,
    imports, the array's fresh memory) and its work alone."""
    started = time.perf_counter()
    running = [subprocess.Popen([sys.executable, "-c", _WORK], stdout=subprocess.PIPE, text=True)
               for _ in range(processes)]
    ends, work = [], []
    for process in running:
        out, _ = process.communicate()
        ends.append(time.perf_counter() - started)
        work.append(float(out))
    return ends, work


def main(rounds: int) -> None:
    runs = []
    for _ in range(rounds):
        (alone,), (alone_work,) = _timed(1)
        together, together_work = _timed(2)
        runs.append({"alone_s": round(alone, 2), "two_at_once_s": [round(t, 2) for t in together],
                     "ceiling": round(2 * alone / max(together), 2),
                     "work_alone_s": round(alone_work, 2), "work_two_at_once_s": [round(t, 2) for t in together_work],
                     "work_ceiling": round(2 * alone_work / max(together_work), 2)})
    print(json.dumps({"rounds": runs, "median_ceiling": statistics.median(r["ceiling"] for r in runs),
                      "median_work_ceiling": statistics.median(r["work_ceiling"] for r in runs)}))


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 5)
