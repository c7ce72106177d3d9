"""``[store] retention_days``: delete old rows from the store, only once they are archived.

A row is deleted only when it is older than the cut-off *and* its ``(seq,
prediction_id)`` pair is read back from one of the archive's Parquet files (not merely
promised by the manifest). With it go its label in force, its label history and its
shadow outputs: the archive carries the label, and a label that arrives later is parked
in the store and merged into the archive by the next export. The newest logged row is
always kept: SQLite gives a new row the largest ``seq`` plus one, so deleting the
newest would let a ``seq`` be reused and break the export's high-water mark.

Examples
--------
>>> import tempfile, pathlib
>>> from leanloop.archive.columns import ColumnSpec
>>> from leanloop.archive.export import export_log
>>> from leanloop.schema import Feature, Schema
>>> from leanloop.store.sql import SQLStore
>>> folder = pathlib.Path(tempfile.mkdtemp())
>>> store = SQLStore(f"sqlite:///{folder / 'p.db'}")
>>> store.insert_predictions([{"prediction_id": f"p{i}", "created_at": 86_400.0 * i, "model_version": "v1",
...     "features": {"x": i}, "prediction": 1, "probabilities": None} for i in range(5)])
>>> spec = ColumnSpec.of(Schema(features=[Feature(name="x", kind="numeric")]), [0, 1])
>>> apply_retention(store, folder / "archive", days=2, now=86_400.0 * 5).deleted   # nothing archived yet
0
>>> _ = export_log(store, folder / "archive", spec)
>>> apply_retention(store, folder / "archive", days=2, now=86_400.0 * 5)
RetentionResult(cutoff=259200.0, older=3, deleted=3, not_archived=0)
>>> store.window()["prediction_id"].tolist()
['p3', 'p4']
>>> store.close()
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import sqlalchemy as sa
from pydantic import BaseModel, ConfigDict

from leanloop.archive.manifest import load_manifest
from leanloop.archive.rows import chunks
from leanloop.store import tables as t

if TYPE_CHECKING:
    from leanloop.store.sql import SQLStore

__all__ = ["RetentionResult", "apply_retention"]

#: Rows deleted per transaction: short write transactions, so the server's group
#: commits wait a few milliseconds at most.
STEP = 5 * 900


class RetentionResult(BaseModel):
    """``older`` rows were past the cut-off; ``deleted`` of them were in the archive."""

    model_config = ConfigDict(frozen=True)

    cutoff: float
    older: int
    deleted: int
    not_archived: int


def apply_retention(store: SQLStore, folder: Path, *, days: float, now: float) -> RetentionResult:
    """Delete the rows logged before ``now - days`` that the archive in ``folder`` holds."""
    import pyarrow.parquet as pq

    from leanloop.archive.export import day_of

    p = t.predictions
    cutoff = now - days * 86_400.0
    with store.engine.connect() as conn:
        newest = conn.execute(sa.select(sa.func.max(p.c.seq))).scalar_one()
        older = conn.execute(sa.select(p.c.seq, p.c.prediction_id)
                             .where(p.c.created_at < cutoff, p.c.seq != newest)).all()
    if not older:
        return RetentionResult(cutoff=cutoff, older=0, deleted=0, not_archived=0)
    import pandas as pd

    last_day = day_of(pd.Series([cutoff])).iloc[0]
    archived: set[tuple[int, str]] = set()
    for entry in load_manifest(Path(folder)).files:
        if entry.day <= last_day:
            table = pq.read_table(Path(folder) / entry.path, columns=["seq", "prediction_id"])
            archived.update(zip(table.column("seq").to_pylist(), table.column("prediction_id").to_pylist(),
                                strict=True))
    doomed = [(int(s), str(i)) for s, i in older if (int(s), str(i)) in archived]
    for step in range(0, len(doomed), STEP):
        with store.engine.begin() as conn:
            for part in chunks(doomed[step:step + STEP]):
                _delete(conn, part, cutoff)
    return RetentionResult(cutoff=cutoff, older=len(older), deleted=len(doomed),
                           not_archived=len(older) - len(doomed))


def _delete(conn: sa.Connection, rows: list[tuple[int, str]], cutoff: float) -> None:
    p, h = t.predictions, t.feedback_history
    seqs, ids = [s for s, _ in rows], [i for _, i in rows]
    conn.execute(p.delete().where(p.c.seq.in_(seqs), p.c.created_at < cutoff))
    conn.execute(t.feedback.delete().where(t.feedback.c.prediction_id.in_(ids)))
    newest = sa.select(sa.func.max(h.c.seq)).scalar_subquery()
    conn.execute(h.delete().where(h.c.prediction_id.in_(ids), h.c.seq < newest))
    conn.execute(t.shadow_predictions.delete().where(t.shadow_predictions.c.prediction_id.in_(ids)))
