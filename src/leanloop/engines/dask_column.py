"""One column that fits a worker, measured whole in one task on that worker.

:func:`measure_column` runs on a worker: it reads the column's pieces of both sides
there (:func:`~leanloop.engines.pieces.piece_part`), runs the rounds of
:mod:`~leanloop.engines.dask_numeric` in that process (:class:`~leanloop.engines.dask_numeric.Here`)
for a numeric column, or merges the summaries (frequency tables, sorted values) for the
others, and judges them with the local engine's code (:func:`judge_parts`). The client
receives the judged results, a few hundred bytes. A numeric column measured by its rounds
on the cluster instead cost about 20 tasks and five client round trips (partitions,
briefs, splits, ranges, bin counts): with 2 workers on 2 cores the scheduler's dispatch of
each of them waited for a core, and each worker sat idle about a tenth of the run in gaps
of 10 ms between tasks (20M + 20M rows, Dask's task stream).

The same functions compute the same numbers in the same order as on the cluster, so the
results equal the local engine's as the spread path's do.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from leanloop.config import QualityConfig
from leanloop.engines.dask_numeric import SUMMARISED_FROM, Here, measure_numeric
from leanloop.engines.parts import ColumnPart, absent_part, merge_parts
from leanloop.engines.pieces import Piece, piece_part
from leanloop.measure.drift.report import Judged, judge_feature
from leanloop.measure.drift.result import DriftMethod, DriftOptions
from leanloop.measure.quality import QualityResult, tally_checks
from leanloop.schema import Feature, FeatureKind

if TYPE_CHECKING:
    from collections.abc import Callable

__all__ = ["ColumnTask", "SideColumn", "judge_parts", "measure_column", "passes"]

#: The two sides, in the order a column's parts are keyed and read.
SIDES = ("reference", "current")


@dataclass(frozen=True)
class SideColumn:
    """One side's column: its pieces (none when the side lacks the column), whether it
    holds text, and the side's rows."""

    pieces: tuple[Piece, ...]
    text: bool
    rows: int


@dataclass(frozen=True)
class ColumnTask:
    """Everything a worker needs to measure the column ``name`` alone (see the module)."""

    name: str
    feature: Feature | None
    checked: Feature | None
    method: DriftMethod | None
    options: DriftOptions
    quality: QualityConfig
    reference: SideColumn
    current: SideColumn
    memory: int = 0
    summarised_from: int = SUMMARISED_FROM


def passes(feature: Feature | None, checked: Feature | None) -> list[tuple[FeatureKind, bool, bool]]:
    """How a column is read: ``(kind, drift, quality)`` per pass, one pass when drift and
    quality read it as the same kind, two otherwise.

    >>> passes(Feature(name="x", kind=FeatureKind.NUMERIC), None)
    [(<FeatureKind.NUMERIC: 'numeric'>, True, False)]
    """
    if feature is not None and checked is not None and feature.kind is checked.kind:
        return [(feature.kind, True, True)]
    wanted = [(feature.kind, True, False)] if feature is not None else []
    return wanted + ([(checked.kind, False, True)] if checked is not None else [])


def side_parts(read: Callable[[str, FeatureKind, bool, bool], ColumnPart], feature: Feature | None,
               checked: Feature | None) -> dict[tuple[str, str], ColumnPart]:
    """Each side's merged summaries, keyed ``(side, "drift")`` and ``(side, "quality")``, from
    ``read(side, kind, drift, quality)`` called once per side and pass (:func:`passes`)."""
    out: dict[tuple[str, str], ColumnPart] = {}
    for side in SIDES:
        for kind, drift, quality in passes(feature, checked):
            part = read(side, kind, drift, quality)
            if drift:
                out[side, "drift"] = part
            if quality:
                out[side, "quality"] = part
    return out


def judge_parts(feature: Feature | None, checked: Feature | None, parts: dict[tuple[str, str], ColumnPart], *,
                method: DriftMethod | None, options: DriftOptions,
                quality: QualityConfig) -> tuple[Judged | None, list[QualityResult]]:
    """The drift of ``feature`` and the quality checks of ``checked`` from each side's
    merged summaries (:func:`side_parts`), by the local engine's code."""
    judged = None
    if feature is not None:
        ref, cur = parts["reference", "drift"].sample, parts["current", "drift"].sample
        assert ref is not None and cur is not None
        judged = judge_feature(feature, ref, cur, method=method, options=options, bounds=[(0, cur.n)], chunks=0)
    checks: list[QualityResult] = []
    if checked is not None:
        ref_tally, cur_tally = parts["reference", "quality"].tally, parts["current", "quality"].tally
        assert ref_tally is not None and cur_tally is not None
        checks = tally_checks(checked, ref_tally, cur_tally, quality)
    return judged, checks


def numeric_kind(feature: Feature | None, checked: Feature | None) -> FeatureKind | None:
    """The kind a column is measured by ranges as (numbers or date-times, the same for drift
    and quality), or ``None``.

    >>> numeric_kind(Feature(name="x", kind=FeatureKind.NUMERIC), None)
    <FeatureKind.NUMERIC: 'numeric'>
    """
    kinds = {f.kind for f in (feature, checked) if f is not None}
    if len(kinds) == 1 and kinds <= {FeatureKind.NUMERIC, FeatureKind.DATETIME}:
        return kinds.pop()
    return None


def measure_column(task: ColumnTask) -> tuple[Judged | None, list[QualityResult]]:
    """The drift and quality results of one column, read and measured in this process (on a
    worker: see the module)."""
    feature, checked = task.feature, task.checked
    sides = {"reference": task.reference, "current": task.current}

    def read(side: str, kind: FeatureKind, drift: bool, quality: bool) -> list[ColumnPart]:
        column = sides[side]
        return [piece_part(p, task.name, kind, drift=drift, quality=quality, side=side, text=column.text)
                for p in column.pieces]

    kind = numeric_kind(feature, checked)
    if kind is not None and all(s.pieces for s in sides.values()):
        parts = {side: read(side, kind, feature is not None, checked is not None) for side in SIDES}
        done = measure_numeric(Here(task.memory), parts, feature=feature, checked=checked, method=task.method,
                               options=task.options, quality=task.quality, summarised_from=task.summarised_from)
        if done is not None:
            return done
        merged = {side: merge_parts(p) for side, p in parts.items()}
        del parts
        return judge_parts(feature, checked, {(side, use): merged[side] for side in SIDES
                                              for use in ("drift", "quality")},
                           method=task.method, options=task.options, quality=task.quality)

    def whole(side: str, kind: FeatureKind, drift: bool, quality: bool) -> ColumnPart:
        if not sides[side].pieces:
            return absent_part(sides[side].rows, kind, name=task.name)
        return merge_parts(read(side, kind, drift, quality))

    return judge_parts(feature, checked, side_parts(whole, feature, checked), method=task.method,
                       options=task.options, quality=task.quality)
