"""The store contract suite runs against every backend: SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from leanloop.store import SQLStore


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """An empty store's URL: a SQLite file in a temp folder, or a fresh PostgreSQL database."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'store.db'}"
    return str(request.getfixturevalue("postgresql_url"))


@pytest.fixture
def store(store_url: str) -> Iterator[SQLStore]:
    """An open store on each backend."""
    store = SQLStore(store_url)
    yield store
    store.close()
