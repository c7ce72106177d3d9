"""One numeric column measured on a Dask cluster without sending its values to the client.

Each side's partitions are summarised on the workers (sorted values and quality tally,
:func:`~leanloop.engines.parts.column_part`) and kept there as futures; the rounds of
:mod:`~leanloop.engines.ranges` (:class:`OnCluster`; or :class:`Here`, in one worker's
task, when the whole column is there: :mod:`~leanloop.engines.dask_column`) then give
the client only small summaries: the
partitions' moments, ends and regular samples, each value range's counts, and each
range's share of the statistics computed where the range's values meet. Drift by
Wasserstein (the default on large samples), KS above 10,000 values a side, PSI,
Jensen-Shannon and Hellinger, and the numeric quality checks (missing, unreadable,
out of range, constant) are computed this way, exactly.

The others (Anderson-Darling and Cramér-von Mises, which scipy computes from the whole
pooled ranking; KS on small samples, whose exact p-value scipy computes from the
values) and columns under :data:`SUMMARISED_FROM` values in all (a round trip per round
costs more than sending them) take the earlier path: :func:`measure_numeric` returns
``None`` and the caller gathers the parts to the client.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from functools import reduce
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from leanloop.config import QualityConfig
from leanloop.engines.cluster import collect
from leanloop.engines.ranges import (
    Brief,
    BucketStats,
    brief,
    bucket_stats,
    edge_counts,
    merge_moments,
    quantile_ranks,
    quantiles_of,
    split,
    splitters,
    take,
)
from leanloop.measure.drift.engine import SPECS, compare, default_method
from leanloop.measure.drift.ks import SCIPY_EXACT_N, ks_p_value
from leanloop.measure.drift.report import Judged
from leanloop.measure.drift.result import DriftMethod, DriftOptions, DriftResult, Outcome
from leanloop.measure.drift.wasserstein import normalised
from leanloop.measure.quality import (
    ColumnTally,
    QualityResult,
    missing_result,
    range_checks,
    tally_checks,
    type_errors_result,
)
from leanloop.schema import Feature

if TYPE_CHECKING:
    from distributed import Client

__all__ = ["SUMMARISED_FROM", "Here", "OnCluster", "Rounds", "measure_numeric"]

#: Values in both sides together from which a column is measured by ranges on the
#: workers; smaller columns travel to the client (one round instead of five).
SUMMARISED_FROM = 200_000
#: Values a range holds at most (both sides): its worker merges them, 8 bytes each.
_BUCKET_VALUES = 8_000_000
#: Bytes of a worker's memory limit per value of a range: merging a range holds about ten
#: arrays of its size (measured peak), while the worker also keeps its partitions of two columns.
_BYTES_PER_VALUE = 400
#: Ranges per worker at least, so that every worker merges some.
_BUCKETS_PER_WORKER = 2
#: Methods computed from the range summaries.
_FROM_RANGES = {DriftMethod.WASSERSTEIN, DriftMethod.KS, DriftMethod.PSI, DriftMethod.JENSEN_SHANNON,
                DriftMethod.HELLINGER}


@dataclass(frozen=True)
class _Sized:
    """A side's summary as :func:`~leanloop.measure.drift.engine.compare` reads it for
    the binned methods: its size, its quantile edges and its counts in them."""

    n: int
    edges: np.ndarray | None = None
    binned: np.ndarray | None = None

    def quantile_edges(self, bins: int) -> np.ndarray:
        assert self.edges is not None
        return self.edges

    def counts(self, inner_edges: np.ndarray) -> np.ndarray:
        assert self.binned is not None
        return self.binned


class Rounds(Protocol):
    """Where the rounds of one column run: on the cluster (:class:`OnCluster`, the
    partitions being futures) or in this process (:class:`Here`, the partitions being
    :class:`~leanloop.engines.parts.ColumnPart` objects: a column measured whole in one
    task on a worker)."""

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Any:
        """Start ``fn(*args, **kwargs)``; its result, or a future of it."""

    def results(self, started: list[Any], step: str) -> list[Any]:
        """The results of what :meth:`submit` started, in order (``step`` names them in errors)."""

    def memory_limits(self) -> list[int]:
        """The memory limit (bytes, 0 unknown) of each worker a range may be merged on."""


class OnCluster:
    """Rounds run as tasks on the cluster of ``client``, placed by ``place`` (``client.submit``'s
    ``workers`` and ``allow_other_workers``); ``what`` names the column in errors."""

    def __init__(self, client: Client, what: str, place: dict[str, Any] | None = None) -> None:
        self.client, self.what, self.place = client, what, place or {}

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Any:
        return self.client.submit(fn, *args, pure=False, **self.place, **kwargs)

    def results(self, started: list[Any], step: str) -> list[Any]:
        try:
            return collect(self.client, started, f"the {step} of {self.what}")
        finally:
            del started

    def memory_limits(self) -> list[int]:
        return [w.get("memory_limit") or 0 for w in self.client.scheduler_info()["workers"].values()]


class Here:
    """Rounds run in this process, on one worker of ``memory`` bytes (0: unknown).

    >>> Here(0).results([Here(0).submit(max, 1, 2)], "a step")
    [2]
    """

    def __init__(self, memory: int) -> None:
        self.memory = memory

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Any:
        return fn(*args, **kwargs)

    def results(self, started: list[Any], step: str) -> list[Any]:
        return started

    def memory_limits(self) -> list[int]:
        return [self.memory]


def measure_numeric(rounds: Rounds, parts: dict[str, list[Any]], *, feature: Feature | None,
                    checked: Feature | None, method: DriftMethod | None, options: DriftOptions,
                    quality: QualityConfig, summarised_from: int = SUMMARISED_FROM,
                    ) -> tuple[Judged | None, list[QualityResult]] | None:
    """Drift of ``feature`` and quality checks of ``checked`` from the partitions of each
    side (``parts["reference"]``, ``parts["current"]``: :class:`~leanloop.engines.parts.ColumnPart`
    objects or futures of them, as ``rounds`` runs them), or ``None`` when the column should
    be measured from its merged values (see the module).

    Raises
    ------
    EngineError
        If the workers died more often than Dask retries a task.
    """
    column = _Column(rounds, parts)
    ref, cur = column.briefs["reference"], column.briefs["current"]
    n_ref, n_cur = (merge_moments([b.moments for b in briefs]).n for briefs in (ref, cur))
    if feature is not None:
        if min(n_ref, n_cur) == 0 or n_ref + n_cur < summarised_from:
            return None
        method = method or default_method(feature.kind, _Sized(n_ref), _Sized(n_cur), options)  # type: ignore[arg-type]
        if method not in _FROM_RANGES or (method is DriftMethod.KS and max(n_ref, n_cur) <= SCIPY_EXACT_N):
            return None
    elif checked is None or ref[0].checked is None:
        return None
    low_high = _ends([b.checked for b in ref])
    column.split(splitters([*ref, *cur], column.buckets(n_ref + n_cur)) if feature is not None else np.zeros(0),
                 low_high)
    checks = _checks(checked, column, low_high, quality) if checked is not None else []
    judged: Judged | None = None
    if feature is not None:
        assert method is not None
        judged = (_judge(feature, method, column, options, n_ref, n_cur), [], None)
    return judged, checks


def _ends(ends: list[tuple[int, float | None, float | None] | None]) -> tuple[float, float] | None:
    lows = [e[1] for e in ends if e is not None and e[1] is not None]
    highs = [e[2] for e in ends if e is not None and e[2] is not None]
    return (min(lows), max(highs)) if lows else None


def _checks(checked: Feature, column: _Column, ref_ends: tuple[float, float] | None,
            quality: QualityConfig) -> list[QualityResult]:
    """The per-feature quality checks, as :func:`~leanloop.measure.quality.tally_checks`."""
    ref, cur = (reduce(ColumnTally.merge, [b.tally for b in column.briefs[side] if b.tally is not None])
                for side in ("reference", "current"))
    if column.briefs["reference"][0].checked is None:  # a tally of category counts (date-times)
        return tally_checks(checked, ref, cur, quality)
    name = checked.name
    n_cur = sum(b.checked[0] for b in column.briefs["current"] if b.checked is not None)
    return [missing_result(name, ref.rows, ref.missing, cur.rows, cur.missing, quality),
            type_errors_result(name, cur.bad, cur.rows - cur.missing, cur.examples, quality),
            *range_checks(name, ref_ends, _ends([b.checked for b in column.briefs["current"]]),
                          column.outside, n_cur, quality)]


def _judge(feature: Feature, method: DriftMethod, column: _Column, options: DriftOptions, n_ref: int,
           n_cur: int) -> tuple[DriftResult, list[DriftResult]]:
    """The primary result and, for a test, PSI beside it (as the local engine's judge)."""
    name, kind = feature.name, feature.kind
    binned = method not in (DriftMethod.WASSERSTEIN, DriftMethod.KS) or SPECS[method].test
    ranks = np.unique(np.concatenate(quantile_ranks(n_ref, options.psi_bins)[:2])) if binned else np.zeros(0, int)
    stats = column.buckets_stats(ranks, gap=method is DriftMethod.KS)
    sides = (_Sized(n_ref), _Sized(n_cur))
    if binned:
        edges = quantiles_of(n_ref, options.psi_bins, {k: v for s in stats for k, v in s.picked.items()})
        sides = (_Sized(n_ref, edges, column.counts("reference", edges)),
                 _Sized(n_cur, edges, column.counts("current", edges)))
    outcome: Outcome | None = None
    if method is DriftMethod.WASSERSTEIN:
        spread = merge_moments([b.moments for b in column.briefs["reference"]]).std
        outcome = normalised(sum(s.area for s in stats), spread), None
    elif method is DriftMethod.KS:
        gap = max(s.gap for s in stats)
        outcome = gap, ks_p_value(gap, n_ref, n_cur)
    primary = compare(name, kind, *sides, method=method, options=options, outcome=outcome)  # type: ignore[arg-type]
    extra = [compare(name, kind, *sides, method=DriftMethod.PSI, options=options)] if SPECS[method].test else []  # type: ignore[arg-type]
    return primary, extra


class _Column:
    """The futures of one column on the cluster, and the rounds run on them."""

    def __init__(self, rounds: Rounds, parts: dict[str, list[Any]]) -> None:
        self.rounds, self.parts, self.submit = rounds, parts, rounds.submit
        self.briefs: dict[str, list[Brief]] = {
            side: self._collect([self.submit(brief, p) for p in futures], "summaries")
            for side, futures in parts.items()}
        self.offsets: dict[str, list[np.ndarray]] = {}
        self.cuts = np.zeros(0)
        self.outside = 0

    def _collect(self, started: list[Any], step: str) -> list[Any]:
        return self.rounds.results(started, step)

    def buckets(self, values: int) -> int:
        """How many ranges: a few per worker, and none larger than a worker should merge."""
        limits = self.rounds.memory_limits()
        largest = min([_BUCKET_VALUES, *(limit // _BYTES_PER_VALUE for limit in limits if limit)])
        return max(_BUCKETS_PER_WORKER * max(1, len(limits)), math.ceil(values / max(largest, 1)))

    def split(self, cuts: np.ndarray, ref_ends: tuple[float, float] | None) -> None:
        """Each partition's range offsets, and the current values outside ``ref_ends``."""
        self.cuts = cuts
        for side, futures in self.parts.items():
            bounds = ref_ends if side == "current" else None
            done = self._collect([self.submit(split, p, cuts, bounds) for p in futures], "ranges")
            self.offsets[side] = [offsets for offsets, _ in done]
            if side == "current":
                self.outside = sum(outside for _, outside in done)

    def buckets_stats(self, ranks: np.ndarray, *, gap: bool) -> list[BucketStats]:
        """Every range's statistics, computed where its values meet; ``ranks``: the
        reference's order statistics to pick up on the way; ``gap``: whether the KS
        statistic is wanted (without it, no merge of both sides: see :func:`bucket_stats`)."""
        submit = self.submit
        before = {side: np.cumsum([sum(int(o[g + 1] - o[g]) for o in self.offsets[side])
                                   for g in range(self.cuts.size + 1)]) for side in self.parts}
        sizes = (int(before["reference"][-1]), int(before["current"][-1]))
        futures = []
        for g in range(self.cuts.size + 1):
            runs = {side: [submit(take, p, int(o[g]), int(o[g + 1]))
                           for p, o in zip(self.parts[side], self.offsets[side], strict=True) if o[g + 1] > o[g]]
                    for side in self.parts}
            start = {side: int(before[side][g - 1]) if g else 0 for side in self.parts}
            wanted = tuple(int(r) for r in ranks if start["reference"] <= r < before["reference"][g])
            futures.append(submit(bucket_stats, runs["reference"], runs["current"],
                                  before=(start["reference"], start["current"]), sizes=sizes,
                                  low=float(self.cuts[g - 1]) if g else None,
                                  high=float(self.cuts[g]) if g < self.cuts.size else None, ranks=wanted,
                                  gap=gap))
        return self._collect(futures, "range statistics")

    def counts(self, side: str, edges: np.ndarray) -> np.ndarray:
        """One side's counts in the bins of ``edges``."""
        done = self._collect([self.submit(edge_counts, p, edges) for p in self.parts[side]],
                             "bin counts")
        return np.sum(done, axis=0)
