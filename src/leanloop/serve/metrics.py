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

__all__ = ["ServerMetrics", "RequestMetrics", "JsonLogFormatter", "ACCESS_LOG", "configure_logging", "LoopGauges",
           "LOOP_METRICS"]

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


# -- the loop's gauges (drift, performance, KPI, labels, decisions) --------------------

#: The loop's metrics as Prometheus names them (counters with their ``_total``); the
#: Grafana dashboard in ``docs/grafana/`` charts these, and a test checks each is exported.
LOOP_METRICS = {
    "leanloop_loop_last_cycle": "Number of the newest finished cycle",
    "leanloop_loop_last_cycle_timestamp_seconds": "When the newest finished cycle started (epoch seconds)",
    "leanloop_loop_cycles_total": "Finished cycles, by the action decided",
    "leanloop_loop_last_decision": "The newest cycle's decision (value 1 on its action)",
    "leanloop_loop_champion_info": "The champion version by the registry's alias (value is always 1)",
    "leanloop_loop_drift_share": "Share of features that drifted in the newest cycle's window",
    "leanloop_loop_feature_drift_statistic": "Each feature's drift statistic in the newest cycle, by method",
    "leanloop_loop_feature_drifted": "1 when the feature drifted in the newest cycle",
    "leanloop_loop_metric_realized": "Main and other metrics on the labelled rows of the newest window",
    "leanloop_loop_metric_estimated": "Metrics estimated on the newest window without labels",
    "leanloop_loop_kpi_per_prediction": "Each KPI's mean value per prediction in the newest window",
    "leanloop_loop_label_coverage": "Share of the newest window's rows that have a label",
    "leanloop_loop_label_delay_seconds": "Delay from prediction to label in the newest window, by quantile",
    "leanloop_loop_window_rows": "Rows in the newest cycle's window",
    "leanloop_loop_read_ok": "1 when the ledger could be read at this scrape (0: the store is unavailable)",
}


class LoopGauges:
    """The loop's figures, read from the ledger when Prometheus scrapes.

    ``ledger`` returns the stored ledger bodies, oldest first (unfinished cycles have no
    decision and are skipped); ``champion`` the version the champion alias names. The
    figures are kept for ``max_age_s``: scrapers in a row, or several Prometheus servers,
    read the ledger once (it changes once a cycle, minutes apart).

    Examples
    --------
    >>> from prometheus_client import CollectorRegistry, generate_latest
    >>> body = {"cycle": 1, "created_at": 0.0, "decision": {"action": "retrain"},
    ...         "measurement": {"drift": [{"feature": "age", "method": "ks", "statistic": 0.3, "drifted": True}],
    ...                         "kpis": {"profit": 2.5, "profit_total": 250.0}, "window": {"coverage": 0.5}}}
    >>> registry = CollectorRegistry()
    >>> registry.register(LoopGauges(lambda: [body], lambda: "v1"))
    >>> text = generate_latest(registry).decode()
    >>> 'leanloop_loop_drift_share 1.0' in text, 'leanloop_loop_kpi_per_prediction{kpi="profit"} 2.5' in text
    (True, True)
    """

    def __init__(self, ledger: Callable[[], list[dict[str, Any]]], champion: Callable[[], str | None],
                 max_age_s: float = 5.0) -> None:
        self.ledger = ledger
        self.champion = champion
        self.max_age_s = max_age_s
        self._kept: tuple[float, list[Any]] | None = None

    def describe(self) -> list[Any]:
        return []

    def collect(self) -> Any:
        now = time.monotonic()
        if self._kept is None or now - self._kept[0] > self.max_age_s:
            self._kept = (now, list(self._read()))
        yield from self._kept[1]

    def _read(self) -> Any:
        from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

        try:
            ledger, version = self.ledger(), self.champion()
        except Exception as exc:  # the store is away: the server's own metrics still answer
            logging.getLogger("leanloop.server").warning("metrics: could not read the ledger (%s: %s)",
                                                         type(exc).__name__, exc)
            yield GaugeMetricFamily("leanloop_loop_read_ok", LOOP_METRICS["leanloop_loop_read_ok"], value=0.0)
            return
        yield GaugeMetricFamily("leanloop_loop_read_ok", LOOP_METRICS["leanloop_loop_read_ok"], value=1.0)
        cycles = [b for b in ledger if b.get("kind", "cycle") == "cycle" and b.get("decision")]
        counts: dict[str, int] = {}
        for body in cycles:
            counts[body["decision"]["action"]] = counts.get(body["decision"]["action"], 0) + 1
        by_action = CounterMetricFamily("leanloop_loop_cycles", LOOP_METRICS["leanloop_loop_cycles_total"],
                                        labels=["action"])
        for action, count in sorted(counts.items()):
            by_action.add_metric([action], count)
        yield by_action
        champion = GaugeMetricFamily("leanloop_loop_champion_info", LOOP_METRICS["leanloop_loop_champion_info"],
                                     labels=["version"])
        if version is not None:
            champion.add_metric([version], 1.0)
        yield champion
        if cycles:
            yield from _newest_cycle(cycles[-1], GaugeMetricFamily)


def _gauge(family: Any, name: str, labels: list[str] | None = None, value: float | None = None) -> Any:
    return family(name, LOOP_METRICS[name], value=value, labels=labels)


def _newest_cycle(body: dict[str, Any], family: Any) -> Any:
    m = body.get("measurement") or {}
    window, perf = m.get("window") or {}, m.get("performance") or {}
    yield _gauge(family, "leanloop_loop_last_cycle", value=body["cycle"])
    yield _gauge(family, "leanloop_loop_last_cycle_timestamp_seconds", value=body["created_at"])
    decision = _gauge(family, "leanloop_loop_last_decision", ["action"])
    decision.add_metric([body["decision"]["action"]], 1.0)
    yield decision
    drift = [d for d in m.get("drift", []) if d.get("statistic") is not None]
    primary = list({d["feature"]: d for d in reversed(drift)}.values())  # the first test per feature
    if primary:
        share = sum(bool(d.get("drifted")) for d in primary) / len(primary)
        yield _gauge(family, "leanloop_loop_drift_share", value=share)
    statistic = _gauge(family, "leanloop_loop_feature_drift_statistic", ["feature", "method"])
    drifted = _gauge(family, "leanloop_loop_feature_drifted", ["feature"])
    for d in drift:
        statistic.add_metric([d["feature"], str(d.get("method", ""))], float(d["statistic"]))
    for d in primary:
        drifted.add_metric([d["feature"]], 1.0 if d.get("drifted") else 0.0)
    yield statistic
    yield drifted
    for name, values in (("leanloop_loop_metric_realized", perf.get("realized") or {}),
                         ("leanloop_loop_metric_estimated", perf.get("estimated") or {})):
        gauge = _gauge(family, name, ["metric"])
        for metric, value in values.items():
            if isinstance(value, int | float):
                gauge.add_metric([metric], float(value))
        yield gauge
    kpi = _gauge(family, "leanloop_loop_kpi_per_prediction", ["kpi"])
    for name, value in (m.get("kpis") or {}).items():
        if not name.endswith("_total") and isinstance(value, int | float):
            kpi.add_metric([name], float(value))
    yield kpi
    if window.get("coverage") is not None:
        yield _gauge(family, "leanloop_loop_label_coverage", value=window["coverage"])
    if window.get("rows") is not None:
        yield _gauge(family, "leanloop_loop_window_rows", value=window["rows"])
    delay = _gauge(family, "leanloop_loop_label_delay_seconds", ["quantile"])
    for key, quantile in (("p50", "0.5"), ("p90", "0.9")):
        if (window.get("label_delay") or {}).get(key) is not None:
            delay.add_metric([quantile], float(window["label_delay"][key]))
    yield delay


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
