"""The prediction writers' lock: one holder across processes, freed when its holder dies."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from leanloop.store.write_lock import WriteLock

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="flock is POSIX")

HOLD = """
import sys, time
from pathlib import Path
from leanloop.store.write_lock import WriteLock
lock = WriteLock(Path(sys.argv[1]))
lock.__enter__()
print("held", flush=True)
time.sleep(float(sys.argv[2]))
"""


def _holder(database: Path, seconds: float) -> subprocess.Popen[str]:
    process = subprocess.Popen([sys.executable, "-c", HOLD, str(database), str(seconds)], stdout=subprocess.PIPE,
                               text=True)
    assert process.stdout is not None and process.stdout.readline().strip() == "held"
    return process


def test_a_second_process_waits_until_the_holder_releases(tmp_path: Path) -> None:
    holder = _holder(tmp_path / "store.db", 0.6)
    started = time.monotonic()
    with WriteLock(tmp_path / "store.db"):
        waited = time.monotonic() - started
    holder.wait()
    assert 0.3 < waited < 5.0


def test_a_killed_holder_frees_the_lock_at_once(tmp_path: Path) -> None:
    holder = _holder(tmp_path / "store.db", 60)
    os.kill(holder.pid, signal.SIGKILL)
    holder.wait()
    started = time.monotonic()
    with WriteLock(tmp_path / "store.db"):
        assert time.monotonic() - started < 1.0


def test_threads_of_one_process_take_turns(tmp_path: Path) -> None:
    import threading

    lock, inside, most = WriteLock(tmp_path / "store.db"), [0], [0]

    def write() -> None:
        for _ in range(50):
            with lock:
                inside[0] += 1
                most[0] = max(most[0], inside[0])
                time.sleep(0.0005)
                inside[0] -= 1

    threads = [threading.Thread(target=write) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert most[0] == 1
    lock.close()
