"""A version's files in the store, so every host sharing it can serve that version.

Several servers on one PostgreSQL store need not share a disk: the registry writes each
version's files (its skops model and baseline, the reference and test data its cycles
read) into the store, in the transaction that records the version, and a host that
lacks a file fetches it on demand into its own workspace.

- **Content-addressed.** ``blobs`` holds each distinct content once, keyed by its
  sha256, in parts of :data:`PART_BYTES` (a 1 GB artifact never sits in one value, nor
  in memory whole); ``model_files`` says which files a version has, by name, kind and
  sha256. Two versions with the same file (a baseline refitted to the same numbers)
  share its parts.
- **Verified, atomic.** :func:`fetch` streams the parts to a hidden temporary file
  beside the target, hashing them as they come, and renames it into place only when
  the size and sha256 match (fsynced first): a reader never sees half a file, and a
  part damaged in the database is refused, named, and never loaded.

Examples
--------
>>> import tempfile, pathlib
>>> from leanloop.store import SQLStore
>>> folder = pathlib.Path(tempfile.mkdtemp())
>>> store = SQLStore(f"sqlite:///{folder / 's.db'}")
>>> (folder / "v1.skops").write_bytes(b"PK" + bytes(range(256)) * 4)
1026
>>> file = StoredFile.of(folder / "v1.skops", FileKind.ARTIFACT)
>>> store.add_model("v1", 1.0, {"version": "v1"}, files=[(file, folder / "v1.skops")])
>>> with store.engine.connect() as conn:
...     files_of(conn, "v1") == [file]
True
>>> fetch(store.engine, file, folder / "elsewhere" / "v1.skops").read_bytes()[:2]
b'PK'
>>> store.close()
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING

import sqlalchemy as sa
from pydantic import BaseModel, ConfigDict

from leanloop.errors import ArtifactError
from leanloop.store import tables as t

if TYPE_CHECKING:
    from collections.abc import Iterable

__all__ = ["PART_BYTES", "FileKind", "StoredFile", "fetch", "files_of", "save_files", "sha256_of"]

#: Bytes per stored part: PostgreSQL refuses a ``bytea`` value over 1 GB, and a part is
#: what one host holds in memory while it writes or fetches a file.
PART_BYTES = 8 << 20


class FileKind(str, Enum):
    """Where a version's file lives in a workspace: ``.leanloop/artifacts`` or ``.leanloop/data``."""

    ARTIFACT = "artifact"
    DATASET = "dataset"


class StoredFile(BaseModel):
    """One file of a version: its name in its folder, what it is, its content's sha256 and size."""

    model_config = ConfigDict(frozen=True)

    name: str
    kind: FileKind
    sha256: str
    size: int

    @classmethod
    def of(cls, path: Path, kind: FileKind, sha256: str | None = None) -> StoredFile:
        """The record of the file at ``path`` (its sha256 computed unless given)."""
        return cls(name=path.name, kind=kind, sha256=sha256 or sha256_of(path), size=path.stat().st_size)


def sha256_of(path: Path) -> str:
    """The sha256 hex digest of a file, read in blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def save_files(conn: sa.Connection, version: str, files: Iterable[tuple[StoredFile, Path]]) -> None:
    """Record ``version``'s files and store the contents not stored yet, in ``conn``'s
    transaction (the one that records the version)."""
    from sqlalchemy.dialects import postgresql, sqlite

    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    for file, path in files:
        stored = conn.execute(sa.select(sa.func.count()).select_from(t.blobs)
                              .where(t.blobs.c.sha256 == file.sha256)).scalar_one()
        if not stored:
            with open(path, "rb") as handle:
                for part, data in enumerate(iter(lambda: handle.read(PART_BYTES), b"")):
                    # Another host may store the same content at the same moment: its parts are these.
                    conn.execute(dialect.insert(t.blobs).on_conflict_do_nothing(index_elements=["sha256", "part"])
                                 .values(sha256=file.sha256, part=part, data=data))
        conn.execute(dialect.insert(t.model_files).on_conflict_do_nothing(index_elements=["version", "name"])
                     .values(version=version, name=file.name, kind=file.kind.value, sha256=file.sha256,
                             size=file.size))


def files_of(conn: sa.Connection, version: str) -> list[StoredFile]:
    """The files stored for ``version``, by name (none for a version registered without)."""
    f = t.model_files
    rows = conn.execute(sa.select(f.c.name, f.c.kind, f.c.sha256, f.c.size).where(f.c.version == version)
                        .order_by(f.c.name))
    return [StoredFile(name=r.name, kind=FileKind(r.kind), sha256=r.sha256, size=r.size) for r in rows]


def fetch(engine: sa.Engine, file: StoredFile, target: Path) -> Path:
    """Write ``file``'s content from the store to ``target``, checked and renamed into place.

    Raises :class:`~leanloop.errors.ArtifactError` when the store lacks a part or the
    bytes do not hash to the recorded sha256; nothing is left at ``target`` then.
    """
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, temporary = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".fetch")
    digest, size = hashlib.sha256(), 0
    try:
        with os.fdopen(fd, "wb") as handle:
            with engine.connect() as conn:
                # One part at a time (stream_results): a large file is never held whole.
                parts = conn.execution_options(stream_results=True, max_row_buffer=1).execute(
                    sa.select(t.blobs.c.data).where(t.blobs.c.sha256 == file.sha256).order_by(t.blobs.c.part))
                for (data,) in parts:
                    digest.update(data)
                    size += len(data)
                    handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        if size != file.size or digest.hexdigest() != file.sha256:
            raise ArtifactError(
                f"{file.name} as stored in the database is damaged ({size} bytes, sha256 {digest.hexdigest()[:12]}..., "
                f"expected {file.size} bytes, {file.sha256[:12]}...); it was not written to {target.parent}. Copy "
                "the file from a host that has it, or build the version again")
        os.replace(temporary, target)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return target
