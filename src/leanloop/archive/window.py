"""A window read columnar: exported rows from the Parquet archive, the rest from the store.

Reading a 1M-row window from the store costs one Python tuple per row from the driver
and the features' JSON text decoded (about 10 s of CPU); the archive holds the same rows
as typed columns, read in a fraction of a second. So when the log has been exported
(``leanloop export``, or the server's retention), a window takes from the archive every
row it holds, each exactly once, and from the store only:

* the rows logged after the export's high-water mark (``seq`` past the manifest's);
* rows at or below the mark that the archive does not hold (skipped by ``--since``, or
  committed late on PostgreSQL): found by comparing the store's ``seq`` numbers with
  the archive's;
* labels that arrived after the export (label-history entries past the manifest's
  ``label_seq``): the label in force replaces the archived one, as the next export
  would write it.

A row that is both archived and still in the store is read once, from the archive. The
result is the frame :func:`leanloop.store.predictions.read_window` gives (features and
probabilities as columns), row for row: ``tests/archive/test_window.py`` measures a
window both ways and compares ``measure --json``.

Examples
--------
>>> import tempfile, pathlib
>>> from leanloop.archive.columns import ColumnSpec
>>> from leanloop.archive.export import export_log
>>> from leanloop.schema import Feature, Schema
>>> from leanloop.store.sql import SQLStore
>>> folder = pathlib.Path(tempfile.mkdtemp())
>>> store = SQLStore(f"sqlite:///{folder / 'p.db'}")
>>> store.insert_predictions([{"prediction_id": f"p{i}", "created_at": float(i), "model_version": "v1",
...     "features": {"x": i}, "prediction": 1, "probabilities": {"0": 0.4, "1": 0.6}} for i in range(4)])
>>> spec = ColumnSpec.of(Schema(features=[Feature(name="x", kind="numeric")]), [0, 1])
>>> _ = export_log(store, folder / "archive", spec)
>>> _ = store.add_feedback([("p2", 0)], received_at=9.0)  # after the export
>>> store.insert_predictions([{"prediction_id": "p4", "created_at": 4.0, "model_version": "v1",
...     "features": {"x": 4}, "prediction": 0, "probabilities": None}])
>>> got = columnar_window(store, folder / "archive", last=3, feature_types=spec.features, classes=[0, 1])
>>> got[["prediction_id", "label", "features.x", "probability:1"]].values.tolist()
[['p2', 0, 2.0, 0.6], ['p3', None, 3.0, 0.6], ['p4', None, 4.0, nan]]
>>> store.close()
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from leanloop.archive.columns import PROBABILITY
from leanloop.archive.manifest import ArchiveFile, Manifest, load_manifest
from leanloop.archive.rows import label_marks, labels_in_force
from leanloop.store import tables as t
from leanloop.store.features import FEATURE
from leanloop.store.predictions import HAS_PROBABILITIES, probability_column

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd
    import pyarrow as pa

    from leanloop.store.sql import SQLStore

__all__ = ["columnar_window"]

#: Columns of the window frame that come as they are from the archive's scalar columns.
_NAMES = ("prediction_id", "created_at", "model_version", "prediction", "label", "received_at", "row_id", "event_at",
          "source")
_OUTPUTS = ("prediction", "label")
_FLOATS = ("created_at", "received_at", "event_at")


class _NotColumnar(Exception):
    """An archived column holds JSON text (a value that fit no type): read the window the row-wise way."""


def columnar_window(store: SQLStore, folder: Path, *, last: int | None = None, since: float | None = None,
                    until: float | None = None, feature_types: dict[str, str],
                    classes: list[Any] | None = None) -> pd.DataFrame | None:
    """The window of :meth:`SQLStore.window <leanloop.store.sql.SQLStore.window>` (by
    arrival, features as typed columns, probabilities as class columns when ``classes``)
    with its exported rows read from the archive in ``folder``; None when the archive
    cannot serve it column by column (then read it row-wise)."""
    import pandas as pd

    manifest = load_manifest(folder)
    options: dict[str, Any] = {"since": since, "until": until, "feature_types": feature_types, "classes": classes}
    fresh = store.window(last=last, seqs=(manifest.seq, None), **options)
    columns = list(fresh.columns[1:])  # the window's columns, without ``seq``
    need = None if last is None else last - len(fresh)
    if need is not None and need <= 0:
        return fresh[columns]
    try:
        archived = _archived(folder, manifest, need, **options)
    except _NotColumnar:
        return None
    seqs = archived["seq"].to_numpy()
    low = 0 if need is None or len(seqs) < need else int(seqs[-need]) - 1
    with store.engine.connect() as conn:
        missing = _store_only(conn, seqs, low, manifest.seq, since=since, until=until)
        parts = [_late_labels(conn, archived, manifest)]
    if len(missing):
        gap = store.window(seqs=(int(missing[0]) - 1, int(missing[-1])), **options)
        parts.append(gap[gap["seq"].isin(missing).to_numpy()])
    parts = [part.reindex(columns=["seq", *columns]) for part in parts if len(part)]
    if not parts:
        return fresh[columns]
    older = pd.concat(parts, ignore_index=True) if len(parts) > 1 else parts[0]
    older = older.iloc[_merged([part["seq"].to_numpy() for part in parts])]
    if need is not None:
        older = older.iloc[max(len(older) - need, 0):]
    if fresh.empty:  # an empty part would turn typed columns into objects when concatenated
        return older[columns].reset_index(drop=True)
    return pd.concat([older, fresh], ignore_index=True)[columns]


def _merged(seqs: list[np.ndarray]) -> np.ndarray:
    """The positions of the concatenated parts in ``seq`` order."""
    import numpy as np

    return np.argsort(np.concatenate(seqs), kind="stable")


def _archived(folder: Path, manifest: Manifest, need: int | None, *, since: float | None, until: float | None,
              feature_types: dict[str, str], classes: list[Any] | None) -> pd.DataFrame:
    """The archived rows in ``[since, until)``, by ``seq`` (with it), as window columns:
    all of them, or (``need``) at least the newest ``need``; files are read newest first
    until no unread file can hold one of them."""
    import numpy as np
    import pandas as pd

    files = sorted(manifest.files, key=lambda f: f.max_seq, reverse=True)
    frames: list[pd.DataFrame] = []
    tops: list[np.ndarray] = []
    while files:
        if need is not None and sum(map(len, tops)) >= need and files[0].max_seq < np.sort(np.concatenate(tops))[-need]:
            break
        entry = files.pop(0)
        frame = _read_file(folder, entry, since=since, until=until, feature_types=feature_types, classes=classes)
        if len(frame):  # an empty part would turn typed columns into objects when concatenated
            frames.append(frame)
            tops.append(frame["seq"].to_numpy())
    if not frames:
        return _read_file(folder, None, since=since, until=until, feature_types=feature_types, classes=classes)
    frame = pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]
    return frame.iloc[np.argsort(frame["seq"].to_numpy(), kind="stable")].reset_index(drop=True)


def _read_file(folder: Path, entry: ArchiveFile | None, *, since: float | None, until: float | None,
               feature_types: dict[str, str], classes: list[Any] | None) -> pd.DataFrame:
    """One archived file's rows in ``[since, until)`` as window columns (no file: none)."""
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    if entry is None:
        return _frame(pa.table({"seq": pa.array([], pa.int64())}), "", feature_types, classes)
    table = pq.read_table(folder / entry.path)
    mask = None
    if since is not None:
        mask = pc.greater_equal(table["created_at"], since)
    if until is not None:
        below = pc.less(table["created_at"], until)
        mask = below if mask is None else pc.and_(mask, below)
    if mask is not None:
        table = table.filter(mask)
    return _frame(table, entry.model_version, feature_types, classes)


def _frame(table: pa.Table, version: str, feature_types: dict[str, str], classes: list[Any] | None,
           ) -> pd.DataFrame:
    """An archived table as window columns (``seq`` first), as the store's read gives them."""
    import pandas as pd

    n, names = table.num_rows, set(table.column_names)
    used = {*_OUTPUTS, *(FEATURE + name for name in feature_types)}
    if any(f.name in used and f.metadata and f.metadata.get(b"leanloop") == b"json" for f in table.schema):
        raise _NotColumnar("an archived column holds JSON text")
    columns: dict[str, Any] = {"seq": pd.Series(table.column("seq").to_numpy() if "seq" in names else [],
                                                dtype="int64")}
    for name in _NAMES:
        if name == "model_version":
            columns[name] = pd.Series([version] * n, dtype=object)
        elif name not in names:
            columns[name] = pd.Series([None] * n, dtype="float64" if name in _FLOATS else object)
        elif name in _FLOATS:
            columns[name] = pd.Series(table.column(name).to_numpy(zero_copy_only=False), dtype="float64")
        else:
            # Python objects, as the store's JSON decoding gives them (an int stays an int).
            columns[name] = pd.Series(table.column(name).to_pylist(), dtype=object)
    for name, kind in feature_types.items():
        columns[FEATURE + name] = _feature(table, FEATURE + name, kind)
    columns |= _probabilities(table) if classes is None else _class_probabilities(table, classes)
    return pd.DataFrame(columns)


def _feature(table: pa.Table, name: str, kind: str) -> np.ndarray:
    """One feature's archived column as :func:`~leanloop.store.features.decode_features` gives it."""
    import pyarrow as pa

    kind_type = pa.type_for_alias(kind)
    if name not in table.column_names:
        column = pa.nulls(table.num_rows, kind_type)
    else:
        column = table.column(name)
        if column.type != kind_type:  # the schema changed since the export
            try:
                column = column.cast(kind_type)
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
                raise _NotColumnar(name) from exc
    return column.to_pandas().to_numpy()


def _probabilities(table: pa.Table) -> dict[str, Any]:
    """The archived probabilities as a dict per row (None where a row logged none), as
    the store's read gives them without classes."""
    import pandas as pd

    held = [name for name in table.column_names if name.startswith(PROBABILITY)]
    rows: list[Any] = [None] * table.num_rows
    if held:
        keys = [name[len(PROBABILITY):] for name in held]
        for i, values in enumerate(zip(*(table.column(name).to_pylist() for name in held), strict=True)):
            pairs = {k: v for k, v in zip(keys, values, strict=True) if v is not None}
            rows[i] = pairs or None
    return {"probabilities": pd.Series(rows, dtype=object)}


def _class_probabilities(table: pa.Table, classes: list[Any]) -> dict[str, Any]:
    """The archived class probabilities as :func:`~leanloop.store.predictions.probability_columns`
    gives them: NaN where a row lacks the class, and whether a row logged any."""
    import numpy as np

    n = table.num_rows
    held = [name for name in table.column_names if name.startswith(PROBABILITY)]
    found = {probability_column(c): table.column(PROBABILITY + str(c)).to_numpy(zero_copy_only=False).astype(float)
             if PROBABILITY + str(c) in held else np.full(n, np.nan) for c in classes}
    logged = np.zeros(n, dtype=bool)
    for name in held:
        logged |= table.column(name).is_valid().to_numpy(zero_copy_only=False)
    return {**found, HAS_PROBABILITIES: logged}


def _late_labels(conn: sa.Connection, archived: pd.DataFrame, manifest: Manifest) -> pd.DataFrame:
    """``archived`` with the labels that arrived after the export in force (the archive
    merges them at its next export)."""
    import pandas as pd

    _, touched = label_marks(conn, after=manifest.label_seq)
    if not touched or archived.empty:
        return archived
    rows = archived["prediction_id"].isin(touched).to_numpy()
    if not rows.any():
        return archived
    labels = labels_in_force(conn, archived.loc[rows, "prediction_id"].tolist())
    archived = archived.copy()
    for position in rows.nonzero()[0]:
        found = labels.get(str(archived.at[position, "prediction_id"]))
        if found is not None:
            archived.at[position, "label"], archived.at[position, "received_at"] = found
    archived["label"] = pd.Series(archived["label"].tolist(), dtype=object)
    return archived


def _store_seqs(conn: sa.Connection, low: int, high: int, since: float | None, until: float | None) -> np.ndarray:
    import numpy as np

    p = t.predictions
    query = sa.select(p.c.seq).where(p.c.seq > low, p.c.seq <= high)
    if since is not None:
        query = query.where(p.c.created_at >= since)
    if until is not None:
        query = query.where(p.c.created_at < until)
    return np.fromiter(conn.execute(query.order_by(p.c.seq)).scalars(), dtype=np.int64)


def _store_only(conn: sa.Connection, archived: np.ndarray, low: int, mark: int, *, since: float | None,
                until: float | None) -> np.ndarray:
    """The store's rows at or below the export's mark (and above ``low``) that the
    archive does not hold, by ``seq``."""
    import numpy as np

    if mark <= low:
        return np.empty(0, dtype=np.int64)
    return np.setdiff1d(_store_seqs(conn, low, mark, since, until), archived, assume_unique=True)
