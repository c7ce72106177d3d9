"""Bad input: each case gets a clear 4xx naming the field (never a 500), nothing is
written, the server keeps answering, and the refusal is counted by reason."""

from __future__ import annotations

import json
import re

import pytest
from fastapi.testclient import TestClient

from leanloop.project import Project
from leanloop.serve import create_app

from .conftest import ROW, small_project

JSON = {"content-type": "application/json"}


def rejections(client: TestClient) -> dict[str, float]:
    text = client.get("/metrics").text
    return {m[0]: float(m[1]) for m in re.findall(r'leanloop_rejections_total\{reason="([^"]+)"\} (\S+)', text)}


def refused(client: TestClient, project: Project, content: bytes | str, status: int, reason: str,
            path: str = "/predict", headers: dict[str, str] | None = None) -> str:
    """Post raw ``content``; assert the status, the counted reason, nothing logged, server up."""
    before_rows = project.store.count_predictions()
    before = rejections(client).get(reason, 0.0)
    response = client.post(path, content=content, headers=headers or JSON)
    assert response.status_code == status, response.text
    body = response.json()
    assert body["error"] == reason and body["detail"]
    assert rejections(client).get(reason, 0.0) == before + 1
    assert project.store.count_predictions() == before_rows
    assert client.post("/predict", json={"rows": [ROW]}).status_code == 200  # still serving
    return " ".join(body["detail"])


def with_row(**changes: object) -> str:
    return json.dumps({"rows": [{**ROW, **changes}]}, ensure_ascii=False)


@pytest.mark.parametrize(("content", "reason", "named"), [
    ('{"rows": [', "malformed_json", "not valid JSON"),
    ("", "missing_field", "request body"),
    ('[{"car_value": 1}]', "invalid_value", "request body"),
    ('"rows"', "invalid_value", "request body"),
    ('{"rows": []}', "empty_input", "'rows'"),
    ('{"rows": {}}', "invalid_value", "'rows'"),
    ('{"rows": [' + json.dumps(ROW) + '], "rows": []}', "duplicate_key", "duplicate key 'rows'"),
    ('{"rows": [{"car_value": 1, "car_value": 2}]}', "duplicate_key", "duplicate key 'car_value'"),
    (with_row(car_value="30000"), "invalid_value", "row 0, field 'car_value'"),
    (with_row(car_value=None), "invalid_value", "row 0, field 'car_value'"),
    (with_row(repaid_loan_on_prev_car=1), "invalid_value", "row 0, field 'repaid_loan_on_prev_car'"),
    (with_row(salary_range=7), "invalid_value", "row 0, field 'salary_range'"),
    (with_row(salary_range="x" * 1001), "text_too_long", "row 0, field 'salary_range'"),
    (with_row(colour="red"), "extra_field", "row 0, field 'colour'"),
    (json.dumps({"rows": [{k: v for k, v in ROW.items() if k != "loan_length"}]}), "missing_field",
     "row 0, field 'loan_length'"),
    (with_row().replace("30000", "NaN"), "non_finite_number", "NaN"),
    (with_row().replace("30000", "Infinity"), "non_finite_number", "Infinity"),
    (with_row().replace("30000", "-Infinity"), "non_finite_number", "-Infinity"),
    (with_row().replace("30000", "1e400"), "non_finite_number", "row 0, field 'car_value'"),
    (with_row().replace("30000", "9" * 5000), "non_finite_number", "5000 digits"),
    (with_row(salary_range="a\u0000b"), "invalid_text", "field 'rows.0.salary_range'"),
    (with_row().replace('"20%"', '"\\ud800"'), "invalid_text", "field 'rows.0.size_of_downpayment'"),
    ('{"rows": [{"\\udfff": 1}]}', "invalid_text", "unpaired surrogate"),
    ("[" * 100_000 + "]" * 100_000, "too_deeply_nested", "too deeply"),
    ('{"rows": ' + "[" * 100_000 + "]" * 100_000 + "}", "too_deeply_nested", "too deeply"),
])
def test_bad_predict_bodies(client: TestClient, project: Project, content: str, reason: str, named: str) -> None:
    assert named in refused(client, project, content, 422, reason)


def test_invalid_utf8_and_lone_surrogate_bytes(client: TestClient, project: Project) -> None:
    raw = with_row().encode().replace(b"20%", b"\xed\xa0\x80")  # a surrogate encoded as UTF-8 bytes
    assert "not UTF-8" in refused(client, project, raw, 422, "not_utf8")
    assert "not UTF-8" in refused(client, project, b'{"rows": [\xff]}', 422, "not_utf8")


@pytest.mark.parametrize("content_type", ["application/python-pickle", "application/x-python-pickle",
                                          "application/octet-stream", "text/plain", "application/x-www-form-urlencoded",
                                          "application/json; charset=latin-1"])
def test_wrong_content_types_get_415_and_are_never_parsed(client: TestClient, project: Project,
                                                          content_type: str) -> None:
    import pickle

    detail = refused(client, project, pickle.dumps({"rows": [ROW]}), 415, "unsupported_media_type",
                     headers={"content-type": content_type})
    assert "application/json" in detail


def test_missing_content_type_is_refused(client: TestClient, project: Project) -> None:
    assert "none" in refused(client, project, json.dumps({"rows": [ROW]}), 415, "unsupported_media_type",
                             headers={"content-type": ""})


def test_feedback_of_the_wrong_type(client: TestClient, project: Project) -> None:
    pid = client.post("/predict", json={"rows": [ROW]}).json()["predictions"][0]["prediction_id"]
    for label, named in ([1, 2], "row 0, field 'label'"), ({"a": 1}, "row 0, field 'label'"), \
            (None, "row 0, field 'label'"), ("yes", "label 'yes' is not one of the classes"), \
            ("1", "label '1' is text, but the classes are numbers [0, 1]"):
        response = client.post("/feedback", json={"feedback": [{"prediction_id": pid, "label": label}]})
        assert response.status_code == 422 and named in " ".join(response.json()["detail"]), response.text
    bad_id = client.post("/feedback", json={"feedback": [{"prediction_id": "../x", "label": 1}]})
    assert bad_id.status_code == 422 and "prediction_id" in bad_id.json()["detail"][0]
    assert project.store.get_prediction(pid)["label"] is None


def test_a_model_version_that_does_not_exist(client: TestClient) -> None:
    missing = client.get("/models/v99")
    assert missing.status_code == 404 and "model version 'v99' does not exist" in missing.json()["detail"][0]
    assert client.get("/models/v1").json()["version"] == "v1"
    for trick in ("%2e%2e", "v1%00", "..%252f..%252fetc", "%2Fetc%2Fpasswd", "v1%5C..%5Cx"):
        response = client.get(f"/models/{trick}")
        assert response.status_code in (404, 422) and response.status_code < 500, trick
        assert "Traceback" not in response.text


def test_unknown_routes_and_methods_are_counted(client: TestClient) -> None:
    before = rejections(client)
    assert client.get("/nope").status_code == 404
    assert client.get("/predict").status_code == 405
    after = rejections(client)
    assert after["not_found"] == before.get("not_found", 0) + 1
    assert after["method_not_allowed"] == before.get("method_not_allowed", 0) + 1


def test_unseen_categories_and_out_of_range_are_accepted_and_counted(client: TestClient) -> None:
    response = client.post("/predict", json={"rows": [{**ROW, "salary_range": "never seen", "car_value": 1e9}]})
    assert response.status_code == 200
    text = client.get("/metrics").text
    assert 'leanloop_flagged_values_total{feature="salary_range",flag="unseen_category"}' in text
    assert 'leanloop_flagged_values_total{feature="car_value",flag="out_of_range"}' in text


def test_reject_policies_refuse_unforeseen_values(tmp_path_factory: pytest.TempPathFactory, car_loan_data) -> None:
    strict = small_project(tmp_path_factory.mktemp("strict"), car_loan_data,
                           unseen_categories="reject", out_of_range="reject")
    try:
        with TestClient(create_app(strict)) as client:
            detail = refused(client, strict, with_row(salary_range="never seen"), 422, "unseen_category")
            assert "row 0, field 'salary_range': category 'never seen' was never seen in training" in detail
            detail = refused(client, strict, with_row(car_value=1e9), 422, "out_of_range")
            assert "row 0, field 'car_value': 1000000000.0 is outside the training range" in detail
    finally:
        strict.close()


def test_no_stack_traces_in_a_500(project: Project) -> None:
    app = create_app(project)

    @app.get("/boom")
    async def boom() -> None:
        raise RuntimeError("secret internals")

    with TestClient(app, raise_server_exceptions=False) as client:
        response = client.get("/boom")
    assert response.status_code == 500
    body = response.json()
    assert body["error"] == "internal_error" and re.fullmatch(r"[0-9a-f]{12}", body["error_id"])
    assert "secret" not in response.text and "Traceback" not in response.text
