"""HTTP load: N keep-alive connections posting pre-encoded JSON bodies for S seconds.

Hand-written on asyncio streams rather than httpx: at ~1,000 req/s httpx's per-request
cost would load the 2 shared cores and bias the servers' figures. Requests started
during the first ``--warmup`` seconds are not counted.
Usage: load.py URL BODIES.jsonl --connections N --seconds S [--warmup W] [--token T]
Prints {"requests", "errors", "req_per_s", "rows_per_s", "p50_ms", "p99_ms", "max_ms", "shed_503", ...}:
``requests`` and the latencies count 200s; ``shed_503`` counts 503s carrying Retry-After
(load shed, not errors); ``errors`` everything else.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from pathlib import Path
from urllib.parse import urlsplit

import numpy as np


async def _one(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, request: bytes) -> tuple[int, bytes, bool]:
    writer.write(request)
    status_line = await reader.readline()
    if not status_line:
        raise ConnectionError("server closed the connection")
    status = int(status_line.split()[1])
    length, close, retry_after = 0, False, False
    while True:
        line = await reader.readline()
        if line in (b"\r\n", b""):
            break
        name, _, value = line.decode("latin-1").partition(":")
        if name.lower() == "content-length":
            length = int(value)
        elif name.lower() == "connection" and value.strip().lower() == "close":
            close = True
        elif name.lower() == "retry-after":
            retry_after = True
    body = await reader.readexactly(length)
    if close:
        raise ConnectionResetError("server asked to close")
    return status, body, retry_after


async def _worker(host: str, port: int, requests: list[tuple[bytes, int]], offset: int, step: int,
                  start_counting: float, deadline: float, stats: dict[str, list[float] | int]) -> None:
    reader, writer = await asyncio.open_connection(host, port)
    i = offset
    try:
        while (now := time.perf_counter()) < deadline:
            request, rows = requests[i % len(requests)]
            i += step
            try:
                status, _, retry_after = await _one(reader, writer, request)
            except (ConnectionError, asyncio.IncompleteReadError):
                writer.close()
                reader, writer = await asyncio.open_connection(host, port)
                status, retry_after = 0, False
            took = time.perf_counter() - now
            if now < start_counting:
                continue
            if status == 200:
                stats["latencies"].append(took)  # type: ignore[union-attr]
                stats["rows"] += rows  # type: ignore[operator]
            elif status == 503 and retry_after:
                stats["shed"] += 1  # type: ignore[operator]
                stats["shed_latencies"].append(took)  # type: ignore[union-attr]
            else:
                stats["errors"] += 1  # type: ignore[operator]
    finally:
        writer.close()


async def _run(url: str, bodies: list[bytes], rows: list[int], connections: int, seconds: float,
               warmup: float, token: str | None) -> dict[str, float | int]:
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    auth = f"authorization: Bearer {token}\r\n" if token else ""
    requests = [(f"POST {parts.path} HTTP/1.1\r\nhost: {host}:{port}\r\ncontent-type: application/json\r\n"
                 f"{auth}content-length: {len(body)}\r\n\r\n").encode() + body for body in bodies]
    stats: dict[str, list[float] | int] = {"latencies": [], "rows": 0, "errors": 0, "shed": 0,
                                           "shed_latencies": []}
    begin = time.perf_counter()
    start_counting, deadline = begin + warmup, begin + warmup + seconds
    await asyncio.gather(*(_worker(host, port, list(zip(requests, rows, strict=True)), k, connections,
                                   start_counting, deadline, stats) for k in range(connections)))
    measured = time.perf_counter() - start_counting
    latencies = np.array(stats["latencies"]) * 1000
    count = int(latencies.size)
    return {"connections": connections, "seconds": round(measured, 2), "requests": count,
            "errors": int(stats["errors"]), "req_per_s": round(count / measured, 1),  # type: ignore[arg-type]
            "rows_per_s": round(int(stats["rows"]) / measured, 1),  # type: ignore[call-overload]
            "p50_ms": round(float(np.percentile(latencies, 50)), 2) if count else None,
            "p99_ms": round(float(np.percentile(latencies, 99)), 2) if count else None,
            "max_ms": round(float(latencies.max()), 2) if count else None,
            "shed_503": int(stats["shed"]),  # type: ignore[arg-type]
            "shed_p99_ms": round(float(np.percentile(np.array(stats["shed_latencies"]) * 1000, 99)), 2)
            if stats["shed"] else None}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("url")
    parser.add_argument("bodies", help="one JSON request body per line")
    parser.add_argument("--connections", type=int, default=1)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--warmup", type=float, default=1.0)
    parser.add_argument("--token")
    args = parser.parse_args()
    lines = Path(args.bodies).read_bytes().splitlines()
    bodies = [line for line in lines if line.strip()]
    rows = [len(json.loads(body)["rows"]) for body in bodies]
    result = asyncio.run(_run(args.url, bodies, rows, args.connections, args.seconds, args.warmup, args.token))
    print(json.dumps(result))


if __name__ == "__main__":
    main()
