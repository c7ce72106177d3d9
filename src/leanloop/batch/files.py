"""Batch files read and written in chunks, so a file larger than memory is scored whole.

:class:`InputFile` reads only the columns it is asked for: Parquet a record batch at a
time (``ParquetFile.iter_batches``), CSV ``chunk_rows`` rows at a time (pandas' C
parser; text columns kept as text so a category ``"007"`` stays itself).
:class:`OutputFile` writes to a hidden temporary name beside the target and renames it
into place only on :meth:`~OutputFile.commit`: a run that fails leaves no half-written
file, and an earlier output stays as it was.

Examples
--------
>>> import tempfile, pathlib, pandas as pd
>>> folder = pathlib.Path(tempfile.mkdtemp())
>>> pd.DataFrame({"x": range(5), "c": list("abcab"), "note": ""}).to_csv(folder / "in.csv", index=False)
>>> source = InputFile.open(folder / "in.csv", chunk_rows=2)
>>> source.count_rows(), source.columns
(5, ['x', 'c', 'note'])
>>> [len(c) for c in source.chunks(["x", "c"], text=["c"])]
[2, 2, 1]
>>> with OutputFile(folder / "out.parquet") as out:
...     out.write(pd.DataFrame({"a": [1, 2]}))
...     out.commit()
>>> pd.read_parquet(folder / "out.parquet")["a"].tolist(), sorted(p.name for p in folder.iterdir())
([1, 2], ['in.csv', 'out.parquet'])
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from leanloop.errors import DataError, InputError

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["InputFile", "OutputFile", "file_kind", "table_as_read"]

_KINDS = {".csv": "csv", ".txt": "csv", ".tsv": "tsv", ".parquet": "parquet", ".pq": "parquet"}


def file_kind(path: Path) -> str:
    """``csv``, ``tsv`` or ``parquet`` by the file's suffix; anything else is refused."""
    kind = _KINDS.get(Path(path).suffix.lower())
    if kind is None:
        raise InputError(f"cannot tell the format of {Path(path).name!r}: name it .csv, .tsv or .parquet")
    return kind


@dataclass(frozen=True)
class InputFile:
    """A CSV or Parquet file to read in chunks, and its columns."""

    path: Path
    kind: str
    columns: list[str]
    chunk_rows: int

    def count_rows(self) -> int:
        """Its data rows: Parquet's footer says; a CSV file's line breaks are counted (a
        megabyte at a time, less the header's; quoted line breaks make it an overestimate)."""
        if self.kind == "parquet":
            import pyarrow.parquet as pq

            return int(pq.ParquetFile(self.path).metadata.num_rows)
        return _count_lines(self.path)

    @classmethod
    def open(cls, path: str | Path, *, chunk_rows: int) -> InputFile:
        """Read the header (CSV) or the footer (Parquet); a missing or unreadable file is refused."""
        path = Path(path)
        if not path.is_file():
            raise DataError(f"input file {str(path)!r} does not exist; check the path")
        kind = file_kind(path)
        try:
            if kind == "parquet":
                import pyarrow.parquet as pq

                meta = pq.ParquetFile(path)
                return cls(path, kind, list(meta.schema_arrow.names), chunk_rows)
            import pandas as pd

            header = pd.read_csv(path, nrows=0, sep=_sep(kind))
            return cls(path, kind, [str(c) for c in header.columns], chunk_rows)
        except (OSError, ValueError, UnicodeDecodeError) as exc:  # pyarrow's errors are ValueErrors too
            raise DataError(f"{path.name} is not a readable {kind} file: {_first_line(exc)}") from exc

    def require(self, columns: list[str], role: str) -> None:
        """Refuse a file that lacks any of ``columns``, naming them."""
        missing = [c for c in columns if c not in self.columns]
        if missing:
            raise DataError(f"{self.path.name} lacks the {role} {missing}; its columns are {self.columns}. "
                            "Add them, or edit [schema] in leanloop.toml")

    def chunks(self, columns: list[str], *, text: list[str] | None = None) -> Iterator[pd.DataFrame]:
        """The file's ``columns`` ``chunk_rows`` rows at a time; ``text``: columns read as text."""
        try:
            read = self._parquet if self.kind == "parquet" else self._csv
            yield from read(columns, text or [])
        except (OSError, ValueError, UnicodeDecodeError) as exc:
            raise DataError(f"{self.path.name} could not be read to the end: {_first_line(exc)}") from exc

    def _csv(self, columns: list[str], text: list[str]) -> Iterator[pd.DataFrame]:
        import pandas as pd

        with pd.read_csv(self.path, sep=_sep(self.kind), usecols=columns, chunksize=self.chunk_rows,
                         dtype=dict.fromkeys(text, str)) as reader:
            yield from reader

    def _parquet(self, columns: list[str], text: list[str]) -> Iterator[pd.DataFrame]:
        import pyarrow as pa
        import pyarrow.parquet as pq

        for batch in pq.ParquetFile(self.path).iter_batches(batch_size=self.chunk_rows, columns=columns):
            yield table_as_read(pa.Table.from_batches([batch]), text)


def table_as_read(table: Any, text: list[str]) -> pd.DataFrame:
    """A Parquet chunk (an Arrow table) as a chunk of the file reads: the ``text``
    columns cast to text by Arrow, then pandas (a Dask partition read with Arrow types
    goes through here too, so both engines judge the same values)."""
    import pyarrow as pa

    for name in text:  # an integer id with gaps would otherwise read as floats
        position = table.schema.get_field_index(name)
        if position >= 0 and not pa.types.is_string(table.schema.field(position).type):
            table = table.set_column(position, name, _as_text(table.column(position)))
    return table.to_pandas()


def _as_text(column: Any) -> Any:
    import pyarrow as pa

    try:
        return column.cast(pa.string())
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return column


def _sep(kind: str) -> str:
    return "\t" if kind == "tsv" else ","


def _count_lines(path: Path) -> int:
    """Data rows of a CSV file: its line breaks less the header's."""
    count, last = 0, b"\n"
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            count += block.count(b"\n")
            last = block[-1:]
    return max(0, count + (last != b"\n") - 1)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


class OutputFile:
    """A CSV or Parquet file written chunk by chunk to a temporary name, renamed into
    place by :meth:`commit`; leaving the ``with`` block without it removes the temporary file."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.kind = file_kind(self.path)
        self.temporary = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
        self._handle: Any = None
        self._writer: Any = None
        self._schema: Any = None
        self.rows = 0

    def __enter__(self) -> OutputFile:
        if not self.path.parent.is_dir():
            raise InputError(f"cannot write {self.path}: the folder {self.path.parent} does not exist")
        return self

    def write(self, frame: pd.DataFrame) -> None:
        """Append ``frame``'s rows (every chunk has the same columns)."""
        if self.kind == "parquet":
            self._write_parquet(frame)
        else:
            if self._handle is None:
                # Held open across chunks and closed by commit or on leaving the block.
                self._handle = open(self.temporary, "w", encoding="utf-8", newline="")  # noqa: SIM115
            frame.to_csv(self._handle, header=self.rows == 0 and self._handle.tell() == 0, index=False,
                         sep=_sep(self.kind))
        self.rows += len(frame)

    def _write_parquet(self, frame: pd.DataFrame) -> None:
        import pyarrow as pa
        import pyarrow.parquet as pq

        table = pa.Table.from_pandas(frame, preserve_index=False)
        if self._writer is None:
            # Columns with no value yet (all null) take text: a later chunk may fill them.
            fields = [pa.field(f.name, pa.string()) if pa.types.is_null(f.type) else f for f in table.schema]
            self._schema = pa.schema(fields)
            self._writer = pq.ParquetWriter(self.temporary, self._schema)
        self._writer.write_table(table.cast(self._schema))

    def commit(self) -> None:
        """Finish the file and rename it into place (an empty chunk is written first if
        nothing was: the file then holds the header alone)."""
        self._close()
        if not self.temporary.exists():
            raise InputError(f"nothing was written to {self.path.name}; write at least one (possibly empty) chunk")
        os.replace(self.temporary, self.path)

    def _close(self) -> None:
        if self._handle is not None:
            self._handle.close()
            self._handle = None
        if self._writer is not None:
            self._writer.close()
            self._writer = None

    def __exit__(self, *exc: Any) -> None:
        self._close()
        self.temporary.unlink(missing_ok=True)
