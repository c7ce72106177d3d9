"""uvicorn's HTTP protocol with a deadline on each request's headers.

A connection must deliver a request's complete headers within ``[serve]
read_timeout_s`` of being opened, or of the previous response; otherwise it is answered
408 and closed. uvicorn has no such timeout: a client sending one header byte at a time
held a connection for as long as it liked. (The body's deadline is
:class:`~leanloop.serve.limits.BodyLimit`'s.)

uvicorn names its protocol class by import path, and worker processes import it
afresh, so the timeout travels in the environment (``LEANLOOP_READ_TIMEOUT_S``), as
the project folder does (:mod:`~leanloop.serve.factory`). This module imports uvicorn:
only the server imports it.
"""

from __future__ import annotations

import asyncio
import os
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

__all__ = ["HeaderTimeoutProtocol", "READ_TIMEOUT_ENV", "uvicorn_http"]

READ_TIMEOUT_ENV = "LEANLOOP_READ_TIMEOUT_S"
_DEFAULT_SECONDS = 10.0


def uvicorn_http(read_timeout_s: float) -> str:
    """The ``http`` option for ``uvicorn.run``: this protocol, with ``read_timeout_s``
    (set in the environment, for this process and the workers it starts)."""
    os.environ[READ_TIMEOUT_ENV] = repr(float(read_timeout_s))
    return f"{__name__}:HeaderTimeoutProtocol"


class HeaderTimeoutProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol; 408 and close when headers are slower than the deadline."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.header_timeout_s = float(os.environ.get(READ_TIMEOUT_ENV) or _DEFAULT_SECONDS)
        self._header_timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: Any) -> None:
        super().connection_made(transport)
        self._arm_header_timer()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm_header_timer()
        super().connection_lost(exc)

    def on_headers_complete(self) -> None:
        self._disarm_header_timer()
        super().on_headers_complete()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if not self.transport.is_closing() and not self.pipeline:
            self._arm_header_timer()  # the next request's headers get the same deadline

    def _arm_header_timer(self) -> None:
        self._disarm_header_timer()
        self._header_timer = self.loop.call_later(self.header_timeout_s, self._headers_too_slow)

    def _disarm_header_timer(self) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None

    def _headers_too_slow(self) -> None:
        self._header_timer = None
        if self.transport.is_closing() or (self.cycle is not None and not self.cycle.response_complete):
            return
        body = (b'{"error":"header_timeout","detail":["the request headers did not arrive within '
                + f"{self.header_timeout_s:g}".encode() + b' s ([serve] read_timeout_s)"]}')
        self.transport.write(b"HTTP/1.1 408 Request Timeout\r\ncontent-type: application/json\r\n"
                             b"connection: close\r\ncontent-length: " + str(len(body)).encode() + b"\r\n\r\n"
                             + body)
        self.transport.close()
