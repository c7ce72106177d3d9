"""River's Page-Hinkley detector over a whole stream, in blocks of numpy arithmetic.

River's ``PageHinkley`` reads one value per Python call: a running mean, then two
fading sums of the deviations from it (``up`` and ``down``, forgetting factor ``alpha``)
and their running extremes; it fires where ``up - min(up)`` or ``max(down) - down``
exceeds the threshold (after 30 values), and starts again from nothing on the next value.
A Python loop of that arithmetic costs 0.3 s per million values (two signals of a
1M-row window: 0.6 s); the same sums in blocks of numpy arithmetic cost about 0.05 s.

The blocks add in another order, so their statistic differs from the loop's in the last
bits. :func:`statistic_error_bound` bounds that difference (a conservative rounding-error
bound, well above what is seen); wherever a block's statistic comes within the bound of the
threshold before its first certain crossing, the Python loop decides that stretch from its
last reset. The changes are therefore the loop's (River's) exactly, not approximately.

Examples
--------
>>> from leanloop.config import StreamConfig
>>> values = [0.0] * 100 + [5.0] * 100
>>> page_hinkley_changes(values, StreamConfig(page_hinkley_threshold=20.0))
[104]
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from leanloop.config import StreamConfig

if TYPE_CHECKING:
    import numpy as np

__all__ = ["page_hinkley_changes", "page_hinkley_loop", "page_hinkley_statistic", "statistic_error_bound"]

ALPHA = 1 - 0.0001  # River's defaults, as make_detector leaves them
MIN_INSTANCES = 30
# Values per block: the fading weights alpha**-k stay below e**1.64 within a block. After a
# reset the blocks start at FIRST_BLOCK values and double, so a change soon after the last
# costs a short block, not a long one.
BLOCK = 16_384
FIRST_BLOCK = 1_024
# Changes closer than this on average: the loop is cheaper than a few blocks per change.
DENSE = 1_000


def statistic_error_bound(n: int, scale: float, delta: float) -> float:
    """How far the blocks' statistic may be from the loop's on a stream of ``n`` values
    of magnitude at most ``scale``: 64 machine epsilons times (n + one block) times
    (scale + delta), times the fading sums' memory 1 / (1 - alpha).

    The running mean's rounding grows at most with n (the loop's step by step, the blocks'
    cumulative sum), each sum carries it over its memory of 1 / (1 - alpha) values, and the
    statistic is the difference of two such sums; 64 covers the constants with room.

    >>> f"{statistic_error_bound(1_000_000, 1.0, 0.005):.1e}"
    '1.5e-04'
    """
    import numpy as np

    return float(64 * np.finfo(float).eps * (n + BLOCK) * (scale + delta) / (1 - ALPHA))


def page_hinkley_changes(values: Sequence[float] | np.ndarray, options: StreamConfig) -> list[int]:
    """Positions in ``values`` where River's ``PageHinkley`` (mode both, ``options``'
    threshold and delta) signals a change, resets after each change included.

    >>> page_hinkley_changes([0.0] * 50 + [9.0] * 50 + [0.0] * 100, StreamConfig(page_hinkley_threshold=30.0))
    [53, 103]
    """
    import numpy as np

    data = np.asarray(values, dtype=float)
    if len(data) == 0:
        return []
    if not np.isfinite(data).all():  # the blocks' sums would spread an infinity; the loop does not
        return page_hinkley_loop(data.tolist(), options)
    margin = statistic_error_bound(len(data), float(np.abs(data).max()), options.page_hinkley_delta)
    found: list[int] = []
    start = 0
    while start < len(data):
        if len(found) * DENSE > start:  # changes come too often for blocks to pay
            return found + [start + i for i in page_hinkley_loop(data[start:].tolist(), options)]
        hit = _first_change(data, start, options, margin)
        if hit is None:  # too close to the threshold to tell: the loop decides from the reset
            first = page_hinkley_loop(data[start:].tolist(), options, first_only=True)
            hit = start + first[0] if first else -1
        if hit < 0:
            break
        found.append(hit)
        start = hit + 1
    return found


def page_hinkley_statistic(values: Sequence[float] | np.ndarray, options: StreamConfig) -> np.ndarray:
    """The blocks' test statistic after each value, ``max(up - min(up), max(down) - down)``,
    with no reset (what River's detector holds when it never fires).

    >>> page_hinkley_statistic([0.0, 0.0, 1.0], StreamConfig(page_hinkley_delta=0.0)).round(4).tolist()
    [0.0, 0.0, 0.6667]
    """
    import numpy as np

    data = np.asarray(values, dtype=float)
    state = _State()
    return np.concatenate([_block(data[i:i + BLOCK], state, options.page_hinkley_delta)
                           for i in range(0, len(data), BLOCK)] or [np.empty(0)])


def page_hinkley_loop(values: list[float], options: StreamConfig, first_only: bool = False) -> list[int]:
    """River's ``PageHinkley`` arithmetic, step for step in Python, without a method call and
    a running-mean object per value; ``first_only`` stops at the first change.

    >>> page_hinkley_loop([0.0] * 100 + [5.0] * 100, StreamConfig(page_hinkley_threshold=20.0))
    [104]
    """
    threshold, delta = options.page_hinkley_threshold, options.page_hinkley_delta
    alpha = ALPHA
    found: list[int] = []
    n = mean = up = down = 0.0
    lowest, highest = float("inf"), -1.0
    drift = False
    for i, x in enumerate(values):
        if drift:  # River resets a detector on the update after it fired
            n = mean = up = down = 0.0
            lowest, highest = float("inf"), -1.0
            drift = False
        n += 1.0
        mean += (1.0 / n) * (x - mean)
        dev = x - mean
        up = alpha * up + dev - delta
        down = alpha * down + dev + delta
        if up < lowest:
            lowest = up
        if down > highest:
            highest = down
        if n >= MIN_INSTANCES:
            drift = up - lowest > threshold or highest - down > threshold
            if drift:
                found.append(i)
                if first_only:
                    break
    return found


class _State:
    """The detector's state carried from one block to the next (River's, freshly reset)."""

    def __init__(self) -> None:
        self.n, self.total, self.up, self.down = 0, 0.0, 0.0, 0.0
        self.lowest, self.highest = float("inf"), -1.0


def _block(x: np.ndarray, state: _State, delta: float) -> np.ndarray:
    """The statistic after each value of one block, ``state`` moved past it."""
    import numpy as np

    steps = np.arange(1, len(x) + 1, dtype=float)
    counts = state.n + steps
    dev = x - (state.total + np.cumsum(x)) / counts
    decay = ALPHA ** steps
    growth = 1.0 / decay
    # up_j = alpha**j * (up_0 + sum_k alpha**-k (dev_k - delta)): the fading sum as one cumulative sum
    up = decay * (state.up + np.cumsum((dev - delta) * growth))
    down = decay * (state.down + np.cumsum((dev + delta) * growth))
    lows = np.minimum(np.minimum.accumulate(up), state.lowest)
    highs = np.maximum(np.maximum.accumulate(down), state.highest)
    state.n += len(x)
    state.total += float(x.sum())
    state.up, state.down, state.lowest, state.highest = float(up[-1]), float(down[-1]), float(lows[-1]), \
        float(highs[-1])
    return np.maximum(up - lows, highs - down)


def _first_change(data: np.ndarray, start: int, options: StreamConfig, margin: float) -> int | None:
    """The first change after a reset at ``start`` (-1: none), or None where the blocks
    cannot tell it from the loop's (a statistic within ``margin`` of the threshold)."""
    import numpy as np

    threshold, state = options.page_hinkley_threshold, _State()
    begin, size = start, FIRST_BLOCK
    while begin < len(data):
        first_count = state.n + 1
        stat = _block(data[begin:begin + size], state, options.page_hinkley_delta)
        skip = max(MIN_INSTANCES - first_count, 0)  # River tests from the 30th value on
        near = np.flatnonzero(stat[skip:] > threshold - margin)
        if len(near):
            k = skip + int(near[0])
            return begin + k if stat[k] > threshold + margin else None
        begin, size = begin + size, min(2 * size, BLOCK)
    return -1
