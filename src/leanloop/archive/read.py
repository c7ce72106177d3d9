"""Reading the archive back, and the log as measurement reads it: the store, then the archive.

:func:`read_log` is :meth:`SQLStore.window <leanloop.store.sql.SQLStore.window>` over the
store and the archive together: rows retention deleted from the store are read from the
archive's files, and come first (they are older than every row retention kept). Without
an archive, or when the store alone fills the window, it costs one file check.

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
...     "features": {"x": i}, "prediction": 1, "probabilities": None} for i in range(4)])
>>> spec = ColumnSpec.of(Schema(features=[Feature(name="x", kind="numeric")]), [0, 1])
>>> _ = export_log(store, folder / "archive", spec)
>>> with store.engine.begin() as conn:  # as retention would
...     _ = conn.exec_driver_sql("DELETE FROM predictions WHERE seq <= 2")
>>> read_log(store, folder / "archive", last=3)["prediction_id"].tolist()
['p1', 'p2', 'p3']
>>> read_log(store, folder / "archive", since=0.5, until=2.5)["features"].tolist()  # archived: numbers as float
[{'x': 1.0}, {'x': 2}]
>>> store.close()
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from leanloop.archive.columns import to_frame
from leanloop.archive.manifest import MANIFEST, ArchiveFile, load_manifest
from leanloop.archive.window import columnar_window
from leanloop.store import tables as t
from leanloop.store.predictions import probability_columns

if TYPE_CHECKING:
    import pandas as pd

    from leanloop.store.sql import SQLStore

__all__ = ["COLUMNAR_MIN_ROWS", "read_archive", "read_log"]

#: Windows of more rows than this (and windows by time) read their exported rows as
#: Parquet columns: below it the store's row-wise read costs less than finding the rows
#: in the archive (measured on a 1M-row log by event time: 10k rows 5.6 s of CPU from
#: the store, 6.4 s columnar; 100k rows 10.1 s and 10.0 s; 1M rows 33.5 s and 27.8 s).
COLUMNAR_MIN_ROWS = 100_000


def read_archive(folder: Path, *, files: list[ArchiveFile] | None = None, since: float | None = None,
                 until: float | None = None, flat: bool = False, by_event: bool = False) -> pd.DataFrame:
    """The archived rows (of ``files``, default all), by ``seq``, as window rows with ``seq``
    and ``model_version``, created in ``[since, until)`` (``by_event``: whose event time,
    else arrival, is); ``flat``: features as their ``features.NAME`` columns rather than a
    dict per row."""
    import pandas as pd
    import pyarrow.parquet as pq

    from leanloop.archive.export import day_of

    folder = Path(folder)
    files = load_manifest(folder).files if files is None else files
    if since is not None and not by_event:  # files are by arrival day; an event may be older
        first = day_of(pd.Series([since])).iloc[0]
        files = [f for f in files if f.day >= first]
    if until is not None and not by_event:
        last = day_of(pd.Series([until])).iloc[0]
        files = [f for f in files if f.day <= last]
    parts = [to_frame(pq.read_table(folder / f.path), flat=flat).assign(model_version=f.model_version) for f in files]
    if not parts:
        return pd.DataFrame(columns=["seq", "prediction_id", "created_at", "model_version", "features", "prediction",
                                     "probabilities", "label", "received_at"])
    frame = pd.concat(parts, ignore_index=True).sort_values("seq", kind="stable")
    keep = pd.Series(True, index=frame.index)
    times = frame["created_at"]
    if by_event and "event_at" in frame:
        times = frame["event_at"].astype(float).fillna(times)
    if since is not None:
        keep &= times >= since
    if until is not None:
        keep &= times < until
    return frame[keep].reset_index(drop=True)


def read_log(store: SQLStore, folder: Path | None, *, last: int | None = None, since: float | None = None,
             until: float | None = None, labelled_only: bool = False,
             feature_types: dict[str, str] | None = None, by_event: bool = False,
             classes: list[Any] | None = None) -> pd.DataFrame:
    """The window over the store and, where it reaches back past it, the archive in
    ``folder`` (a window of more than :data:`COLUMNAR_MIN_ROWS` rows, or by time, takes
    every exported row from the archive: :func:`leanloop.archive.window.columnar_window`);
    ``feature_types``: the features as typed columns, as the store reads them;
    ``classes``: the probabilities as a float column per class, as the store reads them;
    ``by_event``: the store's rows by event time. Archived rows are those retention moved
    out by arrival, so they come first either way, filtered by event time when
    ``by_event`` (their event time, else their arrival)."""
    import pandas as pd

    if (feature_types is not None and not labelled_only and (last is None or last > COLUMNAR_MIN_ROWS)
            and folder is not None and (Path(folder) / MANIFEST).is_file()):
        # The exported rows read as Parquet columns (:mod:`leanloop.archive.window`).
        window = columnar_window(store, Path(folder), last=last, since=since, until=until, by_event=by_event,
                                 feature_types=feature_types, classes=classes)
        if window is not None:
            return window
    current = store.window(last=last, since=since, until=until, labelled_only=labelled_only,
                           feature_types=feature_types, by_event=by_event, classes=classes)
    if folder is None or not (Path(folder) / MANIFEST).is_file() or (last is not None and len(current) >= last):
        return current
    with store.engine.connect() as conn:
        oldest = conn.execute(sa.select(sa.func.min(t.predictions.c.created_at))).scalar_one()
    if oldest is not None and since is not None and since >= oldest and not by_event:
        return current  # retention deleted only rows older than every row it kept
    archived = _archived(store, Path(folder), None if last is None else last - len(current), since=since,
                         until=until, labelled_only=labelled_only, flat=feature_types is not None, by_event=by_event)
    if archived.empty:
        return current
    if classes is not None:
        archived = archived.assign(**probability_columns(archived.pop("probabilities").tolist(), classes))
    columns = list(current.columns)
    archived = archived.reindex(columns=columns)
    return pd.concat([archived, current], ignore_index=True)[columns]


def _archived(store: SQLStore, folder: Path, rows: int | None, *, since: float | None, until: float | None,
              labelled_only: bool, flat: bool, by_event: bool = False) -> pd.DataFrame:
    """The newest ``rows`` (all when None) archived rows no longer in the store; the
    files are read newest first, until no unread file can hold a row among the newest."""
    import pandas as pd

    files = sorted(load_manifest(folder).files, key=lambda f: f.max_seq, reverse=True)
    step = len(files) if rows is None else 1
    found: list[pd.DataFrame] = []
    seqs: list[int] = []
    while files and (rows is None or len(seqs) < rows or files[0].max_seq > sorted(seqs)[-rows]):
        part, files = files[:step], files[step:]
        frame = read_archive(folder, files=part, since=since, until=until, flat=flat, by_event=by_event)
        if labelled_only:
            frame = frame[frame["label"].notna()]
        frame = _only_archived(store, frame)
        found.append(frame)
        seqs += frame["seq"].tolist()
    if not found:
        return read_archive(folder, files=[], flat=flat)
    archived = pd.concat(found, ignore_index=True).sort_values("seq", kind="stable").reset_index(drop=True)
    return archived if rows is None else archived.iloc[max(len(archived) - rows, 0):]


def _only_archived(store: SQLStore, archived: pd.DataFrame) -> pd.DataFrame:
    """The archived rows that are no longer in the store."""
    if archived.empty:
        return archived
    p = t.predictions
    low, high = int(archived["seq"].min()), int(archived["seq"].max())
    with store.engine.connect() as conn:
        kept = set(conn.execute(sa.select(p.c.seq).where(p.c.seq.between(low, high))).scalars())
    return archived[~archived["seq"].isin(kept)].reset_index(drop=True)
