"""Duplicate rows, counted one column at a time.

A row repeats an earlier one when every column holds the same value. Rows are
compared by a 64-bit hash of their values, built column by column
(:func:`pandas.util.hash_pandas_object` per column, combined), so two different rows
count as one only on a hash collision (probability about n²/2⁶⁵: nil at 10⁷ rows).

Fed one column at a time, the count never needs the whole table in memory. It also
gets cheap fast: a row whose hash over the columns seen so far is unique cannot
repeat any row, so it is dropped, and only rows still tied are hashed on the next
column. After one continuous numeric column usually no row is left, and later
columns cost nothing; feed high-cardinality columns first.

Examples
--------
>>> import pandas as pd
>>> frame = pd.DataFrame({"x": [1.0, 2.0, 1.0, 1.0], "city": ["a", "b", "a", "b"]})
>>> rows = DuplicateRows(len(frame))
>>> for name in frame.columns:
...     rows.add(frame[name])
>>> rows.count, rows.share
(1, 0.25)
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

__all__ = ["DuplicateRows", "row_hashes"]

# An odd 64-bit multiplier (FNV-1a's prime) mixes each column's hash into the row's.
_MIX = 0x100000001B3


class DuplicateRows:
    """Counts the rows of a ``rows``-row table that repeat an earlier row, fed column by column."""

    def __init__(self, rows: int) -> None:
        self.rows = rows
        self._columns = 0
        self._index: np.ndarray | None = None  # rows still tied; None: all of them
        self._hashes: np.ndarray | None = None

    def add(self, column: Any) -> None:
        """Take one more column (a Series or array of ``rows`` values, in row order)."""
        import numpy as np
        import pandas as pd

        if len(column) != self.rows:
            raise ValueError(f"a column of {len(column)} values given to a table of {self.rows} rows")
        self._columns += 1
        if self._index is not None and self._index.size == 0:
            return
        series = column if isinstance(column, pd.Series) else pd.Series(column)
        if self._index is not None:
            series = series.iloc[self._index]
        previous = self._hashes if self._hashes is not None else np.zeros(len(series), dtype=np.uint64)
        combined = _combine(previous, series)
        tied = _repeated(combined)
        index = np.arange(self.rows) if self._index is None else self._index
        self._index, self._hashes = index[tied], combined[tied]

    @classmethod
    def of_hashes(cls, hashes: np.ndarray) -> DuplicateRows:
        """The count over rows hashed elsewhere: :func:`row_hashes` of a table's parts, joined."""
        rows = cls(int(hashes.size))
        rows._columns, rows._hashes = 1, hashes
        return rows

    @property
    def count(self) -> int:
        """Rows that repeat an earlier row (0 before any column is added)."""
        import pandas as pd

        if self._columns == 0 or self._hashes is None or self._hashes.size == 0:
            return 0
        # pandas' hash table, not NumPy's sort: 0.12 s against 0.87 s for 1M hashes
        return int(self._hashes.size - pd.unique(self._hashes).size)

    @property
    def share(self) -> float:
        """:attr:`count` over the rows (0 for an empty table)."""
        return self.count / self.rows if self.rows else 0.0


def _combine(previous: np.ndarray, column: pd.Series) -> np.ndarray:
    """Each row's hash over the columns so far, extended by ``column``."""
    import numpy as np
    import pandas as pd

    hashed = pd.util.hash_pandas_object(column, index=False).to_numpy()
    with np.errstate(over="ignore"):
        return (previous ^ hashed) * np.uint64(_MIX)


def row_hashes(frame: pd.DataFrame) -> np.ndarray:
    """Each row's hash over every column of ``frame``, as :class:`DuplicateRows` builds it:
    parts of one table hashed apart (on Dask workers) and counted together by
    :meth:`DuplicateRows.of_hashes`.

    >>> import numpy as np, pandas as pd
    >>> a, b = pd.DataFrame({"x": [1.0, 2.0]}), pd.DataFrame({"x": [1.0, 3.0]})
    >>> DuplicateRows.of_hashes(np.concatenate([row_hashes(a), row_hashes(b)])).count
    1
    """
    import numpy as np

    hashes = np.zeros(len(frame), dtype=np.uint64)
    for name in frame.columns:
        hashes = _combine(hashes, frame[name])
    return hashes


def _repeated(hashes: np.ndarray) -> np.ndarray:
    """Mask of the entries of ``hashes`` whose value occurs more than once."""
    import pandas as pd

    # one pass over a hash table (a sort, a unique and an isin took twice as long)
    return pd.Series(hashes).duplicated(keep=False).to_numpy()
