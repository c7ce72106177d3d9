"""What one partition contributes: the summaries a Dask worker computes and the client merges.

A partition of one column becomes a :class:`ColumnPart`: the drift summary of
:mod:`~leanloop.measure.drift.samples` (sorted values, or a frequency table) and
the quality tally of :mod:`~leanloop.measure.quality`. Both merge exactly, so the
parts of a column, merged in partition order, equal the summary of the whole column,
and the statistics computed on them by the same code as the local engine's are the
same numbers. These functions are plain pandas and numpy: they run on the workers.

Examples
--------
>>> import pandas as pd
>>> from leanloop.schema import FeatureKind
>>> a = column_part(pd.Series([2.0, None]), FeatureKind.NUMERIC, name="x", drift=True, quality=True)
>>> b = column_part(pd.Series([1.0]), FeatureKind.NUMERIC, name="x", drift=True, quality=True)
>>> whole = merge_parts([a, b])
>>> whole.sample.values.tolist(), whole.tally.rows, whole.tally.missing
([1.0, 2.0], 3, 1)
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from leanloop.measure.drift.engine import Sample, summarise
from leanloop.measure.drift.samples import CategoricalSample, NumericSample
from leanloop.measure.quality import ColumnTally, column_tally
from leanloop.schema import FeatureKind

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

__all__ = ["ColumnPart", "absent_part", "column_part", "merge_parts", "merge_samples"]


@dataclass(frozen=True)
class ColumnPart:
    """One partition's (or a whole column's) drift summary and quality tally; either may be absent."""

    sample: Sample | None
    tally: ColumnTally | None


def column_part(column: pd.Series, kind: FeatureKind, *, name: str, drift: bool, quality: bool,
                side: str = "current") -> ColumnPart:
    """Summarise one partition of one column for drift and/or quality.

    Raises
    ------
    InputError
        If a numeric feature holds non-numbers (drift needs numbers).
    """
    sample = summarise(column, kind, feature=name, side=side) if drift else None
    tally = None
    if quality:
        plain = kind is FeatureKind.NUMERIC and column.dtype.kind in "fiub"
        # A column of plain numbers: the drift summary's sorted values are the tally's too.
        values = sample.values if plain and isinstance(sample, NumericSample) else None
        tally = column_tally(kind, column, values=values)
    return ColumnPart(sample=sample, tally=tally)


def absent_part(rows: int, kind: FeatureKind, *, name: str) -> ColumnPart:
    """The quality tally of a column a side lacks: ``rows`` missing values (only quality
    reads such a column; drift skips it).

    >>> absent_part(3, FeatureKind.NUMERIC, name="x").sample is None
    True
    """
    import pandas as pd

    return column_part(pd.Series([None] * rows, dtype=object), kind, name=name, drift=False, quality=True)


def merge_samples(parts: list[Sample]) -> Sample:
    """The summary of all ``parts`` together (exact).

    Sorted runs are joined by one stable sort (timsort merges ``k`` runs in
    ``O(n log k)``), not pairwise: pairwise merging re-sorts the growing whole ``k`` times.

    >>> merge_samples([NumericSample.of([1.0, 4.0]), NumericSample.of([2.0, 3.0])]).values.tolist()
    [1.0, 2.0, 3.0, 4.0]
    """
    import numpy as np

    if all(isinstance(p, NumericSample) for p in parts):
        arrays: list[np.ndarray] = [p.values for p in parts]  # type: ignore[union-attr]
        return NumericSample(np.sort(np.concatenate(arrays), kind="stable") if len(arrays) > 1 else arrays[0])
    whole: Any = parts[0]
    for part in parts[1:]:
        assert isinstance(whole, CategoricalSample) and isinstance(part, CategoricalSample)
        whole = whole.merge(part)
    return whole


def merge_parts(parts: list[ColumnPart]) -> ColumnPart:
    """The parts of one column, in partition order, merged into the whole column's."""
    samples = [p.sample for p in parts if p.sample is not None]
    sample = merge_samples(samples) if samples else None
    tallies = [p.tally for p in parts if p.tally is not None]
    if not tallies:
        return ColumnPart(sample=sample, tally=None)
    # Counts first (values emptied), then the sorted values once: merging tallies pairwise
    # would re-sort the growing whole once per partition.
    tally = tallies[0] if tallies[0].values is None else replace(tallies[0], values=tallies[0].values[:0])
    for t in tallies[1:]:
        tally = tally.merge(t if t.values is None else replace(t, values=t.values[:0]))
    if tallies[0].values is None:
        return ColumnPart(sample=sample, tally=tally)
    shared = isinstance(sample, NumericSample) and all(
        p.tally is not None and p.sample is not None and p.tally.values is getattr(p.sample, "values", None)
        for p in parts)
    if shared:
        values = sample.values  # type: ignore[union-attr]
    else:
        values = merge_samples([NumericSample(t.values) for t in tallies if t.values is not None]).values  # type: ignore[union-attr]
    return ColumnPart(sample=sample, tally=replace(tally, values=values))
