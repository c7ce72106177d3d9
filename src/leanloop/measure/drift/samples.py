"""Mergeable per-feature summaries that every drift method reads.

A numeric feature is summarised by its non-missing values, **sorted** (exact: no
sketch, so KS, Cramér–von Mises, Anderson–Darling and Wasserstein are computed
without approximation error; memory is 8 bytes per value). Sorting once makes every
later question cheap: the counts in any bins are a binary search of the bin edges
(``O(bins log n)``), quantiles are a lookup. A categorical or boolean feature is
summarised by its frequency table. Both merge exactly: two sorted arrays into one,
two frequency tables by adding counts, so per-chunk summaries of a large log add up
to the summary of the whole.

Examples
--------
>>> a, b = NumericSample.of([3.0, None, 1.0]), NumericSample.of([2.0])
>>> a.merge(b).values.tolist(), a.n
([1.0, 2.0, 3.0], 2)
>>> c = CategoricalSample.of(["x", "y", "x", None]).merge(CategoricalSample.of(["z"]))
>>> c.labels, c.counts.tolist()
(['x', 'y', 'z'], [2, 1, 1])
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from leanloop.errors import InputError

__all__ = ["NumericSample", "CategoricalSample", "aligned_counts", "numeric_values"]


def numeric_values(values: Any, *, feature: str = "x", side: str = "current") -> np.ndarray:
    """``values`` as a float array without missing entries; refuse non-numbers.

    Examples
    --------
    >>> numeric_values([1, None, 2.5]).tolist()
    [1.0, 2.5]
    """
    if isinstance(values, pd.Series) and values.dtype.kind in "fiub":
        values = values.to_numpy()
    if isinstance(values, np.ndarray) and values.dtype.kind in "fiub":
        array = values.astype(float, copy=False)
        missing = np.isnan(array)
        if missing.any():
            return array[~missing]
        return array.copy() if array is values else array
    series = values if isinstance(values, pd.Series) else pd.Series(
        values if isinstance(values, np.ndarray) else list(values))
    try:
        array = series.to_numpy(dtype=float, na_value=np.nan)
    except (TypeError, ValueError) as err:
        bad = next(v for v in series.dropna() if not _is_number(v))
        raise InputError(
            f"feature {feature!r}: the {side} sample must hold numbers for a numeric drift "
            f"test, got {bad!r}; declare the feature categorical or fix its values"
        ) from err
    return array[~np.isnan(array)]


def _is_number(value: Any) -> bool:
    try:
        float(value)
    except (TypeError, ValueError):
        return False
    return True


@dataclass(frozen=True)
class NumericSample:
    """The sorted non-missing values of a numeric (or datetime-as-seconds) feature."""

    values: np.ndarray

    @classmethod
    def of(cls, values: Any, *, feature: str = "x", side: str = "current") -> NumericSample:
        """Summarise raw values (missing ones dropped)."""
        array = numeric_values(values, feature=feature, side=side)
        array.sort()  # in place: numeric_values always returns a fresh array
        return cls(array)

    @classmethod
    def of_owned(cls, values: np.ndarray) -> NumericSample:
        """Summarise a float64 array nobody else holds: NaN dropped, sorted in place, no copy.

        Examples
        --------
        >>> NumericSample.of_owned(np.array([3.0, np.nan, 1.0])).values.tolist()
        [1.0, 3.0]
        """
        missing = np.isnan(values)
        if missing.any():
            values = values[~missing]
        values.sort()
        return cls(values)

    @property
    def n(self) -> int:
        """How many values."""
        return int(self.values.size)

    def merge(self, other: NumericSample) -> NumericSample:
        """The summary of both samples together (exact)."""
        return NumericSample(np.sort(np.concatenate([self.values, other.values])))

    def quantile_edges(self, bins: int) -> np.ndarray:
        """Inner bin edges: the interior ``bins``-quantiles, duplicates removed.

        Examples
        --------
        >>> NumericSample.of([1, 2, 3, 4]).quantile_edges(2).tolist()
        [2.5]
        """
        return np.unique(np.quantile(self.values, np.linspace(0, 1, bins + 1))[1:-1])

    def counts(self, inner_edges: np.ndarray) -> np.ndarray:
        """Counts in the right-closed bins (-inf, e1], (e1, e2], ..., (ek, +inf).

        Examples
        --------
        >>> NumericSample.of([1, 2, 3, 4, 9]).counts(np.array([2.0, 3.5])).tolist()
        [2, 1, 2]
        """
        below = np.searchsorted(self.values, inner_edges, side="right")
        return np.diff(np.concatenate([[0], below, [self.n]])).astype(np.int64)


def _labels(values: pd.Series) -> pd.Series:
    """Category labels as strings; an integer column made float by a missing value
    still reads "1", not "1.0"."""
    if pd.api.types.is_float_dtype(values) and bool((values % 1 == 0).all()):
        values = values.astype("int64")
    return values.astype(str)


@dataclass(frozen=True)
class CategoricalSample:
    """The frequency table of a categorical or boolean feature, labels sorted as text."""

    labels: list[str]
    counts: np.ndarray

    @classmethod
    def of(cls, values: Any) -> CategoricalSample:
        """Count raw values (missing ones dropped), labels compared as text."""
        series = values if isinstance(values, pd.Series) else pd.Series(list(values), dtype=object)
        # Count first, then turn the few distinct labels into text: far cheaper than
        # converting every row.
        table = series.value_counts(dropna=True, sort=False)
        table = table[table > 0]  # a pandas categorical lists its unused categories too
        if table.empty:
            return cls([], np.zeros(0, dtype=np.int64))
        text = _labels(pd.Series(table.index, dtype=table.index.dtype)).to_numpy(dtype=str)
        # np.unique sorts and joins labels equal as text (1 and "1"); add their counts.
        labels, where = np.unique(text, return_inverse=True)
        counts = np.bincount(where, weights=table.to_numpy(dtype=float), minlength=len(labels))
        return cls([str(v) for v in labels], counts.astype(np.int64))

    @property
    def n(self) -> int:
        """How many values."""
        return int(self.counts.sum())

    def merge(self, other: CategoricalSample) -> CategoricalSample:
        """The table of both samples together (exact)."""
        labels, (a, b) = aligned_counts(self, other)
        return CategoricalSample(labels, a + b)


def aligned_counts(reference: CategoricalSample, current: CategoricalSample) -> tuple[list[str], np.ndarray]:
    """Both tables over the union of labels: a 2×k array, rows (reference, current).

    Examples
    --------
    >>> labels, table = aligned_counts(CategoricalSample.of("aab"), CategoricalSample.of("ca"))
    >>> labels, table.tolist()
    (['a', 'b', 'c'], [[2, 1, 0], [1, 0, 1]])
    """
    labels = sorted(set(reference.labels) | set(current.labels))
    table = np.zeros((2, len(labels)), dtype=np.int64)
    where = {label: i for i, label in enumerate(labels)}
    for row, sample in enumerate((reference, current)):
        table[row, [where[label] for label in sample.labels]] = sample.counts
    return labels, table
