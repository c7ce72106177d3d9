"""Drift and data quality of two Parquet datasets on a Dask cluster.

The same measurement as :func:`~leanloop.measure.files.measure_files`, with the same
numbers: each worker summarises its pieces of one column (row groups read by pyarrow there,
:mod:`~leanloop.engines.pieces`; :func:`~leanloop.engines.parts.column_part`: sorted values or a frequency table, and
the quality tally). A numeric column's sorted values stay on the workers and are
measured there by value ranges (:mod:`~leanloop.engines.dask_numeric`), the client
receiving small summaries (a column that fits a worker easily on one worker, so that no
value moves between workers); other columns' summaries (frequency tables), and numeric ones
that method or size sends here, are merged exactly on the client, which runs the local
engine's code on them (:func:`~leanloop.measure.drift.report.judge_feature`,
:func:`~leanloop.measure.quality.tally_checks`). A column that fits a worker is measured
whole in one task there instead (:mod:`~leanloop.engines.dask_column`), the scheduler
handing the next column to the first worker done. Spread columns go one or two at a time, so
a worker holds only its partitions of the column at hand: a dataset larger than a
worker's memory is measured. Duplicate rows are counted on 64-bit row hashes that stay
on the workers (:mod:`~leanloop.engines.dask_duplicates`). A path may be a file, a folder
of Parquet files or an fsspec URL (``s3://...`` when the user installs that filesystem
package).

Fixed thresholds only, and no chunks: calibration and chunks read the rows in order
on one machine (``--engine local``).
"""

from __future__ import annotations

import sys
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

from leanloop.config import QualityConfig
from leanloop.engines.cluster import collect, gather
from leanloop.engines.dask_column import ColumnTask, SideColumn, judge_parts, measure_column, numeric_kind, side_parts
from leanloop.engines.dask_duplicates import Counted, count_duplicates, count_here
from leanloop.engines.dask_numeric import SUMMARISED_FROM, OnCluster, measure_numeric
from leanloop.engines.parts import ColumnPart, absent_part, merge_parts
from leanloop.engines.pieces import piece_part, plan, read_frame
from leanloop.errors import DataError, InputError
from leanloop.measure.drift.report import Judged, assemble, plan_features
from leanloop.measure.drift.result import DriftMethod, DriftOptions, ThresholdMode
from leanloop.measure.duplicates import DuplicateRows
from leanloop.measure.files import FileMeasurement
from leanloop.measure.quality import (
    QualityResult,
    assemble_quality,
    duplicates_result,
    frame_features,
    hash_order,
)
from leanloop.schema import Feature, FeatureKind, Schema

if TYPE_CHECKING:
    import pandas as pd
    from distributed import Client

__all__ = ["measure_parquet"]

#: Reference rows read to infer each column's kind when no schema is given (as the local engine).
_SAMPLE_ROWS = 10_000
#: Spread columns measured at once (at least; one per worker): the client holds each one's
#: merged summaries (8 bytes a value).
_COLUMNS_AT_ONCE = 2
#: Bytes of a worker's memory (per thread) per value of a column (both sides) for the column to
#: be measured whole on one worker: its sorted values (8 bytes a value), then a range merged at
#: a time (ranges are sized to the memory limit on their own).
_WHOLE_BYTES_PER_VALUE = 32


class _Side:
    """One side (reference or current): a Parquet dataset, its footers read here and
    its row groups read on the workers (:mod:`~leanloop.engines.pieces`)."""

    def __init__(self, path: Any, side: str) -> None:
        self.path, self.side = str(path), side
        self.data = plan(self.path)
        self.names = self.data.names
        self._sample: pd.DataFrame | None = None

    def sample(self, names: list[str]) -> pd.DataFrame:
        """The first rows (up to 10,000) of ``names``."""
        if self._sample is None:
            self._sample = self.data.sample(_SAMPLE_ROWS)
        return self._sample[names]

    def parts(self, name: str, kind: FeatureKind, *, drift: bool, quality: bool) -> list[Any]:
        """Delayed summaries (:func:`~leanloop.engines.pieces.piece_part`) of the pieces of
        column ``name``, of about :data:`~leanloop.engines.pieces.PIECE_BYTES` each."""
        import dask

        text = name in self.data.text
        return [dask.delayed(piece_part, pure=False)(p, name, kind, drift=drift, quality=quality, side=self.side,
                                                    text=text)
                for p in self.data.pieces([name])]

    def frames(self, names: list[str]) -> list[Any]:
        """Delayed data frames of the pieces of the columns ``names``."""
        import dask

        return [dask.delayed(read_frame, pure=False)(p, names) for p in self.data.pieces(names)]


def measure_parquet(
    reference: Any,
    current: Any,
    *,
    client: Client,
    options: DriftOptions | None = None,
    quality: QualityConfig | None = None,
    methods: dict[str, DriftMethod] | None = None,
    schema: Schema | None = None,
    with_quality: bool = True,
    summarised_from: int = SUMMARISED_FROM,
    whole_columns: bool = True,
) -> FileMeasurement:
    """Drift and data quality of ``current`` against ``reference`` (Parquet files,
    folders or fsspec URLs) on the cluster of ``client``; the same result as
    :func:`~leanloop.measure.files.measure_files` on the same data. A numeric column of
    at least ``summarised_from`` values (both sides) is measured by value ranges on the
    workers (:mod:`~leanloop.engines.dask_numeric`); a smaller one travels to the client.
    ``whole_columns``: a column that fits a worker is measured in one task there
    (:mod:`~leanloop.engines.dask_column`), and each side's duplicate rows are counted so;
    ``False`` spreads every column over the workers, as one too large for a worker.

    Raises
    ------
    DataError
        If a dataset is missing, unreadable or empty.
    InputError
        As :func:`~leanloop.measure.drift.drift_report` documents, or for calibrated thresholds.
    EngineError
        If the cluster lost workers more often than Dask retries a task.
    """
    options, quality = options or DriftOptions(), quality or QualityConfig()
    if options.threshold_mode is not ThresholdMode.FIXED:
        raise InputError("the Dask engine measures with fixed thresholds; calibrated thresholds read the "
                         "reference rows in order on one machine: run with --engine local")
    job = _Job(_Side(reference, "reference"), _Side(current, "current"), client=client, options=options,
               quality=quality, methods=methods, schema=schema, with_quality=with_quality,
               summarised_from=summarised_from, whole_columns=whole_columns)
    return job.run()


class _Job:
    """One measurement: the plan, then each column measured on the cluster."""

    def __init__(self, ref: _Side, cur: _Side, *, client: Client, options: DriftOptions, quality: QualityConfig,
                 methods: dict[str, DriftMethod] | None, schema: Schema | None, with_quality: bool,
                 summarised_from: int, whole_columns: bool) -> None:
        self.ref, self.cur, self.client, self.summarised_from = ref, cur, client, summarised_from
        self.options, self.quality, self.with_quality = options, quality, with_quality
        for side in (ref, cur):
            if side.sample(side.names).empty:
                raise DataError(f"{side.path} has columns but no data rows")
        self.features, self.chosen, self.skipped = plan_features(
            ref.names, cur.names, ref.sample, schema=schema, methods=methods, options=options, chunks=0)
        self.checked = frame_features(ref.sample(ref.names), schema) if with_quality else []
        self.drifting = {f.name: f for f in self.features}
        self.by_name = {f.name: f for f in self.checked}
        self.order = list({f.name: f for f in [*self.checked, *self.features]})
        workers = client.scheduler_info()["workers"]
        self.workers = sorted(workers)
        # A worker's memory for one task (all its threads may measure a column at once).
        self.memory = min((int((w.get("memory_limit") or 0) / max(1, w.get("nthreads") or 1))
                           for w in workers.values()), default=0)
        self.threads = sum(max(1, w.get("nthreads") or 1) for w in workers.values())
        self.whole = whole_columns and self._fits()

    def run(self) -> FileMeasurement:
        """Measure every column, count duplicates, assemble the reports."""
        # Whole columns: a task ahead of the workers' threads waits on the scheduler, which hands
        # it to the first worker done; spread columns: one or two at a time.
        ahead = self.threads + 1 if self.whole else max(_COLUMNS_AT_ONCE, len(self.workers))
        sides_at_once = self.with_quality and self.whole
        with ThreadPoolExecutor(max_workers=ahead) as pool:
            columns = pool.map(self._one, self.order)
            # Whole columns: the duplicates counted beside the last columns, not after them (a
            # worker would idle at the barrier); spread ones after, so that a worker never holds
            # its share of a column and of the hashes at once.
            duplicates = pool.map(self._duplicates, (self.ref, self.cur)) if sides_at_once else iter(())
            done = dict(zip(self.order, columns, strict=True))
            sides = list(duplicates)
        if self.with_quality and not sides_at_once:
            sides = [self._duplicates(side) for side in (self.ref, self.cur)]
        drift = assemble(self.features, [done[f.name][0] for f in self.features],  # type: ignore[misc]
                         bounds=[(0, 0)], chunks=0, skipped=self.skipped,
                         only_reference=[n for n in self.ref.names if n not in self.cur.names],
                         only_current=[n for n in self.cur.names if n not in self.ref.names])
        if not self.with_quality:
            return FileMeasurement(drift=drift)
        results = [r for f in self.checked for r in done[f.name][1]]
        results.append(duplicates_result(sides[0], sides[1], self.quality))
        return FileMeasurement(drift=drift, quality=assemble_quality(sides[0].rows, sides[1].rows, results))

    def _one(self, name: str) -> tuple[Judged | None, list[QualityResult]]:
        feature, checked = self.drifting.get(name), self.by_name.get(name)
        if self.whole:
            return self._whole(name, feature, checked)
        kind = numeric_kind(feature, checked)
        if kind is not None and all(name in side.names for side in (self.ref, self.cur)):
            return self._numeric(name, kind, feature, checked)
        return self._judge(feature, checked, self._parts(name, feature, checked))

    def _whole(self, name: str, feature: Feature | None,
               checked: Feature | None) -> tuple[Judged | None, list[QualityResult]]:
        """A column that fits a worker, measured in one task there
        (:func:`~leanloop.engines.dask_column.measure_column`), placed by the scheduler. No
        value moves between workers (with 2 workers, moving a range's values to where it was
        merged took their CPU from 12.3 s on 1 worker to 17.8 s at 10M + 10M), and a side is
        read as one piece a file, so its values are one sorted run and a range's share needs
        no merge of runs (two runs a side, 128 MiB pieces at 20M rows, cost a sort of every
        range: 15.1 of the 1 worker's 41.2 busy seconds at 20M + 20M)."""
        def side_column(side: _Side) -> SideColumn:
            pieces = side.data.pieces([name], piece_bytes=sys.maxsize) if name in side.names else []
            return SideColumn(tuple(pieces), name in side.data.text, side.data.rows)

        task = ColumnTask(name, feature, checked, self.chosen.get(name), self.options, self.quality,
                          side_column(self.ref), side_column(self.cur), memory=self.memory,
                          summarised_from=self.summarised_from)
        future = self.client.submit(measure_column, task, pure=False)
        try:
            return collect(self.client, [future], f"the column {name!r}")[0]
        finally:
            del future

    def _numeric(self, name: str, kind: FeatureKind, feature: Feature | None,
                 checked: Feature | None) -> tuple[Judged | None, list[QualityResult]]:
        """A numeric column: its parts stay on the workers, measured by value ranges
        (:mod:`~leanloop.engines.dask_numeric`), or gathered here when it says so."""
        futures = {side.side: self.client.compute(
            side.parts(name, kind, drift=feature is not None, quality=checked is not None))
            for side in (self.ref, self.cur)}
        try:
            done = measure_numeric(OnCluster(self.client, f"column {name!r}"), futures, feature=feature,
                                   checked=checked, method=self.chosen.get(name), options=self.options,
                                   quality=self.quality, summarised_from=self.summarised_from)
            if done is not None:
                return done
            parts: dict[tuple[str, str], ColumnPart] = {}
            for side, side_futures in futures.items():
                merged = merge_parts(collect(self.client, side_futures, f"the column {name!r} of the {side} data"))
                parts[side, "drift"] = parts[side, "quality"] = merged
            return self._judge(feature, checked, parts)
        finally:
            del futures

    def _fits(self) -> bool:
        """Whether a numeric column (both sides) fits a worker easily."""
        values = self.ref.data.rows + self.cur.data.rows
        return not self.memory or values * _WHOLE_BYTES_PER_VALUE <= self.memory

    def _judge(self, feature: Feature | None, checked: Feature | None,
               parts: dict[tuple[str, str], ColumnPart]) -> tuple[Judged | None, list[QualityResult]]:
        method = self.chosen.get(feature.name) if feature is not None else None
        return judge_parts(feature, checked, parts, method=method, options=self.options, quality=self.quality)

    def _parts(self, name: str, feature: Feature | None,
               checked: Feature | None) -> dict[tuple[str, str], ColumnPart]:
        """Each side's merged summaries of ``name``, gathered here."""
        sides = {side.side: side for side in (self.ref, self.cur)}
        return side_parts(lambda side, kind, drift, quality: self._column(sides[side], name, kind, drift=drift,
                                                                          quality=quality), feature, checked)

    def _column(self, side: _Side, name: str, kind: FeatureKind, *, drift: bool, quality: bool) -> ColumnPart:
        if name not in side.names:
            return absent_part(self._rows(side), kind, name=name)
        return merge_parts(self._gather(side.parts(name, kind, drift=drift, quality=quality),
                                        f"column {name!r} of {side.path}"))

    def _rows(self, side: _Side) -> int:
        return side.data.rows

    def _duplicates(self, side: _Side) -> DuplicateRows:
        names = [f.name for f in self.checked if f.name in side.names]
        if not names:
            return DuplicateRows(self._rows(side))
        # Rows that differ in one column repeat no row: hash a nearly unique column first and
        # every column only when it leaves ties, the local engine's early exit (hashing all 25
        # columns measured 2.2 s a million rows on a worker, one float column 0.07 s).
        tries = [hash_order(side.sample(names))[:1], names] if len(names) > 1 else [names]
        if self.whole:  # one task: the side's hashes (8 bytes a row) fit a worker as a column does
            future = self.client.submit(count_here, side.data.pieces(names, piece_bytes=sys.maxsize), tries,
                                        pure=False)
            try:
                count = collect(self.client, [future], f"the duplicate rows of {side.path}")[0]
            finally:
                del future
            return Counted(side.data.rows, int(count))
        for columns in tries:
            rows = count_duplicates(self.client, side.frames(columns), f"the duplicate rows of {side.path}")
            if rows.count == 0:
                break
        return rows

    def _gather(self, tasks: list[Any], what: str) -> list[Any]:
        """Run ``tasks`` on the cluster (see :func:`leanloop.engines.cluster.gather`)."""
        return gather(self.client, tasks, f"the {what}")
