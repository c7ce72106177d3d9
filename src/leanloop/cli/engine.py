"""The engine options a command shares: ``--engine``, ``--scheduler``, ``--workers``."""

from __future__ import annotations

from typing import Annotated

import typer

from leanloop.config.engine import EngineConfig, EngineKind

__all__ = ["EngineOption", "SchedulerOption", "WorkersOption", "engine_config"]

EngineOption = Annotated[EngineKind | None, typer.Option(
    help="Where the work runs: local (this process) or dask (default: \\[engine] kind, else local).")]
SchedulerOption = Annotated[str | None, typer.Option(
    help="Dask scheduler address, e.g. tcp://HOST:8786 (implies --engine dask; default: a LocalCluster).")]
WorkersOption = Annotated[int | None, typer.Option(
    min=1, help="Worker processes of the LocalCluster started when no scheduler is given (default 2).")]


def engine_config(base: EngineConfig, engine: EngineKind | None, scheduler: str | None,
                  workers: int | None) -> EngineConfig:
    """``base`` (the project's ``[engine]``) with the command's options over it.

    >>> engine_config(EngineConfig(), None, "tcp://127.0.0.1:8786", None).kind.value
    'dask'
    >>> engine_config(EngineConfig(), EngineKind.DASK, None, 4).workers
    4
    """
    changes: dict[str, object] = {}
    if engine is not None:
        changes["kind"] = engine
    if scheduler is not None:
        changes["kind"], changes["scheduler"] = EngineKind.DASK, scheduler
    if workers is not None:
        changes["workers"] = workers
    return EngineConfig.model_validate({**base.model_dump(), **changes})
