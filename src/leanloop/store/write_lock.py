"""One prediction writer at a time across the server processes sharing a SQLite file.

SQLite lets one writer in at a time and makes the others poll: its busy handler sleeps
1, 2, 5, 10, 15, 20, 25, 50, then 100 ms between tries. With ``leanloop serve --workers 2``
each worker's group commit could sleep out that ladder behind the other's, long after
the lock was free. A blocking ``flock`` on a file beside the database wakes the next
writer as soon as the lock is released, and the kernel drops it if its process dies
(SIGKILL included), so a crash never leaves it held. Where ``fcntl`` does not exist
(Windows) the lock does nothing and SQLite's handler decides, as before.

Examples
--------
>>> import tempfile, pathlib
>>> lock = WriteLock(pathlib.Path(tempfile.mkdtemp()) / "store.db")
>>> with lock:
...     pass
>>> lock.close()
"""

from __future__ import annotations

import threading
from pathlib import Path
from types import ModuleType, TracebackType
from typing import IO

__all__ = ["WriteLock"]


class WriteLock:
    """An exclusive lock on ``<database>.lock``, held around a write transaction
    (``database`` None: an in-memory or server database, nothing to lock across processes)."""

    def __init__(self, database: Path | None) -> None:
        self.path = None if database is None else Path(f"{database}.lock")
        self._file: IO[bytes] | None = None
        self._threads = threading.Lock()  # flock is per open file: threads of one process queue here

    def __enter__(self) -> WriteLock:
        self._threads.acquire()
        try:
            fcntl = _fcntl() if self.path is not None else None
            if fcntl is not None and self.path is not None:
                if self._file is None:
                    self._file = open(self.path, "ab")  # kept open: the lock lives on it
                fcntl.flock(self._file, fcntl.LOCK_EX)
        except BaseException:
            self._threads.release()
            raise
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        try:
            fcntl = _fcntl()
            if fcntl is not None and self._file is not None:
                fcntl.flock(self._file, fcntl.LOCK_UN)
        finally:
            self._threads.release()

    def close(self) -> None:
        """Close the lock file (releasing the lock if held)."""
        if self._file is not None:
            self._file.close()
            self._file = None


def _fcntl() -> ModuleType | None:
    try:
        import fcntl
    except ImportError:  # Windows: no flock
        return None
    return fcntl
