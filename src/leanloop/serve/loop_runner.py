"""The unattended loop: cycles run by the server, in a process of their own.

Each server process starts one *loop process* (:class:`LoopProcess`): a child Python
process at the lowest CPU priority (``nice 19``) that checks every ``[loop]
poll_seconds`` whether a cycle is due (:class:`LoopRunner`) and, if the cycle lock is
free, runs it (:func:`leanloop.loop.try_cycle`). Cycles never run in a process that
answers requests, so measuring and retraining take no time from answers but what the
OS gives a niced process; SQLite in WAL mode lets them read while the server writes.
A promotion moves the ``champion`` alias, which every worker's champion watcher picks
up, as it does a manual one. With several workers or servers, only the one holding
the loop lock runs a loop process (:mod:`~leanloop.serve.leadership`); the cycle lock
keeps its cycles apart from a manual ``leanloop cycle``.

The loop process ends with its server: on Linux the kernel kills it when its parent
dies (``PR_SET_PDEATHSIG``), elsewhere it notices its parent is gone within a poll.
A cycle killed that way is recorded as interrupted by the next cycle.

With ``[store] retention_days``, the loop process also keeps the store bounded
(:mod:`~leanloop.serve.retention`), and runs for that alone when no cycles are
scheduled. Before a cycle it fetches the champion's files this host lacks (a version
built on another host sharing the store: :meth:`leanloop.registry.Registry.fetch`).

Each decision other than ``continue``, and each failed cycle, is posted to ``[loop]
webhook_url`` by a :class:`~leanloop.alerts.Notifier` (never blocking the loop); the
outcome goes into the cycle's ledger entry. The loop process tells its server about
cycles and alert outcomes as JSON lines on its stdout; the server counts failed
alerts in ``/metrics``.

Examples
--------
>>> from leanloop.learn.policy import Action, Decision, Rule
>>> from leanloop.learn.ledger import Cycle
>>> rule = Rule(rule="kpi_drop", value=0.2, threshold=0.1, fired=True, says="KPI fell 20 %")
>>> cycle = Cycle(cycle=4, created_at=0.0, measurement={}, decision=Decision(action=Action.RETRAIN,
...               reasons=[rule]), champion_before="v1", champion_after="v2", trigger="rows")
>>> alert_payload(cycle)["reasons"], needs_alert(cycle)
(['KPI fell 20 %'], True)
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from leanloop.errors import LeanloopError
from leanloop.learn import ledger
from leanloop.learn.policy import Action
from leanloop.loop import try_cycle
from leanloop.loop_state import rows_and_seconds
from leanloop.serve.retention import RetentionTimer, run_retention

if TYPE_CHECKING:
    from pathlib import Path

    from leanloop.alerts import AlertOutcome, Notifier
    from leanloop.learn.ledger import Cycle
    from leanloop.schedule import Schedule
    from leanloop.workspace import Workspace

__all__ = ["LoopRunner", "LoopProcess", "alert_payload", "needs_alert", "main"]

log = logging.getLogger("leanloop.loop")

Event = dict[str, Any]


def needs_alert(cycle: Cycle) -> bool:
    """Whether ``cycle`` is worth telling people about: it failed, or decided other than continue."""
    return cycle.error is not None or cycle.decision.action is not Action.CONTINUE


def alert_payload(cycle: Cycle) -> dict[str, Any]:
    """The JSON an alert posts: the cycle, its action and reasons, the champion before and after."""
    return {
        "cycle": cycle.cycle, "action": cycle.decision.action.value,
        "reasons": [r.says for r in cycle.decision.reasons if r.fired],
        "champion_before": cycle.champion_before, "champion_after": cycle.champion_after,
        "challenger": cycle.challenger, "promoted": cycle.promoted, "rolled_back": cycle.rolled_back,
        "trigger": None if cycle.trigger is None else cycle.trigger.value, "error": cycle.error,
        "created_at": cycle.created_at,
        # The cycle's page on the server's dashboard (a path: the server does not know the
        # address its users reach it by), and the command that writes the same report offline.
        "report": f"/ui/cycles/{cycle.cycle}",
        "report_command": f"leanloop report --cycle {cycle.cycle}",
    }


class LoopRunner:
    """One turn at a time of the unattended loop, in the calling process.

    ``on_event`` gets a dict for each cycle run (``{"event": "cycle", ...}``) and each
    alert outcome (``{"event": "alert", "delivered": ...}``).
    """

    def __init__(self, ws: Workspace, schedule: Schedule, *, notifier: Notifier | None = None,
                 on_event: Callable[[Event], None] = lambda event: None,
                 retention: RetentionTimer | None = None) -> None:
        self.ws = ws
        self.schedule = schedule
        self.notifier = notifier
        self.on_event = on_event
        #: when to run ``[store] retention_days`` (None: the store keeps every row)
        self.retention = retention

    def prepare(self) -> None:
        """Fetch the champion's files this host lacks (its reference and test data, when
        another host built it): the loop may just have moved here. A file that cannot
        be fetched (no champion yet, a damaged copy) is logged; the cycle says the rest."""
        try:
            self.ws.registry.fetch(self.ws.registry.champion())
        except LeanloopError as exc:
            log.warning("could not fetch the champion's files: %s", exc)

    def tick(self, now: float | None = None) -> Cycle | None:
        """Run retention when it is due, and a cycle if one is due and no other process
        runs one; the cycle, or ``None``."""
        rows, seconds = rows_and_seconds(self.ws, now=now)
        # Checked first without the lock: most turns find nothing due, and taking the
        # lock costs a file open (or a PostgreSQL round trip).
        due = self.schedule.due(rows_since=rows, seconds_since=seconds) is not None
        self._retain(time.time() if now is None else now, cycle_due=due)
        if not due:
            return None
        self.prepare()
        cycle = try_cycle(self.ws, self.schedule, now=now)
        if cycle is not None:
            self._announce(cycle)
        return cycle

    def _retain(self, now: float, *, cycle_due: bool) -> None:
        """Archive and trim the log when retention is due: before a cycle, so the cycle
        measures a store already bounded (windows reach into the archive alike)."""
        if self.retention is not None and self.retention.due(now=now, cycle_due=cycle_due):
            self.retention.ran(now=now)  # a failed run waits for the next turn that is due
            self.on_event(run_retention(self.ws, now=now))

    def _announce(self, cycle: Cycle) -> None:
        trigger = None if cycle.trigger is None else cycle.trigger.value
        if cycle.error:
            log.error("cycle %d (%s) failed: %s", cycle.cycle, trigger, cycle.error)
        else:
            log.warning("cycle %d (%s): %s; champion %s -> %s", cycle.cycle, trigger, cycle.decision.action.value,
                        cycle.champion_before, cycle.champion_after)
        self.on_event({"event": "cycle", "cycle": cycle.cycle, "action": cycle.decision.action.value,
                       "error": cycle.error, "champion_after": cycle.champion_after})
        if self.notifier is not None and needs_alert(cycle):
            self.notifier.send(alert_payload(cycle), on_done=lambda outcome: self._alerted(cycle.cycle, outcome))

    def _alerted(self, cycle_id: int, outcome: AlertOutcome) -> None:
        body = outcome.model_dump(mode="json")
        if not outcome.delivered:
            log.error("the alert of cycle %d was not delivered after %d attempts: %s", cycle_id, outcome.attempts,
                      outcome.error)
        try:
            ledger.record_alert(self.ws.store, cycle_id, body)
        finally:  # counted even when the store cannot take the outcome now
            self.on_event({"event": "alert", "cycle": cycle_id, **body})


def _die_with_parent() -> None:
    """Ask Linux to kill this process when its parent dies (elsewhere: a no-op)."""
    if not sys.platform.startswith("linux"):
        return
    import ctypes
    import signal

    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # 1 = PR_SET_PDEATHSIG
    except OSError:
        return


def _lowest_priority() -> None:
    """The lowest CPU priority: answers come first.

    With autogroup scheduling (Linux's default on most systems), ``nice`` only ranks a
    process within its session's group, and the group competes with other sessions as
    a whole: a niced loop process still took a full share beside the server and cut its
    throughput by 29 % on two cores. So the loop process leads a session of its own
    (:class:`LoopProcess` starts it so) and lowers that group's weight too.
    """
    os.nice(19)
    try:
        with open("/proc/self/autogroup", "w", encoding="ascii") as handle:
            handle.write("19")
    except OSError:  # no autogroup scheduling here: nice alone does it
        pass


def main(argv: list[str] | None = None) -> None:
    """The loop process: ``python -m leanloop.serve.loop_runner PROJECT_DIR [SERVER_PID]``."""
    from leanloop.alerts import Notifier
    from leanloop.workspace import Workspace

    args = sys.argv[1:] if argv is None else argv
    # The server's pid as it started us: a server killed while this process was still
    # importing left it to init before it could ask for the parent-death signal, and an
    # orphan that took init for its parent ran cycles on, with no server, for good.
    parent = int(args[1]) if len(args) > 1 else os.getppid()
    _die_with_parent()
    if os.getppid() != parent:
        return
    _lowest_priority()
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    ws = Workspace.open(args[0])
    settings = ws.config.loop
    schedule = settings.schedule(window_rows=ws.config.measure.window_rows)
    lock = threading.Lock()

    def emit(event: Event) -> None:
        with lock:  # alert outcomes come from the notifier's thread
            sys.stdout.write(json.dumps(event) + "\n")
            sys.stdout.flush()

    notifier = None if settings.webhook_url is None else Notifier(settings.webhook_url)
    retention = None if ws.config.store.retention_days is None else RetentionTimer()
    runner = LoopRunner(ws, schedule, notifier=notifier, on_event=emit, retention=retention)
    try:
        runner.prepare()
    except Exception as exc:  # the store is down: the turn before a cycle fetches again
        log.warning("could not fetch the champion's files (%s: %s)", type(exc).__name__, exc)
    failing = False
    while os.getppid() == parent:
        try:
            runner.tick()
            failing = False
        except Exception as exc:  # e.g. the store is down: the next turn tries again
            if not failing:
                log.warning("the loop could not check or run a cycle (%s: %s); retrying every %g s",
                            type(exc).__name__, exc, settings.poll_seconds)
            failing = True
        time.sleep(settings.poll_seconds)


class LoopProcess:
    """The server's side of the loop process: start it, read its events, stop it.

    One thread starts the loop process, reads its events and starts it again if it
    dies on its own (the cycle it was running is recorded as interrupted by the next).
    It lives as long as the loop process: Linux's parent-death signal follows the
    thread that started a process, not the process.
    """

    def __init__(self, root: Path, on_event: Callable[[Event], None] = lambda event: None, *,
                 restart_seconds: float = 5.0) -> None:
        self.root = root
        self.on_event = on_event
        self.restart_seconds = restart_seconds
        self._process: subprocess.Popen[str] | None = None
        self._thread: threading.Thread | None = None
        self._stopping = threading.Event()

    def start(self) -> None:
        """Start the loop process (one OpenMP thread: it must not take every core)."""
        self._stopping.clear()
        self._thread = threading.Thread(target=self._supervise, name="leanloop-loop", daemon=True)
        self._thread.start()

    def _supervise(self) -> None:
        env = {**os.environ, "OMP_NUM_THREADS": "1"}
        while not self._stopping.is_set():
            process = subprocess.Popen([sys.executable, "-m", "leanloop.serve.loop_runner", str(self.root),
                                        str(os.getpid())],
                                       stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, text=True, env=env,
                                       start_new_session=True)
            self._process = process
            if self._stopping.is_set():  # stop() ran while it was starting
                process.terminate()
            self._read(process)
            code = process.wait()
            if self._stopping.wait(self.restart_seconds):
                return
            log.error("the loop process exited with code %s; starting it again", code)

    def _read(self, process: subprocess.Popen[str]) -> None:
        assert process.stdout is not None
        for line in process.stdout:
            try:
                self.on_event(json.loads(line))
            except (ValueError, TypeError):
                log.warning("the loop process said something unexpected: %r", line[:200])

    @property
    def alive(self) -> bool:
        """Whether the loop process runs."""
        return self._process is not None and self._process.poll() is None

    @property
    def pid(self) -> int | None:
        """The loop process's id, while it runs."""
        return self._process.pid if self.alive and self._process is not None else None

    def stop(self, timeout: float = 5.0) -> None:
        """Stop the loop process (a cycle it was running is recorded as interrupted by the next one)."""
        self._stopping.set()
        process = self._process
        if process is not None:
            process.terminate()
            try:
                process.wait(timeout)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None


if __name__ == "__main__":
    main()
