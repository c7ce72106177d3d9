"""The enriched test set: hard cases kept across cycles to gate every promotion.

Each cycle copies its window's hard cases (:mod:`leanloop.measure.hard_cases`) into the
store's ``testset`` table with their provenance: prediction id, features, label, the
prediction served, the model version that served it, the cycle, the reason and its
evidence, and when the row was added. Rows are de-duplicated by prediction id: the first
copy keeps its provenance. Retraining holds these rows out, so the gate judges both
models on rows neither trained on.

**The size cap** (``[testset] max_rows``): while the set is over the cap, the reason
holding the most rows loses its oldest row (ties: the reason listed first in
:class:`Reason` keeps its rows). So every reason keeps its newest rows and no reason
crowds out the others. This is deterministic (no sampling), and the oldest-first
order is by ``added_at``, then prediction id.

Examples
--------
>>> cap_plan({"confident_error": 5, "high_loss": 2, "weak_segment": 0, "drifted_region": 1}, 6)
{'confident_error': 3, 'high_loss': 2, 'weak_segment': 0, 'drifted_region': 1}
"""

from __future__ import annotations

import time
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field

from leanloop.errors import InputError
from leanloop.measure.hard_cases import HardCase, Reason
from leanloop.times import iso

if TYPE_CHECKING:
    import pandas as pd

    from leanloop.store import SQLStore
    from leanloop.workspace import Workspace

__all__ = ["TestsetRow", "Added", "cap_plan", "add_hard_cases", "reason_of", "rows", "prune", "export",
           "hard_case_frame"]


class TestsetRow(BaseModel):
    """One row of the enriched test set with its provenance."""

    __test__ = False  # a record, not a pytest test class

    model_config = ConfigDict(frozen=True)

    prediction_id: str
    added_at: float
    cycle: int | None
    reason: Reason
    detail: str
    model_version: str
    features: dict[str, Any]
    label: Any
    prediction: Any

    def frame_row(self) -> dict[str, Any]:
        """The row flat, for a data frame: provenance, label, prediction, then each feature."""
        return {"prediction_id": self.prediction_id, "added_at": iso(self.added_at), "cycle": self.cycle,
                "reason": self.reason.value, "detail": self.detail, "model_version": self.model_version,
                "label": self.label, "prediction": self.prediction, **self.features}


class Added(BaseModel):
    """What one addition did: new rows by reason, duplicates skipped, rows the cap removed."""

    model_config = ConfigDict(frozen=True)

    added: dict[str, int] = Field(default_factory=dict)
    duplicates: int = 0
    capped: int = 0
    size: int = 0


def cap_plan(counts: dict[str, int], max_rows: int) -> dict[str, int]:
    """How many rows each reason keeps under ``max_rows`` (the rule in the module docstring)."""
    keep = {r.value: 0 for r in Reason} | dict(counts)
    excess = sum(keep.values()) - max_rows
    order = list(keep)
    while excess > 0:
        largest = max(order, key=lambda r: (keep[r], order.index(r)))
        keep[largest] -= 1
        excess -= 1
    return keep


def reason_of(value: Reason | str) -> Reason:
    """``value`` as a :class:`Reason`, or an :class:`InputError` listing the reasons.

    >>> reason_of("high_loss").value
    'high_loss'
    """
    try:
        return Reason(value)
    except ValueError:
        raise InputError(f"unknown reason {value!r}; reasons are {[r.value for r in Reason]}") from None


def rows(store: SQLStore, *, reason: Reason | str | None = None) -> list[TestsetRow]:
    """The set, newest first."""
    chosen = None if reason is None else reason_of(reason).value
    return [TestsetRow.model_validate(r) for r in store.testset_rows(reason=chosen)]


def _drop_over_cap(store: SQLStore, max_rows: int) -> int:
    current = rows(store)
    if len(current) <= max_rows:
        return 0
    plan = cap_plan(dict(Counter(r.reason.value for r in current)), max_rows)
    seen: Counter[str] = Counter()
    drop = []
    for row in current:  # newest first: the first plan[reason] rows of each reason stay
        seen[row.reason.value] += 1
        if seen[row.reason.value] > plan[row.reason.value]:
            drop.append(row.prediction_id)
    return store.delete_testset_rows(drop)


def add_hard_cases(store: SQLStore, cases: list[HardCase], *, max_rows: int, cycle: int | None = None,
                   at: float | None = None) -> Added:
    """Copy hard cases into the set (new prediction ids only), then apply the cap."""
    at = time.time() if at is None else at
    records = [{"prediction_id": c.prediction_id, "added_at": at, "cycle": cycle, "reason": c.reason.value,
                "detail": c.detail, "model_version": c.model_version, "features": c.features,
                "label": c.label, "prediction": c.prediction} for c in cases]
    seen = {r["prediction_id"] for r in store.testset_rows()}
    store.add_testset_rows(records)
    fresh = []
    for case in cases:
        if case.prediction_id not in seen:
            seen.add(case.prediction_id)
            fresh.append(case)
    added = Counter(c.reason.value for c in fresh)
    capped = _drop_over_cap(store, max_rows)
    return Added(added={r.value: added.get(r.value, 0) for r in Reason}, duplicates=len(cases) - len(fresh),
                 capped=capped, size=len(store.testset_rows()))


def prune(store: SQLStore, *, older_than: float | None = None, reason: Reason | str | None = None,
          keep: int | None = None, now: float | None = None) -> int:
    """Remove rows: those added more than ``older_than`` seconds ago and/or of ``reason``;
    with ``keep``, the newest ``keep`` of those stay. Returns how many were removed."""
    if older_than is None and reason is None and keep is None:
        raise InputError("prune needs --older-than, --reason or --keep; nothing was removed")
    if (older_than is not None and older_than < 0) or (keep is not None and keep < 0):
        raise InputError("--older-than and --keep must be >= 0")
    now = time.time() if now is None else now
    candidates = rows(store, reason=reason)
    if older_than is not None:
        candidates = [r for r in candidates if r.added_at < now - older_than]
    if keep is not None:
        candidates = candidates[keep:]
    return store.delete_testset_rows([r.prediction_id for r in candidates])


def hard_case_frame(ws: Workspace) -> pd.DataFrame:
    """The set as a table of features plus the target (model-ready), newest first;
    ``prediction_id`` and ``reason`` ride along as extra columns."""
    import pandas as pd

    config = ws.config
    current = rows(ws.store)
    features = pd.DataFrame([r.features for r in current], columns=config.schema_.names)
    features = config.schema_.coerce(features, "the enriched test set")
    return features.assign(**{config.data.target: [r.label for r in current],
                              "prediction_id": [r.prediction_id for r in current],
                              "reason": [r.reason.value for r in current]})


def export(store: SQLStore, path: str | Path, *, target: str = "label") -> int:
    """Write the set to CSV or Parquet (by suffix): provenance columns, one column per
    feature, the label under ``target``. Returns the number of rows written."""
    import pandas as pd

    path = Path(path)
    if path.suffix.lower() not in (".csv", ".parquet"):
        raise InputError(f"cannot export to {path.name!r}: the file name must end in .csv or .parquet")
    current = rows(store)
    provenance = pd.DataFrame([{"prediction_id": r.prediction_id, "added_at": iso(r.added_at), "cycle": r.cycle,
                                "reason": r.reason.value, "detail": r.detail, "model_version": r.model_version,
                                "prediction": r.prediction} for r in current],
                              columns=["prediction_id", "added_at", "cycle", "reason", "detail", "model_version",
                                       "prediction"])
    features = pd.DataFrame([r.features for r in current])
    frame = pd.concat([provenance, features], axis=1).assign(**{target: [r.label for r in current]})
    if not path.parent.is_dir():
        raise InputError(f"cannot export to {path}: folder {path.parent} does not exist")
    if path.suffix.lower() == ".csv":
        frame.to_csv(path, index=False)
    else:
        frame.to_parquet(path, index=False)
    return len(frame)
