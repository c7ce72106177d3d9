"""Hard cases: the labelled rows of a window worth keeping as tests for future models.

Only the model's faults qualify: a wrong prediction, or a right one whose class
probability is below ``[testset] low_margin`` (a confident right prediction is never a
hard case, however far below the mean its loss). Four rules, applied in this order; a
row is kept once, under the first rule that picks it, and each rule keeps at most
``per_reason`` rows per window (highest loss first):

1. ``confident_error``: a wrong label predicted with probability >= ``confidence``
   (classification with probabilities).
2. ``high_loss``: the rows of highest loss (log loss, or absolute error for regression),
   among those above the window's mean loss.
3. ``weak_segment``: rows of the weak segments (:mod:`leanloop.measure.segments`) with
   loss above the mean, the slots shared evenly among the segments in rank order.
4. ``drifted_region``: for each drifted feature, the reference quantile bin (or category)
   whose share of the window rose most over the reference; its rows with loss above the
   mean, the slots shared evenly among the drifted features.

Examples
--------
>>> import numpy as np, pandas as pd
>>> from leanloop.config import TestsetConfig
>>> from leanloop.measure.rows import RowOutcomes
>>> out = RowOutcomes(error=np.array([1., 0, 1, 0]), loss=np.array([2.3, .1, 1.2, .2]),
...                   kpi=np.zeros(4), confidence=np.array([.9, .9, .5, .8]))
>>> picks = select_hard_cases(pd.DataFrame({"x": [1.0, 2, 3, 4]}), out, config=TestsetConfig(per_reason=5))
>>> [(p.row, p.reason.value) for p in picks]
[(0, 'confident_error'), (2, 'high_loss')]
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field
from enum import Enum
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict

from leanloop.config import ProjectConfig, SegmentMetric, Task, TestsetConfig
from leanloop.measure.distinct import column_list
from leanloop.measure.logged import logged_scored
from leanloop.measure.rows import RowOutcomes, row_outcomes
from leanloop.measure.segments import Segment, find_segments, segment_mask, single_slices
from leanloop.store.features import feature_frame, feature_row

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

__all__ = ["Reason", "Pick", "HardCase", "WeakSpots", "select_hard_cases", "weak_spots"]


class Reason(str, Enum):
    """Why a row is a hard case (the rules, in the order they are applied)."""

    CONFIDENT_ERROR = "confident_error"
    HIGH_LOSS = "high_loss"
    WEAK_SEGMENT = "weak_segment"
    DRIFTED_REGION = "drifted_region"


@dataclass(frozen=True)
class Pick:
    """A row (position in the labelled frame) picked by a rule, with the evidence."""

    row: int
    reason: Reason
    detail: str


class HardCase(BaseModel):
    """A hard case with what the enriched test set keeps of it."""

    model_config = ConfigDict(frozen=True)

    prediction_id: str
    reason: Reason
    detail: str
    loss: float
    model_version: str
    features: dict[str, Any]
    label: Any
    prediction: Any


def _above_mean(rows: np.ndarray, loss: np.ndarray, taken: set[int], limit: int) -> list[int]:
    """Up to ``limit`` of ``rows`` not yet taken with loss above the mean, highest loss first."""
    import numpy as np

    if limit <= 0 or len(loss) == 0:
        return []
    mean = float(loss.mean())
    rows = np.asarray(rows, dtype=int)
    rows = rows[loss[rows] > mean]
    ranked = rows[np.argsort(-loss[rows], kind="stable")]
    found: list[int] = []
    for r in ranked.tolist():  # stops at the limit: a region can hold most of a 1M-row window
        if r not in taken:
            found.append(r)
            if len(found) == limit:
                break
    return found


def _rising_bin(feature: str, frame: pd.DataFrame, window_frame: pd.DataFrame, reference: pd.DataFrame | None,
                bins: int) -> tuple[Any, str] | None:
    """The slice of ``feature`` whose share rose most from reference to window."""
    if reference is None or feature not in reference or feature not in frame:
        return None
    best, best_rise, text = None, 0.0, ""
    for condition in single_slices(window_frame[[feature]], bins=bins, reference=reference[[feature]]):
        ref_share = float(condition.mask(reference).mean())
        cur_share = float(condition.mask(window_frame).mean())
        if cur_share - ref_share > best_rise:
            best, best_rise = condition, cur_share - ref_share
            text = f"{condition.describe()}: share {ref_share:.1%} -> {cur_share:.1%}"
    return None if best is None else (best, text)


def select_hard_cases(frame: pd.DataFrame, outcomes: RowOutcomes, *, config: TestsetConfig,
                      segments: list[Segment] | None = None, drifted: list[str] | None = None,
                      reference: pd.DataFrame | None = None, window_frame: pd.DataFrame | None = None,
                      bins: int = 5, loss_name: str = "log loss") -> list[Pick]:
    """Apply the four rules (module docstring) to the labelled rows ``frame`` (model form)."""
    import numpy as np

    frame = frame.reset_index(drop=True)
    window_frame = frame if window_frame is None else window_frame.reset_index(drop=True)
    loss, limit = outcomes.loss, config.per_reason
    taken: set[int] = set()
    picks: list[Pick] = []

    def keep(rows: list[int], reason: Reason, detail: Any) -> None:
        for r in rows:
            taken.add(r)
            picks.append(Pick(row=r, reason=reason, detail=detail(r) if callable(detail) else detail))

    confident = np.flatnonzero((outcomes.error > 0) & (np.nan_to_num(outcomes.confidence) >= config.confidence))
    ranked = confident[np.argsort(-loss[confident], kind="stable")][:limit]
    keep([int(r) for r in ranked], Reason.CONFIDENT_ERROR,
         lambda r: f"wrong with confidence {outcomes.confidence[r]:.3f}")
    # Only the model's faults are hard cases: a wrong prediction, or a right one won by
    # a low margin; a confident right prediction never is, however small the mean loss.
    fault = (outcomes.error > 0) | (np.nan_to_num(outcomes.confidence, nan=1.0) < config.low_margin)
    keep(_above_mean(np.flatnonzero(fault), loss, taken, limit), Reason.HIGH_LOSS,
         lambda r: f"{loss_name} {loss[r]:.4g} (window mean {loss.mean():.4g})")
    regions: list[tuple[np.ndarray, str]] = []
    for segment in segments or []:
        regions.append((np.flatnonzero(segment_mask(segment, frame) & fault), segment.segment))
    _share(regions, loss, taken, limit, Reason.WEAK_SEGMENT, keep)
    regions = []
    for feature in drifted or []:
        found = _rising_bin(feature, frame, window_frame, reference, bins)
        if found is not None:
            regions.append((np.flatnonzero(found[0].mask(frame) & fault), found[1]))
    _share(regions, loss, taken, limit, Reason.DRIFTED_REGION, keep)
    return picks


def _share(regions: list[tuple[np.ndarray, str]], loss: np.ndarray, taken: set[int], limit: int,
           reason: Reason, keep: Any) -> None:
    """Split ``limit`` slots evenly among ``regions``, in order."""
    if not regions:
        return
    each = math.ceil(limit / len(regions))
    used = 0
    for rows, text in regions:
        chosen = _above_mean(rows, loss, taken, min(each, limit - used))
        keep(chosen, reason, text)
        used += len(chosen)


@dataclass(frozen=True)
class WeakSpots:
    """A window's weak segments and hard cases."""

    segments: list[Segment] = field(default_factory=list)
    hard_cases: list[HardCase] = field(default_factory=list)
    #: labelled rows the segment finder read when it sampled them (``[segments] max_rows``)
    segment_rows: int | None = None

    def counts(self) -> dict[str, int]:
        """Hard cases by reason, every reason listed."""
        found = Counter(c.reason.value for c in self.hard_cases)
        return {r.value: found.get(r.value, 0) for r in Reason}


def weak_spots(config: ProjectConfig, *, reference: pd.DataFrame, window: pd.DataFrame,
               drifted: list[str], labelled: pd.DataFrame | None = None,
               model_frame: pd.DataFrame | None = None) -> WeakSpots:
    """Weak segments and hard cases of a logged ``window`` (rows as the store returns them)
    against the ``reference`` training frame, found among ``labelled`` (the newest
    labelled rows; default: the window's own labelled rows); ``model_frame``: the
    window's features as the model reads them, when the caller made them."""

    schema, data = config.schema_, config.data
    window = window.reset_index(drop=True)
    if labelled is None:
        labelled = window[window["label"].notna()]
    labelled = labelled.reset_index(drop=True)
    if labelled.empty:
        return WeakSpots()
    every = (schema.model_frame(feature_frame(window), "logged predictions") if model_frame is None
             else model_frame)
    # the labelled rows are often the window's own: their model frame is the window's
    same = (len(labelled) == len(window)
            and bool((labelled["prediction_id"].to_numpy() == window["prediction_id"].to_numpy()).all()))
    frame = every if same else schema.model_frame(feature_frame(labelled), "logged predictions")
    ref_frame = schema.model_frame(reference, "reference data")
    scored = logged_scored(labelled, data.task, data.classes)
    outcomes = row_outcomes(column_list(labelled["label"]), scored.labels, scored.probabilities, data, config.kpi)
    regression = data.task is Task.REGRESSION
    if config.segments.metric is SegmentMetric.KPI:
        # What the model lost against perfect predictions on the same rows: a segment
        # that simply has less to earn (no positives to catch) loses nothing there.
        truth = column_list(labelled["label"])
        perfect = row_outcomes(truth, truth, None, data, config.kpi).kpi
        values, binary, higher, name = perfect - outcomes.kpi, False, False, f"{config.kpi.name}_regret"
    else:
        values, binary, higher = outcomes.error, not regression, False
        name = "absolute_error" if regression else "error_rate"
    # The slice tests read a seeded sample beyond [segments] max_rows (they keep their
    # meaning, with a little less power); hard cases are picked from every labelled row.
    sample = None
    if config.segments.max_rows is not None and len(frame) > config.segments.max_rows:
        import numpy as np

        sample = np.sort(np.random.default_rng(config.model.seed).choice(len(frame), config.segments.max_rows,
                                                                         replace=False))
    segments = find_segments(frame if sample is None else frame.iloc[sample], values if sample is None
                             else values[sample], config=config.segments, reference=ref_frame, binary=binary,
                             higher_is_better=higher, metric=name)
    picks = select_hard_cases(frame, outcomes, config=config.testset, segments=segments, drifted=drifted,
                              reference=ref_frame, window_frame=every, bins=config.segments.bins,
                              loss_name="absolute error" if regression or scored.probabilities is None else "log loss")
    picked = labelled.iloc[[p.row for p in picks]]  # one selection, not one per hard case
    cases = [
        HardCase(prediction_id=str(row["prediction_id"]), reason=p.reason, detail=p.detail,
                 loss=float(outcomes.loss[p.row]), model_version=str(row["model_version"]),
                 features=feature_row(row), label=row["label"], prediction=row["prediction"])
        for p, (_, row) in zip(picks, picked.iterrows(), strict=True)
    ]
    return WeakSpots(segments=segments, hard_cases=cases, segment_rows=None if sample is None else len(sample))
