"""Where measurement and batch scoring run: here, or on a Dask cluster.

The local engine is the rest of the library (numpy and threads in this process).
The Dask engine runs the same work on a ``dask.distributed`` cluster, with the same
numbers: measurement as per-partition summaries that merge exactly
(:mod:`~leanloop.engines.parts`, :mod:`~leanloop.engines.dask_files`) of Parquet
row groups read on the workers (:mod:`~leanloop.engines.pieces`), a numeric
column's values kept on the workers and measured by value ranges
(:mod:`~leanloop.engines.dask_numeric`, :mod:`~leanloop.engines.ranges`), and per-row
model work with ``map_partitions``, the model sent once to each worker
(:mod:`~leanloop.engines.dask_score`). :func:`~leanloop.engines.cluster.dask_client`
opens the configured cluster (``[engine]``). Dask is an optional extra:
``pip install 'leanloop[dask]'``; nothing here imports it until a job runs.
"""

from leanloop.engines.cluster import dask_client, require_dask

__all__ = ["dask_client", "require_dask"]
