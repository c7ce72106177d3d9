"""``GET /status``: what one server process serves and whether it runs the loop.

With several servers on one store (several hosts behind a load balancer, or several
workers), each answers for itself: the version it serves now, the shadow version it
scores, whether it holds the loop lock (exactly one server does) and runs the loop, and
whether it hears alias moves as they happen (``listening``: PostgreSQL notifications)
or only by polling every ``model_refresh_seconds``.

Examples
--------
>>> ServerStatus(model_version="v2", shadow_version=None, pid=4242, loop_enabled=True, holds_loop_lock=False,
...              runs_loop=False, alias_updates="listening", model_refresh_seconds=0.5).to_json()["holds_loop_lock"]
False
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["ServerStatus"]


class ServerStatus(BaseModel):
    """One server process's state, as ``GET /status`` shows it."""

    model_config = ConfigDict(frozen=True, protected_namespaces=())  # model_version is a field name here

    model_version: str | None = Field(description="The version this process answers with (None before the first load).")
    shadow_version: str | None = Field(description="The version it scores in shadow mode, if any.")
    pid: int = Field(description="This server process (one of several workers, or of several servers).")
    loop_enabled: bool = Field(description="It takes part in the unattended loop (not with --no-loop or an empty "
                                           "[loop]): it holds the loop lock or tries it every [loop] poll_seconds.")
    holds_loop_lock: bool = Field(description="It holds the loop lock: this server runs the unattended loop.")
    runs_loop: bool = Field(description="Its loop process is running (only while it holds the loop lock).")
    alias_updates: Literal["listening", "polling"] = Field(
        description="listening: alias moves are announced to it (PostgreSQL NOTIFY) and polled as a fallback; "
                    "polling: read every model_refresh_seconds only (SQLite, or the listener is reconnecting).")
    model_refresh_seconds: float = Field(description="How often it polls the aliases.")

    def to_json(self) -> dict[str, Any]:
        """The JSON body (a stable shape: fields are added, never renamed)."""
        return self.model_dump(mode="json")
