"""Run a tool as a subprocess and measure it from outside: wall time and peak RSS."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["Run", "run_measured", "last_json_line"]


@dataclass(frozen=True)
class Run:
    """One measured subprocess: the JSON it printed last, and what it cost."""

    name: str
    returncode: int | None
    wall_s: float
    cpu_s: float
    peak_rss_mb: float
    timed_out: bool
    result: dict[str, Any] = field(default_factory=dict)
    stderr_tail: str = ""
    over_memory: bool = False

    @property
    def failure(self) -> str:
        """Why the run did not succeed, in a few words ('' when it did)."""
        if self.timed_out:
            return "timed out"
        if self.over_memory:
            return "stopped at the memory cap"
        return "" if self.returncode == 0 else f"failed (exit {self.returncode})"

    @property
    def ok(self) -> bool:
        return not self.failure

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "returncode": self.returncode, "wall_s": round(self.wall_s, 3),
                "cpu_s": round(self.cpu_s, 3),
                "peak_rss_mb": round(self.peak_rss_mb, 1), "timed_out": self.timed_out,
                "over_memory": self.over_memory, "result": self.result,
                "error": None if self.ok else self.stderr_tail}


def last_json_line(text: str) -> dict[str, Any]:
    """The JSON object a tool printed last: a one-line object, or an indented one that
    starts at the beginning of a line and runs to the end of the output.

    >>> last_json_line('noise\\n{"a": 1}\\nmore noise\\n')
    {'a': 1}
    >>> last_json_line('working...\\n{\\n  "b": [1,\\n 2]\\n}\\n')
    {'b': [1, 2]}
    >>> last_json_line("nothing")
    {}
    """
    lines = text.splitlines()
    for i in range(len(lines) - 1, -1, -1):
        if not lines[i].startswith("{"):
            continue
        for candidate in (lines[i], "\n".join(lines[i:])):
            try:
                value = json.loads(candidate)
            except json.JSONDecodeError:
                continue
            if isinstance(value, dict):
                return value
    return {}


def run_measured(name: str, command: list[str], *, env: dict[str, str] | None = None,
                 timeout: float = 3600.0, max_rss_mb: float | None = None, cwd: Path | None = None) -> Run:
    """Run ``command`` to completion (or ``timeout`` seconds): wall time, CPU time and peak RSS.

    CPU time (user + system, from the same ``wait4``) is the steadier figure on a shared
    machine, where wall time also counts waiting for a core.

    ``ru_maxrss`` from ``wait4`` is the peak of the child process itself (kilobytes on
    Linux); the tools here do their work in that one process. Output goes to temporary
    files (no pipe to drain) so the child is reaped by ``wait4`` here, not by Popen.
    The child leads its own process group so a timeout ends it and anything it started;
    so does passing ``max_rss_mb`` (read from ``/proc``), which keeps a peer that would
    exhaust a shared machine's memory from taking other processes down with it.

    Linux keeps a forked child's high-water mark across ``exec``: a child of a large
    parent (a pytest worker, a notebook) reports at least the parent's peak RSS (the
    forked copy carries the parent's high-water mark).
    When ``ru_maxrss`` is no higher than that, the peak is the child's own ``VmHWM``
    sampled from ``/proc`` while it runs instead.
    """
    parent_mb = _rss_mb(os.getpid(), "VmHWM:")
    sampled_mb = 0.0
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        started = time.perf_counter()
        process = subprocess.Popen(command, stdout=out, stderr=err, env={**os.environ, **(env or {})},
                                   cwd=cwd, start_new_session=True)
        timed_out = over_memory = False
        polls = 0
        while True:
            pid, status, usage = os.wait4(process.pid, os.WNOHANG)
            if pid:
                break
            timed_out = time.perf_counter() - started > timeout
            polls += 1
            if polls % _READ_EVERY == 0:
                # Reading /proc/PID/status costs the child system time: every 20 ms, it
                # added 0.5 to 0.7 s to a 1M-row window's 8 s measurement.
                sampled_mb = max(sampled_mb, _rss_mb(process.pid, "VmHWM:"))
                over_memory = max_rss_mb is not None and _rss_mb(process.pid) > max_rss_mb
            if timed_out or over_memory:
                os.killpg(process.pid, signal.SIGKILL)
                _, status, usage = os.wait4(process.pid, 0)
                break
            time.sleep(0.02)
        wall = time.perf_counter() - started
        process.returncode = os.waitstatus_to_exitcode(status)  # reaped here; tell Popen so
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read(), err.read()
    killed = timed_out or over_memory
    peak_mb = usage.ru_maxrss / 1024
    if peak_mb <= parent_mb * 1.05:  # inherited from the parent's peak at the fork, not the child's own
        peak_mb = sampled_mb
    return Run(name=name, returncode=None if killed else process.returncode, wall_s=wall,
               cpu_s=usage.ru_utime + usage.ru_stime, peak_rss_mb=peak_mb, timed_out=timed_out,
               result=last_json_line(stdout), stderr_tail=stderr[-3000:], over_memory=over_memory)


#: The child's memory is read from ``/proc`` every this many waits of 20 ms (0.5 s).
_READ_EVERY = 25


def _rss_mb(pid: int, field: str = "VmRSS:") -> float:
    """Resident memory of a running process in MB (``VmHWM:``: its peak so far; 0 if it
    is gone); Linux ``/proc``."""
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as status:
            for line in status:
                if line.startswith(field):
                    return int(line.split()[1]) / 1024
    except (OSError, ValueError):
        pass
    return 0.0
