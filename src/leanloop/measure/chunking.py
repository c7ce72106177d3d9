"""Chunking: cut a window of production into parts, by row count or by time period.

Each statistic of a measurement (drift, quality, multivariate drift, performance,
KPIs) is also computed per chunk, giving its time series. Chunks by count are
``n`` consecutive, near-equal parts in prediction order; chunks by period are the
calendar bins of a pandas offset alias (``"1h"``, ``"1D"``, ``"7D"``, ``"W"``,
``"MS"``) on the prediction time, left-closed and in UTC; empty bins are skipped.

Examples
--------
>>> [len(c.positions) for c in chunk_by_count(10, 3)]
[4, 3, 3]
>>> times = [0.0, 3599.0, 3600.0, 10800.0]          # epoch seconds
>>> [(c.label, c.positions.tolist()) for c in chunk_by_period(times, "1h")]
[('1970-01-01T00:00:00+00:00', [0, 1]), ('1970-01-01T01:00:00+00:00', [2]), ('1970-01-01T03:00:00+00:00', [3])]
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, cast

from leanloop.errors import InputError

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd
    from pandas.tseries.offsets import BaseOffset

__all__ = ["ChunkSlice", "chunk_by_count", "chunk_by_period", "parse_period"]


@dataclass(frozen=True)
class ChunkSlice:
    """One chunk: row positions in the window, and for period chunks its bin.

    ``label`` is the ISO time of the bin's start, ``bin_start``/``bin_end`` its edges
    in epoch seconds (the end excluded); all ``None`` for chunks by count.
    """

    positions: np.ndarray
    label: str | None = None
    bin_start: float | None = None
    bin_end: float | None = None


def chunk_by_count(rows: int, chunks: int) -> list[ChunkSlice]:
    """``chunks`` consecutive parts of ``rows`` rows, sizes differing by at most one
    (fewer parts when there are fewer rows than chunks)."""
    import numpy as np

    if chunks < 1:
        raise InputError(f"chunks must be at least 1, got {chunks}")
    return [ChunkSlice(positions=part) for part in np.array_split(np.arange(rows), min(chunks, max(rows, 1)))]


def parse_period(period: str) -> BaseOffset:
    """The pandas offset for ``period``; a clear error when it is not one.

    >>> parse_period("1D")
    <Day>
    >>> parse_period("often")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    leanloop.errors.InputError: period 'often' is not a time period; use a pandas offset alias such as '1h', ...
    """
    import pandas as pd

    try:
        return pd.tseries.frequencies.to_offset(period)
    except ValueError as exc:
        raise InputError(f"period {period!r} is not a time period; use a pandas offset alias "
                         "such as '1h', '1D', '7D', 'W' or 'MS'") from exc


def chunk_by_period(times: Sequence[float] | np.ndarray, period: str) -> list[ChunkSlice]:
    """Group rows by the calendar bin of ``period`` their time (epoch seconds) falls in.

    Bins are left-closed (a row exactly on a boundary opens the next bin), ordered
    in time, and empty bins are left out. Rows keep their order within a bin.
    """
    import numpy as np
    import pandas as pd

    offset = parse_period(period)
    stamps = pd.to_datetime(np.asarray(times, dtype=float), unit="s", utc=True)
    positions = pd.Series(np.arange(len(stamps)), index=stamps)
    out = []
    for key, group in positions.groupby(pd.Grouper(freq=offset, closed="left", label="left")):
        if len(group):
            start = cast("pd.Timestamp", key)  # a Grouper on a time index groups by bin start
            end = start + offset
            out.append(ChunkSlice(positions=np.sort(group.to_numpy()), label=start.isoformat(),
                                  bin_start=start.timestamp(), bin_end=end.timestamp()))
    return out
