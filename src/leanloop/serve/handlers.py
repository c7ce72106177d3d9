"""The HTTP error handlers, installed by one function.

Every refusal is a 4xx whose body is ``{"error": reason, "detail": [lines]}``, counted
by reason in ``/metrics``; a :class:`~leanloop.errors.LeanloopError` answers with its
own status; an unexpected error is a 500 carrying an error id that the server log
repeats with the traceback (never sent to the client).
"""

from __future__ import annotations

import logging
import uuid
from typing import TYPE_CHECKING, Any

from leanloop.errors import InputError, LeanloopError, NotFoundError
from leanloop.serve.requests import safe_text

if TYPE_CHECKING:
    from collections.abc import Mapping

    from fastapi import FastAPI
    from fastapi.responses import JSONResponse
    from starlette.requests import Request

    from leanloop.serve.metrics import ServerMetrics

__all__ = ["install_error_handlers", "describe_validation_error", "refuse"]

_REASONS = {"json_invalid": "malformed_json", "missing": "missing_field", "extra_forbidden": "extra_field",
            "too_long": "too_many_rows", "too_short": "empty_input", "string_too_long": "text_too_long",
            "finite_number": "non_finite_number"}
_STATUS_REASONS = {404: "not_found", 405: "method_not_allowed", 413: "body_too_large", 415: "unsupported_media_type"}
server_log = logging.getLogger("leanloop.server")


def describe_validation_error(error: dict[str, Any]) -> str:
    """One line per pydantic error: which row, which field, what is wrong.

    >>> describe_validation_error({"loc": ("body", "rows", 3, "age"), "msg": "Input should be a valid number"})
    "row 3, field 'age': Input should be a valid number"
    >>> describe_validation_error({"type": "json_invalid", "loc": ("body", 0), "msg": "JSON decode error",
    ...                            "ctx": {"error": "duplicate key 'a' in one JSON object"}})
    "request body: duplicate key 'a' in one JSON object"
    """
    if error.get("type") == "json_invalid":
        return f"request body: {error.get('ctx', {}).get('error', 'not valid JSON')}"
    loc = [safe_text(p) if isinstance(p, str) else p for p in error.get("loc", ()) if p != "body"]
    parts = []
    if len(loc) >= 2 and loc[0] in ("rows", "feedback") and isinstance(loc[1], int):
        parts.append(f"row {loc[1]}")
        loc = loc[2:]
    if loc:
        parts.append(f"field {'.'.join(map(str, loc))!r}")
    where = ", ".join(parts) or "request body"
    return f"{where}: {error.get('msg', 'invalid')}"


def refuse(metrics: ServerMetrics, request: Request, status: int, reason: str, detail: list[str],
           headers: Mapping[str, str] | None = None) -> JSONResponse:
    """A refusal: counted by ``reason`` and remembered on the request for the access log."""
    from fastapi.responses import JSONResponse

    metrics.reject(reason)
    request.state.rejection = reason
    return JSONResponse(status_code=status, content={"error": reason, "detail": detail}, headers=headers)


def install_error_handlers(app: FastAPI, metrics: ServerMetrics) -> None:
    """Map validation errors, HTTP errors, the error tree and anything unexpected to answers."""
    from fastapi.exceptions import RequestValidationError
    from fastapi.responses import JSONResponse
    from starlette.exceptions import HTTPException

    async def invalid(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        errors = exc.errors()
        reason = getattr(request.state, "rejection", None) or _REASONS.get(errors[0].get("type", ""), "invalid_value")
        return refuse(metrics, request, 422, reason, [describe_validation_error(e) for e in errors[:50]])

    async def http(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, HTTPException)
        reason = getattr(exc, "reason", None) or _STATUS_REASONS.get(exc.status_code, f"http_{exc.status_code}")
        return refuse(metrics, request, exc.status_code, reason, [str(exc.detail)], headers=exc.headers)

    async def leanloop_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, LeanloopError)
        headers = None
        retry_after = getattr(exc, "retry_after", None)
        if retry_after is not None:
            headers = {"Retry-After": str(retry_after)}
        elif exc.http_status == 401:
            headers = {"WWW-Authenticate": "Bearer"}
        if exc.http_status >= 500 and retry_after is None:  # a fault, not a refusal to retry later
            server_log.error("%s: %s", type(exc).__name__, exc)
            return JSONResponse(status_code=exc.http_status, headers=headers,
                                content={"error": type(exc).__name__, "detail": [str(exc)]})
        reason = getattr(request.state, "rejection", None) or _reason_of(exc)
        return refuse(metrics, request, exc.http_status, reason, [str(exc)], headers=headers)

    async def unexpected(request: Request, exc: Exception) -> JSONResponse:
        error_id = uuid.uuid4().hex[:12]
        request.state.error_id = error_id
        server_log.error("unexpected error %s on %s %s", error_id, request.method, request.url.path, exc_info=exc)
        return JSONResponse(status_code=500, content={
            "error": "internal_error", "error_id": error_id,
            "detail": [f"the server failed unexpectedly; quote error id {error_id} (the server log has the details)"]})

    app.add_exception_handler(RequestValidationError, invalid)
    app.add_exception_handler(HTTPException, http)
    app.add_exception_handler(LeanloopError, leanloop_error)
    app.add_exception_handler(Exception, unexpected)


def _reason_of(exc: LeanloopError) -> str:
    reason = getattr(exc, "reason", None)
    if reason:
        return str(reason)
    if isinstance(exc, NotFoundError):
        return "not_found"
    if isinstance(exc, InputError):
        return "invalid_value"
    return type(exc).__name__.removesuffix("Error").lower() or "error"
