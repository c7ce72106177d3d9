"""HTTP read timeouts against a real uvicorn over raw sockets, and the rate limit on
failed authentication."""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from leanloop.project import Project
from leanloop.serve import create_app
from tests.serve.conftest import ROW

READ_TIMEOUT = 1.0


@pytest.fixture
def server(project: Project) -> Iterator[str]:
    """A real uvicorn with the server's protocol, ``read_timeout_s = 1``; yields its address."""
    import uvicorn

    from leanloop.serve.protocol import uvicorn_http

    original = project.config
    serve = original.serve.model_copy(update={"read_timeout_s": READ_TIMEOUT})
    project.config = original.model_copy(update={"serve": serve})
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(create_app(project), log_level="warning", http=uvicorn_http(READ_TIMEOUT))
    runner = uvicorn.Server(config)
    thread = threading.Thread(target=runner.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{port}"
        for _ in range(200):
            try:
                if httpx.get(f"{url}/health").status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.05)
        yield f"127.0.0.1:{port}"
    finally:
        runner.should_exit = True
        thread.join(10)
        sock.close()
        project.config = original


def connect(address: str) -> socket.socket:
    host, port = address.split(":")
    conn = socket.create_connection((host, int(port)), timeout=10)
    return conn


def answer(conn: socket.socket) -> tuple[bytes, float]:
    """Everything the server sends until it closes the connection, and when it closed."""
    data = b""
    began = time.monotonic()
    while chunk := conn.recv(65536):
        data += chunk
    return data, time.monotonic() - began


def post_head(length: int) -> bytes:
    return (f"POST /predict HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            f"Content-Length: {length}\r\n\r\n").encode()


def test_a_body_shorter_than_its_content_length_is_answered_400_after_the_timeout(server: str) -> None:
    body = json.dumps({"rows": [ROW]}).encode()
    with connect(server) as conn:
        conn.sendall(post_head(len(body) + 50) + body)  # 50 bytes never come
        data, took = answer(conn)
    assert data.startswith(b"HTTP/1.1 400") and b"body_timeout" in data and b"read_timeout_s" in data
    assert READ_TIMEOUT * 0.8 < took < READ_TIMEOUT + 2


def test_a_slow_body_is_cut_off(server: str) -> None:
    body = json.dumps({"rows": [ROW]}).encode()
    with connect(server) as conn:
        conn.sendall(post_head(len(body)))
        began = time.monotonic()
        cut = False
        for byte in body:  # one byte every 0.1 s: ~25 s for the whole body
            try:
                conn.sendall(bytes([byte]))
            except OSError:
                cut = True
                break
            time.sleep(0.1)
            if time.monotonic() - began > READ_TIMEOUT + 3:
                break
        conn.settimeout(5)
        data, _ = answer(conn) if not cut else (b"", 0.0)
    assert time.monotonic() - began < READ_TIMEOUT + 5
    assert cut or (data.startswith(b"HTTP/1.1 400") and b"body_timeout" in data)


def test_slow_headers_are_answered_408_and_closed(server: str) -> None:
    with connect(server) as conn:
        conn.sendall(b"POST /predict HTTP/1.1\r\nHost: x\r\n")  # the rest never comes
        data, took = answer(conn)
    assert data.startswith(b"HTTP/1.1 408") and b"header_timeout" in data
    assert READ_TIMEOUT * 0.8 < took < READ_TIMEOUT + 2


def test_an_idle_kept_alive_connection_gets_the_same_header_deadline(server: str) -> None:
    body = json.dumps({"rows": [ROW]}).encode()
    with connect(server) as conn:
        conn.sendall(post_head(len(body)) + body)
        first = conn.recv(65536)
        assert first.startswith(b"HTTP/1.1 200")
        conn.sendall(b"GET /health HTTP/1.1\r\n")  # a second request's first line, then nothing
        data, took = answer(conn)
    assert data == b"" or data.startswith(b"HTTP/1.1 408")
    assert took < READ_TIMEOUT + 6  # closed by the header deadline or uvicorn's keep-alive timeout


def test_a_prompt_client_is_served_after_the_slow_ones(server: str) -> None:
    slow = [connect(server) for _ in range(5)]
    for conn in slow:
        conn.sendall(b"POST /predict HTTP/1.1\r\n")
    response = httpx.post(f"http://{server}/predict", json={"rows": [ROW]})
    assert response.status_code == 200
    for conn in slow:
        conn.close()


# --- rate limit on failed authentication --------------------------------------------------


def test_failed_tokens_are_limited_per_address_and_the_right_token_always_passes(project: Project,
                                                                                 token: str) -> None:
    original = project.config
    serve = original.serve.model_copy(update={"auth_failures_per_minute": 3})
    project.config = original.model_copy(update={"serve": serve})
    try:
        app = create_app(project)
    finally:
        project.config = original
    path = "/predictions/" + "0" * 32
    wrong, right = {"Authorization": "Bearer guess"}, {"Authorization": f"Bearer {token}"}

    async def run() -> dict[str, Any]:
        def client(address: str) -> httpx.AsyncClient:
            transport = httpx.ASGITransport(app=app, client=(address, 40000))
            return httpx.AsyncClient(transport=transport, base_url="http://test")

        async with client("10.0.0.1") as attacker, client("10.0.0.2") as other:
            guesses = [(await attacker.get(path, headers=wrong)) for _ in range(6)]
            missing = await attacker.get(path)
            with_token = await attacker.get(path, headers=right)
            elsewhere = await other.get(path, headers=wrong)
        return {"guesses": guesses, "missing": missing, "with_token": with_token, "elsewhere": elsewhere}

    got = asyncio.run(run())
    assert [r.status_code for r in got["guesses"]] == [401, 401, 401, 429, 429, 429]
    limited = got["guesses"][3]
    assert limited.json()["error"] == "too_many_auth_failures" and "auth_failures_per_minute" in limited.text
    assert 1 <= int(limited.headers["retry-after"]) <= 20
    assert got["missing"].status_code == 429  # no token at all counts as a failure too
    assert got["with_token"].status_code == 404  # the right token passes the limit: the id is unknown
    assert got["elsewhere"].status_code == 401  # another address has its own allowance
