"""Alerts against a real HTTP receiver on a loopback port: down, failing, slow, refused."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from leanloop.alerts import AlertOutcome, Notifier, check_webhook_url, deliver
from leanloop.demo import free_port


class Receiver:
    """A webhook receiver answering each POST with the next status of ``script`` (then 200)."""

    def __init__(self, script: list[int], delay: float = 0.0) -> None:
        self.script, self.delay, self.bodies = list(script), delay, []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # http.server's name
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.bodies.append(json.loads(body))
                time.sleep(receiver.delay)
                self.send_response(receiver.script.pop(0) if receiver.script else 200)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


@pytest.fixture
def receiver() -> Iterator[Callable[..., Receiver]]:
    made: list[Receiver] = []

    def make(script: list[int], delay: float = 0.0) -> Receiver:
        made.append(Receiver(script, delay))
        return made[-1]

    yield make
    for r in made:
        r.server.shutdown()
        r.server.server_close()


def test_retried_through_500s_and_delivered(receiver: Callable[..., Receiver]) -> None:
    hook = receiver([500, 503])
    outcome = deliver(hook.url, {"action": "retrain"}, backoff=0.01)
    assert outcome.delivered and outcome.attempts == 3 and outcome.status == 200
    assert hook.bodies == [{"action": "retrain"}] * 3


def test_a_refusal_is_not_retried_and_a_dead_hook_gives_up(receiver: Callable[..., Receiver]) -> None:
    hook = receiver([400])
    refused = deliver(hook.url, {"a": 1}, backoff=0.01)
    assert not refused.delivered and refused.attempts == 1 and refused.error == "HTTP 400"
    down = deliver(f"http://127.0.0.1:{free_port()}/hook", {"a": 1}, attempts=3, backoff=0.01)
    assert not down.delivered and down.attempts == 3 and "ConnectError" in (down.error or "")


def test_a_slow_hook_never_blocks_the_sender(receiver: Callable[..., Receiver]) -> None:
    hook = receiver([], delay=1.0)
    outcomes: list[AlertOutcome] = []
    notifier = Notifier(hook.url, timeout=5.0)
    started = time.monotonic()
    for i in range(3):
        assert notifier.send({"cycle": i}, outcomes.append)
    assert time.monotonic() - started < 0.1  # three sends while each post takes a second
    notifier.close(timeout=10)
    assert [o.delivered for o in outcomes] == [True, True, True]
    assert [b["cycle"] for b in hook.bodies] == [0, 1, 2]


def test_a_full_queue_drops_and_says_so(receiver: Callable[..., Receiver]) -> None:
    hook = receiver([], delay=0.5)
    outcomes: list[AlertOutcome] = []
    notifier = Notifier(hook.url, capacity=1)
    results = [notifier.send({"n": i}, outcomes.append) for i in range(4)]
    assert results.count(False) >= 1
    assert any(o.error == "alert queue full; alert dropped" for o in outcomes)
    notifier.close(timeout=5)


def test_only_http_urls() -> None:
    for url in ("ftp://x/y", "http://", "hooks.example.com"):
        with pytest.raises(ValueError, match="webhook_url must be an http"):
            check_webhook_url(url)
