"""The base every config section extends: frozen, and refusing unknown keys."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

__all__ = ["Section"]


class Section(BaseModel):
    """A ``leanloop.toml`` section: frozen, unknown keys refused (a typo is an error)."""

    model_config = ConfigDict(frozen=True, extra="forbid")
