"""Helpers for the fault tests: a small built project, a real server process, load, checks."""

from __future__ import annotations

import os
import random
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import tomlkit

FEATURES = ["car_value", "salary_range", "debt_to_income_ratio", "loan_length",
            "repaid_loan_on_prev_car", "size_of_downpayment", "driver_tenure"]


def configure(root: Path, **sections: dict[str, Any]) -> None:
    """Set fields in ``leanloop.toml`` (``serve={"commit_max_rows": 50}``)."""
    path = root / "leanloop.toml"
    document = tomlkit.parse(path.read_text(encoding="utf-8"))
    for section, values in sections.items():
        table = document.setdefault(section, tomlkit.table())
        for key, value in values.items():
            table[key] = value
    path.write_text(tomlkit.dumps(document), encoding="utf-8")


def two_versions(root: Path, car_loan_data: Any, **sections: dict[str, Any]) -> Path:
    """A small project made in ``root`` (1,500 car-loan rows, a 10-iteration model, the
    config ``sections``) and built twice: v1 champion, v2 registered."""
    from leanloop.project import Project

    root.mkdir()
    data = root / "loans.csv"
    car_loan_data.reference.head(1500).to_csv(data, index=False)
    Project.init(data, target="repaid", id_column="id", time_column="timestamp", root=root).close()
    configure(root, model={"max_iter": 10}, **sections)
    project = Project(root)
    project.build()
    project.build()
    project.registry.promote("v1")
    project.close()
    return root


class Server:
    """``leanloop serve`` in a subprocess on a loopback port (``--no-loop`` unless ``loop``)."""

    def __init__(self, root: Path, port: int, workers: int = 1, loop: bool = False) -> None:
        self.root = root
        self.url = f"http://127.0.0.1:{port}"
        self.port = port
        self.workers = workers
        self.loop = loop
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> Server:
        log = open(self.root / "server.log", "ab")  # noqa: SIM115 - the child keeps it
        self.process = subprocess.Popen(
            [sys.executable, "-m", "leanloop.cli", "serve", "--port", str(self.port), "--dir", str(self.root),
             "--workers", str(self.workers), *([] if self.loop else ["--no-loop"])],
            stdout=log, stderr=subprocess.STDOUT, env={**os.environ, "PYTHONUNBUFFERED": "1"},
            start_new_session=self.workers > 1,  # the workers are killed with their supervisor, as a group
        )
        log.close()
        return self

    @property
    def pid(self) -> int:
        """The server's process id."""
        assert self.process is not None
        return self.process.pid

    def alive(self) -> bool:
        assert self.process is not None
        return self.process.poll() is None

    def wait_ready(self, timeout: float = 120.0, status: tuple[str, ...] = ("ready", "degraded")) -> float:
        """Seconds from now until ``/ready`` answers 200 with one of ``status``."""
        began = time.monotonic()
        while time.monotonic() - began < timeout:
            if not self.alive():
                raise AssertionError(f"server exited: {self.log()[-3000:]}")
            try:
                response = httpx.get(f"{self.url}/ready", timeout=1.0)
                if response.status_code == 200 and response.json()["status"] in status:
                    return time.monotonic() - began
            except httpx.HTTPError:
                pass
            time.sleep(0.02)
        raise AssertionError(f"server not {status} within {timeout} s: {self.log()[-3000:]}")

    def kill(self) -> None:
        assert self.process is not None
        if self.workers > 1:
            os.killpg(self.process.pid, signal.SIGKILL)
        else:
            self.process.send_signal(signal.SIGKILL)
        self.process.wait()

    def terminate(self, timeout: float = 20.0) -> int:
        assert self.process is not None
        self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout=timeout)

    def log(self) -> str:
        path = self.root / "server.log"
        return path.read_text(errors="replace") if path.exists() else ""


class Zygote:
    """A process with the server's libraries imported that forks servers on request."""

    def __init__(self) -> None:
        self.process = subprocess.Popen([sys.executable, str(Path(__file__).with_name("zygote.py"))],
                                        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                                        cwd=Path(__file__).resolve().parents[2])
        assert self.process.stdout is not None
        assert self.process.stdout.readline().strip() == "ready"
        self.children: list[ForkedServer] = []

    def spawn(self, root: Path, port: int, loop: bool = False) -> ForkedServer:
        """A server for ``root`` on ``port`` (``loop``: with its loop process, as ``leanloop serve``)."""
        assert self.process.stdin is not None and self.process.stdout is not None
        (root / "server.exit").unlink(missing_ok=True)
        self.process.stdin.write(f"{root} {port}{' loop' if loop else ''}\n")
        self.process.stdin.flush()
        child = ForkedServer(root, port, int(self.process.stdout.readline()), loop=loop)
        self.children.append(child)
        return child

    @contextmanager
    def serving(self, root: Path, loop: bool = False) -> Iterator[str]:
        """A forked server for ``root`` on a free port: its URL once ready; SIGTERM after."""
        from leanloop.demo import free_port

        server = self.spawn(root, free_port(), loop=loop)
        try:
            server.wait_ready()
            yield server.url
        finally:
            if server.alive():
                server.terminate()

    def close(self) -> None:
        """Stop the forker and any server a failed test left running."""
        for child in self.children:
            if child.alive():
                child.kill()
        assert self.process.stdin is not None
        self.process.stdin.close()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


class ForkedServer(Server):
    """A server forked by the :class:`Zygote` (same code path as ``leanloop serve``)."""

    def __init__(self, root: Path, port: int, pid: int, loop: bool = False) -> None:
        super().__init__(root, port, loop=loop)
        self._pid = pid

    @property
    def pid(self) -> int:
        return self._pid

    def alive(self) -> bool:
        try:
            os.kill(self.pid, 0)
            return Path(f"/proc/{self.pid}/stat").read_text().split(")")[-1].split()[0] != "Z"
        except (ProcessLookupError, FileNotFoundError):
            return False

    def kill(self) -> None:
        os.kill(self.pid, signal.SIGKILL)
        while self.alive():
            time.sleep(0.005)

    def terminate(self, timeout: float = 20.0) -> int:
        """SIGTERM, wait for the exit, and return the exit code the child wrote."""
        os.kill(self.pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while self.alive():
            assert time.monotonic() < deadline, "the server did not stop after SIGTERM"
            time.sleep(0.01)
        return int((self.root / "server.exit").read_text())


@dataclass
class Load:
    """Concurrent clients posting small /predict requests until stopped (bounded in time)."""

    url: str
    rows: list[dict[str, Any]]
    clients: int = 6
    seed: int = 0
    max_seconds: float = 30.0
    interval: float = 0.0  # seconds each client waits between requests (0: as fast as answered)
    slowest: float = 0.0  # the longest a request took to be answered, in seconds
    acked: dict[str, str] = field(default_factory=dict)   # prediction id -> model version
    statuses: dict[int, int] = field(default_factory=dict)
    errors: list[dict[str, Any]] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _threads: list[threading.Thread] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def start(self) -> Load:
        for i in range(self.clients):
            thread = threading.Thread(target=self._client, args=(self.seed * 1000 + i,), daemon=True)
            thread.start()
            self._threads.append(thread)
        return self

    def wait_for(self, answers: int, timeout: float = 30.0) -> None:
        """Block until ``answers`` requests were answered 2xx."""
        deadline = time.monotonic() + timeout
        while len(self.acked) < answers and time.monotonic() < deadline:
            time.sleep(0.002)

    def stop(self) -> Load:
        self._stop.set()
        for thread in self._threads:
            thread.join()
        return self

    def _client(self, seed: int) -> None:
        rng = random.Random(seed)
        deadline = time.monotonic() + self.max_seconds
        with httpx.Client(base_url=self.url, timeout=10.0) as client:
            while not self._stop.is_set() and time.monotonic() < deadline:
                body = {"rows": rng.sample(self.rows, rng.randint(1, 4))}
                began = time.monotonic()
                try:
                    response = client.post("/predict", json=body)
                except httpx.HTTPError:
                    time.sleep(0.01)
                    continue
                with self._lock:
                    self.slowest = max(self.slowest, time.monotonic() - began)
                    self.statuses[response.status_code] = self.statuses.get(response.status_code, 0) + 1
                    if 200 <= response.status_code < 300:
                        answer = response.json()
                        for p in answer["predictions"]:
                            self.acked[p["prediction_id"]] = answer["model_version"]
                    elif len(self.errors) < 20:
                        self.errors.append({"status": response.status_code, "body": response.json()})
                if self.interval:
                    time.sleep(self.interval)


def check_sqlite(database: Path, acked: dict[str, str]) -> dict[str, str]:
    """The invariant on a SQLite store: integrity ok, no duplicates, every acknowledged
    prediction logged with the version that answered it. Returns id -> version logged."""
    conn = sqlite3.connect(database)
    try:
        assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        logged = dict(conn.execute("SELECT prediction_id, model_version FROM predictions").fetchall())
        (count,) = conn.execute("SELECT count(*) FROM predictions").fetchone()
    finally:
        conn.close()
    assert count == len(logged), "a prediction id is logged twice"
    missing = [i for i in acked if i not in logged]
    assert not missing, f"{len(missing)} acknowledged predictions are not in the store, e.g. {missing[:3]}"
    assert all(logged[i] == v for i, v in acked.items())
    return logged


def on_postgresql(root: Path, url: str, **store: Any) -> Any:
    """Move the project's registry to the PostgreSQL database at ``url`` and point the
    project at it; returns that store (for the checks)."""
    import sqlalchemy as sa

    from leanloop.registry import Registry
    from leanloop.store import SQLStore
    from leanloop.store import tables as t

    local, remote = SQLStore(f"sqlite:///{root / '.leanloop' / 'store.db'}"), SQLStore(url)
    # The versions' files too: a host without them fetches them from the store.
    registry = Registry(remote, root / ".leanloop" / "artifacts", datasets=root / ".leanloop" / "data")
    with local.engine.connect() as conn:
        for row in conn.execute(sa.select(t.models).order_by(t.models.c.created_at)):
            remote.add_model(row.version, row.created_at, row.body)
            registry.share(registry.get(row.version))
    remote.set_aliases(local.aliases(), at=time.time())
    local.close()
    configure(root, store={"url": url, **store})
    return remote


def check_postgresql(remote: Any, acked: dict[str, str]) -> None:
    """Every acknowledged prediction is in the store once, with the version that answered it."""
    import sqlalchemy as sa

    from leanloop.store import tables as t

    with remote.engine.connect() as conn:
        logged = dict(conn.execute(sa.select(t.predictions.c.prediction_id, t.predictions.c.model_version)).all())
        count = conn.execute(sa.select(sa.func.count()).select_from(t.predictions)).scalar_one()
    remote.close()
    assert count == len(logged), "a prediction id is logged twice"
    missing = [i for i in acked if i not in logged]
    assert not missing, f"{len(missing)} acknowledged predictions are not in the store"
    assert all(logged[i] == v for i, v in acked.items())


def spooled_bytes(root: Path) -> int:
    folder = root / ".leanloop" / "spool"
    return sum(p.stat().st_size for p in folder.glob("*.spool")) if folder.is_dir() else 0


def import_floor() -> float:
    """Seconds a fresh interpreter on this machine takes to import what any server start
    must import (pandas, the scikit-learn pipeline parts, skops' safe loader). That floor
    is the machine's, not the server's: CI runners vary by a factor of two on it."""
    began = time.monotonic()
    subprocess.run([sys.executable, "-c", "import pandas, sklearn.pipeline, skops.io"], check=True)
    return time.monotonic() - began


def restart_limit(seconds: float = 5.0, own_work: float = 2.5) -> float | None:
    """The restart-to-ready limit to assert: ``seconds``, or the machine's import floor
    plus ``own_work`` seconds (the server's own start: store, migrations, spool, model)
    on a machine slower than the one the 5 s goal was set on. None when the machine is so
    overloaded (load average above twice the cores, as when many test suites share it)
    that a wall-clock figure says nothing about the server. The absolute figure is
    measured by ``make bench SUITE=serve``."""
    if os.getloadavg()[0] > 2 * (os.cpu_count() or 1):
        return None
    return max(seconds, import_floor() + own_work)
