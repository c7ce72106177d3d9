"""Promotion and rollback, by hand or by the loop, each written to the ledger.

A manual ``leanloop promote VERSION`` or ``leanloop rollback`` is a :class:`LedgerEvent`
in the same ledger as the cycles, with who asked and why, so ``leanloop history``
shows every change of champion. :func:`previous_evidence` is the rollback rule's
evidence: the ``previous`` version and the champion scored on the same labelled rows,
with a paired bootstrap interval of the gain.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from leanloop.errors import InputError
from leanloop.learn import ledger
from leanloop.learn.compare import metric_gain, score_rows, truth_codes
from leanloop.learn.evidence import Previous
from leanloop.learn.ledger import EventKind, LedgerEvent
from leanloop.scoring import model_input
from leanloop.target import normalize_target

if TYPE_CHECKING:
    import pandas as pd

    from leanloop.workspace import Workspace

__all__ = ["LedgerEvent", "promote", "rollback", "start_shadow", "stop_shadow", "previous_evidence"]


def _record(ws: Workspace, kind: EventKind, before: str, reason: str, evidence: dict[str, Any] | None) -> LedgerEvent:
    at = time.time()
    entry_id = ledger.reserve(ws.store, at=at)
    event = LedgerEvent(kind=kind, cycle=entry_id, created_at=at, champion_before=before,
                        champion_after=ws.registry.champion().version, reason=reason, evidence=evidence or {})
    ledger.write(ws.store, event)
    return event


def promote(ws: Workspace, version: str, *, reason: str = "manual", evidence: dict[str, Any] | None = None,
            ) -> LedgerEvent:
    """Make ``version`` the champion (the old one becomes ``previous``) and log it."""
    before = ws.registry.champion().version
    ws.registry.get(version)  # a clear NotFoundError for an unknown version
    if version == before:
        raise InputError(f"{version} is already the champion; nothing to promote")
    ws.registry.promote(version)
    return _record(ws, "promote", before, reason, evidence)


def rollback(ws: Workspace, *, reason: str = "manual", evidence: dict[str, Any] | None = None) -> LedgerEvent:
    """Make ``previous`` the champion again and log it."""
    before = ws.registry.champion().version
    ws.registry.rollback()
    return _record(ws, "rollback", before, reason, evidence)


def start_shadow(ws: Workspace, version: str, *, reason: str = "manual") -> LedgerEvent:
    """Point ``shadow`` at ``version`` (servers score every request with it too) and log it."""
    champion = ws.registry.champion().version
    ws.registry.shadow(version)
    return _record(ws, "shadow", champion, reason, {"shadow": version})


def stop_shadow(ws: Workspace, *, reason: str = "manual") -> LedgerEvent:
    """Clear ``shadow`` and log it, with what the shadow scored."""
    champion = ws.registry.champion().version
    version = ws.registry.stop_shadow()
    return _record(ws, "shadow_stop", champion, reason,
                   {"shadow": version, "rows_scored": ws.store.count_shadow(version)})


def previous_evidence(ws: Workspace, labelled: pd.DataFrame,
                      models: dict[str, tuple[Any, Any]] | None = None) -> Previous | None:
    """The ``previous`` version against the champion on ``labelled`` (features + target),
    or ``None`` when there is no previous version or too few rows to judge. ``models``
    maps versions already loaded to their ``(model, baseline)``; it gains those loaded here."""
    config = ws.config
    registry = ws.registry
    previous = registry.alias("previous")
    champion = registry.champion()
    if previous is None or previous.version == champion.version or len(labelled) < config.policy.min_labels:
        return None
    frame = labelled.reset_index(drop=True)
    y = normalize_target(frame[config.data.target], config.data.task).tolist()
    outputs = []
    models = {} if models is None else models
    for record in (champion, previous):
        if record.version not in models:
            models[record.version] = registry.load(record.version)
        model, _ = models[record.version]
        outputs.append(score_rows(model, model_input(config.schema_, frame, record.input_format, "recent rows"),
                                  y, config))
    metric = config.policy.main_metric_for(config.data)
    champ, prev, gain = metric_gain(metric, truth_codes(y, config), outputs[0], outputs[1], config)
    return Previous(version=previous.version, champion_metric=champ, previous_metric=prev,
                    gain_lower=gain.lower, gain_upper=gain.upper, rows=len(frame))
