"""Ids and event times travel with the rows: /predict stores and answers them (never
scoring them), refuses bad ones naming row and field, and /feedback joins by them."""

from __future__ import annotations

import itertools
from typing import Any

from fastapi.testclient import TestClient

from leanloop.config import IdType
from leanloop.project import Project
from tests.serve.conftest import ROW

_ids = itertools.count(9_000_000)


def fresh_id() -> int:
    """An id no other test of the package-wide server used."""
    return next(_ids)


def predict(client: TestClient, *rows: dict[str, Any]) -> Any:
    return client.post("/predict", json={"rows": [{**ROW, **row} for row in rows]})


def test_the_project_infers_an_integer_id(project: Project) -> None:
    assert project.config.data.id_type is IdType.INTEGER


def test_id_and_event_time_are_stored_and_answered_but_never_scored(client: TestClient, project: Project) -> None:
    loan = fresh_id()
    response = predict(client, {"id": loan, "timestamp": "2024-05-01T12:00:00+02:00"}, {})
    assert response.status_code == 200, response.text
    first, plain = response.json()["predictions"]
    assert first["id"] == loan and first["timestamp"] == "2024-05-01T10:00:00+00:00"
    assert set(plain) == {"prediction_id", "prediction", "probabilities"}  # a plain row keeps its shape
    logged = project.store.get_prediction(first["prediction_id"])
    assert (logged["row_id"], logged["event_at"], logged["source"]) == (str(loan), 1714557600.0, "online")
    assert set(logged["features"]) == set(ROW)
    epoch = predict(client, {"timestamp": 1714557600})
    assert epoch.json()["predictions"][0]["timestamp"] == "2024-05-01T10:00:00+00:00"


def test_bad_ids_and_times_are_refused_naming_row_and_field(client: TestClient, project: Project) -> None:
    before = project.store.count_predictions()
    mixed = predict(client, {"timestamp": "2024-05-01T12:00:00Z"}, {"timestamp": "2024-05-01T13:00:00"})
    assert mixed.status_code == 422
    assert "row 1, field 'timestamp'" in mixed.text and "no time zone" in mixed.text
    garbled = predict(client, {}, {}, {"timestamp": "yesterday"})
    assert garbled.status_code == 422 and "row 2, field 'timestamp'" in garbled.text
    for wrong in ("L-7", 1.5, True):
        refused = predict(client, {"id": wrong})
        assert refused.status_code == 422, wrong
        assert '"id"' in refused.text or "'id'" in refused.text
    assert project.store.count_predictions() == before  # nothing was logged


def feedback(client: TestClient, *items: dict[str, Any]) -> Any:
    return client.post("/feedback", json={"feedback": list(items)})


def test_feedback_by_id_joins_the_newest_prediction_and_counts_a_reused_id(client: TestClient,
                                                                           project: Project) -> None:
    loan = fresh_id()
    older = predict(client, {"id": loan}).json()["predictions"][0]["prediction_id"]
    newer = predict(client, {"id": loan}).json()["predictions"][0]["prediction_id"]
    answer = feedback(client, {"id": loan, "label": 1})
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"received": 1, "recorded": 1, "duplicates": 0, "updated": 0, "parked": 0,
                             "reused": 1}
    assert project.store.get_prediction(newer)["label"] == 1
    assert project.store.get_prediction(older)["label"] is None


def test_a_label_for_an_id_not_predicted_yet_waits_for_its_prediction(client: TestClient, project: Project) -> None:
    loan = fresh_id()
    assert feedback(client, {"id": loan, "label": 0}).json()["parked"] == 1
    pid = predict(client, {"id": loan}).json()["predictions"][0]["prediction_id"]
    assert project.store.get_prediction(pid)["label"] == 0


def test_feedback_items_name_exactly_one_key_of_the_right_type(client: TestClient) -> None:
    both = feedback(client, {"id": fresh_id(), "prediction_id": "abc", "label": 1})
    assert both.status_code == 422 and "exactly one" in both.text
    neither = feedback(client, {"label": 1})
    assert neither.status_code == 422
    wrong = feedback(client, {"id": "L-1", "label": 1})
    assert wrong.status_code == 422 and "id" in wrong.text


def test_feedback_file_joins_by_the_project_id_column(client: TestClient, project: Project, tmp_path: Any) -> None:
    loans = [fresh_id(), fresh_id()]
    pids = [o["prediction_id"] for o in predict(client, *({"id": n} for n in loans)).json()["predictions"]]
    labels = tmp_path / "labels.csv"
    labels.write_text(f"id,label\n{loans[0]},1\n{loans[1]},0\n", encoding="utf-8")
    counts = project.feedback_file(labels, id_column=None, label_column="label")
    assert (counts.recorded, counts.parked) == (2, 0)
    assert [project.store.get_prediction(p)["label"] for p in pids] == [1, 0]
