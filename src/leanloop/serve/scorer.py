"""The batch scorer: one model call for the rows of several requests.

:class:`BatchScorer` is what the :class:`~leanloop.serve.batching.MicroBatcher` calls
with the groups (one per request, :class:`~leanloop.serve.keys.KeyedRows`) it gathered:
it reads the champion once, scores every row, gives each row a :func:`prediction_id
<prediction_ids>`, offers the rows to the shadow scorer and returns, per group, the
answers and the records to log (with the rows' ids and event times, ``source`` online).
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from leanloop.ids import prediction_ids

if TYPE_CHECKING:
    from leanloop.row_keys import RowKeys
    from leanloop.schema import Schema
    from leanloop.serve.keys import KeyedRows
    from leanloop.serve.models import ModelHolder
    from leanloop.serve.shadow import ShadowScorer

__all__ = ["BatchScorer", "prediction_ids"]

Outputs = list[list[dict[str, Any]]]


class BatchScorer:
    """Score the groups of one micro-batch with the current champion."""

    def __init__(self, holder: ModelHolder, schema: Schema, task: str, shadow: ShadowScorer, keys: RowKeys) -> None:
        self.holder = holder
        self.schema = schema
        self.task = task
        self.shadow = shadow
        self.keys = keys

    def __call__(self, groups: list[KeyedRows]) -> tuple[str, Outputs, list[dict[str, Any]]]:
        """``(version, answers per group, log records)`` for ``groups``."""
        from leanloop.scoring import rows_columns, rows_input, score

        # The version is read once: every row of the batch names the version that answered it.
        # The loaded one: following the alias is the watcher's job, off the request path.
        champion, model = self.holder.serving()
        version = champion.version
        schema = self.schema
        rows = [row for group in groups for row in group.rows]
        columns = rows_columns(schema, rows, champion.input_format)
        scored = score(model, rows_input(schema, rows, champion.input_format) if columns is None else columns,
                       self.task)
        now = time.time()
        ids = prediction_ids(len(rows))
        outcomes = list(zip(ids, scored.labels, scored.probability_dicts(), strict=True))
        outputs = [{"prediction_id": i, "prediction": label, "probabilities": proba} for i, label, proba in outcomes]
        records = [{"prediction_id": i, "created_at": now, "model_version": version, "features": row,
                    "prediction": label, "probabilities": proba}
                   for row, (i, label, proba) in zip(rows, outcomes, strict=True)]
        self._add_keys(groups, outputs, records)
        shadow = self.shadow
        if shadow.wants(version):  # loaded, loading (scored late), or refused (counted as missed)
            shadow.offer(rows, ids, version, now)
        split, start = [], 0
        for group in groups:
            split.append(outputs[start:start + len(group)])
            start += len(group)
        return version, split, records

    def _add_keys(self, groups: list[KeyedRows], outputs: list[dict[str, Any]],
                  records: list[dict[str, Any]]) -> None:
        """The rows' ids and event times into their records and answers (only for rows
        that carried them: the answer of a plain row keeps its shape)."""
        start = 0
        for group in groups:
            if group.row_ids is not None or group.event_at is not None:
                for k in range(len(group)):
                    records[start + k]["row_id"] = None if group.row_ids is None else group.row_ids[k]
                    records[start + k]["event_at"] = None if group.event_at is None else group.event_at[k]
                    outputs[start + k].update(group.answer_fields(k, self.keys))
            start += len(group)

