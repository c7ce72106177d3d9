"""Observability: Prometheus metrics per app and one JSON log line per request.

:class:`ServerMetrics` owns a private ``CollectorRegistry`` (no process-global state,
so two apps in one process, as in tests, never mix their counts). The logger's
figures (rows logged, group-commit sizes, spool depth, degraded) and the serving
version are read at scrape time. :class:`RequestMetrics` is a pure ASGI middleware
that times each request, counts it by endpoint and status, and writes the access log
line to the ``leanloop.access`` logger.

Examples
--------
>>> metrics = ServerMetrics()
>>> metrics.reject("malformed_json")
>>> b'leanloop_rejections_total{reason="malformed_json"} 1.0' in metrics.render()
True
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

__all__ = ["ServerMetrics", "RequestMetrics", "JsonLogFormatter", "ACCESS_LOG", "configure_logging"]

ACCESS_LOG = "leanloop.access"

Scope = MutableMapping[str, Any]
ASGIApp = Callable[[Scope, Any, Any], Awaitable[None]]

_LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
_BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 4096, 16384)


class ServerMetrics:
    """The server's counters and histograms in a registry of its own.

    ``stats`` returns the logger's :class:`~leanloop.serve.logger.LoggerStats`;
    ``version`` the serving model version (or None before one is loaded).
    """

    def __init__(self, stats: Callable[[], Any] | None = None, version: Callable[[], str | None] | None = None) -> None:
        from prometheus_client import CollectorRegistry, Counter, Histogram

        self.registry = CollectorRegistry(auto_describe=True)
        self.requests = Counter("leanloop_http_requests", "HTTP requests by endpoint, method and status",
                                ["endpoint", "method", "status"], registry=self.registry)
        self.latency = Histogram("leanloop_http_request_duration_seconds", "Time to answer, by endpoint",
                                 ["endpoint"], buckets=_LATENCY_BUCKETS, registry=self.registry)
        self.rejections = Counter("leanloop_rejections", "Requests refused, by reason", ["reason"],
                                  registry=self.registry)
        self.flagged = Counter("leanloop_flagged_values",
                               "Accepted values outside the schema: unseen categories, out-of-range numbers",
                               ["feature", "flag"], registry=self.registry)
        self.batch_requests = Histogram("leanloop_model_call_requests", "Requests sharing one model call",
                                        buckets=_BATCH_BUCKETS, registry=self.registry)
        self.batch_rows = Histogram("leanloop_model_call_rows", "Rows scored by one model call",
                                    buckets=_BATCH_BUCKETS, registry=self.registry)
        self.alert_failures = Counter("leanloop_alert_failures", "Loop alerts the webhook did not take (after retries)",
                                      registry=self.registry)
        self.registry.register(_ScrapeTime(stats, version))

    def reject(self, reason: str) -> None:
        """Count one refused request."""
        self.rejections.labels(reason=reason).inc()

    def model_call(self, requests: int, rows: int) -> None:
        """Record one shared model call."""
        self.batch_requests.observe(requests)
        self.batch_rows.observe(rows)

    def render(self) -> bytes:
        """The Prometheus text exposition of every metric."""
        from prometheus_client import generate_latest

        return generate_latest(self.registry)


class _ScrapeTime:
    """Figures owned by other parts, read when Prometheus scrapes."""

    def __init__(self, stats: Callable[[], Any] | None, version: Callable[[], str | None] | None) -> None:
        self.stats = stats
        self.version = version

    def describe(self) -> list[Any]:
        return []

    def collect(self) -> Any:
        from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily

        if self.stats is not None:
            stats = self.stats()
            yield CounterMetricFamily("leanloop_rows_logged", "Prediction records committed to the store",
                                      value=stats.rows_logged)
            yield CounterMetricFamily("leanloop_commits", "Group-commit transactions", value=stats.commits)
            # The logger keeps cumulative bucket counts keyed by upper bound ("1", "2", ..., "+Inf").
            yield HistogramMetricFamily("leanloop_commit_rows", "Rows per group-commit transaction",
                                        buckets=list(stats.batch_sizes.items()),
                                        sum_value=stats.batch_rows_sum)
            yield GaugeMetricFamily("leanloop_spool_depth", "Records waiting in the local spool",
                                    value=stats.spool_depth)
            yield GaugeMetricFamily("leanloop_spool_bytes", "Bytes the local spool holds on disk",
                                    value=stats.spool_bytes)
            yield GaugeMetricFamily("leanloop_spool_age_seconds", "Seconds since the oldest spooled record was spooled",
                                    value=stats.spool_age_seconds)
            yield CounterMetricFamily("leanloop_commit_timeouts",
                                      "Commits that overran [store] commit_timeout_ms (their records were spooled)",
                                      value=stats.commit_timeouts)
            yield GaugeMetricFamily("leanloop_degraded", "1 while the store is unavailable and the spool is used",
                                    value=1.0 if stats.degraded else 0.0)
        if self.version is not None:
            version = self.version()
            info = GaugeMetricFamily("leanloop_model_info", "The serving model version (value is always 1)",
                                     labels=["version"])
            if version is not None:
                info.add_metric([version], 1.0)
            yield info


class JsonLogFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message and any ``fields`` extra."""

    def format(self, record: logging.LogRecord) -> str:
        body: dict[str, Any] = {"ts": round(record.created, 6), "level": record.levelname.lower(),
                                "logger": record.name, "msg": record.getMessage()}
        body.update(getattr(record, "fields", {}))
        if record.exc_info:
            body["exc"] = self.formatException(record.exc_info)
        return json.dumps(body, default=str)


def configure_logging(*, quiet: bool = False) -> None:
    """Send the access log and server errors to stderr as JSON lines (the ``serve`` command
    calls this; a library user keeps their own logging set-up)."""
    import sys

    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonLogFormatter())
    for name in (ACCESS_LOG, "leanloop.server"):
        log = logging.getLogger(name)
        log.handlers = [handler]
        log.setLevel(logging.WARNING if quiet and name == ACCESS_LOG else logging.INFO)
        log.propagate = False


class RequestMetrics:
    """ASGI middleware: count and time every request, and log one JSON line for it.

    Handlers add to the line through ``request.state``: ``predictions`` (rows
    answered), ``model_version`` and ``error_id``.
    """

    def __init__(self, app: ASGIApp, *, metrics: ServerMetrics) -> None:
        self.app = app
        self.metrics = metrics
        self.log = logging.getLogger(ACCESS_LOG)

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        state = scope.setdefault("state", {})
        status = 500

        async def tracked(message: MutableMapping[str, Any]) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, tracked)
        finally:
            elapsed = time.perf_counter() - started
            route = scope.get("route")
            endpoint = getattr(route, "path", None) or "unmatched"
            self.metrics.requests.labels(endpoint=endpoint, method=scope["method"], status=str(status)).inc()
            self.metrics.latency.labels(endpoint=endpoint).observe(elapsed)
            if self.log.isEnabledFor(logging.INFO):
                fields = {"method": scope["method"], "endpoint": endpoint, "status": status,
                          "latency_ms": round(elapsed * 1000, 3)}
                for key in ("predictions", "model_version", "error_id", "rejection"):
                    if key in state:
                        fields[key] = state[key]
                self.log.info("request", extra={"fields": fields})
