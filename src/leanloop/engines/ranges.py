"""Exact statistics of a numeric column whose sorted values stay on the workers.

The Dask engine used to send every numeric value to the client (8 bytes each: 6.4 GB
at 20M + 20M rows x 20 numeric features), and receiving them cost the client more CPU
than the workers spent summarising. Here the values stay where they were sorted, and
the client receives only small summaries, in rounds (:mod:`~leanloop.engines.dask_numeric`
runs them):

1. :func:`brief`, per partition: its count, mean and sum of squared deviations (the
   reference's standard deviation merges exactly by Chan's formula,
   :func:`merge_moments`), its ends, and a regular sample of its sorted values.
2. The client picks value ranges (:func:`splitters`) of about equal size from the
   samples of both sides; :func:`split`, per partition, gives each range's count
   (binary searches), so the client knows, for every range, how many values of each
   side lie before it.
3. Each range's values, from every partition of both sides, meet on one worker
   (:func:`bucket_stats`): merged there, with the counts before the range they give
   that range's exact share of the Wasserstein-1 integral (the integral of
   ``|F - G|``, which is piecewise constant between the range's values) and the largest
   CDF gap (the KS statistic) in the range, plus any order statistics asked for. When no
   KS statistic is wanted and both sides hold as many values, the share of the integral is
   taken over the quantiles instead, rank against rank, with no merge of both sides.
4. For the binned methods (PSI, Jensen-Shannon, Hellinger, and PSI beside KS), the
   reference's quantile edges come from those order statistics (:func:`quantiles_of`,
   numpy's own linear rule) and :func:`edge_counts`, per partition, counts the bins.

Every number equals the local engine's: counts are integers, the KS statistic is the
same ``a / n - b / m`` at the same points (bitwise equal), and Wasserstein-1 is the same
integral summed in another order (equal to rounding). The alternative the brief of issue
17 also named, per-range counts and sums with the values fetched only where ``F - G``
may change sign, was set aside: on a column that did not drift ``F - G`` stays within
about ``1 / sqrt(n)`` of zero and changes sign in most ranges, so most values would travel.

Examples
--------
>>> import numpy as np
>>> ref, cur = np.array([0.0, 1.0, 2.0, 3.0]), np.array([1.0, 2.0, 3.0, 4.0])
>>> whole = bucket_stats([ref], [cur], before=(0, 0), sizes=(4, 4), low=None, high=None)
>>> whole.area, whole.gap  # W1 = 1 (every value moved by 1), KS D = 1/4
(1.0, 0.25)
>>> halves = [bucket_stats([ref[:2]], [cur[:1]], before=(0, 0), sizes=(4, 4), low=None, high=1.0),
...           bucket_stats([ref[2:]], [cur[1:]], before=(2, 1), sizes=(4, 4), low=1.0, high=None)]
>>> sum(h.area for h in halves), max(h.gap for h in halves)
(1.0, 0.25)
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from leanloop.engines.parts import ColumnPart
from leanloop.measure.drift.samples import NumericSample
from leanloop.measure.quality import ColumnTally

__all__ = ["Brief", "BucketStats", "Moments", "brief", "bucket_stats", "edge_counts", "merge_moments",
           "quantiles_of", "split", "splitters", "take"]

#: Values per partition in the regular sample the ranges are chosen from.
SAMPLE_SIZE = 128
#: Values whose deviations :meth:`Moments.of` takes at a time (512 KiB, within a core's cache).
_MOMENTS_BLOCK = 1 << 16
#: Ranks whose quantile gaps :func:`_quantile_area` takes at a time (two buffers of 512 KiB).
_AREA_BLOCK = 1 << 16


@dataclass(frozen=True)
class Moments:
    """Count, mean and sum of squared deviations from the mean of some values."""

    n: int
    mean: float
    m2: float

    @classmethod
    def of(cls, values: np.ndarray) -> Moments:
        """The moments of ``values``.

        >>> Moments.of(np.array([1.0, 3.0]))
        Moments(n=2, mean=2.0, m2=2.0)
        """
        if values.size == 0:
            return cls(0, 0.0, 0.0)
        mean = float(np.mean(values))
        # The deviations a block at a time, in one small buffer: a column-sized array of them
        # was fresh memory the kernel zeroed first, 16 % of a worker's samples at 20M + 20M
        # (perf: clear_page under the subtraction), for a sum.
        buffer, m2 = np.empty(min(values.size, _MOMENTS_BLOCK)), 0.0
        for start in range(0, values.size, _MOMENTS_BLOCK):
            block = values[start:start + _MOMENTS_BLOCK]
            deviations = np.subtract(block, mean, out=buffer[:block.size])
            m2 += float(np.dot(deviations, deviations))
        return cls(int(values.size), mean, m2)

    @property
    def std(self) -> float:
        """The population standard deviation (ddof = 0), as ``np.std``."""
        return float(np.sqrt(self.m2 / self.n)) if self.n else 0.0


def merge_moments(parts: list[Moments]) -> Moments:
    """The moments of all ``parts`` together (Chan, Golub and LeVeque's pairwise update).

    >>> whole = merge_moments([Moments.of(np.array([1.0, 2.0])), Moments.of(np.array([3.0, 4.0, 5.0]))])
    >>> whole.n, whole.mean, round(whole.std, 12) == round(float(np.std([1.0, 2.0, 3.0, 4.0, 5.0])), 12)
    (5, 3.0, True)
    """
    n, mean, m2 = 0, 0.0, 0.0
    for part in parts:
        if part.n == 0:
            continue
        total = n + part.n
        delta = part.mean - mean
        mean += delta * part.n / total
        m2 += part.m2 + delta * delta * n * part.n / total
        n = total
    return Moments(n, mean, m2)


@dataclass(frozen=True)
class Brief:
    """What one partition of one side tells the client before anything else.

    ``moments``/``low``/``high``/``sample``: of the drift summary's sorted values (a
    regular sample: values at evenly spaced ranks, each standing for ``weight`` values);
    ``tally``: the quality tally without its values; ``checked``: how many numbers the
    tally holds and their ends (``None`` when the tally counts categories instead).
    """

    moments: Moments
    low: float | None
    high: float | None
    sample: np.ndarray
    weight: float
    tally: ColumnTally | None
    checked: tuple[int, float | None, float | None] | None = field(default=None)


def _values(part: ColumnPart) -> np.ndarray:
    sample = part.sample
    assert isinstance(sample, NumericSample), "a numeric drift summary"
    return sample.values


def _ends(values: np.ndarray) -> tuple[float | None, float | None]:
    return (float(values[0]), float(values[-1])) if values.size else (None, None)


def brief(part: ColumnPart, samples: int = SAMPLE_SIZE) -> Brief:
    """The summary of one partition that the client plans the ranges from (runs on a worker).

    >>> from leanloop.engines.parts import column_part
    >>> import pandas as pd
    >>> from leanloop.schema import FeatureKind
    >>> b = brief(column_part(pd.Series([3.0, 1.0, None, 2.0]), FeatureKind.NUMERIC, name="x", drift=True,
    ...                       quality=True), samples=2)
    >>> b.moments, b.sample.tolist(), b.weight, b.tally.rows, b.checked
    (Moments(n=3, mean=2.0, m2=2.0), [1.0, 3.0], 1.5, 4, (3, 1.0, 3.0))
    """
    values = _values(part) if part.sample is not None else np.zeros(0)
    low, high = _ends(values)
    ranks = np.unique(np.linspace(0, values.size - 1, min(samples, values.size)).round().astype(np.int64))
    tally, checked = part.tally, None
    if tally is not None and tally.values is not None:
        checked = (int(tally.values.size), *_ends(tally.values))
        tally = ColumnTally(tally.rows, tally.missing, tally.bad, tally.examples)
    return Brief(Moments.of(values), low, high, values[ranks], values.size / max(ranks.size, 1), tally, checked)


def splitters(briefs: list[Brief], buckets: int) -> np.ndarray:
    """Up to ``buckets - 1`` increasing values cutting the pooled samples (weighted by
    the values each stands for) into ranges of about equal size. Ranges are right-closed:
    ``(-inf, s0], (s0, s1], ..., (sk, +inf)``. Any choice gives exact results; an even one
    keeps every worker's share of the merge small.

    >>> b = brief(ColumnPart(NumericSample(np.arange(100.0)), None), samples=11)
    >>> splitters([b], 4).tolist()
    [20.0, 50.0, 79.0]
    """
    pooled = [(b.sample, np.full(b.sample.size, b.weight)) for b in briefs if b.sample.size]
    if not pooled or buckets < 2:
        return np.zeros(0)
    values = np.concatenate([v for v, _ in pooled])
    order = np.argsort(values, kind="stable")
    values, weights = values[order], np.concatenate([w for _, w in pooled])[order]
    cumulative = np.cumsum(weights)
    targets = cumulative[-1] * np.arange(1, buckets) / buckets
    picked = values[np.minimum(np.searchsorted(cumulative, targets), values.size - 1)]
    return np.unique(picked[picked < values[-1]])  # a cut at the largest value leaves an empty last range


def split(part: ColumnPart, cuts: np.ndarray, checked_range: tuple[float, float] | None = None
          ) -> tuple[np.ndarray, int]:
    """Where each range starts in one partition's sorted values (``0``, one offset per
    cut, then the size), and how many of the tally's numbers lie outside
    ``checked_range`` (the reference's min and max; 0 without one). Runs on a worker.

    >>> from leanloop.engines.parts import column_part
    >>> import pandas as pd
    >>> from leanloop.schema import FeatureKind
    >>> p = column_part(pd.Series([1.0, 2.0, 2.0, 5.0]), FeatureKind.NUMERIC, name="x", drift=True, quality=True)
    >>> offsets, outside = split(p, np.array([2.0, 3.0]), (1.5, 4.0))
    >>> offsets.tolist(), outside
    ([0, 3, 3, 4], 2)
    """
    values = _values(part) if part.sample is not None else np.zeros(0)
    offsets = np.concatenate([[0], np.searchsorted(values, cuts, side="right"), [values.size]]).astype(np.int64)
    outside = 0
    checked = part.tally.values if part.tally is not None else None
    if checked_range is not None and checked is not None:
        low, high = checked_range
        outside = int(np.searchsorted(checked, low, side="left")
                      + checked.size - np.searchsorted(checked, high, side="right"))
    return offsets, outside


def take(part: ColumnPart, start: int, end: int) -> np.ndarray:
    """One range of one partition's sorted values (runs on the partition's worker)."""
    return _values(part)[start:end]


@dataclass(frozen=True)
class BucketStats:
    """One range's share of the statistics: ``area``, the integral of ``|F - G|`` over
    the range; ``gap``, the largest ``|F - G|`` at its values; ``picked``, the reference's
    order statistics asked for, by rank in the whole reference."""

    area: float
    gap: float
    picked: dict[int, float]


def _joined(runs: list[np.ndarray]) -> np.ndarray:
    """One side's sorted runs of a range as one sorted array."""
    runs = [r for r in runs if r.size]
    if not runs:
        return np.zeros(0)
    # numpy's default (vectorised) sort, 0.038 s for 3.3M values in 3 runs; the stable one
    # (timsort, merging the runs) measured 0.042 s: not kept.
    return runs[0] if len(runs) == 1 else np.sort(np.concatenate(runs))


def _quantile_area(r: np.ndarray, c: np.ndarray, before: tuple[int, int], size: int,
                   low: float | None, high: float | None) -> float:
    """The integral of ``|F - G|`` over ``(low, high]`` for two sides of ``size`` values
    each, from the range's sorted values of each side: the integral over ``t`` in [0, 1]
    of ``|Q_r(t) - Q_c(t)|`` with both quantile functions clipped to the range (the area
    between two increasing curves, cut to a strip, measured across instead of up). A
    quantile of a rank before the range is ``low`` once clipped, after it ``high``; so
    only the ranks of the range's values count, rank ``i`` of one side against rank ``i``
    of the other, as :func:`~leanloop.measure.drift.wasserstein.wasserstein_statistic`
    pairs them. No merge of both sides: 0.08 s against 0.19 s for 3.3M values a side.

    >>> r, c = np.array([0.0, 1.0, 2.0, 3.0]), np.array([1.0, 2.0, 3.0, 4.0])
    >>> _quantile_area(r[:2], c[:1], (0, 0), 4, None, 1.0) + _quantile_area(r[2:], c[1:], (2, 1), 4, 1.0, None)
    1.0
    """
    ref_before, cur_before = before
    first = min(ref_before, cur_before)
    length = max(ref_before + r.size, cur_before + c.size) - first
    # A block of ranks at a time in two small buffers: two range-sized arrays were fresh memory
    # the kernel cleared first, 320 MB a column at 20M + 20M rows (a third of a worker's CPU
    # was system time there).
    block = min(length, _AREA_BLOCK)
    ours, theirs, area = np.empty(block), np.empty(block), 0.0
    for start in range(0, length, block):
        end = min(start + block, length)
        gaps = _clipped(r, start, end, ref_before - first, low, high, out=ours[:end - start])
        gaps -= _clipped(c, start, end, cur_before - first, low, high, out=theirs[:end - start])
        np.abs(gaps, out=gaps)
        area += float(np.sum(gaps))
    return area / size


def _clipped(values: np.ndarray, start: int, end: int, offset: int, low: float | None,
             high: float | None, *, out: np.ndarray) -> np.ndarray:
    """Quantiles ``start`` to ``end`` (excluded) of a side whose ``values`` begin at the
    ``offset``-th of them, clipped to ``[low, high]`` (``low`` before, ``high`` after),
    written to ``out`` (the ranks are consecutive, so a slice, not an index array: 3.3M int64
    ranks a side were built and gathered through before).

    >>> _clipped(np.array([5.0, 6.0]), 0, 5, 2, 1.0, 9.0, out=np.empty(5)).tolist()
    [1.0, 1.0, 5.0, 6.0, 9.0]
    """
    first = min(max(offset, start), end)  # where the values begin, within [start, end)
    last = min(max(offset + values.size, start), end)
    if first > start:
        assert low is not None, "ranks before the first range"
        out[:first - start] = low
    if last < end:
        assert high is not None, "ranks after the last range"
        out[last - start:] = high
    out[first - start:last - start] = values[first - offset:last - offset]
    return out


def bucket_stats(reference: list[np.ndarray], current: list[np.ndarray], *, before: tuple[int, int],
                 sizes: tuple[int, int], low: float | None, high: float | None,
                 ranks: tuple[int, ...] = (), gap: bool = True) -> BucketStats:
    """The statistics of one range ``(low, high]`` from its sorted runs of values on each
    side, the counts of each side ``before`` it and each side's size (runs on a worker).

    ``F`` and ``G`` (the sides' empirical CDFs) are constant between the range's distinct
    values, so the integral is a sum of rectangles, and the sup of ``|F - G|`` is reached
    at a value (the local engine's rule: same integer counts, same division). Without
    ``gap`` (no KS statistic wanted: ``gap`` is then 0) and with sides of the same size,
    the integral is taken over the quantiles instead (:func:`_quantile_area`), with no
    merge of both sides.
    """
    (ref_before, cur_before), (n, m) = before, sizes
    if not gap and n == m:
        # Sides of different sizes would need their breakpoints i / n and j / m merged (an
        # integer sort: 0.23 s for 3.3M values a side), no faster than the merge below.
        r, c = _joined(reference), _joined(current)
        del reference, current
        picked = {rank: float(r[rank - ref_before]) for rank in ranks}
        return BucketStats(_quantile_area(r, c, before, n, low, high), 0.0, picked)
    start_gap = abs(ref_before / n - cur_before / m)
    runs = [r for r in reference if r.size]
    n_r = sum(r.size for r in runs)
    runs += [c for c in current if c.size]
    del reference, current  # temporaries are freed as soon as they are used: a range may be large
    if not runs:
        width = (high - low) if low is not None and high is not None else 0.0
        return BucketStats(start_gap * width, 0.0, {})
    # All runs of both sides in one stable argsort (timsort merges the sorted runs, and the
    # reference's come first, so its copies of a value precede the current's), each value
    # tagged by its side: the counts at every distinct value are running sums. Measured on
    # 3.3M values a side in 3 runs each: 0.25 s when each side was merged first and then both
    # together, 0.19 s so (and two binary searches of every value took 0.17 s).
    both = np.concatenate(runs) if len(runs) > 1 else runs[0]
    del runs
    order = np.argsort(both, kind="stable")
    points = both[order]
    del both
    ref_counts = np.cumsum(order < n_r, dtype=np.int64)
    del order
    # The k-th reference value of the range is where the running count first reaches k + 1.
    picked = {rank: float(points[np.searchsorted(ref_counts, rank - ref_before + 1)]) for rank in ranks}
    distinct = points[1:] != points[:-1]
    if distinct.all():  # continuous values: every value is its own last copy, nothing to gather
        del distinct
        cur_counts = np.arange(cur_before + 1, cur_before + 1 + points.size, dtype=np.int64)
    else:
        last = np.flatnonzero(np.append(distinct, True))  # each distinct value's last copy
        del distinct
        ref_counts, points = ref_counts[last], points[last]
        cur_counts = np.add(last, cur_before + 1, out=last)
    cur_counts -= ref_counts
    ref_counts += ref_before
    gaps = np.true_divide(ref_counts, n)
    del ref_counts
    gaps -= np.true_divide(cur_counts, m, out=cur_counts.view(np.float64))  # in place: no new array
    np.abs(gaps, out=gaps)
    widths = np.diff(points, append=points[-1] if high is None else high)
    area = float(np.dot(gaps, widths)) + (start_gap * (float(points[0]) - low) if low is not None else 0.0)
    return BucketStats(area, float(gaps.max()), picked)


def quantile_ranks(n: int, bins: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For the interior ``bins``-quantiles of ``n`` sorted values, numpy's linear rule:
    the ranks below and above each, and the interpolation weight.

    >>> [a.tolist() for a in quantile_ranks(4, 2)]
    [[1], [2], [0.5]]
    """
    q = np.linspace(0, 1, bins + 1)
    virtual = (n - 1) * q  # np.quantile's 'linear' virtual index, computed as numpy does
    previous = np.floor(virtual)
    following = previous + 1
    top = virtual >= n - 1
    previous[top], following[top] = n - 1, n - 1
    gamma = virtual - previous
    return previous[1:-1].astype(np.int64), following[1:-1].astype(np.int64), gamma[1:-1]


def quantiles_of(n: int, bins: int, values: dict[int, float]) -> np.ndarray:
    """The reference's inner quantile edges (``NumericSample.quantile_edges``) from its
    order statistics ``values`` (by rank): numpy's interpolation, so the same floats.

    >>> quantiles_of(4, 2, {1: 2.0, 2: 3.0}).tolist()
    [2.5]
    >>> NumericSample.of([1, 2, 3, 4]).quantile_edges(2).tolist()
    [2.5]
    """
    previous, following, gamma = quantile_ranks(n, bins)
    a = np.array([values[int(i)] for i in previous])
    b = np.array([values[int(i)] for i in following])
    diff = b - a
    result = a + diff * gamma
    np.subtract(b, diff * (1 - gamma), out=result, where=gamma >= 0.5)  # numpy's _lerp, for the same rounding
    return np.unique(result)


def edge_counts(part: ColumnPart, edges: np.ndarray) -> np.ndarray:
    """One partition's counts in the right-closed bins of ``edges`` (runs on a worker)."""
    sample = part.sample
    assert isinstance(sample, NumericSample)
    return sample.counts(edges)
