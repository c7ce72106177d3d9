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

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from leanloop.archive.manifest import ArchiveFile, Manifest, load_manifest
from leanloop.archive.rows import label_marks, labels_in_force
from leanloop.archive.window_columns import NotColumnar, needed_columns, window_frame
from leanloop.store import tables as t

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

    from leanloop.store.sql import SQLStore

__all__ = ["columnar_window"]


@dataclass(frozen=True)
class _Keys:
    """Where candidate rows are (``part``: an archived file's index, or :data:`_GAP`, or
    :data:`_FRESH`), their ``seq`` and their time (event time or arrival, as the window goes)."""

    part: np.ndarray
    seq: np.ndarray
    time: np.ndarray


#: Parts of :class:`_Keys` that are not archived files: store rows the archive lacks, rows past the mark.
_GAP, _FRESH = -1, -2


def columnar_window(store: SQLStore, folder: Path, *, last: int | None = None, since: float | None = None,
                    until: float | None = None, by_event: bool = False, feature_types: dict[str, str],
                    classes: list[Any] | None = None) -> pd.DataFrame | None:
    """The window of :meth:`SQLStore.window <leanloop.store.sql.SQLStore.window>`
    (features as typed columns, probabilities as class columns when ``classes``;
    ``by_event``: by event time) with its exported rows read from the archive in
    ``folder``; None when the archive cannot serve it column by column (then read it
    row-wise)."""
    import numpy as np
    import pandas as pd

    manifest = load_manifest(folder)
    options: dict[str, Any] = {"since": since, "until": until, "feature_types": feature_types, "classes": classes,
                               "by_event": by_event}
    fresh = store.window(last=last, seqs=(manifest.seq, None), **options)
    columns = list(fresh.columns[1:])  # the window's columns, without ``seq``
    if last is not None and len(fresh) >= last and not by_event:
        return fresh[columns]  # by arrival, every exported row is older than these
    files = sorted(manifest.files, key=lambda f: f.max_seq, reverse=True)
    try:
        keys = _archived_keys(folder, files, None if last is None or by_event else last - len(fresh),
                              since=since, until=until, by_event=by_event)
        with store.engine.connect() as conn:
            keys = _with_store_keys(conn, keys, fresh, manifest.seq, last, since=since, until=until,
                                    by_event=by_event)
            chosen = _chosen(keys, last, by_event)
            parts = [_late_labels(conn, frame, manifest) for frame in _read_chosen(folder, files, chosen, options)]
    except NotColumnar:
        return None
    gap = chosen.seq[chosen.part == _GAP]
    if len(gap):
        rows = store.window(seqs=(int(gap.min()) - 1, int(gap.max())), **options)
        parts.append(rows[rows["seq"].isin(gap).to_numpy()])
    parts.append(fresh[fresh["seq"].isin(chosen.seq[chosen.part == _FRESH]).to_numpy()])
    parts = [part.reindex(columns=["seq", *columns]) for part in parts if len(part)]
    if not parts:
        return fresh[columns].iloc[:0]
    # An empty part would turn typed columns into objects when concatenated: none is.
    seqs = np.concatenate([part["seq"].to_numpy() for part in parts])
    frame = pd.concat(parts, ignore_index=True)[columns] if len(parts) > 1 else parts[0][columns]
    del parts  # the concatenated frame is a copy: the parts go before the measurement
    if by_event:
        order = np.lexsort((seqs, frame["event_at"].astype(float).fillna(frame["created_at"]).to_numpy()))
    else:
        order = np.argsort(seqs, kind="stable")
    if (order[1:] > order[:-1]).all():  # in order already (the usual case): no copy
        return frame.reset_index(drop=True)
    return frame.iloc[order].reset_index(drop=True)


def _archived_keys(folder: Path, files: list[ArchiveFile], need: int | None, *, since: float | None,
                   until: float | None, by_event: bool) -> _Keys:
    """The ``seq`` and time of the archived rows in ``[since, until)``, reading only those
    columns: of every file, or (``need``, by arrival) of the files newest first until no
    unread file can hold one of the newest ``need``."""
    import numpy as np
    import pyarrow.parquet as pq

    found: list[tuple[int, np.ndarray, np.ndarray]] = []
    for index, entry in enumerate(files):
        if need is not None and sum(len(f[1]) for f in found) >= need and \
                entry.max_seq < np.sort(np.concatenate([f[1] for f in found]))[-need]:
            break
        path = folder / entry.path
        held = pq.ParquetFile(path).schema_arrow.names
        table = pq.read_table(path, columns=[c for c in ("seq", "created_at", "event_at") if c in held])
        seq = table.column("seq").to_numpy().astype(np.int64)
        time = table.column("created_at").to_numpy(zero_copy_only=False).astype(float)
        if by_event and "event_at" in held:
            event = table.column("event_at").to_numpy(zero_copy_only=False).astype(float)
            time = np.where(np.isnan(event), time, event)
        keep = _inside(time, since, until)
        found.append((index, seq[keep], time[keep]))
    if not found:
        return _Keys(np.empty(0, dtype=np.int64), np.empty(0, dtype=np.int64), np.empty(0))
    return _Keys(np.concatenate([np.full(len(f[1]), f[0]) for f in found]),
                 np.concatenate([f[1] for f in found]), np.concatenate([f[2] for f in found]))


def _inside(time: np.ndarray, since: float | None, until: float | None) -> np.ndarray:
    import numpy as np

    keep = np.ones(len(time), dtype=bool)
    if since is not None:
        keep &= time >= since
    if until is not None:
        keep &= time < until
    return keep


def _with_store_keys(conn: sa.Connection, keys: _Keys, fresh: pd.DataFrame, mark: int, last: int | None, *,
                     since: float | None, until: float | None, by_event: bool) -> _Keys:
    """``keys`` with the rows past the mark (``fresh``) and the store's rows at or below
    it that the archive lacks (only those that could still be among the newest ``last``)."""
    import numpy as np

    fresh_time = fresh["created_at"].to_numpy(dtype=float)
    if by_event:
        fresh_time = fresh["event_at"].astype(float).fillna(fresh["created_at"]).to_numpy()
    both = _Keys(np.r_[keys.part, np.full(len(fresh), _FRESH)], np.r_[keys.seq, fresh["seq"].to_numpy()],
                 np.r_[keys.time, fresh_time])
    floor = None
    if last is not None and len(both.seq) >= last:  # a row must beat the last-th newest to enter
        # its time (or seq) only: a selection, not a sort of every key (0.15 s at 1M rows)
        values = both.time if by_event else both.seq
        floor = np.partition(values, len(values) - last)[len(values) - last]
    p = t.predictions
    at = t.event_time() if by_event else p.c.created_at
    query = sa.select(p.c.seq, at)
    if since is not None:
        query = query.where(at >= since)
    if until is not None:
        query = query.where(at < until)
    if floor is not None and by_event:
        query = query.where(at >= float(floor))
    lowest = int(floor) if floor is not None and not by_event else None
    runs = _runs(keys.seq)
    if len(runs) <= _MAX_RUNS:
        # Only the rows in the gaps between the archived runs of ``seq`` come back
        # (usually none), each gap a range of the primary key and the only bounds on
        # it: reading every row's ``seq`` to compare cost 1.9 s for a 1M-row window, and
        # a NOT BETWEEN, or a second bound on ``seq`` beside the gap's, still had
        # SQLite scan the whole table (0.3 s).
        query = query.where(sa.or_(sa.false(), *(p.c.seq.between(a, b) if a is not None else p.c.seq <= b
                                                 for a, b in _gaps(runs, lowest, mark))))
    else:
        query = query.where(p.c.seq <= mark)
        if lowest is not None:
            query = query.where(p.c.seq >= lowest)
    rows = conn.execute(query).all()
    seq = np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))
    time = np.fromiter((r[1] for r in rows), dtype=float, count=len(rows))
    gap = ~np.isin(seq, keys.seq)
    return _Keys(np.r_[both.part, np.full(int(gap.sum()), _GAP)], np.r_[both.seq, seq[gap]],
                 np.r_[both.time, time[gap]])


#: Most runs of consecutive archived ``seq`` numbers a store query excludes by range.
_MAX_RUNS = 200


def _runs(seqs: np.ndarray) -> list[tuple[int, int]]:
    """``seqs`` as runs of consecutive numbers, ``(first, last)`` each.

    >>> import numpy as np
    >>> _runs(np.array([7, 1, 2, 3, 5]))
    [(1, 3), (5, 5), (7, 7)]
    """
    import numpy as np

    if not len(seqs):
        return []
    # sorted, repeats dropped: NumPy 2.4's unique hashes integers first, 2.9 s for 1M
    # distinct ``seq`` numbers against 0.02 s for a sort
    ordered = np.sort(seqs)
    ordered = ordered[np.r_[True, ordered[1:] != ordered[:-1]]]
    breaks = np.flatnonzero(np.diff(ordered) != 1)
    starts, ends = np.r_[0, breaks + 1], np.r_[breaks, len(ordered) - 1]
    return list(zip(ordered[starts].tolist(), ordered[ends].tolist(), strict=True))


def _gaps(runs: list[tuple[int, int]], lowest: int | None, highest: int) -> list[tuple[int | None, int]]:
    """The ranges of ``seq`` in ``[lowest, highest]`` (``lowest`` None: unbounded below)
    that none of ``runs`` (sorted, apart) covers, ``(first, last)`` each.

    >>> _gaps([(3, 5), (8, 9)], None, 12)
    [(None, 2), (6, 7), (10, 12)]
    >>> _gaps([(1, 10)], 1, 10)
    []
    """
    found: list[tuple[int | None, int]] = []
    start = lowest
    for first, last in runs:
        if start is None or first > start:
            found.append((start, min(first - 1, highest)))
        start = last + 1 if start is None else max(start, last + 1)
    found.append((start, highest))
    return [(a, b) for a, b in found if a is None or a <= b]


def _order(keys: _Keys, by_event: bool) -> np.ndarray:
    """Positions of ``keys`` oldest first: by ``seq``, or by time and then ``seq``."""
    import numpy as np

    return np.lexsort((keys.seq, keys.time)) if by_event else np.argsort(keys.seq, kind="stable")


def _chosen(keys: _Keys, last: int | None, by_event: bool) -> _Keys:
    """The newest ``last`` of ``keys`` (all when None)."""
    order = _order(keys, by_event)
    if last is not None:
        order = order[max(len(order) - last, 0):]
    return _Keys(keys.part[order], keys.seq[order], keys.time[order])


def _read_chosen(folder: Path, files: list[ArchiveFile], chosen: _Keys, options: dict[str, Any],
                 ) -> list[pd.DataFrame]:
    """The chosen archived rows, file by file, as window columns."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    frames = []
    for index in np.unique(chosen.part[chosen.part >= 0]).tolist():
        entry = files[index]
        path = folder / entry.path
        table = pq.read_table(path, columns=needed_columns(pq.ParquetFile(path).schema_arrow.names,
                                                           options["feature_types"]))
        wanted = chosen.seq[chosen.part == index]
        if len(wanted) < table.num_rows:
            table = table.filter(pc.is_in(table.column("seq"), value_set=pa.array(wanted, pa.int64())))
        frames.append(window_frame(table, entry.model_version, options["feature_types"], options["classes"]))
    return frames


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
