"""The project's bearer token: made by ``leanloop init``, required by write endpoints.

There is no default token. ``leanloop init`` writes a random one to
``.leanloop/token`` (mode 0600); ``LEANLOOP_TOKEN`` overrides it. Without either, the
write and admin endpoints are off (403 saying how to turn them on), never open.
Tokens are compared in constant time.

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
import os
import secrets
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from leanloop.errors import LeanloopError, ProjectError

__all__ = ["TOKEN_FILE", "TOKEN_ENV", "AuthError", "generate_token", "resolve_token", "token_matches",
           "require_token", "bearer"]

TOKEN_FILE = "token"
TOKEN_ENV = "LEANLOOP_TOKEN"


class AuthError(LeanloopError):
    """A request lacks the bearer token, carries a wrong one, or the server has none."""

    http_status = 401

    def __init__(self, message: str, *, status: int = 401, reason: str = "unauthorized") -> None:
        super().__init__(message)
        self.http_status = status
        self.reason = reason


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


def require_token(token: str | None) -> Callable[..., Any]:
    """A FastAPI dependency guarding a write or admin endpoint with ``token``.

    ``None`` turns the endpoint off (403); a missing or wrong token gets 401.
    """
    from fastapi import Request
    from fastapi.security import HTTPBearer

    scheme = HTTPBearer(auto_error=False, description="The project's token: 'leanloop token' prints it.")

    async def check(request: Request, _credentials: Any = _depends(scheme)) -> None:
        if token is None:
            raise AuthError(
                "write endpoints are off: this server has no token. Run 'leanloop token --new' in the "
                f"project (or set {TOKEN_ENV}) and restart the server", status=403, reason="no_token_configured")
        header = request.headers.get("authorization")
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
