"""Fixtures of the learn tests: a small real project, built once per module."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from leanloop.project import Project
from tests.conftest import small_built_project
from tests.serve.test_shadow import built  # noqa: F401 - the shared v1 (champion) / v2 (weaker) project


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory, car_loan_data) -> Iterator[Project]:
    """A project built on the first 2,000 reference rows with a 10-iteration model."""
    project = small_built_project(tmp_path_factory.mktemp("learn"), car_loan_data)
    yield project
    project.close()
