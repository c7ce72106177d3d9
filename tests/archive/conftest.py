"""The archive's contract runs on every store backend (the store suite's fixtures)."""

from __future__ import annotations

from tests.store.conftest import store, store_url

__all__ = ["store", "store_url"]
