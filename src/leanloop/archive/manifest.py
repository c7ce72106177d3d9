"""The archive's manifest: high-water marks and files, written atomically.

Examples
--------
>>> import tempfile, pathlib
>>> folder = pathlib.Path(tempfile.mkdtemp())
>>> load_manifest(folder).seq
0
>>> part = ArchiveFile(path="day=2024-01-01/model_version=v1/part-000000000001-000000000002.parquet",
...                    day="2024-01-01", model_version="v1", rows=2, min_seq=1, max_seq=2)
>>> save_manifest(folder, Manifest(seq=2, label_seq=5, files=[part]))
>>> again = load_manifest(folder)
>>> again.seq, again.label_seq, [f.rows for f in again.files]
(2, 5, [2])
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from pydantic import BaseModel, ConfigDict, ValidationError

from leanloop.errors import StoreError

__all__ = ["ArchiveFile", "Manifest", "MANIFEST", "load_manifest", "save_manifest", "write_atomically"]

#: The manifest's name: a leading underscore, so Parquet readers skip it.
MANIFEST = "_manifest.json"


class ArchiveFile(BaseModel):
    """One Parquet file of the archive, by its path under the archive folder."""

    model_config = ConfigDict(frozen=True)

    path: str
    day: str
    model_version: str
    rows: int
    min_seq: int
    max_seq: int


class Manifest(BaseModel):
    """``seq``: every logged row up to it is exported (or was skipped by ``--since``);
    ``label_seq``: every label-history entry up to it is merged into the files."""

    model_config = ConfigDict(frozen=True)

    format: int = 1
    seq: int = 0
    label_seq: int = 0
    files: list[ArchiveFile] = []

    def rows(self) -> int:
        """Rows in the archive."""
        return sum(f.rows for f in self.files)


def write_atomically(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` through a hidden temporary file, fsynced, then renamed:
    a reader sees the old file or the new one, never half of one."""
    temporary = path.with_name(f".{path.name}.tmp")
    with open(temporary, "wb") as out:
        out.write(data)
        out.flush()
        os.fsync(out.fileno())
    os.replace(temporary, path)


def load_manifest(folder: Path) -> Manifest:
    """The manifest in ``folder`` (an empty one when there is none yet)."""
    path = Path(folder) / MANIFEST
    if not path.is_file():
        return Manifest()
    try:
        return Manifest.model_validate(json.loads(path.read_text(encoding="utf-8")))
    except (ValueError, ValidationError) as exc:
        raise StoreError(f"the archive manifest {path} cannot be read ({exc}); restore it from a backup or export "
                         f"to a new folder") from exc


def save_manifest(folder: Path, manifest: Manifest) -> None:
    """Replace the manifest in ``folder`` atomically."""
    write_atomically(Path(folder) / MANIFEST, manifest.model_dump_json(indent=1).encode())
