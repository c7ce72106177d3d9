"""A throw-away PostgreSQL server for the serve suite (Debian's packages, loopback only)."""

from __future__ import annotations

import glob
import importlib.util
import os
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

__all__ = ["postgres_server", "postgres_unavailable"]

# Debian installs the server binaries per major version here, off PATH.
_BIN_GLOB = "/usr/lib/postgresql/*/bin"


def _bindir() -> Path | None:
    found = sorted(glob.glob(_BIN_GLOB), key=lambda p: int(Path(p).parent.name) if Path(p).parent.name.isdigit() else 0)
    return Path(found[-1]) if found else None


def postgres_unavailable() -> str | None:
    """Why the PostgreSQL run cannot happen here, or None when it can."""
    if _bindir() is None:
        return "no PostgreSQL server binaries (apt-get install postgresql)"
    if importlib.util.find_spec("psycopg") is None:
        return "psycopg is not installed in the repo's .venv (the store has no PostgreSQL backend yet)"
    if os.geteuid() == 0 and shutil.which("runuser") is None:
        return "running as root without runuser: initdb refuses root"
    return None


def _as_owner(command: list[str]) -> list[str]:
    # initdb and postgres refuse to run as root: run them as Debian's postgres user.
    return ["runuser", "-u", "postgres", "--", *command] if os.geteuid() == 0 else command


@contextmanager
def postgres_server(folder: Path) -> Iterator[str]:
    """Start a server in ``folder`` on a free loopback port; yield its SQLAlchemy URL."""
    from leanloop.demo import free_port

    bindir = _bindir()
    assert bindir is not None
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    if os.geteuid() == 0:
        shutil.chown(folder, "postgres", "postgres")
    data, port = folder / "data", free_port()
    subprocess.run(_as_owner([str(bindir / "initdb"), "-D", str(data), "-U", "postgres", "--auth=trust"]),
                   check=True, capture_output=True)
    subprocess.run(_as_owner([str(bindir / "pg_ctl"), "-D", str(data), "-l", str(folder / "log"), "-w", "start",
                              "-o", f"-p {port} -k {folder} -c listen_addresses=127.0.0.1 -c fsync=on"]),
                   check=True, capture_output=True)
    try:
        yield f"postgresql+psycopg://postgres@127.0.0.1:{port}/postgres"
    finally:
        subprocess.run(_as_owner([str(bindir / "pg_ctl"), "-D", str(data), "-m", "fast", "stop"]),
                       capture_output=True)
