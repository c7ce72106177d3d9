"""Operations: ``/health``, ``/ready``, ``/metrics``, ``/models``, ``/models/{version}``, ``/status`` and ``/loop``."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from leanloop.times import iso

if TYPE_CHECKING:
    from fastapi import APIRouter

    from leanloop.serve.runtime import ServerRuntime

__all__ = ["router", "version_summary"]


def router(runtime: ServerRuntime, auth: Any) -> APIRouter:
    """Liveness, readiness, Prometheus metrics and the registered versions (no token)."""
    from fastapi import APIRouter
    from fastapi.concurrency import run_in_threadpool
    from fastapi.responses import JSONResponse, Response

    from leanloop.serve.limits import strict_json_route

    project, holder, logger, metrics = runtime.project, runtime.holder, runtime.logger, runtime.metrics
    api = APIRouter(route_class=strict_json_route())

    @api.get("/health", summary="Liveness and the serving version")
    async def health() -> dict[str, Any]:
        return {"status": "ok", "model_version": holder.version}

    @api.get("/metrics", summary="Prometheus metrics", response_class=Response, response_model=None)
    async def prometheus() -> Response:
        from prometheus_client import CONTENT_TYPE_LATEST

        return Response(await run_in_threadpool(metrics.render), media_type=CONTENT_TYPE_LATEST)

    @api.get("/ready", response_model=None,
             summary="Ready to serve: model loaded, store writable (or degraded: spooling)")
    async def ready() -> Any:
        stats = logger.stats()
        status, code = runtime.readiness.check(stats)
        body: dict[str, Any] = {"status": status, "spool_depth": stats.spool_depth}
        if stats.degraded:
            body |= {"spool_bytes": stats.spool_bytes, "spool_age_seconds": stats.spool_age_seconds,
                     "store": "unavailable" if stats.store_down else "draining the spool"}
        if code == 200:
            body["model_version"] = holder.serving()[0].version  # never waits on the store
        return JSONResponse(status_code=code, content=body)

    @api.get("/models", summary="Registered versions and aliases")
    async def models() -> dict[str, Any]:
        versions = await run_in_threadpool(project.registry.versions)
        return {
            "aliases": await run_in_threadpool(project.store.aliases),
            "versions": [version_summary(v) for v in versions],
        }

    @api.get("/models/{version}", summary="One registered version")
    async def model(version: str) -> dict[str, Any]:
        return version_summary(await run_in_threadpool(project.registry.get, version))

    @api.get("/status", summary="This server: the version it serves, whether it runs the loop (holds the loop lock)")
    async def status() -> dict[str, Any]:
        return runtime.status().to_json()

    @api.get("/loop", summary="The unattended loop: schedule, rows since the last cycle, running and last cycle")
    async def loop() -> dict[str, Any]:
        return await run_in_threadpool(runtime.loop_status)

    return api


def version_summary(v: Any) -> dict[str, Any]:
    """The public fields of a registered version."""
    return {"version": v.version, "created_at": iso(v.created_at), "source": v.source, "parent": v.parent,
            "metrics": v.metrics, "baseline_metrics": v.baseline_metrics}
