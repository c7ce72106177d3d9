"""``leanloop export``: the log's new rows into the Parquet archive, and late labels merged.

See :mod:`leanloop.archive` for the layout and the guarantees.

Examples
--------
>>> import tempfile, pathlib
>>> from leanloop.schema import Feature, Schema
>>> from leanloop.store.sql import SQLStore
>>> folder = pathlib.Path(tempfile.mkdtemp())
>>> store = SQLStore(f"sqlite:///{folder / 'p.db'}")
>>> spec = ColumnSpec.of(Schema(features=[Feature(name="x", kind="numeric")]), [0, 1])
>>> store.insert_predictions([{"prediction_id": f"p{i}", "created_at": 86_400.0 * i, "model_version": "v1",
...     "features": {"x": i}, "prediction": 1, "probabilities": None} for i in range(3)])
>>> first = export_log(store, folder / "archive", spec)
>>> first.rows, [f.split("/")[0] for f in first.files]
(3, ['day=1970-01-01', 'day=1970-01-02', 'day=1970-01-03'])
>>> export_log(store, folder / "archive", spec).rows
0
>>> _ = store.add_feedback([("p0", 1)], received_at=5.0)
>>> export_log(store, folder / "archive", spec).relabelled_rows
1
>>> store.close()
"""

from __future__ import annotations

import os
from collections import defaultdict
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict

from leanloop.archive.columns import ColumnSpec, to_table, typed_column
from leanloop.archive.manifest import ArchiveFile, Manifest, load_manifest, save_manifest
from leanloop.archive.rows import chunks, label_marks, labels_in_force, log_rows, max_seq

if TYPE_CHECKING:
    import pandas as pd
    import sqlalchemy as sa

    from leanloop.store.sql import SQLStore

__all__ = ["ColumnSpec", "ExportResult", "export_log", "day_of"]

#: Rows read from the store per step: bounds the export's memory on a long log.
BATCH_ROWS = 200_000
#: The partition keys: in the path, not in the files.
PARTITIONS = ("day", "model_version")


class ExportResult(BaseModel):
    """What one export wrote: new rows and files, files rewritten for late labels."""

    model_config = ConfigDict(frozen=True)

    archive: str
    rows: int
    files: list[str]
    relabelled_rows: int
    relabelled_files: list[str]
    seq: int
    label_seq: int
    total_rows: int


def day_of(created_at: pd.Series) -> pd.Series:
    """The UTC day (``YYYY-MM-DD``) of epoch seconds.

    >>> import pandas as pd
    >>> day_of(pd.Series([0.0, 86_399.9, 86_400.0])).tolist()
    ['1970-01-01', '1970-01-01', '1970-01-02']
    """
    import pandas as pd

    return pd.to_datetime(created_at.to_numpy(dtype="float64"), unit="s", utc=True).strftime("%Y-%m-%d").to_series(
        index=created_at.index)


def export_log(store: SQLStore, folder: Path, spec: ColumnSpec, *, since: float | None = None) -> ExportResult:
    """Export the rows logged since the last run (created at ``since`` or later) to
    ``folder``, and merge labels that arrived for rows already exported."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    manifest = load_manifest(folder)
    _remove_strays(folder, manifest)
    with store.engine.connect() as conn:
        # The label mark first: rows read after it carry every label up to it.
        label_top, touched = label_marks(conn, after=manifest.label_seq)
        top = max_seq(conn)
        written: list[ArchiveFile] = []
        after = manifest.seq
        while after < top:
            frame = log_rows(conn, after=after, upto=top, limit=BATCH_ROWS)
            if frame.empty:
                break
            after = int(frame["seq"].iloc[-1])
            if since is not None:
                frame = frame[frame["created_at"] >= since]
            written += _write_parts(folder, frame, spec)
        relabelled, rows = _relabel(conn, folder, manifest.files, touched, spec)
    done = Manifest(seq=max(top, manifest.seq), label_seq=max(label_top, manifest.label_seq),
                    files=[*manifest.files, *written])
    save_manifest(folder, done)
    return ExportResult(archive=str(folder), rows=sum(f.rows for f in written), files=[f.path for f in written],
                        relabelled_rows=rows, relabelled_files=[f.path for f in relabelled], seq=done.seq,
                        label_seq=done.label_seq, total_rows=done.rows())


def _remove_strays(folder: Path, manifest: Manifest) -> None:
    """Files a crashed run wrote but never listed: the manifest is the archive's truth."""
    listed = {f.path for f in manifest.files}
    for path in [*folder.glob("day=*/model_version=*/part-*.parquet"), *folder.glob("day=*/model_version=*/.*.tmp")]:
        if path.relative_to(folder).as_posix() not in listed:
            path.unlink()


def _write_parts(folder: Path, frame: pd.DataFrame, spec: ColumnSpec) -> list[ArchiveFile]:
    """One file per (day, model version) of ``frame``, each written atomically."""
    if frame.empty:
        return []
    frame = frame.assign(day=day_of(frame["created_at"]))
    written = []
    for (day, version), part in frame.groupby(["day", "model_version"], sort=True):
        low, high = int(part["seq"].iloc[0]), int(part["seq"].iloc[-1])
        path = f"day={day}/model_version={version}/part-{low:012d}-{high:012d}.parquet"
        _write_table(folder / path, to_table(part, spec, drop=PARTITIONS))
        written.append(ArchiveFile(path=path, day=str(day), model_version=str(version), rows=len(part),
                                   min_seq=low, max_seq=high))
    return written


def _write_table(path: Path, table: Any) -> None:
    import pyarrow.parquet as pq

    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.tmp")  # hidden: Parquet readers skip it
    pq.write_table(table, temporary)
    with open(temporary, "rb") as written:
        os.fsync(written.fileno())
    os.replace(temporary, path)


def _relabel(conn: sa.Connection, folder: Path, files: list[ArchiveFile], touched: list[str],
             spec: ColumnSpec) -> tuple[list[ArchiveFile], int]:
    """Rewrite the archived files that hold rows of ``touched`` ids with their label in force."""
    import pyarrow.parquet as pq

    if not touched or not files:
        return [], 0
    labels = labels_in_force(conn, touched)
    by_file = _files_of(conn, folder, files, [i for i in touched if i in labels])
    changed = 0
    for entry, ids in by_file.items():
        table = pq.read_table(folder / entry.path)
        names = table.column("prediction_id").to_pylist()
        label, received = table.column("label").to_pylist(), table.column("received_at").to_pylist()
        for row, name in enumerate(names):
            if name in ids:
                label[row], received[row] = labels[name]
                changed += 1
        for column, values, kind in (("label", label, spec.output), ("received_at", received, "float64")):
            field, array = typed_column(column, values, kind)
            table = table.set_column(table.schema.get_field_index(column), field, array)
        _write_table(folder / entry.path, table)
    return list(by_file), changed


def _files_of(conn: sa.Connection, folder: Path, files: list[ArchiveFile], ids: list[str],
              ) -> dict[ArchiveFile, set[str]]:
    """The archived files holding ``ids``: found by ``seq`` for rows still in the store, by
    reading the files' ids for rows retention deleted."""
    import pyarrow.parquet as pq
    import sqlalchemy as sa

    from leanloop.store import tables as t

    p = t.predictions
    found: dict[ArchiveFile, set[str]] = defaultdict(set)
    missing = set(ids)
    for part in chunks(ids):
        for row in conn.execute(sa.select(p.c.prediction_id, p.c.seq).where(p.c.prediction_id.in_(part))):
            for entry in files:
                if entry.min_seq <= row.seq <= entry.max_seq:
                    found[entry].add(row.prediction_id)
                    missing.discard(row.prediction_id)
    if missing:
        for entry in files:
            held = missing.intersection(pq.read_table(folder / entry.path, columns=["prediction_id"])
                                        .column("prediction_id").to_pylist())
            if held:
                found[entry] |= held
    return found
