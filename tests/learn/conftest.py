"""Fixtures of the learn tests: a small real project, built once per module."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from leanloop.config import render_config
from leanloop.project import Project
from tests.serve.test_shadow import built  # noqa: F401 - the shared v1 (champion) / v2 (weaker) project


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory, car_loan_data) -> Iterator[Project]:
    """A project built on the first 2,000 reference rows with a 10-iteration model."""
    root = tmp_path_factory.mktemp("learn")
    data = root / "loans.csv"
    car_loan_data.reference.head(2000).to_csv(data, index=False)
    created = Project.init(data, target="repaid", time_column="timestamp", id_column="id", root=root / "p")
    config = created.config.model_copy(update={"model": created.config.model.model_copy(update={"max_iter": 10})})
    created.paths.config.write_text(render_config(config), encoding="utf-8")
    created.close()
    project = Project(root / "p")
    project.build()
    yield project
    project.close()
