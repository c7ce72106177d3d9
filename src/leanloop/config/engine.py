"""Where measurement and batch scoring run: ``[engine]``.

``kind = "local"`` (the default) runs in this process (numpy, threads);
``kind = "dask"`` runs on a ``dask.distributed`` cluster: the one at ``scheduler``
(an address such as ``tcp://10.0.0.5:8786``), or a ``LocalCluster`` of ``workers``
processes that leanloop starts for the job and closes after. The Dask engine needs
the optional extra: ``pip install 'leanloop[dask]'``.

Examples
--------
>>> EngineConfig().kind.value, EngineConfig(kind="dask", workers=4).workers
('local', 4)
>>> from pydantic import ValidationError
>>> try:
...     EngineConfig(kind="dask", scheduler="localhost")
... except ValidationError as exc:
...     print(exc.errors()[0]["msg"].split(",")[1].strip())
scheduler 'localhost' must be an address such as tcp://HOST:8786
"""

from __future__ import annotations

from enum import Enum

from pydantic import Field, field_validator

from leanloop.config._base import Section

__all__ = ["EngineConfig", "EngineKind"]

#: Workers a LocalCluster may start; more processes than this would not fit on one host.
MAX_LOCAL_WORKERS = 256


class EngineKind(str, Enum):
    """Where the work runs: this process, or a Dask cluster."""

    LOCAL = "local"
    DASK = "dask"


class EngineConfig(Section):
    """Where measurement (of Parquet data, and of the log's window by measure, cycle and the server's
    loop) and batch scoring run: local (this process) or dask (a dask.distributed cluster at scheduler,
    or a LocalCluster of workers processes started for the job)."""

    kind: EngineKind = Field(EngineKind.LOCAL, description="local or dask.")
    scheduler: str | None = Field(
        None, description="dask: the scheduler's address, e.g. tcp://HOST:8786 (default: start a LocalCluster).")
    workers: int = Field(2, ge=1, le=MAX_LOCAL_WORKERS,
                         description="dask without a scheduler: worker processes of the LocalCluster started.")
    memory_limit: str | None = Field(
        None, description="dask without a scheduler: memory per worker, e.g. 2GB (default: Dask's share).")

    @field_validator("scheduler")
    @classmethod
    def _address(cls, value: str | None) -> str | None:
        if value is not None and "://" not in value:
            raise ValueError(f"scheduler {value!r} must be an address such as tcp://HOST:8786")
        return value
