"""A window of the prediction log measured on a Dask cluster (``measure`` and ``cycle``).

:func:`dask_columns` is the engine's :data:`~leanloop.measure.slice.ColumnsHook`: the
window's features (as the local engine coerces them) and the reference are written as
Parquet parts to a scratch folder in the workspace, and
:func:`~leanloop.engines.dask_files.measure_parquet` measures them there: each worker
summarises its parts one column at a time (sorted values or a frequency table, and
the quality tally), the client merges the summaries exactly and judges them with the
local engine's code. Feature drift, data quality and the drifted flags are therefore
the local engine's numbers, and a worker reads a part only while it summarises it, so
a window larger than one worker's memory completes. The folder is removed when the
measurement ends, failed or not. Workers on other hosts must see the workspace (a
shared filesystem) to read the parts.

:func:`window_engine` gives the hook of the chosen engine (``None``: local) with a
client of the configured cluster open for the block; :mod:`leanloop.loop` and the
façade measure inside it.

Examples
--------
>>> part_bounds(10, parts=3)
[(0, 4), (4, 7), (7, 10)]
"""

from __future__ import annotations

import math
import shutil
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from itertools import pairwise
from typing import TYPE_CHECKING

from leanloop.config.engine import EngineConfig, EngineKind
from leanloop.engines.cluster import dask_client
from leanloop.errors import EngineError
from leanloop.measure.drift import DriftOptions

if TYPE_CHECKING:
    from pathlib import Path

    import pandas as pd
    from distributed import Client

    from leanloop.measure.files import FileMeasurement
    from leanloop.measure.slice import ColumnsHook
    from leanloop.workspace import Workspace

__all__ = ["dask_columns", "part_bounds", "window_engine"]

#: Rows per Parquet part: 250k rows of 25 numeric features are 50 MB, a small share of a
#: worker's memory, and few enough parts that the client merges them quickly.
_PART_ROWS = 250_000
#: Parts per worker at least, so that every worker of the cluster has some to summarise.
_PARTS_PER_WORKER = 2


def part_bounds(rows: int, *, parts: int) -> list[tuple[int, int]]:
    """``[start, end)`` of ``parts`` consecutive parts of ``rows`` rows, sizes differing by one at most."""
    size, extra = divmod(rows, parts)
    starts = [i * size + min(i, extra) for i in range(parts + 1)]
    return [(a, b) for a, b in pairwise(starts) if b > a]


def _write_parts(frame: pd.DataFrame, folder: Path, parts: int) -> Path:
    folder.mkdir(parents=True)
    for i, (start, end) in enumerate(part_bounds(len(frame), parts=parts)):
        frame.iloc[start:end].to_parquet(folder / f"part-{i:05d}.parquet", index=False)
    return folder


def dask_columns(ws: Workspace, client: Client) -> ColumnsHook:
    """The hook measuring a window's feature drift and data quality on the cluster of
    ``client`` (see the module), with the project's drift and quality settings.

    Raises (when called)
    --------------------
    EngineError
        If the workers died more often than Dask retries a task; nothing is saved.
    InputError
        If ``[measure]`` asks for calibrated thresholds (they read the reference in order on one machine).
    """
    # Here, not at the top: the local engine (every window measured without Dask) never loads it.
    from leanloop.engines.dask_files import measure_parquet

    config = ws.config

    def columns(reference: pd.DataFrame, current: pd.DataFrame) -> FileMeasurement:
        workers = max(1, len(client.scheduler_info()["workers"]))
        parts = max(_PARTS_PER_WORKER * workers, math.ceil(len(current) / _PART_ROWS))
        scratch = ws.paths.workspace / "dask" / uuid.uuid4().hex
        names = config.schema_.names
        try:
            ref = _write_parts(reference[names], scratch / "reference", max(1, math.ceil(len(reference) / _PART_ROWS)))
            cur = _write_parts(current[names], scratch / "current", parts)
            return measure_parquet(ref, cur, client=client, schema=config.schema_, quality=config.quality,
                                   methods=config.measure.drift_methods,
                                   options=DriftOptions.from_config(config.measure, seed=config.model.seed))
        except EngineError as err:
            raise EngineError(f"measuring the window on Dask failed, and nothing of it was saved: {err}") from err
        finally:
            shutil.rmtree(scratch, ignore_errors=True)

    return columns


@contextmanager
def window_engine(ws: Workspace, engine: EngineConfig | None = None) -> Iterator[ColumnsHook | None]:
    """The columns hook of ``engine`` (default: the project's ``[engine]``): ``None`` for
    the local engine, else :func:`dask_columns` on a client of the configured cluster,
    open for the block.

    Raises
    ------
    EngineError
        If Dask is not installed or the scheduler cannot be reached.
    """
    chosen = engine or ws.config.engine
    if chosen.kind is EngineKind.LOCAL:
        yield None
        return
    with dask_client(chosen) as client:
        yield dask_columns(ws, client)
