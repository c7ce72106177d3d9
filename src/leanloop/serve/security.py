"""The project's bearer token: made by ``leanloop init``, required by write endpoints.

There is no default token. ``leanloop init`` writes a random one to
``.leanloop/token`` (mode 0600); ``LEANLOOP_TOKEN`` overrides it. Without either, the
write and admin endpoints are off (403 saying how to turn them on), never open.
Tokens are compared in constant time. Failed attempts (a missing or wrong token) are
limited per client address (:class:`FailureLimit`): past the limit the client gets 429
with ``Retry-After``, and the right token is still let through.

Examples
--------
>>> import tempfile, pathlib
>>> workspace = pathlib.Path(tempfile.mkdtemp())
>>> token = generate_token(workspace)
>>> len(token) >= 40, oct((workspace / TOKEN_FILE).stat().st_mode & 0o777)
(True, '0o600')
>>> resolve_token(workspace, environ={}) == token
True
>>> resolve_token(workspace, environ={"LEANLOOP_TOKEN": "from-env"})
'from-env'
>>> token_matches("Bearer " + token, token), token_matches("Bearer nope", token)
(True, False)
"""

from __future__ import annotations

import hmac
import math
import os
import secrets
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from leanloop.errors import LeanloopError, ProjectError

__all__ = ["TOKEN_FILE", "TOKEN_ENV", "AuthError", "generate_token", "resolve_token", "token_matches",
           "require_token", "bearer", "FailureLimit"]

TOKEN_FILE = "token"
TOKEN_ENV = "LEANLOOP_TOKEN"


class AuthError(LeanloopError):
    """A request lacks the bearer token, carries a wrong one, or the server has none."""

    http_status = 401

    def __init__(self, message: str, *, status: int = 401, reason: str = "unauthorized",
                 retry_after: int | None = None) -> None:
        super().__init__(message)
        self.http_status = status
        self.reason = reason
        self.retry_after = retry_after


def generate_token(workspace: Path, *, replace: bool = False) -> str:
    """Write a new random token to ``workspace/token`` readable by the owner only.

    Refuses to overwrite an existing token unless ``replace`` (a rotation).
    """
    path = Path(workspace) / TOKEN_FILE
    if path.exists() and not replace:
        raise ProjectError(f"{path} already holds a token; pass --new to replace it")
    token = secrets.token_urlsafe(32)
    tmp = path.with_name(f".{TOKEN_FILE}.{secrets.token_hex(4)}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w", encoding="ascii") as handle:
            handle.write(token + "\n")
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return token


def resolve_token(workspace: Path, environ: Mapping[str, str] | None = None) -> str | None:
    """The token in force: ``LEANLOOP_TOKEN`` if set, else the workspace's file, else None."""
    environ = os.environ if environ is None else environ
    if environ.get(TOKEN_ENV, "").strip():
        return environ[TOKEN_ENV].strip()
    path = Path(workspace) / TOKEN_FILE
    if path.is_file():
        return path.read_text(encoding="ascii").strip() or None
    return None


def bearer(project: Any) -> dict[str, str]:
    """The ``Authorization`` header a client of ``project``'s server sends (empty without a token)."""
    token = resolve_token(project.paths.workspace)
    return {"Authorization": f"Bearer {token}"} if token else {}


def token_matches(authorization: str | None, token: str) -> bool:
    """Whether an ``Authorization`` header carries ``token``, compared in constant time."""
    if not authorization:
        return False
    scheme, _, given = authorization.partition(" ")
    if scheme.lower() != "bearer":
        return False
    return hmac.compare_digest(given.strip().encode("utf-8", "surrogateescape"), token.encode("utf-8"))


class FailureLimit:
    """Failed authentications per client address: a token bucket of ``per_minute`` each.

    Each failure takes one token; the bucket refills at ``per_minute`` per minute. An
    empty bucket means 429 for that address; :meth:`retry_after` says when a token is
    back. At most ``max_clients`` addresses are tracked (the oldest forgotten first), so
    a flood of addresses cannot grow the memory without end.

    >>> limit = FailureLimit(per_minute=2)
    >>> [limit.fail("10.0.0.1", now=0.0) for _ in range(3)]
    [True, True, False]
    >>> limit.retry_after("10.0.0.1", now=0.0), limit.fail("10.0.0.2", now=0.0)
    (30, True)
    >>> limit.fail("10.0.0.1", now=30.0)
    True
    """

    def __init__(self, per_minute: int, max_clients: int = 10_000) -> None:
        self.per_minute = per_minute
        self.max_clients = max_clients
        self._buckets: dict[str, tuple[float, float]] = {}  # address -> (tokens, at)

    def _tokens(self, client: str, now: float) -> float:
        tokens, at = self._buckets.get(client, (float(self.per_minute), now))
        return min(float(self.per_minute), tokens + (now - at) * self.per_minute / 60.0)

    def blocked(self, client: str, now: float | None = None) -> bool:
        """Whether ``client`` has no failure left."""
        return self._tokens(client, time.monotonic() if now is None else now) < 1.0

    def fail(self, client: str, now: float | None = None) -> bool:
        """Count a failure for ``client``; False when none was left (answer 429)."""
        now = time.monotonic() if now is None else now
        tokens = self._tokens(client, now)
        allowed = tokens >= 1.0
        self._buckets.pop(client, None)  # re-inserted last: the dict's order is the eviction order
        self._buckets[client] = (tokens - 1.0 if allowed else tokens, now)
        if len(self._buckets) > self.max_clients:
            del self._buckets[next(iter(self._buckets))]
        return allowed

    def retry_after(self, client: str, now: float | None = None) -> int:
        """Whole seconds until ``client`` may fail again."""
        tokens = self._tokens(client, time.monotonic() if now is None else now)
        return max(1, math.ceil((1.0 - tokens) * 60.0 / self.per_minute))


def require_token(token: str | None, failures_per_minute: int | None = None) -> Callable[..., Any]:
    """A FastAPI dependency guarding a write or admin endpoint with ``token``.

    ``None`` turns the endpoint off (403); a missing or wrong token gets 401, and past
    ``failures_per_minute`` failures from one client address, 429 with ``Retry-After``
    (the right token always passes).
    """
    from fastapi import Request
    from fastapi.security import HTTPBearer

    scheme = HTTPBearer(auto_error=False, description="The project's token: 'leanloop token' prints it.")
    limit = FailureLimit(failures_per_minute) if failures_per_minute else None

    async def check(request: Request, _credentials: Any = _depends(scheme)) -> None:
        if token is None:
            raise AuthError(
                "write endpoints are off: this server has no token. Run 'leanloop token --new' in the "
                f"project (or set {TOKEN_ENV}) and restart the server", status=403, reason="no_token_configured")
        header = request.headers.get("authorization")
        if limit is not None and not (header and token_matches(header, token)):
            client = request.client.host if request.client else "unknown"
            if not limit.fail(client):
                raise AuthError(f"too many failed authentications from {client} ([serve] auth_failures_per_minute "
                                f"= {limit.per_minute}); retry later with the right token", status=429,
                                reason="too_many_auth_failures", retry_after=limit.retry_after(client))
        if not header:
            raise AuthError("this endpoint needs 'Authorization: Bearer <token>'; 'leanloop token' prints it",
                            reason="missing_token")
        if not token_matches(header, token):
            raise AuthError("the bearer token is wrong; 'leanloop token' prints the project's token",
                            reason="wrong_token")

    check.__annotations__["request"] = Request  # postponed annotations cannot see the local import
    return check


def _depends(dependency: Any) -> Any:
    from fastapi import Depends

    return Depends(dependency)
