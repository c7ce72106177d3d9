"""Admin routes (all need the token): promote, rollback, shadow on and off, reload; and
``GET /shadow``, the shadow version and this worker's scorer figures."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from leanloop.serve.requests import PromoteRequest, RollbackRequest, ShadowRequest

if TYPE_CHECKING:
    from fastapi import APIRouter

    from leanloop.serve.runtime import ServerRuntime

__all__ = ["router"]


def router(runtime: ServerRuntime, auth: Any) -> APIRouter:
    """Moves of the champion and shadow aliases, through the project's verbs."""
    from fastapi import APIRouter
    from fastapi.concurrency import run_in_threadpool

    from leanloop.serve.limits import strict_json_route

    project, holder, shadow = runtime.project, runtime.holder, runtime.shadow
    api = APIRouter(route_class=strict_json_route())

    @api.post("/promote", dependencies=[auth], summary="Make a version the champion (needs the token)")
    async def promote(request: PromoteRequest) -> dict[str, Any]:
        event = await run_in_threadpool(lambda: project.promote(request.version, reason=request.reason))
        return event.to_json()

    @api.post("/rollback", dependencies=[auth],
              summary="Make the previous champion the champion again (needs the token)")
    async def rollback(request: RollbackRequest) -> dict[str, Any]:
        event = await run_in_threadpool(lambda: project.rollback(reason=request.reason))
        return event.to_json()

    @api.post("/shadow", dependencies=[auth], summary="Score every request with a version too, logged, never returned")
    async def start_shadow(request: ShadowRequest) -> dict[str, Any]:
        event = await run_in_threadpool(lambda: project.shadow(request.version, reason=request.reason))
        return event.to_json()

    @api.delete("/shadow", dependencies=[auth], summary="Stop shadow scoring (needs the token)")
    async def stop_shadow() -> dict[str, Any]:
        event = await run_in_threadpool(project.stop_shadow)
        return event.to_json()

    @api.post("/reload", dependencies=[auth],
              summary="Re-read the champion and shadow aliases now (needs the token)")
    async def reload() -> dict[str, Any]:
        champion, _ = await run_in_threadpool(holder.reload)
        await run_in_threadpool(shadow.refresh)
        return {"model_version": champion.version, "shadow": shadow.stats().to_json()["version"],
                "load_error": holder.last_error}

    @api.get("/shadow", summary="The shadow version and what this worker's scorer did")
    async def shadow_status() -> dict[str, Any]:
        alias = await run_in_threadpool(project.store.get_alias, "shadow")
        return {"shadow": alias, "worker": shadow.stats().to_json()}

    return api
