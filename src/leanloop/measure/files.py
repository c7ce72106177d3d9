"""Drift and data quality of two files, read one column at a time.

:func:`measure_files` gives what :func:`~leanloop.measure.drift.drift_report` and
:func:`~leanloop.measure.quality.quality_report` give on two data frames, without
holding the tables in memory: from Parquet, pyarrow reads one column of each side,
its drift summaries and quality checks are computed, and the column is released
before the next one (two columns in flight per worker thread). Text columns are read
dictionary-encoded, as pandas categoricals (codes into a few labels, never a Python
string per row); duplicate rows are counted column by column
(:class:`~leanloop.measure.duplicates.DuplicateRows`). The results equal those on the
frames read whole (same engine, same checks); only the reference rows that kinds are
inferred from differ (the first 10,000 rather than a seeded sample of 10,000). CSV
cannot be read by column: it is read whole and measured the same way.

Examples
--------
>>> import tempfile, pathlib, numpy as np, pandas as pd
>>> folder = pathlib.Path(tempfile.mkdtemp())
>>> rng = np.random.default_rng(0)
>>> for name, mean in (("ref", 40), ("cur", 45)):
...     frame = pd.DataFrame({"age": rng.normal(mean, 10, 2000), "city": rng.choice(["a", "b"], 2000)})
...     frame.to_parquet(folder / f"{name}.parquet")
>>> result = measure_files(folder / "ref.parquet", folder / "cur.parquet")
>>> [(r.feature, r.method.value, r.drifted) for r in result.drift.features]
[('age', 'wasserstein', True), ('city', 'jensen_shannon', False)]
>>> result.quality.flagged_features, result.quality.duplicates_flagged
([], False)
"""

from __future__ import annotations

import os
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict

from leanloop.config import QualityConfig
from leanloop.errors import DataError, InputError
from leanloop.measure.drift.report import (
    DriftReport,
    Judged,
    assemble,
    chunk_bounds,
    drift_report,
    judge_feature,
    plan_features,
)
from leanloop.measure.drift.result import DriftMethod, DriftOptions, ThresholdMode
from leanloop.measure.drift.samples import NumericSample
from leanloop.measure.duplicates import DuplicateRows
from leanloop.measure.quality import (
    QualityReport,
    QualityResult,
    assemble_quality,
    duplicates_result,
    feature_checks,
    frame_features,
    missing_result,
    quality_report,
    range_results,
    type_errors_result,
)
from leanloop.schema import Feature, FeatureKind, Schema

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

__all__ = ["FileMeasurement", "measure_files"]

#: Reference rows read to infer each column's kind when no schema is given.
_SAMPLE_ROWS = 10_000


class FileMeasurement(BaseModel):
    """Drift and data quality of a current file against a reference file."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    drift: DriftReport
    quality: QualityReport | None = None

    def to_json(self) -> dict[str, Any]:
        """``{"drift": ..., "quality": ...}``, each in its report's stable shape (quality
        ``null`` when it was not asked for)."""
        return {"drift": self.drift.to_json(), "quality": None if self.quality is None else self.quality.to_json()}


class _ParquetColumns:
    """One Parquet file, read a column at a time."""

    def __init__(self, path: Path) -> None:
        import pyarrow as pa
        import pyarrow.parquet as pq

        try:
            self._file = pq.ParquetFile(path)
        except (OSError, pa.ArrowException) as err:
            raise DataError(f"{path.name} is not a readable parquet file: {err}") from err
        self.path = path
        schema = self._file.schema_arrow
        index = (schema.pandas_metadata or {}).get("index_columns", [])
        # A data frame's stored index is not data: pandas.read_parquet makes it the index again.
        self.names = [n for n in schema.names if n not in {i for i in index if isinstance(i, str)}]
        self.rows = self._file.metadata.num_rows
        self._sample: pd.DataFrame | None = None
        self._text = {f.name for f in schema if pa.types.is_string(f.type) or pa.types.is_large_string(f.type)}

    def sample(self, names: list[str]) -> pd.DataFrame:
        """The first rows (up to 10,000) of ``names``, read as :func:`pandas.read_parquet` would."""
        import pyarrow as pa
        import pyarrow.parquet as pq

        if self._sample is None:
            # Streamed in small reads, only the first pages are read and decoded, not whole row groups.
            stream = pq.ParquetFile(self.path, pre_buffer=False, buffer_size=1 << 16)
            first = next(stream.iter_batches(batch_size=_SAMPLE_ROWS), None)
            self._sample = (first if first is not None else pa.table({n: [] for n in self.names})).to_pandas()
        return self._sample.reset_index(drop=True)[names]

    def numbers(self, name: str) -> np.ndarray | None:
        """Every value of ``name`` as a fresh float64 array (missing as NaN), or ``None``
        when the column does not hold plain numbers."""
        import numpy as np
        import pyarrow as pa
        import pyarrow.parquet as pq

        kind = self._file.schema_arrow.field(name).type
        if not (pa.types.is_floating(kind) or pa.types.is_integer(kind)):
            return None
        values = pq.read_table(self.path, columns=[name]).column(0).to_numpy()
        values = values.astype(np.float64, copy=False)
        return values if values.flags.writeable else values.copy()

    def column(self, name: str) -> pd.Series:
        """Every value of ``name``; text as a pandas categorical (dictionary-encoded)."""
        import pyarrow.parquet as pq

        text = [name] if name in self._text else None
        table = pq.read_table(self.path, columns=[name], read_dictionary=text)
        series = table.column(0).to_pandas()
        series.name = name
        return series


def _open(path: str | Path) -> _ParquetColumns | None:
    path = Path(path)
    if not path.is_file():
        raise DataError(f"data file {str(path)!r} does not exist; check the path")
    return _ParquetColumns(path) if path.suffix.lower() in {".parquet", ".pq"} else None


def measure_files(
    reference: str | Path,
    current: str | Path,
    *,
    options: DriftOptions | None = None,
    quality: QualityConfig | None = None,
    methods: dict[str, DriftMethod] | None = None,
    chunks: int = 0,
    schema: Schema | None = None,
    workers: int | None = None,
    with_quality: bool = True,
    exclude: list[str] | None = None,
    project_columns: dict[str, str] | None = None,
) -> FileMeasurement:
    """Drift (as :func:`~leanloop.measure.drift.drift_report`) and data quality (as
    :func:`~leanloop.measure.quality.quality_report`) of ``current`` against ``reference``.

    Parquet files are read one column at a time by ``workers`` threads (default: up to
    two, one per core); CSV files are read whole. ``with_quality=False`` measures drift only.
    ``exclude``: columns left out; ``project_columns``: a project's id and time columns
    and their roles, left out where a file has them. Either is listed under the drift
    report's ``skipped`` with the reason, and counts in no share.

    Raises
    ------
    DataError
        If a file is missing or unreadable.
    InputError
        If ``exclude`` names a column neither file has, or as
        :func:`~leanloop.measure.drift.drift_report` documents.
    """
    from leanloop.data import read_table

    options, quality = options or DriftOptions(), quality or QualityConfig()
    ref_file, cur_file = _open(reference), _open(current)
    if ref_file is None or cur_file is None:
        ref_frame, cur_frame = read_table(reference), read_table(current)
        out = _left_out(list(ref_frame.columns), list(cur_frame.columns), exclude, project_columns)
        ref_frame, cur_frame = ref_frame.drop(columns=list(out), errors="ignore"), cur_frame.drop(
            columns=list(out), errors="ignore")
        return FileMeasurement(
            drift=_skipping(drift_report(ref_frame, cur_frame, options=options, methods=methods, chunks=chunks,
                                         schema=schema), out),
            quality=quality_report(ref_frame, cur_frame, schema=schema, options=quality) if with_quality else None)
    out = _left_out(ref_file.names, cur_file.names, exclude, project_columns)
    ref_file.names = [n for n in ref_file.names if n not in out]
    cur_file.names = [n for n in cur_file.names if n not in out]
    if ref_file.rows == 0 or cur_file.rows == 0:
        empty = ref_file if ref_file.rows == 0 else cur_file
        raise DataError(f"{empty.path.name} has a header but no data rows")

    job = _FileJob(ref_file, cur_file, options=options, quality=quality, methods=methods, chunks=chunks,
                   schema=schema, with_quality=with_quality)
    with ThreadPoolExecutor(max_workers=workers or min(2, os.cpu_count() or 1)) as pool:
        done = {name: (judged, checks) for name, judged, checks in pool.map(job.one, job.order)}
    result = job.result(done)
    return result.model_copy(update={"drift": _skipping(result.drift, out)})


def _left_out(reference: list[str], current: list[str], exclude: list[str] | None,
              project_columns: dict[str, str] | None) -> dict[str, str]:
    """The columns to leave out, each with the reason; an excluded column neither file has is an error.

    >>> _left_out(["a", "id"], ["a", "id"], ["a"], {"id": "id column", "ts": "time column"})
    {'a': 'excluded', 'id': "the project's id column"}
    >>> _left_out(["a"], ["a"], ["b"], None)
    Traceback (most recent call last):
    ...
    leanloop.errors.InputError: cannot exclude column 'b': neither file has it; the columns are ['a']
    """
    present = list(dict.fromkeys([*reference, *current]))
    out: dict[str, str] = {}
    for name in exclude or []:
        if name not in present:
            raise InputError(f"cannot exclude column {name!r}: neither file has it; the columns are {present[:50]}")
        out[name] = "excluded"
    for name, role in (project_columns or {}).items():
        if name in present and name not in out:
            out[name] = f"the project's {role}"
    return out


def _skipping(report: DriftReport, out: dict[str, str]) -> DriftReport:
    """``report`` with the columns left out listed under ``skipped``."""
    return report.model_copy(update={"skipped": {**report.skipped, **out}}) if out else report


class _FileJob:
    """One file-to-file measurement: the plan every feature's worker reads, and the
    row hashes for duplicate counting that the workers share (behind a lock)."""

    def __init__(self, ref_file: Any, cur_file: Any, *, options: DriftOptions, quality: QualityConfig,
                 methods: dict[str, DriftMethod] | None, chunks: int, schema: Schema | None,
                 with_quality: bool) -> None:
        self.ref_file, self.cur_file = ref_file, cur_file
        self.options, self.quality, self.chunks, self.with_quality = options, quality, chunks, with_quality
        self.features, self.chosen, self.skipped = plan_features(
            ref_file.names, cur_file.names, ref_file.sample, schema=schema, methods=methods, options=options,
            chunks=chunks)
        self.checked = frame_features(ref_file.sample(ref_file.names), schema) if with_quality else []
        self.drifting = {f.name for f in self.features}
        # Float columns first: after one of them, duplicate counting usually has no row left to hash.
        self.order = sorted({f.name: f for f in [*self.checked, *self.features]}.values(),
                            key=lambda f: f.kind is not FeatureKind.NUMERIC)
        self.bounds = chunk_bounds(cur_file.rows, chunks)
        self.sides = (DuplicateRows(ref_file.rows), DuplicateRows(cur_file.rows))
        self.hashed = {f.name for f in self.checked}
        self.lock = threading.Lock()
        self.by_name = {f.name: f for f in self.checked}
        self.fast = not chunks and options.threshold_mode is ThresholdMode.FIXED

    def numeric(self, feature: Feature) -> tuple[str, Judged | None, list[QualityResult]] | None:
        """One sort per side serves drift and quality; None: take the general path."""
        name, ref_file, cur_file, quality = feature.name, self.ref_file, self.cur_file, self.quality
        checked_as = self.by_name[name].kind if name in self.by_name else FeatureKind.NUMERIC
        if not (self.fast and name in self.drifting and name in cur_file.names
                and feature.kind is checked_as is FeatureKind.NUMERIC):
            return None
        ref_values = ref_file.numbers(name)
        cur_values = cur_file.numbers(name) if ref_values is not None else None
        if ref_values is None or cur_values is None:
            return None
        if name in self.hashed:
            with self.lock:  # in row order, before sorting
                self.sides[0].add(ref_values)
                self.sides[1].add(cur_values)
        ref, cur = NumericSample.of_owned(ref_values), NumericSample.of_owned(cur_values)
        judged = judge_feature(feature, ref, cur, method=self.chosen.get(name), options=self.options,
                               bounds=self.bounds, chunks=0)
        if name not in self.by_name:
            return name, judged, []
        checks = [missing_result(name, ref_file.rows, ref_file.rows - ref.n, cur_file.rows, cur_file.rows - cur.n,
                                 quality),
                  type_errors_result(name, 0, cur.n, [], quality),
                  *range_results(name, ref.values, cur.values, quality, ordered=True)]
        return name, judged, checks

    def one(self, feature: Feature) -> tuple[str, Judged | None, list[QualityResult]]:
        """Drift and quality of one feature (a worker's task)."""
        done = self.numeric(feature)
        if done is not None:
            return done
        name = feature.name
        ref = self.ref_file.column(name) if name in self.ref_file.names else None
        cur = self.cur_file.column(name) if name in self.cur_file.names else None
        judged = None
        if name in self.drifting:
            values: Any = cur
            if feature.kind is FeatureKind.NUMERIC and cur is not None and cur.dtype.kind in "fiub":
                values = cur.to_numpy()
            judged = judge_feature(feature, ref, values, method=self.chosen.get(name), options=self.options,
                                   bounds=self.bounds, chunks=self.chunks)
        checks: list[QualityResult] = []
        if name in self.by_name:
            import pandas as pd

            ref_q = ref if ref is not None else pd.Series([None] * self.ref_file.rows)
            cur_q = cur if cur is not None else pd.Series([None] * self.cur_file.rows, dtype=object)
            checks = feature_checks(self.by_name[name], ref_q, cur_q, self.quality)
            with self.lock:
                for rows, column in zip(self.sides, (ref, cur), strict=True):
                    if name in self.hashed and column is not None:
                        rows.add(column)
        return name, judged, checks

    def result(self, done: dict[str, tuple[Judged | None, list[QualityResult]]]) -> FileMeasurement:
        """Assemble the workers' results."""
        ref_names, cur_names = self.ref_file.names, self.cur_file.names
        drift = assemble(self.features, [done[f.name][0] for f in self.features],  # type: ignore[misc]
                         bounds=self.bounds, chunks=self.chunks, skipped=self.skipped,
                         only_reference=[n for n in ref_names if n not in cur_names],
                         only_current=[n for n in cur_names if n not in ref_names])
        if not self.with_quality:
            return FileMeasurement(drift=drift)
        results = [r for f in self.checked for r in done[f.name][1]]
        results.append(duplicates_result(*self.sides, self.quality))
        return FileMeasurement(drift=drift, quality=assemble_quality(self.ref_file.rows, self.cur_file.rows, results))
