"""``leanloop predict --engine dask``: a Parquet file or folder scored on a Dask cluster.

The same run as :func:`~leanloop.batch.run.predict_file`, partition by partition: each
worker judges and scores its partitions with the project's
:class:`~leanloop.batch.score.ChunkScorer` (sent once to every worker), so the output
rows and the log records are built by the same code as the local engine's, and equal
them row for row (their prediction ids and log times aside: each run draws its own).

Two passes, as the local engine's all-or-nothing rule needs:

1. the partitions are judged (no scoring): the file's time-zone habit is the first
   dated row's, as when the file is read in order, and with logging a bad row stops the
   run before anything is logged or written;
2. the partitions are scored a few at a time, and the client writes each one's output
   rows in file order to a temporary file renamed into place at the end, and logs its
   records in one group insert. Only the client logs, once per partition, after that
   partition is scored: a worker that dies mid-job makes Dask score its partitions again,
   never log them twice.

Examples
--------
>>> partition_offsets([3, 0, 2])
[0, 3, 3]
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import replace
from itertools import accumulate
from pathlib import Path
from typing import TYPE_CHECKING, Any

from leanloop.batch.files import InputFile, file_kind, table_as_read
from leanloop.batch.run import (
    BatchOptions,
    batch_result,
    chunk_scorer,
    output_paths,
    read_columns,
    refusal,
    write_scored,
)
from leanloop.batch.score import ChunkScorer, ScoredChunk
from leanloop.batch.validate import Problem
from leanloop.engines.cluster import gather
from leanloop.errors import DataError, EngineError, InputError
from leanloop.row_keys import Zones

if TYPE_CHECKING:
    import pandas as pd
    from distributed import Client

    from leanloop.batch.run import BatchResult
    from leanloop.workspace import Workspace

__all__ = ["partition_offsets", "predict_dask"]

#: Partitions scored at once per worker: enough to keep each busy while the client
#: writes and logs, few enough that the cluster holds only a handful of scored partitions.
_IN_FLIGHT_PER_WORKER = 2


def _is_url(source: str) -> bool:
    """``s3://bucket/day/``, ``file:///data/day``: read through fsspec, not checked here."""
    return "://" in source


def partition_offsets(lengths: list[int]) -> list[int]:
    """The first row of each partition (rows count from 0 across the file)."""
    return [0, *accumulate(lengths)][: len(lengths)]


def _chunk(part: pd.DataFrame, text: list[str]) -> pd.DataFrame:
    """A partition (read with Arrow types) as the local engine reads a chunk of the file."""
    import pyarrow as pa

    return table_as_read(pa.Table.from_pandas(part, preserve_index=False), text)


def _judge_part(part: pd.DataFrame, scorer: ChunkScorer, text: list[str], first_row: int,
                zones: Zones) -> tuple[Zones, list[Problem], int]:
    """Judge a partition: the zone habit it ends with, its first problem, its bad rows."""
    judge = replace(scorer, zones=replace(zones))
    checked = judge.judge(_chunk(part, text), first_row=first_row).checked
    return judge.zones, checked.problems[:1], int(checked.bad.sum())


def _score_part(part: pd.DataFrame, scorer: ChunkScorer, text: list[str], first_row: int, zones: Zones,
                log: bool) -> tuple[ScoredChunk, pd.DataFrame]:
    """Score a partition; the rows as read when some are bad (for the rejects file), else none."""
    chunk = _chunk(part, text)
    done = replace(scorer, zones=replace(zones))(chunk, first_row=first_row, log=log)
    return done, chunk if done.bad.any() else chunk.iloc[:0]


class _Cluster:
    """The data and the scorer on the cluster, and the tasks run on them."""

    def __init__(self, client: Client, source: str, scorer: ChunkScorer, chunk_rows: int) -> None:
        import dask
        import dask.dataframe as dd
        import pyarrow as pa

        path = Path(source.rstrip("/"))  # a URL's last part names it in messages
        self.client, self.source, self.path, self.scorer = client, source, path, scorer
        if not _is_url(source) and not path.exists():
            raise DataError(f"input {source!r} does not exist; check the path")
        if not _is_url(source) and path.is_file() and file_kind(path) != "parquet":
            raise InputError(f"the Dask engine reads Parquet files and folders, not {path.name}: convert it to "
                             "Parquet, or run with --engine local")
        try:
            data = dd.read_parquet(source, dtype_backend="pyarrow")
        except (OSError, ValueError, pa.ArrowException) as err:
            raise DataError(f"{source} is not a readable Parquet file or folder: {err}") from err
        self.columns, self.text = read_columns(scorer, InputFile(path, "parquet", [str(c) for c in data.columns],
                                                                 chunk_rows))
        self.parts = data[self.columns].to_delayed()
        lengths = self.gather([dask.delayed(len)(p) for p in data[self.columns[:1]].to_delayed()], "the rows")
        self.offsets, self.rows = partition_offsets(lengths), int(sum(lengths))
        # Sent once to every worker: each task reads the worker's copy of the model.
        from distributed.comm import CommClosedError

        try:
            [self.shared] = client.scatter([scorer], broadcast=True, hash=False)
        except CommClosedError as err:  # a worker died as the model reached it: nothing is scored yet
            raise EngineError(f"a Dask worker went away while the model was sent to the workers ({err}); "
                              "nothing was written or logged. Check the workers' memory limit and logs, then run "
                              "again") from err

    def gather(self, tasks: list[Any], what: str, left: str = "nothing was written or logged") -> list[Any]:
        """Run ``tasks`` (see :func:`leanloop.engines.cluster.gather`), saying what the run ``left``."""
        return gather(self.client, tasks, f"{what} of {self.source}", left)

    def judge(self, zones: dict[int, Zones]) -> dict[int, tuple[Zones, list[Problem], int]]:
        """The partitions numbered in ``zones`` judged, each starting from its zone habit there."""
        import dask

        tasks = [dask.delayed(_judge_part, pure=False)(self.parts[i], self.shared, self.text, self.offsets[i], z)
                 for i, z in zones.items()]
        return dict(zip(zones, self.gather(tasks, "the judging"), strict=True))

    def scored(self, zones: Zones, log: bool) -> Iterator[tuple[ScoredChunk, pd.DataFrame]]:
        """The partitions scored, in file order, a few in flight at a time."""
        import dask

        window = _IN_FLIGHT_PER_WORKER * max(1, len(self.client.scheduler_info()["workers"]))
        tasks = [dask.delayed(_score_part, pure=False)(p, self.shared, self.text, start, zones, log)
                 for p, start in zip(self.parts, self.offsets, strict=True)]
        for begin in range(0, len(tasks), window):
            left = "nothing was written or logged" if begin == 0 or not log else \
                f"no output was written; the {self.offsets[begin]:,} rows scored before stay logged"
            yield from self.gather(tasks[begin:begin + window], "the scoring", left)


def _habit(results: list[tuple[Zones, list[Problem], int]]) -> Zones:
    """The file's zone habit: the first partition (in file order) that has a dated row sets it."""
    return next((zones for zones, _, _ in results if zones.zoned is not None), Zones())


def _prejudge(cluster: _Cluster, *, refuse: bool) -> Zones:
    """Judge every partition; the file's zone habit. With ``refuse``, a bad row anywhere
    stops the run (its first one named, as the local engine does)."""
    if not refuse and cluster.scorer.time_column not in cluster.columns:
        return Zones()  # nothing to learn first: bad rows are met (and refused or set aside) as scored
    results = list(cluster.judge({i: Zones() for i in range(len(cluster.parts))}).values())
    habit = _habit(results)
    # A later partition that set a habit on its own is judged again under the file's when that
    # could change its verdict: the other habit, or problems that name its own first row.
    again = [i for i, (zones, _, bad) in enumerate(results) if zones.zoned is not None and zones.row != habit.row
             and (zones.zoned != habit.zoned or bad)]
    redone = cluster.judge(dict.fromkeys(again, habit)) if again else {}
    results = [redone.get(i, r) for i, r in enumerate(results)]
    problems = [p for _, first, _ in results for p in first]
    if refuse and problems:
        raise refusal(problems[0], cluster.path.name, sum(n for _, _, n in results) - 1)
    return habit


def predict_dask(ws: Workspace, path: str | Path, options: BatchOptions | None = None, *, client: Client,
                 progress: Callable[[int], None] | None = None,
                 scorer: ChunkScorer | None = None) -> BatchResult:
    """Score the Parquet file or folder (or fsspec URL) at ``path`` on the cluster of ``client``: the
    local engine's result (see the module). ``scorer``: the rows' scorer, when not the
    project's champion (or ``options.version``) as :func:`~leanloop.batch.run.chunk_scorer` makes it.

    Raises
    ------
    DataError
        If the input is missing or unreadable, or (without ``skip_invalid``) holds a bad row.
    EngineError
        If the workers died more often than Dask retries a task, or one died as the model
        was sent to them.
    """
    options = options or BatchOptions()
    started = time.perf_counter()
    source = str(path)
    if _is_url(source) and options.output is None:
        raise InputError(f"give -o/--output for {source}: the output is written on this machine, and a URL "
                         "has no folder here to write it beside")
    path = Path(source)
    target, rejects = output_paths(path, options)
    scorer = scorer or chunk_scorer(ws, options.version)
    cluster = _Cluster(client, source, scorer, options.chunk_rows)
    habit = _prejudge(cluster, refuse=options.log and not options.skip_invalid)
    totals, flagged = write_scored(ws, cluster.scored(habit, options.log), scorer=scorer, columns=cluster.columns,
                                   target=target, rejects=rejects, options=options, name=path.name, progress=progress)
    return batch_result(source, target, rejects, scorer.version, totals, flagged, started=started)
