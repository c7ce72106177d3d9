"""A small built car-loan project shared by the server tests (a quick model: the tests
exercise the server, not the model's quality)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from leanloop.config import render_config
from leanloop.project import Project
from leanloop.serve import create_app
from leanloop.serve.security import resolve_token

ROW = {"car_value": 30000, "salary_range": "20K - 40K €", "debt_to_income_ratio": 0.5, "loan_length": 12,
       "repaid_loan_on_prev_car": True, "size_of_downpayment": "20%", "driver_tenure": 3.2}


def small_project(folder, car_loan_data, **serve: object) -> Project:
    """Init and build a project on 1,500 car-loan rows with a 10-iteration model."""
    data = folder / "loans.csv"
    car_loan_data.reference.head(1500).to_csv(data, index=False)
    project = Project.init(data, target="repaid", time_column="timestamp", id_column="id", root=folder / "p")
    config = project.config.model_copy(update={
        "model": project.config.model.model_copy(update={"max_iter": 10}),
        "serve": type(project.config.serve).model_validate(project.config.serve.model_dump() | serve),
    })
    project.paths.config.write_text(render_config(config), encoding="utf-8")
    project = Project(project.paths.root)
    project.build()
    return project


@pytest.fixture(scope="package")
def project(tmp_path_factory: pytest.TempPathFactory, car_loan_data) -> Iterator[Project]:
    project = small_project(tmp_path_factory.mktemp("serve"), car_loan_data)
    yield project
    project.close()


@pytest.fixture(scope="package")
def token(project: Project) -> str:
    value = resolve_token(project.paths.workspace, environ={})
    assert value
    return value


@pytest.fixture(scope="package")
def client(project: Project, token: str) -> Iterator[TestClient]:
    with TestClient(create_app(project), raise_server_exceptions=False) as client:
        client.headers["Authorization"] = f"Bearer {token}"
        yield client
