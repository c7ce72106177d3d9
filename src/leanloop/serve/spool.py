"""The local spool: where prediction records wait while the store is unavailable.

Each server process appends to its own file in the spool folder (held with an
exclusive ``flock`` while the process lives), one frame per group commit::

    magic b"\\xa7LLS" | payload length (uint32, big-endian) | CRC-32 of payload (uint32) | payload

The payload is the group's records as ASCII JSON, so the magic's first byte (0xA7)
never occurs inside a payload and a reader can resynchronise after damage. Each
append is followed by ``fsync`` before any request of the group is answered; an
append that fails is cut back off the file, so a failed write never leaves half a
frame that a later append would bury.

:meth:`Spool.replay` hands every frame's records to the store (which inserts them
with "on conflict do nothing", keyed by prediction id, so replaying twice is
harmless) and only then removes the file: a crash at any point leaves records to
replay again, never a record lost or doubled. It replays this process's file and
the files of processes that died (their lock is gone). A torn tail (a frame cut
short by a crash during its append, never acknowledged) is dropped; a corrupt frame
(bad magic, length or CRC) is copied to ``quarantine/`` and counted, never dropped.

:meth:`Spool.replay_oldest` replays one file at a time, oldest first, sealing the
live file when it is the only one left, so appends (from the logger's writer thread)
continue into a new file while a replay runs in another thread: the spool drains
while traffic continues.

Hand-written: no library offers a crash-safe, CRC-framed append log with replay.

Examples
--------
>>> import tempfile, pathlib
>>> spool = Spool(pathlib.Path(tempfile.mkdtemp()))
>>> spool.open()
0
>>> spool.append([{"prediction_id": "a"}, {"prediction_id": "b"}])
>>> spool.pending
2
>>> received = []
>>> spool.replay(lambda records: received.extend(records) or len(records))
ReplayResult(records=2, inserted=2, quarantined=0, torn_bytes=0)
>>> [r["prediction_id"] for r in received], spool.pending
(['a', 'b'], 0)
>>> spool.close()
"""

from __future__ import annotations

import fcntl
import json
import os
import struct
import threading
import time
import uuid
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["Spool", "ReplayResult", "scan"]

MAGIC = b"\xa7LLS"
_HEADER = struct.Struct(">4sII")
_MAX_FRAME = 1 << 30
#: A live file this large is sealed and a new one started: a replay reads one file at a
#: time into memory, so a long outage's spool is replayed in pieces of about this size.
ROTATE_BYTES = 16 << 20
SUFFIX = ".spool"

Records = list[dict[str, Any]]


@dataclass(frozen=True)
class ReplayResult:
    """What one replay did: records handed to the store, how many were new there,
    corrupt frames quarantined and torn-tail bytes dropped."""

    records: int
    inserted: int
    quarantined: int
    torn_bytes: int


@dataclass(frozen=True)
class Scan:
    """A spool file read back: good frames' records, corrupt byte ranges, torn tail size."""

    frames: list[Records]
    corrupt: list[bytes]
    torn_bytes: int
    good_end: int

    @property
    def records(self) -> int:
        return sum(len(f) for f in self.frames)


def encode(records: Records) -> bytes:
    """One frame for ``records``.

    >>> frame = encode([{"prediction_id": "a"}])
    >>> frame[:4] == MAGIC, scan(frame).frames
    (True, [[{'prediction_id': 'a'}]])
    """
    payload = json.dumps(records, separators=(",", ":"), ensure_ascii=True).encode("ascii")
    return _HEADER.pack(MAGIC, len(payload), zlib.crc32(payload)) + payload


def scan(data: bytes) -> Scan:
    """Read frames from a spool file's bytes.

    >>> good = encode([{"prediction_id": "a"}])
    >>> damaged = bytearray(encode([{"prediction_id": "b"}])); damaged[-2] ^= 0xFF
    >>> result = scan(good + bytes(damaged) + good + good[:7])
    >>> len(result.frames), len(result.corrupt), result.torn_bytes
    (2, 1, 7)
    """
    frames: list[Records] = []
    corrupt: list[bytes] = []
    pos, size = 0, len(data)
    while pos < size:
        if size - pos < _HEADER.size:
            return Scan(frames, corrupt, size - pos, pos)
        magic, length, crc = _HEADER.unpack_from(data, pos)
        end = pos + _HEADER.size + length
        if magic != MAGIC or length > _MAX_FRAME:
            nxt = data.find(MAGIC, pos + 1)
            nxt = size if nxt < 0 else nxt
            corrupt.append(data[pos:nxt])
            pos = nxt
            continue
        if end > size:
            nxt = data.find(MAGIC, pos + 1)
            if nxt < 0:  # the last append was cut short: never acknowledged, dropped
                return Scan(frames, corrupt, size - pos, pos)
            corrupt.append(data[pos:nxt])
            pos = nxt
            continue
        payload = data[pos + _HEADER.size:end]
        try:
            if zlib.crc32(payload) != crc:
                raise ValueError("CRC mismatch")
            records = json.loads(payload)
            if not isinstance(records, list):
                raise ValueError("not a list of records")
        except ValueError:
            corrupt.append(data[pos:end])
        else:
            frames.append(records)
        pos = end
    return Scan(frames, corrupt, 0, pos)


@dataclass
class _File:
    """A spool file waiting for replay: sealed (no more appends) and held locked."""

    path: Path
    fd: int
    records: int
    size: int
    since: float


class Spool:
    """An append-only, fsynced local log of prediction records; replayed exactly once.

    Appends go to this process's live file; :meth:`replay_oldest` seals it (later
    appends start a new file) and replays sealed files oldest first, so a replay runs
    beside appends (another thread may append meanwhile) and the spool drains while
    records keep arriving.
    """

    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder)
        self._fd: int | None = None
        self._path: Path | None = None
        self._own = 0
        self._own_size = 0
        self._own_since = 0.0
        self._backlog: list[_File] = []
        self._lock = threading.Lock()
        self.quarantined = 0

    @property
    def pending(self) -> int:
        """Records spooled and not yet replayed (this process's and dead processes')."""
        return self._own + sum(f.records for f in self._backlog)

    @property
    def size(self) -> int:
        """Bytes the pending records take on disk."""
        return self._own_size + sum(f.size for f in self._backlog)

    def age(self, now: float | None = None) -> float:
        """Seconds since the oldest pending record was spooled (0 when none is)."""
        # No lock: /ready and /metrics read this on the event loop, and an append holds the
        # lock through its fsync.
        backlog, own, own_since = list(self._backlog), self._own, self._own_since
        starts = [f.since for f in backlog if f.records] + ([own_since] if own else [])
        return max(0.0, (time.time() if now is None else now) - min(starts)) if starts else 0.0

    def open(self) -> int:
        """Take the files of processes that died (locked, to replay first); returns their record count."""
        taken = 0
        for path, data, fd in self._orphan_files():
            found = scan(data)
            first = found.frames[0][0].get("created_at") if found.frames and found.frames[0] else None
            since = float(first) if isinstance(first, (int, float)) else os.fstat(fd).st_mtime
            self._backlog.append(_File(path, fd, found.records, len(data), since))
            taken += found.records
        return taken

    def close(self) -> None:
        """Release this process's files (kept on disk while they hold records, for the next start)."""
        with self._lock:
            for entry in self._backlog:
                os.close(entry.fd)
                if entry.records == 0:
                    entry.path.unlink(missing_ok=True)
            self._backlog = []
            if self._fd is not None:
                os.close(self._fd)
                if self._own == 0 and self._path is not None:
                    self._path.unlink(missing_ok=True)
                self._fd = None
                self._path = None
            self._own = self._own_size = 0  # what is left is another run's to replay (see open)

    def append(self, records: Records) -> None:
        """Append one frame and fsync it; on failure the file is as before (raises OSError)."""
        frame = encode(records)
        with self._lock:
            fd = self._own_fd()
            offset = os.lseek(fd, 0, os.SEEK_END)
            try:
                view = memoryview(frame)
                while view:
                    view = view[os.write(fd, view):]
                os.fsync(fd)
            except OSError:
                try:
                    os.ftruncate(fd, offset)
                    os.fsync(fd)
                except OSError:
                    pass  # a reader drops the torn tail
                raise
            if not self._own:
                self._own_since = time.time()
            self._own += len(records)
            self._own_size += len(frame)
            if self._own_size >= ROTATE_BYTES:
                self._seal()

    def replay(self, sink: Callable[[Records], int], max_rows: int = 2048) -> ReplayResult:
        """Hand every spooled record to ``sink`` (which commits them idempotently and returns
        how many were new) in chunks of up to ``max_rows``, oldest first; each file is
        removed only after all its records are committed. Raises what ``sink`` raises,
        leaving the rest spooled."""
        total = inserted = quarantined = torn = 0
        while True:
            result = self.replay_oldest(sink, max_rows=max_rows)
            if result is None:
                return ReplayResult(total, inserted, quarantined, torn)
            total += result.records
            inserted += result.inserted
            quarantined += result.quarantined
            torn += result.torn_bytes

    def replay_oldest(self, sink: Callable[[Records], int], max_rows: int = 2048) -> ReplayResult | None:
        """Replay the oldest spool file (sealing the live one when no other is left), or
        return None when nothing is spooled. Appends may run meanwhile, into a new file."""
        with self._lock:
            if not self._backlog:
                if not self._own:
                    return None
                self._seal()
            entry = self._backlog[0]
        found = scan(_read_all(entry.fd))
        inserted = 0
        chunk: Records = []
        for frame in found.frames:
            chunk += frame
            if len(chunk) >= max_rows:
                inserted += sink(chunk)
                chunk = []
        if chunk:
            inserted += sink(chunk)
        if found.corrupt:
            self._quarantine(entry.path, found.corrupt)
        entry.path.unlink(missing_ok=True)
        _fsync_dir(self.folder)
        with self._lock:
            self._backlog.remove(entry)
            os.close(entry.fd)
        self.quarantined += len(found.corrupt)
        return ReplayResult(found.records, inserted, len(found.corrupt), found.torn_bytes)

    # -- internals ------------------------------------------------------------------
    def _seal(self) -> None:
        # Called under the lock: the live file joins the backlog; the next append opens a new one.
        assert self._fd is not None and self._path is not None
        self._backlog.append(_File(self._path, self._fd, self._own, self._own_size, self._own_since))
        self._fd, self._path = None, None
        self._own = self._own_size = 0

    def _own_fd(self) -> int:
        if self._fd is None:
            self.folder.mkdir(parents=True, exist_ok=True)
            path = self.folder / f"{os.getpid()}-{uuid.uuid4().hex[:12]}{SUFFIX}"
            fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o600)
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            _fsync_dir(self.folder)
            self._fd, self._path = fd, path
        return self._fd

    def _orphan_files(self) -> list[tuple[Path, bytes, int]]:
        """Spool files no live process holds: locked by us now, with their bytes."""
        found: list[tuple[Path, bytes, int]] = []
        if not self.folder.is_dir():
            return found
        held = {self._path, *(f.path for f in self._backlog)}
        for path in sorted(self.folder.glob(f"*{SUFFIX}"), key=_mtime):
            if path in held:
                continue
            try:
                fd = os.open(path, os.O_RDWR)
            except FileNotFoundError:
                continue
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                if os.fstat(fd).st_ino != os.stat(path).st_ino:
                    raise FileNotFoundError(path)  # replayed and removed by another process meanwhile
            except (BlockingIOError, FileNotFoundError):
                os.close(fd)
                continue
            found.append((path, _read_all(fd), fd))
        return found

    def _quarantine(self, path: Path, pieces: list[bytes]) -> None:
        folder = self.folder / "quarantine"
        folder.mkdir(parents=True, exist_ok=True)
        target = folder / f"{path.stem}-{int(time.time())}.bad"
        with open(target, "ab") as out:
            for piece in pieces:
                out.write(piece)
            out.flush()
            os.fsync(out.fileno())
        _fsync_dir(folder)


def _mtime(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except FileNotFoundError:
        return 0.0


def _read_all(fd: int) -> bytes:
    os.lseek(fd, 0, os.SEEK_SET)
    parts = []
    while chunk := os.read(fd, 1 << 20):
        parts.append(chunk)
    return b"".join(parts)


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
