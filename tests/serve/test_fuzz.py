"""Property-based fuzzing against the app's own OpenAPI spec: schema-shaped bodies,
arbitrary JSON and raw bytes on every endpoint never get a 5xx."""

from __future__ import annotations

import json
from typing import Any

from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

FUZZ = settings(max_examples=80, deadline=None, derandomize=True,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                       HealthCheck.filter_too_much, HealthCheck.data_too_large])

JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=20,
)


_TYPED = {"number": st.floats(allow_nan=False, allow_infinity=False) | st.integers(-10**6, 10**6),
          "string": st.text(max_size=30), "boolean": st.booleans(), "integer": st.integers()}


def _value(prop: dict[str, Any]) -> st.SearchStrategy[Any]:
    """Mostly the declared type (so requests get past the first check), sometimes anything."""
    kinds = [p.get("type") for p in prop.get("anyOf", [prop])]
    typed = st.one_of(*[_TYPED[k] for k in kinds if k in _TYPED]) if any(k in _TYPED for k in kinds) else JSON_VALUES
    return st.one_of(typed, typed, typed, JSON_VALUES)


def _objects(schema: dict[str, Any]) -> st.SearchStrategy[dict[str, Any]]:
    """Objects shaped by an OpenAPI component: each property present or not, plus maybe a stray key."""
    fields = {name: _value(prop) for name, prop in schema["properties"].items()}
    required = set(schema.get("required", []))
    return st.fixed_dictionaries(
        {k: v for k, v in fields.items() if k in required},
        optional={**{k: v for k, v in fields.items() if k not in required}, "stray": JSON_VALUES},
    ).flatmap(lambda row: st.sampled_from([row, dict(list(row.items())[1:])]))


def test_schema_shaped_bodies_never_5xx(client: TestClient) -> None:
    components = client.get("/openapi.json").json()["components"]["schemas"]
    rows = st.lists(_objects({**components["Row"], "required": list(components["Row"]["properties"])}),
                    min_size=0, max_size=5)
    feedback = st.lists(_objects(components["FeedbackItem"]), min_size=0, max_size=5)

    @FUZZ
    @given(rows=rows, feedback=feedback)
    def run(rows: list[dict[str, Any]], feedback: list[dict[str, Any]]) -> None:
        for path, value in (("/predict", {"rows": rows}), ("/feedback", {"feedback": feedback})):
            response = client.post(path, content=json.dumps(value), headers={"content-type": "application/json"})
            assert response.status_code < 500, (path, value, response.text)

    run()


def test_arbitrary_json_and_bytes_never_5xx(client: TestClient) -> None:
    @FUZZ
    @given(value=JSON_VALUES, raw=st.binary(max_size=200), wrap=st.booleans())
    def run(value: Any, raw: bytes, wrap: bool) -> None:
        text = json.dumps({"rows": [value]} if wrap else value)
        for path in ("/predict", "/feedback"):
            for content in (text.encode(), raw):
                response = client.post(path, content=content, headers={"content-type": "application/json"})
                assert response.status_code < 500, (path, content, response.text)

    run()


def test_path_parameters_never_5xx(client: TestClient) -> None:
    @FUZZ
    @given(text=st.text(max_size=80))
    def run(text: str) -> None:
        from urllib.parse import quote

        for path in (f"/predictions/{quote(text, safe='')}", f"/models/{quote(text, safe='')}"):
            response = client.get(path)
            assert response.status_code < 500, (path, response.text)

    run()
