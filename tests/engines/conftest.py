"""One real Dask cluster for the session: two worker processes with a low memory limit."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

#: Per worker: an idle worker that has imported scikit-learn holds about 300 MB.
MEMORY_LIMIT = "1GB"


@pytest.fixture(scope="session")
def dask_client() -> Iterator[Any]:
    """A client of a LocalCluster(n_workers=2, processes=True), started once per session."""
    distributed = pytest.importorskip("distributed")
    cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                       memory_limit=MEMORY_LIMIT, dashboard_address=None)
    with cluster, distributed.Client(cluster) as client:
        yield client


def two_workers_again(client: Any) -> None:
    """Wait for the nanny to bring back a worker a test killed, so the tests after have two.

    Under a heavily loaded machine the nanny's restart has been seen not to arrive within a
    minute; then the cluster's workers are restarted outright (a fresh process each). What a
    killed-worker test asserts is its job's outcome, not how fast the nanny is."""
    try:
        client.wait_for_workers(2, timeout=60)
    except TimeoutError:
        client.restart(timeout=120, wait_for_workers=False)
        client.wait_for_workers(2, timeout=120)
