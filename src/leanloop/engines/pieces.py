"""Parquet datasets cut into pieces of row groups, read by pyarrow in the task that summarises them.

The client reads each file's footer (:func:`plan`) and cuts one column's row groups
into :class:`Piece` objects of about :data:`PIECE_BYTES` uncompressed bytes; a worker
reads its piece with :class:`pyarrow.parquet.ParquetFile` inside the summarising task
(:func:`piece_part`, :func:`read_frame`). This replaced ``dask.dataframe.read_parquet``:
its fused partitions concatenated the row groups' pandas columns and then the
summary sorted a copy, three fresh arrays of a partition's size where one is needed
(arrow's own concatenation, sorted in place), and its graph added a task per partition.
A path may be a file, a folder of Parquet files (names starting with ``_`` or ``.``
skipped, as Dask and Spark do), a glob or an fsspec URL, opened through fsspec on
the workers.

Examples
--------
>>> import pandas as pd, tempfile, pathlib
>>> folder = pathlib.Path(tempfile.mkdtemp())
>>> pd.DataFrame({"x": [3.0, None, 1.0, 2.0]}).to_parquet(folder / "a.parquet", row_group_size=2)
>>> data = plan(str(folder))
>>> data.rows, [p.groups for p in data.pieces(["x"], piece_bytes=1)]
(4, [(0,), (1,)])
>>> part = piece_part(data.pieces(["x"])[0], "x", FeatureKind.NUMERIC, drift=True, quality=True)
>>> part.sample.values.tolist(), part.tally.rows, part.tally.missing
([1.0, 2.0, 3.0], 4, 1)
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from itertools import pairwise
from typing import TYPE_CHECKING, Any

from leanloop.engines.parts import ColumnPart, column_part
from leanloop.errors import DataError
from leanloop.measure.drift.samples import NumericSample
from leanloop.measure.quality import ColumnTally
from leanloop.schema import FeatureKind

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd
    import pyarrow as pa

__all__ = ["PIECE_BYTES", "Dataset", "Piece", "piece_part", "plan", "read_frame", "read_groups"]

#: Uncompressed bytes of the read columns a piece aims at: sixteen 1M-row groups of a float
#: column. Fewer, larger pieces mean fewer tasks in every later round and fewer runs for
#: a range to join (a 10M-value side in one piece: no join at all); smaller ones less
#: memory per task. At 10M + 10M, 2 workers: 32 MiB, client 4.5 and workers 27.3 CPU s (load
#: 8 to 9); 64 MiB, 3.7 and 24.4 (load 8 to 9), 2.8 and 22.5 (load 2.5); 128 MiB, 2.2 and 17.8 (load 2.3).
PIECE_BYTES = 128 * 2**20


@dataclass(frozen=True)
class Piece:
    """Row groups ``groups`` of the file ``source`` (a path or an fsspec URL)."""

    source: str
    groups: tuple[int, ...]
    rows: int


@dataclass(frozen=True)
class _File:
    source: str
    rows: tuple[int, ...]  # per row group
    sizes: dict[str, tuple[int, ...]]  # uncompressed bytes per column and row group


@dataclass(frozen=True)
class Dataset:
    """The files of one Parquet dataset, their columns and row groups (from the footers)."""

    path: str
    names: list[str]
    files: list[_File]
    text: frozenset[str]

    @property
    def rows(self) -> int:
        """Rows in all files."""
        return sum(sum(f.rows) for f in self.files)

    def pieces(self, names: list[str], *, piece_bytes: int = PIECE_BYTES) -> list[Piece]:
        """The dataset cut into pieces of consecutive row groups of a file, of about
        ``piece_bytes`` uncompressed bytes of ``names`` each, in row order."""
        out: list[Piece] = []
        for file in self.files:
            groups = len(file.rows)
            if not groups:
                continue
            size = sum(sum(file.sizes.get(n, ())) for n in names)
            count = min(groups, max(1, math.ceil(size / piece_bytes)))
            bounds = [round(i * groups / count) for i in range(count + 1)]
            out += [Piece(file.source, tuple(range(a, b)), sum(file.rows[a:b]))
                    for a, b in pairwise(bounds) if b > a]
        return out

    def sample(self, rows: int) -> pd.DataFrame:
        """The first ``rows`` rows (fewer if the dataset has fewer), read as the local engine reads them."""
        import pandas as pd
        import pyarrow as pa

        batches: list[pa.RecordBatch] = []
        for file in self.files:
            with _open(file.source, pre_buffer=False, buffer_size=1 << 16) as handle:
                # Streamed in small reads: only the first pages are read and decoded.
                for batch in handle.iter_batches(batch_size=rows, columns=self.names):
                    batches.append(batch)
                    rows -= batch.num_rows
                    if rows <= 0:
                        break
            if rows <= 0:
                break
        if not batches:
            return pd.DataFrame({n: [] for n in self.names})
        return pa.Table.from_batches(batches).to_pandas().reset_index(drop=True)


@contextmanager
def _open(source: str, **kwargs: Any) -> Iterator[Any]:
    """A :class:`pyarrow.parquet.ParquetFile` of a local path or an fsspec URL, closed on exit."""
    import fsspec  # type: ignore[import-untyped]
    import pyarrow.parquet as pq

    fs, path = fsspec.core.url_to_fs(source)
    if _local(fs):
        yield pq.ParquetFile(path, **kwargs)
        return
    with fs.open(path, "rb") as handle:
        yield pq.ParquetFile(handle, **kwargs)


def _local(fs: Any) -> bool:
    protocol = fs.protocol if isinstance(fs.protocol, str) else fs.protocol[0]
    return protocol in {"file", "local"}


def plan(path: str) -> Dataset:
    """The files of the dataset at ``path`` and their row groups, from their footers.

    Raises
    ------
    DataError
        If there is no such file or folder, or a file is not readable Parquet.
    """
    import fsspec
    import pyarrow as pa

    try:
        fs, root = fsspec.core.url_to_fs(path)
        if fs.isdir(root):
            found = sorted(p for p in fs.find(root) if not p.rsplit("/", 1)[-1].startswith(("_", ".")))
        elif any(c in root for c in "*?["):
            found = sorted(fs.glob(root))
        else:
            found = [root] if fs.exists(root) else []
        if not found:
            raise FileNotFoundError(f"no Parquet file at {path}")
        sources = [p if _local(fs) else fs.unstrip_protocol(p) for p in found]
        files, names, text = [], None, set()
        for source in sources:
            with _open(source) as handle:
                schema = handle.schema_arrow
                if names is None:
                    index = (schema.pandas_metadata or {}).get("index_columns", [])
                    # A data frame's stored index is not data (as the local engine reads it).
                    names = [n for n in schema.names if n not in {i for i in index if isinstance(i, str)}]
                    text = {f.name for f in schema if pa.types.is_string(f.type) or pa.types.is_large_string(f.type)}
                files.append(_footer(source, handle.metadata))
    except (OSError, ValueError, pa.ArrowException) as err:
        raise DataError(f"{path} is not a readable Parquet file or folder: {err}") from err
    return Dataset(str(path), names or [], files, frozenset(text))


def _footer(source: str, meta: Any) -> _File:
    rows: list[int] = []
    sizes: dict[str, list[int]] = {}
    for g in range(meta.num_row_groups):
        group = meta.row_group(g)
        rows.append(group.num_rows)
        for c in range(group.num_columns):
            column = group.column(c)
            name = column.path_in_schema.split(".", 1)[0]
            sizes.setdefault(name, []).append(column.total_uncompressed_size)
    return _File(source, tuple(rows), {k: tuple(v) for k, v in sizes.items()})


def _read(piece: Piece, names: list[str], dictionary: list[str] | None = None) -> pa.Table:
    with _open(piece.source, read_dictionary=dictionary) as handle:
        return handle.read_row_groups(list(piece.groups), columns=names)


def _groups(piece: Piece, names: list[str]) -> Iterator[pa.Table]:
    """The columns ``names`` of ``piece``, one row group at a time.

    A task that copies each group into one array (:func:`_numbers`) or one column of
    hashes (:func:`~leanloop.engines.dask_duplicates.count_here`) then holds a group
    beside it, not arrow's copy of the whole piece, which arrow's memory pool also kept:
    160 MB more a side at 20M rows, fresh memory in every worker's first task (on a VM
    that hands freed memory back to its host, about 2 s a GB the first time it is touched).
    """
    with _open(piece.source) as handle:
        for group in piece.groups:
            yield handle.read_row_group(group, columns=names)


def read_groups(piece: Piece, names: list[str]) -> Iterator[pd.DataFrame]:
    """:func:`read_frame` a row group at a time (see :func:`_groups`).

    >>> import pyarrow as pa, pyarrow.parquet as pq, tempfile, pathlib
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> pq.write_table(pa.table({"n": [1, None, 3]}), folder / "a.parquet", row_group_size=2)
    >>> [frame["n"].tolist() for frame in read_groups(plan(str(folder)).pieces(["n"])[0], ["n"])]
    [[1, <NA>], [3]]
    """
    for table in _groups(piece, names):
        yield _hashable(table)


def _numbers(piece: Piece, name: str) -> np.ndarray | None:
    """The column ``name`` of ``piece`` as one float64 array (missing values NaN), read a
    row group at a time (:func:`_groups`), or ``None`` when it holds no plain numbers
    (integers or floats)."""
    import numpy as np
    import pyarrow as pa

    values, at = None, 0
    for table in _groups(piece, [name]):
        chunk = table.column(0)
        if values is None:
            if not (pa.types.is_floating(chunk.type) or pa.types.is_integer(chunk.type)):
                return None
            values = np.empty(piece.rows, dtype=np.float64)
        values[at:at + len(chunk)] = chunk.to_numpy()  # nulls: NaN (a float array)
        at += len(chunk)
    return values


def read_frame(piece: Piece, names: list[str]) -> pd.DataFrame:
    """The columns ``names`` of ``piece``, as a data frame to hash (:func:`_hashable`)."""
    return _hashable(_read(piece, names))


def _hashable(table: pa.Table) -> pd.DataFrame:
    """``table`` as a data frame whose rows hash alike wherever they were read: integers
    become pandas' nullable ``Int64`` (``UInt64``). By default pandas reads a part with
    missing integers as floats and a part without any as integers, and 5.0 hashes unlike 5,
    so a row repeated in two such parts (row groups, pieces, files) was not counted."""
    import pandas as pd
    import pyarrow as pa

    def nullable(kind: pa.DataType) -> Any:
        if not pa.types.is_integer(kind):
            return None
        return pd.UInt64Dtype() if kind == pa.uint64() else pd.Int64Dtype()

    return table.to_pandas(types_mapper=nullable)


def piece_part(piece: Piece, name: str, kind: FeatureKind, *, drift: bool, quality: bool,
               side: str = "current", text: bool = False) -> ColumnPart:
    """:func:`~leanloop.engines.parts.column_part` of the column ``name`` of ``piece``,
    read here; ``text``: the column holds text (read dictionary-encoded, as the local engine).

    A column of plain numbers skips pandas: its row groups are copied one at a time into
    one fresh float64 array (:func:`_numbers`), its missing values dropped and the rest
    sorted in place (:meth:`~leanloop.measure.drift.samples.NumericSample.of_owned`), and
    the tally shares it, as :func:`~leanloop.engines.parts.column_part` makes them.
    """
    if kind is FeatureKind.NUMERIC and not text:  # text: no numbers to read (the pandas path finds the bad ones)
        values = _numbers(piece, name)
        if values is not None:
            rows = int(values.size)
            sample = NumericSample.of_owned(values)
            tally = ColumnTally(rows, rows - sample.n, 0, [], values=sample.values) if quality else None
            return ColumnPart(sample=sample if drift else None, tally=tally)
    series = _read(piece, [name], [name] if text else None).column(0).to_pandas()
    series.name = name
    return column_part(series, kind, name=name, drift=drift, quality=quality, side=side)
