"""The Dask cluster a job runs on: the configured scheduler, or a LocalCluster started for it.

:func:`dask_client` is a context manager: it connects to ``[engine] scheduler`` when
one is set, otherwise starts a ``LocalCluster`` of ``[engine] workers`` processes
(``memory_limit`` each) and closes it when the block ends. A caller holding a client
already (a notebook, the tests' session cluster) passes it to the engine functions
directly and never comes here.

Examples
--------
>>> from leanloop.config import EngineConfig
>>> with dask_client(EngineConfig(kind="dask", workers=1), processes=False) as client:
...     len(client.scheduler_info()["workers"])
1
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from leanloop.config import EngineConfig
from leanloop.errors import EngineError

if TYPE_CHECKING:
    from distributed import Client

__all__ = ["collect", "dask_client", "gather", "require_dask"]

#: Seconds to wait for a scheduler or for a LocalCluster's workers before giving up.
_CONNECT_TIMEOUT_S = 60


def require_dask() -> Any:
    """The ``distributed`` module, or an error naming the extra to install.

    Raises
    ------
    EngineError
        If Dask is not installed.
    """
    try:
        import dask.dataframe  # noqa: F401  (the dataframe extra is what the engine reads with)
        import distributed
    except ImportError as err:
        raise EngineError(f"the Dask engine needs Dask ({err.name} is not installed): "
                          "pip install 'leanloop[dask]', or run with --engine local") from err
    return distributed


@contextmanager
def dask_client(config: EngineConfig, *, processes: bool = True) -> Iterator[Client]:
    """A client of the configured cluster, closed (with the LocalCluster it started) after.

    ``processes=False`` runs a LocalCluster's workers as threads of this process (for
    examples and quick checks; the engine itself wants processes).

    Raises
    ------
    EngineError
        If Dask is not installed or the scheduler cannot be reached.
    """
    distributed = require_dask()
    if config.scheduler is not None:
        try:
            client = distributed.Client(config.scheduler, timeout=_CONNECT_TIMEOUT_S)
        except (OSError, TimeoutError) as err:
            raise EngineError(f"cannot reach the Dask scheduler at {config.scheduler}: {err}; check that it "
                              "runs and the address in [engine] scheduler or --scheduler") from err
        with client:
            yield client
        return
    # Dashboard off: a job's cluster needs no web server, and a fixed port would clash.
    cluster = distributed.LocalCluster(n_workers=config.workers, threads_per_worker=1, processes=processes,
                                       memory_limit=config.memory_limit or "auto", dashboard_address=None)
    with cluster, distributed.Client(cluster) as client:
        yield client


def gather(client: Client, tasks: list[Any], what: str, left: str = "nothing was written") -> list[Any]:
    """Compute ``tasks`` on the cluster of ``client`` and return their results in order
    (errors as :func:`collect`)."""
    futures = client.compute(tasks)
    try:
        return collect(client, futures, what, left)
    finally:
        del futures


def collect(client: Client, futures: list[Any], what: str, left: str = "nothing was written") -> list[Any]:
    """The results of ``futures``, in order. A task that killed workers more often than
    Dask retries it, or one cancelled because a worker holding its inputs died (Dask's
    "lost dependencies"), becomes an :class:`~leanloop.errors.EngineError` naming ``what``
    was computed and what the run ``left``, instead of Dask's ``KilledWorker`` or
    ``FutureCancelledError``."""
    from distributed.client import FutureCancelledError
    from distributed.scheduler import KilledWorker

    try:
        return list(client.gather(futures))
    except KilledWorker as err:
        raise EngineError(f"the Dask workers died while computing {what} (more often than Dask retries a task: "
                          f"{err}); {left}. Check the workers' memory limit and logs, then run again") from err
    except FutureCancelledError as err:
        raise EngineError(f"a Dask worker died while computing {what}, with inputs of the remaining tasks "
                          f"({err}); {left}. Check the workers' memory limit and logs, then run again") from err
