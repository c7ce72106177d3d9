"""Prediction and target drift: have the model's outputs, or the truth, moved?

Prediction drift compares what the model says on the window with what it said on
its reference data: the shares of predicted classes (chi-square and PSI), the
probability of each class (KS and PSI; for a binary model only the positive class),
or the predicted value of a regressor. Target drift compares the labels that arrived
for the window with the reference target (class shares, or the value distribution).
Both use the univariate tests of :mod:`leanloop.measure.drift`.

The prediction as one number per row, which the streaming detectors read, lives here
too (their loss signal is :func:`leanloop.measure.rows.row_outcomes`' error).

Examples
--------
>>> from leanloop.measure.drift import DriftOptions
>>> out = target_drift(["a"] * 50 + ["b"] * 50, ["a"] * 20 + ["b"] * 80, Task.CLASSIFICATION, DriftOptions())
>>> [(r.method.value, r.drifted) for r in out.drift], out.shares["b"].current
([('z_test', True), ('psi', True)], 0.8)
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict

from leanloop.config import Task
from leanloop.measure.distinct import factorized
from leanloop.measure.drift import DriftOptions, DriftResult, feature_drift
from leanloop.schema import FeatureKind

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

    from leanloop.scoring import Scored

__all__ = ["Share", "OutputDrift", "prediction_outputs", "target_drift", "prediction_signal"]


class Share(BaseModel):
    """A class's share of the reference and of the current sample."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    reference: float
    current: float


class OutputDrift(BaseModel):
    """Drift of one model output (or of the target): its tests and, for classes, the shares."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    output: str
    kind: str
    drift: list[DriftResult]
    shares: dict[str, Share] | None = None


def _text_shares(values: pd.Series) -> pd.Series:
    """Each value's share of ``values`` by its text (``1`` and ``"1"`` are one class),
    counted by distinct value, not converted row by row (0.2 s per 1M-row output)."""
    import numpy as np
    import pandas as pd

    found = factorized(values.to_numpy())
    if found is None:
        return pd.Series([str(v) for v in values]).value_counts(normalize=True)
    codes, uniques = found
    counts: dict[str, int] = {}
    for value, count in zip(uniques, np.bincount(codes, minlength=len(uniques)).tolist(), strict=True):
        counts[str(value)] = counts.get(str(value), 0) + count
    total = sum(counts.values())
    return pd.Series({text: count / total for text, count in counts.items()}, dtype=float)


def _shares(reference: pd.Series, current: pd.Series) -> dict[str, Share]:
    ref, cur = _text_shares(reference), _text_shares(current)
    return {c: Share(reference=float(ref.get(c, 0.0)), current=float(cur.get(c, 0.0)))
            for c in sorted(set(ref.index) | set(cur.index))}


def _series(values: Any) -> pd.Series:
    """``values`` as a Series: a typed array as it is, other sequences as a list would be read."""
    import numpy as np
    import pandas as pd

    if isinstance(values, np.ndarray | pd.Series) and values.dtype != object:
        return pd.Series(np.asarray(values))  # no Python float per row on the way
    return pd.Series(list(values))


def _compare(name: str, reference: Any, current: Any, kind: FeatureKind, options: DriftOptions) -> OutputDrift:
    ref, cur = _series(reference).dropna(), _series(current).dropna()
    categorical = kind is FeatureKind.CATEGORICAL
    return OutputDrift(output=name, kind=kind.value,
                       drift=feature_drift(ref, cur, feature=name, kind=kind, options=options),
                       shares=_shares(ref, cur) if categorical else None)


def prediction_outputs(reference: Scored, current: Scored, task: Task, options: DriftOptions) -> list[OutputDrift]:
    """Drift of every output: predicted class shares and class probabilities, or the value."""
    import numpy as np

    if not reference.labels or not current.labels:
        return []
    if task is Task.REGRESSION:
        return [_compare("prediction", np.asarray(reference.labels, dtype=float),
                         np.asarray(current.labels, dtype=float), FeatureKind.NUMERIC, options)]
    out = [_compare("predicted_class", reference.labels, current.labels, FeatureKind.CATEGORICAL, options)]
    if reference.probabilities is not None and current.probabilities is not None and reference.classes:
        columns = range(1, 2) if len(reference.classes) == 2 else range(len(reference.classes))
        for j in columns:
            out.append(_compare(f"probability[{reference.classes[j]}]", reference.probabilities[:, j],
                                current.probabilities[:, j], FeatureKind.NUMERIC, options))
    return out


def target_drift(reference: Sequence[Any], current: Sequence[Any], task: Task,
                 options: DriftOptions) -> OutputDrift | None:
    """Drift of the labels that arrived against the reference target (``None`` if a side is empty)."""
    import pandas as pd

    ref, cur = _series(reference), _series(current)
    if ref.dropna().empty or cur.dropna().empty:
        return None
    kind = FeatureKind.NUMERIC if task is Task.REGRESSION else FeatureKind.CATEGORICAL
    if kind is FeatureKind.NUMERIC:
        return _compare("target", pd.to_numeric(ref), pd.to_numeric(cur), kind, options)
    return _compare("target", ref, cur, kind, options)


def prediction_signal(scored: Scored, task: Task) -> np.ndarray:
    """The prediction as one number per row: the value (regression), the positive-class
    probability (binary) or the top probability (multiclass; NaN without probabilities)."""
    import numpy as np

    if task is Task.REGRESSION:
        return np.asarray(scored.labels, dtype=float)
    if scored.probabilities is None:
        return np.full(len(scored.labels), np.nan)
    proba = np.asarray(scored.probabilities, dtype=float)
    return proba[:, 1] if proba.shape[1] == 2 else proba.max(axis=1)
