"""A real MLflow tracking server for the session: ``mlflow server`` on a free loopback
port, its backend a SQLite file and its artifacts a folder, both in a temp folder.

It takes 10-30 s to start on a busy two-core machine (most of it creating its database
tables; about 5 s of CPU), so it starts once, as soon as collection shows a test that
needs it, and runs beside the tests before those; the fixture waits for it to be healthy.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

_SERVER = pytest.StashKey[dict[str, Any]]()


def _start(config: pytest.Config) -> dict[str, Any]:
    from leanloop.demo import free_port

    folder = Path(tempfile.mkdtemp(prefix="leanloop-mlflow-"))
    port = free_port()
    log = open(folder / "server.log", "wb")  # noqa: SIM115 - closed when the server stops
    # One worker and no job runner: a test server needs neither the other three workers nor the
    # background jobs (GenAI scorers), and each is another Python process on two cores.
    env = {**os.environ, "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"}
    process = subprocess.Popen(
        [sys.executable, "-m", "mlflow", "server", "--host", "127.0.0.1", "--port", str(port), "--workers", "1",
         "--backend-store-uri", f"sqlite:///{folder / 'mlflow.db'}", "--artifacts-destination",
         str(folder / "artifacts")],
        stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True)
    server = {"process": process, "url": f"http://127.0.0.1:{port}", "folder": folder, "log": log}
    config.stash[_SERVER] = server
    return server


def pytest_collection_finish(session: pytest.Session) -> None:
    """Start the server while the tests before the first one that needs it run."""
    if any("mlflow_server" in getattr(item, "fixturenames", ()) for item in session.items):
        _start(session.config)


def _stop(server: dict[str, Any]) -> None:
    process = server["process"]
    if server["log"].closed:
        return
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)  # the server and the uvicorn worker it started
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
    server["log"].close()


@pytest.fixture(scope="session")
def mlflow_server(pytestconfig: pytest.Config) -> Iterator[str]:
    """The tracking server's URL, once it answers ``/health``."""
    from leanloop.demo import wait_healthy

    server = pytestconfig.stash.get(_SERVER, None) or _start(pytestconfig)
    try:
        wait_healthy(server["url"], server["process"], timeout=180.0, log=str(server["folder"] / "server.log"))
        yield server["url"]
    finally:
        _stop(server)


def pytest_sessionfinish(session: pytest.Session) -> None:
    """Stop a server started for tests that then did not run (skipped, or the session stopped early)."""
    server = session.config.stash.get(_SERVER, None)
    if server is not None:
        _stop(server)
