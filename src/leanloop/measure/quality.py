"""Data quality: is the current data well formed, judged against the reference?

Per feature, :func:`quality_report` measures the missing rate (and its rise over the
reference), the share of numeric values outside the reference's min/max, the share
of categories the reference never had, the share of values that cannot be read as the
feature's kind (what :meth:`leanloop.schema.Schema.coerce` would reject at the door),
and whether a column that varied in the reference became constant; for the whole
frame, the rise in the share of duplicate rows. Each check has a threshold from
:class:`~leanloop.config.QualityConfig` and a flag.

Every check is a vectorised pass over one column (pandas/numpy), so a table can be
checked column by column; duplicates are counted on a 64-bit hash of each row built
column by column (:class:`~leanloop.measure.duplicates.DuplicateRows`).

Examples
--------
>>> import pandas as pd
>>> ref = pd.DataFrame({"age": [20.0, 30.0, 40.0, 50.0], "city": ["a", "b", "a", "b"]})
>>> cur = pd.DataFrame({"age": [25.0, None, 90.0, 30.0], "city": ["a", "c", "a", "b"]})
>>> report = quality_report(ref, cur)
>>> [(r.feature, r.check.value, r.value) for r in report.results if r.flagged]
[('age', 'missing_rate', 0.25), ('age', 'out_of_range', 0.3333333333333333), ('city', 'unseen_categories', 0.25)]
>>> report.flagged_features
['age', 'city']
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field

from leanloop.config import QualityConfig
from leanloop.measure.duplicates import DuplicateRows
from leanloop.schema import Feature, FeatureKind, Schema

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

__all__ = ["QualityCheck", "QualityResult", "QualityReport", "ColumnTally", "assemble_quality", "column_tally",
           "duplicates_result", "feature_checks", "frame_features", "tally_checks", "hash_order", "missing_result",
           "quality_report", "range_checks", "range_results", "type_errors_result"]

_MAX_EXAMPLES = 5
_BOOLEAN_WORDS = [True, False, "true", "false", "True", "False", 1, 0, "1", "0"]


class QualityCheck(str, Enum):
    """One data-quality check."""

    MISSING = "missing_rate"
    OUT_OF_RANGE = "out_of_range"
    UNSEEN = "unseen_categories"
    TYPE_ERRORS = "type_errors"
    CONSTANT = "constant"
    DUPLICATES = "duplicate_rows"


class QualityResult(BaseModel):
    """One check on one feature (``feature`` is ``None`` for row-level checks).

    ``value`` is the current share (or 1.0/0.0 for ``constant``), ``reference`` the
    same on the reference where it means something, ``count`` the rows involved, and
    ``examples`` a few offending values (unseen categories, unparsable values).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    feature: str | None
    check: QualityCheck
    value: float
    reference: float | None
    threshold: float
    flagged: bool
    count: int
    examples: list[str] = Field(default_factory=list)


class QualityReport(BaseModel):
    """All quality checks of a current frame against a reference frame."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    n_reference: int
    n_current: int
    results: list[QualityResult]
    flagged_features: list[str] = Field(default_factory=list, description="features with a flagged check, sorted")
    duplicates_flagged: bool = False

    def to_json(self) -> dict[str, Any]:
        """Stable JSON: ``{"n_reference", "n_current", "results": [...], "flagged_features",
        "duplicates_flagged"}``."""
        return self.model_dump(mode="json")


def frame_features(reference: pd.DataFrame, schema: Schema | None) -> list[Feature]:
    """The schema's features, or without one the frame's columns with kinds read from
    their dtypes (bool, number, date-time, else categorical).

    >>> import pandas as pd
    >>> [(f.name, f.kind.value) for f in frame_features(pd.DataFrame({"a": [1.0], "b": ["x"]}), None)]
    [('a', 'numeric'), ('b', 'categorical')]
    """
    import pandas as pd

    if schema is not None:
        return list(schema.features)
    features = []
    for name in reference.columns:
        column = reference[name]
        if pd.api.types.is_bool_dtype(column):
            kind = FeatureKind.BOOLEAN
        elif pd.api.types.is_numeric_dtype(column):
            kind = FeatureKind.NUMERIC
        elif pd.api.types.is_datetime64_any_dtype(column):
            kind = FeatureKind.DATETIME
        else:
            kind = FeatureKind.CATEGORICAL
        features.append(Feature(name=str(name), kind=kind))
    return features


def _parse(column: pd.Series, kind: FeatureKind) -> tuple[pd.Series, np.ndarray]:
    """The column read as ``kind`` and the mask of present values that could not be read."""
    import numpy as np
    import pandas as pd

    # which values are present is read only where a value can fail to parse (a pass over
    # an object column: 27 ms at 1M rows)
    if kind is FeatureKind.NUMERIC:
        if pd.api.types.is_numeric_dtype(column):
            return column.astype("float64"), np.zeros(len(column), dtype=bool)
        parsed = pd.to_numeric(column, errors="coerce").astype("float64")
        return parsed, column.notna().to_numpy() & parsed.isna().to_numpy()
    if kind is FeatureKind.BOOLEAN:
        if pd.api.types.is_bool_dtype(column):
            return column, np.zeros(len(column), dtype=bool)
        return column, column.notna().to_numpy() & ~column.isin(_BOOLEAN_WORDS).to_numpy()
    if kind is FeatureKind.DATETIME:
        if pd.api.types.is_datetime64_any_dtype(column):
            return column, np.zeros(len(column), dtype=bool)
        stamps = pd.to_datetime(column, errors="coerce", utc=True, format="mixed")
        return stamps, column.notna().to_numpy() & stamps.isna().to_numpy()
    return column, np.zeros(len(column), dtype=bool)


def _counts(column: pd.Series) -> pd.Series:
    """Category counts with labels as text (the schema reads categories as text)."""
    counts = column.value_counts(dropna=True, sort=False)
    counts = counts[counts > 0]  # a pandas categorical lists its unused categories too
    counts.index = counts.index.map(str)
    return counts.groupby(level=0).sum()


def _share(count: int, total: int) -> float:
    return count / total if total else 0.0


def missing_result(name: str, ref_rows: int, ref_missing: int, cur_rows: int, cur_missing: int,
                   options: QualityConfig) -> QualityResult:
    """The ``missing_rate`` check from each side's row and missing counts."""
    ref_share, cur_share = _share(ref_missing, ref_rows), _share(cur_missing, cur_rows)
    return QualityResult(feature=name, check=QualityCheck.MISSING, value=cur_share, reference=ref_share,
                         threshold=options.max_missing_increase,
                         flagged=cur_share - ref_share > options.max_missing_increase, count=cur_missing)


def type_errors_result(name: str, bad: int, present: int, examples: list[str],
                       options: QualityConfig) -> QualityResult:
    """The ``type_errors`` check: ``bad`` of the ``present`` values could not be read."""
    share = _share(bad, present)
    return QualityResult(feature=name, check=QualityCheck.TYPE_ERRORS, value=share, reference=None,
                         threshold=options.max_type_error_share, flagged=share > options.max_type_error_share,
                         count=bad, examples=examples)


def range_results(name: str, ref_values: np.ndarray, cur_values: np.ndarray, options: QualityConfig, *,
                  ordered: bool = False) -> list[QualityResult]:
    """The ``out_of_range`` and ``constant`` checks of a numeric feature from each side's
    non-missing values (``ordered``: both sorted, so the answers are lookups).

    >>> import numpy as np
    >>> [(r.check.value, r.count) for r in range_results("x", np.array([1.0, 3.0]), np.array([0.0, 2.0, 9.0]),
    ...                                                  QualityConfig(), ordered=True)]
    [('out_of_range', 2), ('constant', 0)]
    """
    import numpy as np

    def ends(values: np.ndarray) -> tuple[float, float]:
        if ordered:
            return float(values[0]), float(values[-1])
        return float(np.min(values)), float(np.max(values))

    outside = 0
    ref_ends = cur_ends = None
    if ref_values.size:
        ref_ends = lo, hi = ends(ref_values)
        if ordered:
            outside = int(np.searchsorted(cur_values, lo, side="left")
                          + cur_values.size - np.searchsorted(cur_values, hi, side="right"))
        else:
            outside = int(np.count_nonzero((cur_values < lo) | (cur_values > hi)))
    if cur_values.size:
        cur_ends = ends(cur_values)
    return range_checks(name, ref_ends, cur_ends, outside, int(cur_values.size), options)


def range_checks(name: str, ref_ends: tuple[float, float] | None, cur_ends: tuple[float, float] | None,
                 outside: int, n_cur: int, options: QualityConfig) -> list[QualityResult]:
    """The ``out_of_range`` and ``constant`` checks from each side's (min, max) (``None``:
    no value), the count of current values outside the reference's and the current count."""
    share = _share(outside, n_cur)
    return [
        QualityResult(feature=name, check=QualityCheck.OUT_OF_RANGE, value=share, reference=0.0,
                      threshold=options.max_out_of_range_share, flagged=share > options.max_out_of_range_share,
                      count=outside),
        _constant_result(name, ref_ends is not None and ref_ends[0] == ref_ends[1],
                         cur_ends is not None and cur_ends[0] == cur_ends[1], n_cur=n_cur),
    ]


def _constant_result(name: str, ref_constant: bool, cur_constant: bool, n_cur: int) -> QualityResult:
    return QualityResult(feature=name, check=QualityCheck.CONSTANT, value=float(cur_constant),
                         reference=float(ref_constant), threshold=0.5,
                         flagged=cur_constant and not ref_constant, count=n_cur if cur_constant else 0)


@dataclass(frozen=True)
class ColumnTally:
    """What the per-feature checks read from one side of one column. Tallies of
    consecutive parts of a column merge exactly into the tally of the whole (the Dask
    engine tallies partitions on its workers and merges them).

    ``values``: the readable numbers, sorted (numeric features); ``counts`` and
    ``good_counts``: category counts as text of all values and of the readable ones
    (other kinds); ``examples``: the first unreadable values, in row order.

    >>> import pandas as pd
    >>> a = column_tally(FeatureKind.NUMERIC, pd.Series([3.0, None]))
    >>> b = column_tally(FeatureKind.NUMERIC, pd.Series(["1", "x"]))
    >>> whole = a.merge(b)
    >>> whole.rows, whole.missing, whole.bad, whole.examples, whole.values.tolist()
    (4, 1, 1, ["'x'"], [1.0, 3.0])
    """

    rows: int
    missing: int
    bad: int
    examples: list[str]
    values: np.ndarray | None = None
    counts: pd.Series | None = None
    good_counts: pd.Series | None = None

    def merge(self, other: ColumnTally) -> ColumnTally:
        """The tally of this part followed by ``other``."""
        import numpy as np

        def add(a: pd.Series | None, b: pd.Series | None) -> pd.Series | None:
            return None if a is None or b is None else a.add(b, fill_value=0).astype("int64").sort_index()

        values = None
        if self.values is not None and other.values is not None:
            # Two sorted runs: the stable sort (timsort) merges them in linear time.
            values = np.sort(np.concatenate([self.values, other.values]), kind="stable")
        return ColumnTally(rows=self.rows + other.rows, missing=self.missing + other.missing,
                           bad=self.bad + other.bad, examples=(self.examples + other.examples)[:_MAX_EXAMPLES],
                           values=values, counts=add(self.counts, other.counts),
                           good_counts=add(self.good_counts, other.good_counts))


def column_tally(kind: FeatureKind, column: pd.Series, *, values: np.ndarray | None = None) -> ColumnTally:
    """The tally of one side of one column read as ``kind`` (``values``: its non-missing
    numbers already sorted, for a column of plain numbers)."""
    import numpy as np

    parsed, bad = _parse(column, kind)
    n_bad = int(bad.sum())
    examples = [repr(v) for v in column[bad].head(_MAX_EXAMPLES).tolist()] if n_bad else []
    rows, missing = len(column), int(column.isna().sum())
    if kind is FeatureKind.NUMERIC:
        if values is None:
            # Unparsable values became NaN: like missing ones, they are never out of range.
            values = parsed.to_numpy(dtype=float)
            values = np.sort(values[~np.isnan(values)])
        return ColumnTally(rows, missing, n_bad, examples, values=values)
    counts = _counts(parsed)
    return ColumnTally(rows, missing, n_bad, examples, counts=counts,
                       good_counts=_counts(parsed[~bad]) if n_bad else counts)


def tally_checks(feature: Feature, ref: ColumnTally, cur: ColumnTally, options: QualityConfig) -> list[QualityResult]:
    """Every per-feature check of :func:`quality_report` from each side's tally."""
    name = feature.name
    out = [missing_result(name, ref.rows, ref.missing, cur.rows, cur.missing, options),
           type_errors_result(name, cur.bad, cur.rows - cur.missing, cur.examples, options)]
    if ref.values is not None and cur.values is not None:
        out.extend(range_results(name, ref.values, cur.values, options, ordered=True))
        return out
    assert ref.counts is not None and cur.good_counts is not None
    ref_counts, cur_counts = ref.counts, cur.good_counts
    if feature.kind in (FeatureKind.CATEGORICAL, FeatureKind.BOOLEAN):
        unseen = cur_counts[~cur_counts.index.isin(ref_counts.index)].sort_values(ascending=False)
        count = int(unseen.sum())
        share = _share(count, int(cur_counts.sum()))
        out.append(QualityResult(feature=name, check=QualityCheck.UNSEEN, value=share, reference=0.0,
                                 threshold=options.max_unseen_share, flagged=share > options.max_unseen_share,
                                 count=count, examples=[str(v) for v in unseen.index[:_MAX_EXAMPLES]]))
    out.append(_constant_result(name, len(ref_counts) == 1, len(cur_counts) == 1, n_cur=cur.rows))
    return out


def feature_checks(feature: Feature, ref: pd.Series, cur: pd.Series,
                   options: QualityConfig) -> list[QualityResult]:
    """Every per-feature check of :func:`quality_report` on one column of each side."""
    return tally_checks(feature, column_tally(feature.kind, ref), column_tally(feature.kind, cur), options)


def hash_order(frame: pd.DataFrame) -> list[str]:
    """Columns in the order that makes :class:`DuplicateRows` cheapest: floats (nearly
    unique per row) first, then the rest in frame order.

    >>> import pandas as pd
    >>> hash_order(pd.DataFrame({"c": ["a"], "x": [1.0]}))
    ['x', 'c']
    """
    import pandas as pd

    floats = [c for c in frame.columns if pd.api.types.is_float_dtype(frame[c])]
    return floats + [c for c in frame.columns if c not in floats]


def duplicates_result(reference: DuplicateRows, current: DuplicateRows, options: QualityConfig) -> QualityResult:
    """The row-level duplicates check from both sides' counts."""
    return QualityResult(feature=None, check=QualityCheck.DUPLICATES, value=current.share,
                         reference=reference.share, threshold=options.max_duplicate_increase,
                         flagged=current.share - reference.share > options.max_duplicate_increase,
                         count=current.count)


def assemble_quality(n_reference: int, n_current: int, results: list[QualityResult]) -> QualityReport:
    """The report from every feature's checks followed by the duplicates check."""
    flagged = sorted({r.feature for r in results if r.flagged and r.feature is not None})
    return QualityReport(n_reference=n_reference, n_current=n_current, results=results,
                         flagged_features=flagged, duplicates_flagged=results[-1].flagged)


def quality_report(reference: pd.DataFrame, current: pd.DataFrame, schema: Schema | None = None,
                   options: QualityConfig | None = None) -> QualityReport:
    """Check the data quality of ``current`` against ``reference``, feature by feature.

    Features are the schema's, or, without one, the reference's columns with kinds
    read from their dtypes. A feature missing from ``current`` counts as all missing.
    Checks (flag when the value exceeds the threshold of ``options``):

    - ``missing_rate``: current missing share; flags when it rose by more than
      ``max_missing_increase`` over the reference's;
    - ``type_errors``: share of present values that cannot be read as the kind;
    - ``out_of_range`` (numeric): share of values outside the reference min/max;
    - ``unseen_categories`` (categorical, boolean): share of values of categories the
      reference never had, with the most frequent ones as examples;
    - ``constant``: the column holds one value now but varied in the reference;
    - ``duplicate_rows`` (row level): share of rows repeating an earlier row; flags
      when it rose by more than ``max_duplicate_increase``.

    Examples
    --------
    >>> import pandas as pd
    >>> ref = pd.DataFrame({"x": [1, 2, 3], "ok": [True, False, True]})
    >>> cur = pd.DataFrame({"x": ["1", "two", "3"], "ok": [True, True, True]})
    >>> r = quality_report(ref, cur)
    >>> [(x.feature, x.check.value, x.count, x.examples) for x in r.results if x.flagged]
    [('x', 'type_errors', 1, ["'two'"]), ('ok', 'constant', 3, [])]
    """
    import pandas as pd

    options = options or QualityConfig()
    features = frame_features(reference, schema)
    results: list[QualityResult] = []
    for feature in features:
        ref = reference[feature.name] if feature.name in reference else pd.Series([None] * len(reference))
        cur = current[feature.name] if feature.name in current else pd.Series([None] * len(current), dtype=object)
        results.extend(feature_checks(feature, ref, cur, options))
    names = [f.name for f in features]
    sides = []
    for frame in (reference, current):
        rows = DuplicateRows(len(frame))
        if not frame.empty:
            for name in hash_order(frame[[n for n in names if n in frame]]):
                rows.add(frame[name])
        sides.append(rows)
    results.append(duplicates_result(sides[0], sides[1], options))
    return assemble_quality(len(reference), len(current), results)
