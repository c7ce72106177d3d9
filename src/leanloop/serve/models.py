"""The model holder: which version answers, swapped atomically without a restart.

The holder re-reads the ``champion`` alias at most every ``refresh_seconds``; when
it moved, the new version is loaded (hash checked) before the swap, so a request
is always answered by one complete version, which its log record names. While the
store cannot be read (PostgreSQL down), the loaded version keeps serving. A version
that fails to load (tampered file, untrusted types) is refused and logged; the
version already serving keeps serving, and the load is retried at the next refresh.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import TYPE_CHECKING, Any

from leanloop.errors import LeanloopError

if TYPE_CHECKING:
    from leanloop.registry import ModelVersion, Registry

__all__ = ["ModelHolder"]

log = logging.getLogger("leanloop.serve")


class ModelHolder:
    """The serving model and its version, refreshed from the registry."""

    def __init__(self, registry: Registry, *, refresh_seconds: float = 0.5) -> None:
        self.registry = registry
        self.refresh_seconds = refresh_seconds
        self._lock = threading.Lock()
        self._current: tuple[ModelVersion, Any] | None = None
        self._checked = 0.0
        #: The last refused version's error (None when the champion loaded).
        self.last_error: str | None = None
        self.load_failures = 0
        self._unreachable = False  # logged once per outage, not once per check

    def current(self) -> tuple[ModelVersion, Any]:
        """The champion's record and fitted model, loaded anew if the alias moved."""
        now = time.monotonic()
        if self._current is None or now - self._checked >= self.refresh_seconds:
            self._refresh(now)
        assert self._current is not None
        return self._current

    def serving(self) -> tuple[ModelVersion, Any]:
        """The loaded champion, without asking the registry (loaded the first time).

        For the request path: a frozen or unreachable store must never hold an answer,
        and the holder's lock may be held by a refresh waiting on that store. The
        champion watcher calls :meth:`current` off the request path to follow the alias.
        """
        current = self._current
        return current if current is not None else self.current()

    def reload(self) -> tuple[ModelVersion, Any]:
        """Re-read the ``champion`` alias now (not at the next refresh) and load it if it moved."""
        self._refresh(time.monotonic(), force=True)
        assert self._current is not None
        return self._current

    def _refresh(self, now: float, *, force: bool = False) -> None:
        with self._lock:
            if not force and self._current is not None and now - self._checked < self.refresh_seconds:
                return
            try:
                champion = self.registry.champion()
                if self._current is None or self._current[0].version != champion.version:
                    model, _ = self.registry.load(champion.version)
                    self._current = (champion, model)
                self.last_error = None
                if self._unreachable:
                    self._unreachable = False
                    log.warning("the champion can be checked again; serving %s", self._current[0].version)
            except LeanloopError as exc:
                if self._current is None:
                    raise
                self.load_failures += 1
                if str(exc) != self.last_error:
                    log.error("kept serving %s: the champion could not be loaded: %s", self._current[0].version, exc)
                self.last_error = str(exc)
            except Exception as exc:  # the store is down: keep serving the loaded version
                if self._current is None:
                    raise
                if not self._unreachable:
                    self._unreachable = True
                    log.warning("could not check the champion (%s); %s keeps serving until the store answers",
                                exc, self._current[0].version)
            self._checked = now

    @property
    def version(self) -> str | None:
        """The serving version, or None before the first load."""
        return None if self._current is None else self._current[0].version
