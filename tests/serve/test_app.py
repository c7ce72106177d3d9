"""The HTTP app in-process: validation that names row and field, nothing logged for a
rejected request, group commit, and the OpenAPI schema showing the real features."""

from __future__ import annotations

import asyncio
import math
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

from leanloop.project import Project
from leanloop.serve import create_app

from .conftest import ROW


def rejected(client: TestClient, project: Project, body: object, status: int = 422, **kwargs: object) -> list[str]:
    before = project.store.count_predictions()
    response = (client.post("/predict", json=body, **kwargs) if "content" not in kwargs
                else client.post("/predict", **kwargs))
    assert response.status_code == status, response.text
    assert project.store.count_predictions() == before
    return response.json()["detail"]


def test_predict_answers_and_logs_each_row(client: TestClient, project: Project) -> None:
    before = project.store.count_predictions()
    body = client.post("/predict", json={"rows": [ROW, {**ROW, "car_value": 90000.5}]}).json()
    assert body["model_version"] == "v1" and len(body["predictions"]) == 2
    first = body["predictions"][0]
    assert first["prediction"] in (0, 1) and math.isclose(sum(first["probabilities"].values()), 1.0)
    assert project.store.count_predictions() == before + 2
    logged = project.store.window(last=2)
    assert logged["prediction_id"].tolist() == [p["prediction_id"] for p in body["predictions"]]
    assert logged["features"].iloc[0] == {**ROW, "car_value": 30000.0, "loan_length": 12.0}


@pytest.mark.parametrize(("row", "message"), [
    ({**ROW, "car_value": "thirty"}, "row 1, field 'car_value': Input should be a valid number"),
    ({**ROW, "car_value": "30000"}, "row 1, field 'car_value': Input should be a valid number"),
    ({k: v for k, v in ROW.items() if k != "salary_range"}, "row 1, field 'salary_range': Field required"),
    ({**ROW, "colour": "red"}, "row 1, field 'colour': Extra inputs are not permitted"),
    ({**ROW, "repaid_loan_on_prev_car": "yes"},
     "row 1, field 'repaid_loan_on_prev_car': Input should be a valid boolean"),
    ({**ROW, "car_value": None}, "row 1, field 'car_value': Input should be a valid number"),
])
def test_bad_row_rejects_the_whole_request_naming_row_and_field(client: TestClient, project: Project,
                                                                row: dict, message: str) -> None:
    assert message in rejected(client, project, {"rows": [ROW, row]})


def test_non_finite_numbers_and_malformed_bodies(client: TestClient, project: Project) -> None:
    detail = rejected(client, project, None, content=b'{"rows": [{"car_value": 1e400}]}',
                      headers={"content-type": "application/json"})
    assert any("car_value" in d and "finite" in d for d in detail)
    assert rejected(client, project, None, content=b'{"rows": [', headers={"content-type": "application/json"})
    assert "rows" in " ".join(rejected(client, project, {"rows": []}))
    assert rejected(client, project, [ROW])
    unseen = client.post("/predict", json={"rows": [{**ROW, "salary_range": "never seen"}]})
    assert unseen.status_code == 200  # unseen categories are accepted (the encoder ignores them)


def test_too_many_rows_is_refused(project: Project) -> None:
    limited = project.config.model_copy(
        update={"serve": project.config.serve.model_copy(update={"max_rows_per_request": 3})})
    project.config = limited
    try:
        with TestClient(create_app(project)) as small:
            detail = rejected(small, project, {"rows": [ROW] * 4})
            assert any("at most 3" in d for d in detail)
    finally:
        project.config = limited.model_copy(
            update={"serve": limited.serve.model_copy(update={"max_rows_per_request": 10_000})})


def test_feedback_validation_and_counts(client: TestClient, project: Project) -> None:
    pid = client.post("/predict", json={"rows": [ROW]}).json()["predictions"][0]["prediction_id"]
    wrong = client.post("/feedback", json={"feedback": [{"prediction_id": pid, "label": 1},
                                                        {"prediction_id": "later", "label": 7}]})
    assert wrong.status_code == 422 and "row 1: label 7 is not one of the classes [0, 1]" in wrong.json()["detail"][0]
    assert project.store.get_prediction(pid)["label"] is None  # all or nothing
    assert project.store.label_history("later") == []
    typed = client.post("/feedback", json={"feedback": [{"prediction_id": pid, "label": [1]}]})
    assert typed.status_code == 422 and typed.json()["detail"][0].startswith(
        "row 0, field 'label': a label must be a number, a string (at most 1000 characters) or a boolean, got list")

    def send(*items: tuple[str, object]) -> dict[str, int]:
        response = client.post("/feedback", json={"feedback": [{"prediction_id": i, "label": v} for i, v in items]})
        assert response.status_code == 200, response.text
        return response.json()

    assert send((pid, 1), ("later", 0)) == {"received": 2, "recorded": 2, "duplicates": 0, "updated": 0, "parked": 1,
                                         "reused": 0}
    assert send((pid, 1)) == {"received": 1, "recorded": 0, "duplicates": 1, "updated": 0, "parked": 0, "reused": 0}
    assert send((pid, 0)) == {"received": 1, "recorded": 1, "duplicates": 0, "updated": 1, "parked": 0, "reused": 0}
    assert project.store.get_prediction(pid)["label"] == 0  # the latest label wins
    assert [(h["label"], h["source"]) for h in project.store.label_history(pid)] == [(1, "api"), (0, "api")]


def test_openapi_shows_the_real_features(client: TestClient) -> None:
    schema = client.get("/openapi.json").json()
    row = schema["components"]["schemas"]["Row"]
    assert set(row["properties"]) == {*ROW, "id", "timestamp"}  # the project's id and time columns, never features
    assert row["properties"]["car_value"]["type"] == "number"


def test_concurrent_requests_are_all_logged(project: Project) -> None:
    app = create_app(project)

    async def burst() -> list[httpx.Response]:
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
                return await asyncio.gather(*[client.post("/predict", json={"rows": [ROW]}) for _ in range(64)])

    before = project.store.count_predictions()
    responses = asyncio.run(burst())
    assert all(r.status_code == 200 for r in responses)
    ids = {r.json()["predictions"][0]["prediction_id"] for r in responses}
    assert project.store.count_predictions() == before + 64
    assert ids <= set(project.store.window(last=64)["prediction_id"])


def test_group_commit_shares_one_transaction_among_waiting_requests(tmp_path: Path) -> None:
    from leanloop.serve.logger import PredictionLogger
    from leanloop.store import SQLStore

    store = SQLStore(f"sqlite:///{tmp_path / 's.db'}")
    logger = PredictionLogger(store, max_rows=1000, max_wait_ms=20)

    def record(i: int) -> dict:
        return {"prediction_id": f"p{i}", "created_at": float(i), "model_version": "v1",
                "features": {"x": i}, "prediction": 1, "probabilities": None}

    async def burst() -> None:
        await asyncio.gather(*[logger.log([record(i)]) for i in range(100)])

    logger.start()
    try:
        asyncio.run(burst())
    finally:
        logger.stop()
    assert store.count_predictions() == 100 and logger.rows == 100
    assert logger.commits <= 5  # 100 waiting requests, a handful of transactions
    store.close()
