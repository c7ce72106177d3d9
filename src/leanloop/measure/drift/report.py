"""Drift of every feature between two data frames: the API behind ``leanloop drift``.

:func:`drift_report` compares each column the two frames share, by the method its
kind and sample size call for (or the one given per feature), optionally also in
``chunks`` consecutive parts of the current frame. Each side of each feature is
summarised once (:mod:`~leanloop.measure.drift.samples`): the current frame's
chunks are summarised one by one and merged into the whole, so one pass over the
data serves the whole and every chunk.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field

from leanloop.errors import DataError, InputError
from leanloop.frames import Tabular
from leanloop.measure.drift.calibrate import ReferenceRows, calibrated_threshold
from leanloop.measure.drift.engine import (
    SPECS,
    Sample,
    check_method,
    compare,
    default_method,
    summarise,
)
from leanloop.measure.drift.result import DriftMethod, DriftOptions, DriftResult, ThresholdMode, drift_frame
from leanloop.measure.drift.samples import CategoricalSample, NumericSample
from leanloop.schema import Feature, FeatureKind, Schema, infer_schema

__all__ = ["DriftChunk", "DriftReport", "assemble", "chunk_bounds", "drift_report", "infer_features", "judge_feature",
           "plan_features"]

#: Rows of the reference read to infer each column's kind when no schema is given.
_INFER_ROWS = 10_000


class DriftChunk(BaseModel):
    """Drift of one consecutive part of the current data (rows ``start`` to ``end - 1``)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    index: int
    start: int
    end: int
    rows: int
    features: list[DriftResult]
    extra: list[DriftResult] = Field(default_factory=list)
    drifted: list[str]


class DriftReport(Tabular, BaseModel):
    """Per-feature drift between a reference and a current frame.

    ``features`` holds one primary result per compared feature (schema order);
    ``drifted`` the names whose primary result drifted; ``extra`` a PSI beside each
    hypothesis test (a p-value says whether a move is real, PSI how large it is);
    ``skipped`` the shared columns not compared, with the reason; ``chunks`` the same
    per consecutive part of the current data when asked for.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    features: list[DriftResult]
    drifted: list[str]
    extra: list[DriftResult] = Field(default_factory=list)
    skipped: dict[str, str] = Field(default_factory=dict)
    only_reference: list[str] = Field(default_factory=list)
    only_current: list[str] = Field(default_factory=list)
    chunks: list[DriftChunk] | None = None

    def to_json(self) -> dict[str, Any]:
        """The stable JSON shape (``chunks`` only when chunks were asked for)."""
        return self.model_dump(mode="json", exclude={"chunks"} if self.chunks is None else set())

    def to_frame(self) -> pd.DataFrame:
        """Every result (each feature's primary one, then its PSI), one row each."""
        return drift_frame(self.results)

    def frame_title(self) -> str:
        """Drifted features out of those compared."""
        drifted = ", ".join(self.drifted) or "none"
        return f"drift: {len(self.drifted)} of {len(self.features)} features drifted ({drifted})"

    @property
    def results(self) -> list[DriftResult]:
        """Each feature's primary result followed by its extra ones, feature by feature."""
        by_feature: dict[str, list[DriftResult]] = {}
        for r in self.extra:
            by_feature.setdefault(r.feature, []).append(r)
        return [x for r in self.features for x in (r, *by_feature.get(r.feature, []))]


def infer_features(frame: pd.DataFrame, *, seed: int = 0) -> tuple[Schema, dict[str, str]]:
    """Each column's kind by :func:`~leanloop.schema.infer_schema` on up to 10,000 rows
    (seeded sample), plus the columns it cannot use and why.

    Examples
    --------
    >>> schema, skipped = infer_features(pd.DataFrame({"x": [1.0, 2.0], "note": [None, None]}))
    >>> schema.names, list(skipped)
    (['x'], ['note'])
    """
    sample = frame if len(frame) <= _INFER_ROWS else frame.sample(n=_INFER_ROWS, random_state=seed)
    features: list[Feature] = []
    skipped: dict[str, str] = {}
    for name in frame.columns:
        column = sample[name]
        if pd.api.types.is_numeric_dtype(column) and not pd.api.types.is_bool_dtype(column) and column.notna().any():
            # What infer_schema concludes for a numeric dtype, without its per-row checks.
            features.append(Feature(name=str(name), kind=FeatureKind.NUMERIC, nullable=bool(column.isna().any())))
            continue
        try:
            # A text column's kind depends only on its distinct values: infer on those.
            features.extend(infer_schema(sample[[name]].drop_duplicates()).features)
        except DataError as err:
            skipped[str(name)] = str(err)
    return Schema(features=features), skipped


def _merge(parts: list[Sample]) -> Sample:
    whole = parts[0]
    for part in parts[1:]:
        whole = whole.merge(part)  # type: ignore[arg-type]
    return whole


class _Judge:
    """Compares one feature's summaries, with calibrated thresholds cached by size."""

    def __init__(self, feature: Feature, reference: Sample, method: DriftMethod | None,
                 options: DriftOptions, rows: ReferenceRows | None) -> None:
        self.feature, self.reference, self.method, self.options = feature, reference, method, options
        self.rows = rows
        self._thresholds: dict[tuple[DriftMethod, int], float] = {}

    def __call__(self, current: Sample) -> tuple[DriftResult, list[DriftResult]]:
        name, kind, options = self.feature.name, self.feature.kind, self.options
        method = self.method or default_method(kind, self.reference, current, options)
        threshold = None
        if self.rows is not None:
            key = (method, current.n)
            if key not in self._thresholds:
                self._thresholds[key] = calibrated_threshold(name, kind, self.rows, current.n,
                                                             method=method, options=options)
            threshold = self._thresholds[key]
        primary = compare(name, kind, self.reference, current, method=method, options=options, threshold=threshold)
        extra = []
        if SPECS[method].test:
            extra.append(compare(name, kind, self.reference, current, method=DriftMethod.PSI, options=options))
        return primary, extra


def _check_methods(methods: dict[str, DriftMethod], schema: Schema, columns: list[str]) -> dict[str, DriftMethod]:
    known = [f.name for f in schema.features if f.name in columns]
    unknown = sorted(set(methods) - set(known))
    if unknown:
        raise InputError(f"a drift method is given for {unknown}, which the data does not have as features; "
                         f"features are: {known}")
    return {name: check_method(method, schema.feature(name).kind, name) for name, method in methods.items()}


def plan_features(reference_columns: list[Any], current_columns: list[Any],
                  sample: Callable[[list[Any]], pd.DataFrame], *, schema: Schema | None,
                  methods: dict[str, DriftMethod] | None, options: DriftOptions,
                  chunks: int) -> tuple[list[Feature], dict[str, DriftMethod], dict[str, str]]:
    """The features to compare (schema order), their chosen methods, and the shared
    columns skipped with the reason; ``sample(columns)`` gives reference rows to infer
    kinds from when there is no ``schema``.

    Raises
    ------
    InputError
        As :func:`drift_report` documents.
    """
    if chunks < 0:
        raise InputError(f"chunks must be 0 (none) or more, got {chunks}")
    columns = [c for c in reference_columns if c in current_columns]
    if not columns:
        raise InputError(
            f"the reference and the current data share no column; reference has {list(reference_columns)[:20]}, "
            f"current has {list(current_columns)[:20]}: give two tables of the same features"
        )
    skipped: dict[str, str] = {}
    if schema is None:
        schema, skipped = infer_features(sample(columns), seed=options.seed)
    features = [f for f in schema.features if f.name in columns]
    return features, _check_methods(dict(methods or {}), schema, columns), skipped


def drift_report(
    reference: pd.DataFrame,
    current: pd.DataFrame,
    *,
    options: DriftOptions | None = None,
    methods: dict[str, DriftMethod] | None = None,
    chunks: int = 0,
    schema: Schema | None = None,
) -> DriftReport:
    """Compare every feature of ``current`` with ``reference``.

    Parameters
    ----------
    reference, current
        The data; columns present in both are compared, others listed in the report.
    options
        Thresholds and the threshold mode (default :class:`DriftOptions`).
    methods
        A method per feature name, overriding the default by kind and sample size.
    chunks
        Also compare ``chunks`` consecutive, near-equal parts of ``current``.
    schema
        The features' kinds; inferred with :func:`~leanloop.schema.infer_schema` when
        not given (columns it cannot use are skipped, with the reason).

    Raises
    ------
    InputError
        If the frames share no column, ``methods`` names an unknown feature or a
        method that does not apply to the feature's kind, or ``chunks`` < 0.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> ref = pd.DataFrame({"age": rng.normal(40, 10, 500), "city": rng.choice(["a", "b", "c"], 500)})
    >>> cur = pd.DataFrame({"age": rng.normal(50, 10, 400), "city": rng.choice(["a", "b", "c"], 400)})
    >>> report = drift_report(ref, cur)
    >>> [(r.feature, r.method.value, r.drifted) for r in report.features], report.drifted
    ([('age', 'ks', True), ('city', 'chi_square', False)], ['age'])
    >>> report = drift_report(ref, cur, methods={"age": DriftMethod.WASSERSTEIN}, chunks=2)
    >>> [c.rows for c in report.chunks], [c.drifted for c in report.chunks]
    ([200, 200], [['age'], ['age']])
    """
    options = options or DriftOptions()
    features, chosen, skipped = plan_features(list(reference.columns), list(current.columns),
                                              lambda names: reference[names], schema=schema, methods=methods,
                                              options=options, chunks=chunks)
    bounds = chunk_bounds(len(current), chunks)

    def one(feature: Feature) -> Judged:
        column: Any = current[feature.name]
        if feature.kind is FeatureKind.NUMERIC and column.dtype.kind in "fiub":
            column = column.to_numpy()  # slice a plain array, not a Series, per chunk
        return judge_feature(feature, reference[feature.name], column, method=chosen.get(feature.name),
                             options=options, bounds=bounds, chunks=chunks)

    # Sorting, binary searches and counting release the GIL: features run in threads.
    with ThreadPoolExecutor(max_workers=min(4, os.cpu_count() or 1)) as pool:
        outcomes = list(pool.map(one, features))
    return assemble(features, outcomes, bounds=bounds, chunks=chunks, skipped=skipped,
                    only_reference=[str(c) for c in reference.columns if c not in current.columns],
                    only_current=[str(c) for c in current.columns if c not in reference.columns])


#: One feature's outcome: (primary, extra) for the whole current data, the same per
#: chunk (``None`` where a chunk has no value), and why it was skipped (or ``None``).
Pair = tuple[DriftResult, list[DriftResult]]
Judged = tuple[Pair | None, list[Pair | None], str | None]


def chunk_bounds(rows: int, chunks: int) -> list[tuple[int, int]]:
    """``(start, end)`` of ``chunks`` consecutive near-equal parts of ``rows`` rows (one part if 0).

    Examples
    --------
    >>> chunk_bounds(10, 3), chunk_bounds(10, 0)
    ([(0, 4), (4, 7), (7, 10)], [(0, 10)])
    """
    parts = max(min(chunks, rows) if chunks else 1, 1)
    size, extra = divmod(rows, parts)  # np.array_split's sizes: the first `extra` parts get one row more
    edges = [0]
    for i in range(parts):
        edges.append(edges[-1] + size + (1 if i < extra else 0))
    return [(a, b) if b > a else (0, 0) for a, b in itertools.pairwise(edges)]


def judge_feature(feature: Feature, reference: Any, current: Any, *, method: DriftMethod | None,
                  options: DriftOptions, bounds: list[tuple[int, int]], chunks: int) -> Judged:
    """Summarise one feature's two sides (the current side part by part) and judge it.

    Either side may come summarised already (the current side only without chunks;
    the reference only with fixed thresholds, since calibration reads its rows).
    """
    name, kind = feature.name, feature.kind
    ref = summarise(reference, kind, feature=name, side="reference")
    if isinstance(current, (NumericSample, CategoricalSample)):
        parts: list[Sample] = [current]
    else:
        parts = [summarise(current[a:b] if isinstance(current, np.ndarray) else current.iloc[a:b], kind,
                           feature=name, side="current") for a, b in bounds]
    cur = _merge(parts)
    if ref.n == 0 or cur.n == 0:
        return None, [], f"no non-missing values in the {'reference' if ref.n == 0 else 'current'} data"
    rows = ReferenceRows.of(reference, kind) if options.threshold_mode is ThresholdMode.CALIBRATED else None
    judge = _Judge(feature, ref, method, options, rows)
    return judge(cur), [judge(part) if part.n else None for part in parts] if chunks else [], None


def assemble(features: list[Feature], outcomes: list[Judged], *, bounds: list[tuple[int, int]], chunks: int,
             skipped: dict[str, str], only_reference: list[str], only_current: list[str]) -> DriftReport:
    """The report from each feature's outcome (schema order)."""
    skipped = dict(skipped)
    whole: list[Pair] = []
    per_chunk: list[list[Pair]] = [[] for _ in bounds]
    for feature, (result, parts_judged, reason) in zip(features, outcomes, strict=True):
        if result is None:
            skipped[feature.name] = reason or ""
            continue
        whole.append(result)
        for i, judged in enumerate(parts_judged):
            if judged is not None:
                per_chunk[i].append(judged)

    def drifted(results: list[Pair]) -> list[str]:
        return [r.feature for r, _ in results if r.drifted]

    chunk_list = None
    if chunks:
        chunk_list = [
            DriftChunk(index=i, start=a, end=b, rows=b - a, features=[r for r, _ in res],
                       extra=[x for _, xs in res for x in xs], drifted=drifted(res))
            for i, ((a, b), res) in enumerate(zip(bounds, per_chunk, strict=True))
        ]
    return DriftReport(
        features=[r for r, _ in whole], drifted=drifted(whole), extra=[x for _, xs in whole for x in xs],
        skipped=skipped, only_reference=only_reference, only_current=only_current, chunks=chunk_list,
    )
