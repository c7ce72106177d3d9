"""Helpers of the retention and shared-model tests: old rows in a store, the server's retention lines."""

from __future__ import annotations

import json
import time
from typing import Any

from tests.serve.faults import Server

#: Rows logged this long ago are past ``[store] retention_days = 1``.
OLD_SECONDS = 3 * 86_400.0


def log_rows(store: Any, rows: list[dict[str, Any]], *, prefix: str, at: float) -> list[str]:
    """Log ``rows`` straight into ``store`` at time ``at`` (one second apart); their ids."""
    ids = [f"{prefix}-{i}" for i in range(len(rows))]
    store.insert_predictions([{"prediction_id": key, "created_at": at + i, "model_version": "v1", "features": row,
                               "prediction": 1, "probabilities": {"0": 0.4, "1": 0.6}}
                              for i, (key, row) in enumerate(zip(ids, rows, strict=True))])
    return ids


def retention_lines(server: Server) -> list[dict[str, Any]]:
    """The retention events the server logged (JSON lines)."""
    found = []
    for line in server.log().splitlines():
        if line.startswith("{") and '"retention"' in line:
            body = json.loads(line)
            if body.get("event") == "retention":
                found.append(body)
    return found


def wait_for_retention(server: Server, timeout: float = 60.0) -> dict[str, Any]:
    """The first retention line the server logs (waiting for the loop process to start)."""
    deadline = time.monotonic() + timeout
    while not (lines := retention_lines(server)):
        assert server.alive(), server.log()[-3000:]
        assert time.monotonic() < deadline, f"no retention line in the log: {server.log()[-3000:]}"
        time.sleep(0.1)
    return lines[0]
