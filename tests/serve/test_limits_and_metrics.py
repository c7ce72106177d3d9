"""Body limits (413 before the body is read whole, lying or absent Content-Length),
Prometheus metrics, the JSON access log, micro-batching and overload."""

from __future__ import annotations

import asyncio
import json
import logging
import socket
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from leanloop.project import Project
from leanloop.serve import create_app
from leanloop.serve.limits import BodyLimit
from leanloop.serve.metrics import ACCESS_LOG, JsonLogFormatter

from .conftest import ROW


def test_content_length_over_the_limit_is_refused_unread(project: Project) -> None:
    original = project.config
    project.config = original.model_copy(update={"serve": original.serve.model_copy(update={"max_body_bytes": 2048})})
    try:
        with TestClient(create_app(project)) as client:
            before = project.store.count_predictions()
            response = client.post("/predict", json={"rows": [ROW] * 20})
            assert response.status_code == 413 and "max_body_bytes" in response.json()["detail"][0]
            assert client.post("/predict", json={"rows": [ROW]}).status_code == 200
            assert project.store.count_predictions() == before + 1
            assert 'leanloop_rejections_total{reason="body_too_large"} 1.0' in client.get("/metrics").text
    finally:
        project.config = original


def _asgi_post(_app: Any, chunks: list[bytes], length: int | None) -> tuple[int, int]:
    """Drive an ASGI app by hand: a body sent in ``chunks`` under a chosen (possibly lying)
    Content-Length. Returns the status and how many chunks the app pulled."""
    pulled = 0
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        nonlocal pulled
        if pulled < len(chunks):
            pulled += 1
            return {"type": "http.request", "body": chunks[pulled - 1], "more_body": pulled < len(chunks)}
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    async def endpoint(scope: Any, receive: Any, send: Any) -> None:  # reads the whole body, like FastAPI
        while (await receive()).get("more_body"):
            pass
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"read"})

    headers = [(b"content-type", b"application/json")]
    if length is not None:
        headers.append((b"content-length", str(length).encode()))
    scope = {"type": "http", "method": "POST", "path": "/predict", "headers": headers}
    asyncio.run(BodyLimit(endpoint, max_bytes=1000)(scope, receive, send))
    return sent[0]["status"], pulled


@pytest.mark.parametrize("length", [10, None])
def test_lying_or_absent_content_length_is_cut_off_at_the_limit(length: int | None) -> None:
    chunks = [b"x" * 400] * 50  # 20 kB announced as 10 bytes (or not at all)
    status, pulled = _asgi_post(None, chunks, length)
    assert status == 413
    assert pulled == 3  # stopped as soon as the bytes passed 1,000, not after 20 kB


def test_an_honest_body_under_the_limit_passes() -> None:
    assert _asgi_post(None, [b"x" * 400, b"x" * 400], 800) == (200, 2)


def test_chunked_body_over_the_limit_on_a_real_server(project: Project) -> None:
    """A real uvicorn, a chunked body with no Content-Length: 413, and the server stays up."""
    import threading

    import uvicorn

    original = project.config
    project.config = original.model_copy(update={"serve": original.serve.model_copy(update={"max_body_bytes": 4096})})
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(create_app(project), log_level="warning"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{port}"
        for _ in range(200):
            try:
                if httpx.get(f"{url}/health").status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            asyncio.run(asyncio.sleep(0.05))

        def body() -> Any:
            for _ in range(1000):
                yield b" " * 1024  # 1 MB of whitespace, streamed

        response = httpx.post(f"{url}/predict", content=body(), headers={"content-type": "application/json"})
        assert response.status_code == 413
        assert httpx.post(f"{url}/predict", json={"rows": [ROW]}).status_code == 200
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()
        project.config = original


def test_metrics_in_prometheus_format(client: TestClient) -> None:
    from prometheus_client.parser import text_string_to_metric_families

    client.post("/predict", json={"rows": [ROW, ROW]})
    client.post("/predict", json={"rows": []})
    response = client.get("/metrics")
    assert response.headers["content-type"].startswith("text/plain")
    families = {f.name: f for f in text_string_to_metric_families(response.text)}
    samples = {(s.name, tuple(sorted(s.labels.items()))): s.value for f in families.values() for s in f.samples}
    assert samples[("leanloop_http_requests_total",
                    (("endpoint", "/predict"), ("method", "POST"), ("status", "200")))] >= 1
    assert samples[("leanloop_http_requests_total",
                    (("endpoint", "/predict"), ("method", "POST"), ("status", "422")))] >= 1
    assert families["leanloop_http_request_duration_seconds"].type == "histogram"
    assert samples[("leanloop_rows_logged_total", ())] >= 2
    assert samples[("leanloop_commits_total", ())] >= 1
    assert families["leanloop_commit_rows"].type == "histogram"
    assert samples[("leanloop_commit_rows_count", ())] >= 1
    assert samples[("leanloop_spool_depth", ())] == 0 and samples[("leanloop_degraded", ())] == 0
    assert samples[("leanloop_model_info", (("version", "v1"),))] == 1
    assert samples[("leanloop_rejections_total", (("reason", "empty_input"),))] >= 1
    assert samples[("leanloop_model_call_rows_count", ())] >= 1


def test_two_apps_keep_separate_metrics(project: Project) -> None:
    first, second = create_app(project), create_app(project)
    assert first.state.metrics.registry is not second.state.metrics.registry


def test_one_json_log_line_per_request(client: TestClient, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger=ACCESS_LOG):
        answer = client.post("/predict", json={"rows": [ROW, ROW, ROW]}).json()
        client.post("/predict", json={"rows": [{**ROW, "car_value": "x"}]})
    lines = [json.loads(JsonLogFormatter().format(r)) for r in caplog.records if r.name == ACCESS_LOG]
    ok, bad = lines[-2], lines[-1]
    assert ok["endpoint"] == "/predict" and ok["status"] == 200 and ok["predictions"] == 3
    assert ok["model_version"] == answer["model_version"] and ok["latency_ms"] > 0
    assert bad["status"] == 422 and bad["rejection"] == "invalid_value" and "predictions" not in bad


def _burst(app: Any, requests: int, rows: int = 1) -> list[httpx.Response]:
    async def run() -> list[httpx.Response]:
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://test", timeout=60) as client:
                return await asyncio.gather(*[client.post("/predict", json={"rows": [ROW] * rows})
                                              for _ in range(requests)])

    return asyncio.run(run())


def test_concurrent_requests_share_model_calls(project: Project) -> None:
    app = create_app(project)
    before = project.store.count_predictions()
    responses = _burst(app, 48)
    assert [r.status_code for r in responses] == [200] * 48
    assert app.state.batcher.model_calls < 48 / 2  # rows rode together
    ids = [r.json()["predictions"][0]["prediction_id"] for r in responses]
    assert len(set(ids)) == 48 and project.store.count_predictions() == before + 48
    versions = {r.json()["model_version"] for r in responses}
    logged = project.store.window(last=48)
    assert set(logged["model_version"]) == versions  # each row names the version that answered it


def test_overload_answers_503_with_retry_after(project: Project) -> None:
    original = project.config
    project.config = original.model_copy(update={"serve": original.serve.model_copy(update={"queue_max_rows": 8})})
    try:
        app = create_app(project)
        before = project.store.count_predictions()
        responses = _burst(app, 40, rows=2)
    finally:
        project.config = original
    codes = [r.status_code for r in responses]
    assert set(codes) == {200, 503} and codes.count(503) >= 10
    shed = next(r for r in responses if r.status_code == 503)
    assert int(shed.headers["retry-after"]) >= 1 and "queue_max_rows" in shed.json()["detail"][0]
    assert project.store.count_predictions() == before + 2 * codes.count(200)  # nothing logged for a 503


def test_a_failing_request_does_not_fail_the_others_in_its_batch(project: Project) -> None:
    from leanloop.serve.batching import MicroBatcher

    def score(groups: list[list[Any]]) -> tuple[str, list[list[dict[str, Any]]], list[dict[str, Any]]]:
        if any(row == "bad" for group in groups for row in group):
            raise ValueError("cannot score 'bad'")
        return "v1", [[{"x": row} for row in group] for group in groups], []

    async def commit(records: list[dict[str, Any]]) -> None:
        await asyncio.sleep(0)

    async def run() -> list[Any]:
        batcher = MicroBatcher(score, commit, max_batch_rows=100, max_wait_ms=0, max_queue_rows=100)
        await batcher.start()
        try:
            return await asyncio.gather(*[batcher.submit([r]) for r in ("a", "bad", "c")], return_exceptions=True)
        finally:
            await batcher.stop()

    good, bad, other = asyncio.run(run())
    assert good == ("v1", [{"x": "a"}]) and other == ("v1", [{"x": "c"}])
    assert isinstance(bad, ValueError)
