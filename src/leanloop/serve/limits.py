"""Limits at the door: body size, content type, strict JSON.

:class:`BodyLimit` is a pure ASGI middleware (no body buffering of its own): a
``Content-Length`` over the limit gets 413 before any byte is read, and a body that
turns out longer than announced, or a chunked one without a length, gets 413 as soon
as the bytes received pass the limit, so the server never holds more than the limit
of one request. A POST whose content type is not JSON (pickle types included) gets
415 and is never parsed. Starlette has no body limit of its own, hence hand-written.

With ``read_timeout_s``, the whole body must arrive within that many seconds of the
headers: a body shorter than its ``Content-Length``, or one sent a byte at a time, is
answered 400 (``body_timeout``) and the connection closed, so a slow client never holds
a worker's connection for long. The headers' own timeout is the HTTP protocol's
(:mod:`~leanloop.serve.protocol`): uvicorn has neither.

Examples
--------
>>> is_json_type(b"application/json; charset=utf-8"), is_json_type(b"application/x-python-pickle")
(True, False)
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable, Coroutine, MutableMapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from starlette.exceptions import HTTPException

__all__ = ["BodyLimit", "is_json_type", "strict_json_route"]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]
Reject = Callable[[str], None]

_BODY_METHODS = {"POST", "PUT", "PATCH"}


def is_json_type(content_type: bytes) -> bool:
    """Whether a ``Content-Type`` header value is JSON in UTF-8."""
    kind, _, params = content_type.decode("latin-1").partition(";")
    if kind.strip().lower() != "application/json":
        return False
    charset = params.strip().lower()
    return not charset or charset.replace(" ", "") in ("charset=utf-8", "charset=utf8")


def _too_large_error() -> type[HTTPException]:
    from starlette.exceptions import HTTPException

    class _TooLarge(HTTPException):
        pass

    return _TooLarge


def _body_timeout_error() -> type[HTTPException]:
    from starlette.exceptions import HTTPException

    class _BodyTimeout(HTTPException):
        reason = "body_timeout"

    return _BodyTimeout


class BodyLimit:
    """ASGI middleware: 413 for bodies over ``max_bytes``, 415 for non-JSON bodies.

    ``on_reject(reason)`` is called once per request refused here (for the metrics); a
    body found too long while the app reads it becomes an ``HTTPException(413)`` the
    app's own handler answers and counts.
    """

    def __init__(self, app: ASGIApp, *, max_bytes: int, on_reject: Reject | None = None,
                 read_timeout_s: float | None = None) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.on_reject = on_reject
        self.read_timeout_s = read_timeout_s
        # An HTTPException subclass, so FastAPI's body reader lets it through instead of
        # turning it into its generic 400 "error parsing the body".
        self._too_large = _too_large_error()
        self._timed_out = _body_timeout_error()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in _BODY_METHODS:
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        length = headers.get(b"content-length")
        if length is not None and (not length.isdigit() or int(length) > self.max_bytes):
            await self._refuse(send, 413, "body_too_large", self._size_message())
            return
        content_type = headers.get(b"content-type")
        if (length != b"0" or b"transfer-encoding" in headers) and not (content_type and is_json_type(content_type)):
            shown = content_type.decode("latin-1")[:100] if content_type else "none"
            await self._refuse(send, 415, "unsupported_media_type",
                               f"content type {shown!r} is not accepted; send JSON with "
                               "'Content-Type: application/json' (other formats, pickle included, are never read)")
            return
        received = 0
        started = False
        too_large, timed_out = self._too_large, self._timed_out
        limit = self.max_bytes
        timeout = self.read_timeout_s
        deadline = None if timeout is None else asyncio.get_running_loop().time() + timeout
        complete = False

        async def limited() -> Message:
            nonlocal received, complete
            if deadline is None or complete:
                message = await receive()
            else:
                try:
                    message = await asyncio.wait_for(receive(), max(0.0, deadline - asyncio.get_running_loop().time()))
                except TimeoutError:
                    raise timed_out(400, self._timeout_message(received), headers={"connection": "close"}) from None
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                complete = not message.get("more_body", False)
                if received > limit:
                    raise too_large(413, self._size_message())
            return message

        async def tracked(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, limited, tracked)
        except (too_large, timed_out) as exc:
            if started:
                raise
            if isinstance(exc, timed_out):
                await self._refuse(send, 400, "body_timeout", str(getattr(exc, "detail", exc)))
            else:
                await self._refuse(send, 413, "body_too_large", self._size_message())

    def _timeout_message(self, received: int) -> str:
        return (f"the body did not arrive within {self.read_timeout_s:g} s of the headers ([serve] read_timeout_s; "
                f"{received} bytes came); send the whole body at once, as long as its Content-Length says")

    def _size_message(self) -> str:
        return (f"the body is larger than the limit of {self.max_bytes} bytes ([serve] max_body_bytes); "
                "split the rows into several requests")

    async def _refuse(self, send: Send, status: int, reason: str, message: str) -> None:
        if self.on_reject is not None:
            self.on_reject(reason)
        body = json.dumps({"error": reason, "detail": [message]}).encode()
        await send({"type": "http.response.start", "status": status,
                    "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                                (b"connection", b"close")]})
        await send({"type": "http.response.body", "body": body})


def strict_json_route() -> type[Any]:
    """A FastAPI route class whose requests parse JSON with :func:`~leanloop.serve.requests.parse_json`."""
    from fastapi.routing import APIRoute
    from starlette.requests import Request
    from starlette.responses import Response

    from leanloop.serve.requests import BodyError, parse_json

    class StrictJSONRequest(Request):
        async def json(self) -> Any:
            if not hasattr(self, "_json"):
                try:
                    self._json = parse_json(await self.body())
                except BodyError as exc:
                    self.state.rejection = exc.problem.value
                    raise
            return self._json

    class StrictJSONRoute(APIRoute):
        def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
            handler = super().get_route_handler()

            async def strict(request: Request) -> Response:
                return await handler(StrictJSONRequest(request.scope, request.receive))

            return strict

    return StrictJSONRoute

