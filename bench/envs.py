"""Python environments for the tools: the repo's own ``.venv`` and one venv per peer.

A peer's venv is created on first use under ``bench/.venvs/<name>`` with ``pip`` from
the package registry (no other network); a marker file records what was asked for,
so a changed requirement list rebuilds it.
"""

from __future__ import annotations

import subprocess
import sys
import venv
from pathlib import Path

__all__ = ["PEERS", "peer_python", "repo_python", "ROOT"]

ROOT = Path(__file__).resolve().parent.parent
VENVS = Path(__file__).resolve().parent / ".venvs"

#: Requirements per peer. Evidently 0.7.x fails to import with pandas 3; NannyML needs
#: statsmodels beside it (it imports it without declaring it).
PEERS: dict[str, list[str]] = {
    "evidently": ["evidently", "pandas<3", "pyarrow"],
    "nannyml": ["nannyml", "statsmodels", "pyarrow"],
}


def repo_python() -> str:
    """The interpreter running the bench: the repo's ``.venv`` (``make bench`` uses it)."""
    return sys.executable


def peer_python(name: str, log: Path | None = None) -> str:
    """The interpreter of peer ``name``'s venv, created (and installed) if missing."""
    requirements = PEERS[name]
    folder = VENVS / name
    python = folder / "bin" / "python"
    marker = folder / ".requirements"
    wanted = "\n".join(requirements)
    if python.exists() and marker.exists() and marker.read_text(encoding="utf-8") == wanted:
        return str(python)
    print(f"[bench] creating the {name} venv in {folder} (pip install {' '.join(requirements)})", flush=True)
    venv.EnvBuilder(with_pip=True, clear=True).create(folder)
    log = log or folder / "install.log"
    with open(log, "w", encoding="utf-8") as out:
        subprocess.run([str(python), "-m", "pip", "install", "--quiet", *requirements],
                       stdout=out, stderr=subprocess.STDOUT, check=True)
    marker.write_text(wanted, encoding="utf-8")
    return str(python)


def package_version(python: str, package: str) -> str | None:
    """The installed version of ``package`` in the environment of ``python``."""
    done = subprocess.run([python, "-c", f"import importlib.metadata as m; print(m.version({package!r}))"],
                          capture_output=True, text=True)
    return done.stdout.strip() if done.returncode == 0 else None
