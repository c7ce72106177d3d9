"""A leanloop project for the suites, made through the CLI as a user would, and its server."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

__all__ = ["cli", "fresh_project", "make_project", "set_config", "token", "server", "wait_healthy"]


def cli(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    """Run ``leanloop ARGS`` with the bench's interpreter."""
    return subprocess.run([sys.executable, "-m", "leanloop.cli", *args], capture_output=True, text=True,
                          check=check)


def set_config(root: Path, section: str, key: str, value: Any) -> None:
    """Set ``[section] key = value`` in the project's ``leanloop.toml`` (comments kept)."""
    import tomlkit

    path = Path(root) / "leanloop.toml"
    document = tomlkit.parse(path.read_text(encoding="utf-8"))
    if section not in document:
        document[section] = tomlkit.table()
    document[section][key] = value  # type: ignore[index]
    path.write_text(tomlkit.dumps(document), encoding="utf-8")


def make_project(root: Path, *, config: dict[tuple[str, str], Any] | None = None) -> Path:
    """``leanloop init`` on the car-loan reference period and ``leanloop build``, in ``root``.

    ``config`` entries are set between init and build (e.g. ``("store", "url")``).
    """
    from leanloop.datasets import car_loan

    if root.exists():
        shutil.rmtree(root)
    root.mkdir(parents=True)
    data = root / "car_loan_reference.parquet"
    car_loan().reference.to_parquet(data, index=False)
    cli("init", str(data), "--target", "repaid", "--time-column", "timestamp", "--id-column", "id",
        "--dir", str(root))
    for (section, key), value in (config or {}).items():
        set_config(root, section, key, value)
    done = cli("build", "--dir", str(root), check=False)
    if done.returncode:
        raise RuntimeError(f"leanloop build failed: {done.stderr[-1000:]}")
    return root


def fresh_project(folder: Path, suite: str) -> Path:
    """An empty ``folder`` for a suite, with a built project in ``folder/project``."""
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    print(f"[bench] {suite}: leanloop init + build on the car-loan reference period", flush=True)
    return make_project(folder / "project")


def token(root: Path) -> str | None:
    """The project's bearer token when this leanloop has ``leanloop token``; else None."""
    done = cli("token", "--dir", str(root), check=False)
    text = done.stdout.strip().splitlines()
    return text[-1].strip() if done.returncode == 0 and text else None


def wait_healthy(url: str, process: subprocess.Popen[bytes], timeout: float = 60.0) -> None:
    """leanloop's own wait (:func:`leanloop.demo.wait_healthy`), failing as the suites expect."""
    from leanloop.demo import wait_healthy as wait
    from leanloop.errors import LeanloopError

    try:
        wait(url, process, timeout)
    except LeanloopError as err:
        raise RuntimeError(str(err)) from err


@contextmanager
def server(command: list[str], url: str, *, log: Path, env: dict[str, str] | None = None) -> Iterator[str]:
    """Run a server command until the block ends; yield ``url`` once ``/health`` answers.

    The server leads its own process group, which is signalled whole at the end (uvicorn
    with several workers has children): SIGTERM, then SIGKILL after 20 s.
    """
    with open(log, "ab") as out:
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT,
                                   env={**os.environ, **(env or {})}, start_new_session=True)
        try:
            wait_healthy(url, process)
            yield url
        finally:
            for sig, grace in ((signal.SIGTERM, 20.0), (signal.SIGKILL, None)):
                with suppress(ProcessLookupError):
                    os.killpg(process.pid, sig)
                with suppress(subprocess.TimeoutExpired):
                    process.wait(timeout=grace)
                    break
