"""Paired bootstrap: is one model better than another on the same rows, beyond the noise?

Both models scored the same labelled rows. Each resample draws rows with replacement
and computes the *difference* of a statistic (challenger minus champion, or previous
minus champion) on those rows, so the row-to-row noise both models share cancels —
the interval is much tighter than two separate intervals would be. The percentile
interval of the differences is reported: two-sided by default (each end at
``(1 - confidence) / 2``), or ``sides=1``, each end a one-sided bound at ``confidence``
(the lower end at ``1 - confidence``: the test for superiority, "is the second better?",
at that level; the two ends together span the ``2 * confidence - 1`` central interval).
``scipy.stats.bootstrap`` supports paired samples, but it recomputes a Python callable
per resample with no way to share the index draw between the metric and the KPI;
drawing the indices once here and reusing them keeps the two intervals on the same
resamples.

Examples
--------
>>> import numpy as np
>>> y = np.array([0, 1] * 50)
>>> a = np.where(np.arange(100) < 80, y, 1 - y)          # right on 80 rows
>>> b = np.where(np.arange(100) < 95, y, 1 - y)          # right on 95 rows
>>> gain = paired_difference(y, a, b, statistic=accuracy, resamples=500, confidence=0.95, seed=0)
>>> round(gain.value, 2), gain.lower > 0
(0.15, True)
>>> one = paired_difference(y, a, b, statistic=accuracy, resamples=500, confidence=0.95, seed=0, sides=1)
>>> one.lower > gain.lower and one.upper < gain.upper, one.sides
(True, 1)
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from pydantic import BaseModel, ConfigDict

__all__ = ["Interval", "paired_difference", "paired_regression_p", "statistic_for", "accuracy", "mean"]

Statistic = Callable[[np.ndarray, np.ndarray], float]


class Interval(BaseModel):
    """A difference (second minus first) with its bootstrap confidence interval."""

    model_config = ConfigDict(frozen=True)

    value: float
    lower: float
    upper: float
    confidence: float
    resamples: int
    rows: int
    #: 2: a two-sided interval at ``confidence``; 1: each end a one-sided bound at ``confidence``
    sides: int = 2


def accuracy(y: np.ndarray, output: np.ndarray) -> float:
    """Share of rows whose output equals the truth."""
    return float(np.mean(y == output))


def mean(_y: np.ndarray, values: np.ndarray) -> float:
    """Mean of per-row values (e.g. each row's KPI); the truth is not needed."""
    return float(np.mean(values))


def _roc_auc(y: np.ndarray, scores: np.ndarray) -> float:
    from sklearn.metrics import roc_auc_score

    if len(np.unique(y)) < 2:
        return float("nan")
    if scores.ndim == 2:
        return float(roc_auc_score(y, scores, multi_class="ovr", labels=list(range(scores.shape[1]))))
    return float(roc_auc_score(y, scores))


def _mae(y: np.ndarray, output: np.ndarray) -> float:
    return float(np.mean(np.abs(y - output)))


def _rmse(y: np.ndarray, output: np.ndarray) -> float:
    return float(np.sqrt(np.mean((y - output) ** 2)))


def _f1(y: np.ndarray, output: np.ndarray) -> float:
    from sklearn.metrics import f1_score

    binary = len(np.unique(np.concatenate([y, output]))) <= 2
    return float(f1_score(y, output, average="binary" if binary else "macro", zero_division=0))


_STATISTICS: dict[str, tuple[Statistic, str]] = {
    "accuracy": (accuracy, "labels"),
    "roc_auc": (_roc_auc, "scores"),
    "f1": (_f1, "labels"),
    "mae": (_mae, "labels"),
    "rmse": (_rmse, "labels"),
}


def statistic_for(metric: str) -> tuple[Statistic, str]:
    """The statistic for ``metric`` and what it reads: ``labels`` or ``scores``.

    >>> statistic_for("mae")[1]
    'labels'
    """
    if metric not in _STATISTICS:
        from leanloop.errors import InputError

        raise InputError(f"the promotion gate cannot bootstrap {metric!r}; use one of {sorted(_STATISTICS)}")
    return _STATISTICS[metric]


def _auc_resampled(y: np.ndarray, scores: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """Binary ROC AUC of every resample at once: the Mann–Whitney statistic with each row
    weighted by how often the resample drew it (ties count one half)."""
    order = np.argsort(scores, kind="mergesort")
    ordered = scores[order]
    starts = np.flatnonzero(np.r_[True, ordered[1:] != ordered[:-1]])
    drawn = counts[:, order]
    positive = y[order] == 1
    pos = np.add.reduceat(drawn * positive, starts, axis=1)
    neg = np.add.reduceat(drawn * ~positive, starts, axis=1)
    below = np.cumsum(neg, axis=1) - neg
    numerator = (pos * (below + 0.5 * neg)).sum(axis=1)
    denominator = pos.sum(axis=1) * neg.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(denominator > 0, numerator / np.where(denominator > 0, denominator, 1), np.nan)


def _resampled(statistic: Statistic, y: np.ndarray, output: np.ndarray, counts: np.ndarray) -> np.ndarray | None:
    """``statistic`` on every resample at once, when it has a weighted form (else ``None``)."""
    n = len(y)
    if statistic is accuracy:
        return counts @ (y == output).astype(float) / n
    if statistic is mean:
        return counts @ output.astype(float) / n
    if statistic is _mae:
        return counts @ np.abs(y - output) / n
    if statistic is _rmse:
        return np.sqrt(counts @ ((y - output) ** 2) / n)
    if statistic is _roc_auc and output.ndim == 1:
        return _auc_resampled(y, output, counts)
    return None


def paired_difference(y: Any, first: Any, second: Any, *, statistic: Statistic, resamples: int,
                      confidence: float, seed: int, sides: int = 2) -> Interval:
    """``statistic(y, second) - statistic(y, first)`` and its paired percentile interval.

    ``sides``: 2 for a two-sided interval at ``confidence``; 1 for one-sided bounds, the
    lower end being the bound a one-sided test of "the second is better" at ``confidence``
    compares with its margin (module docstring).

    Accuracy, means, MAE, RMSE and binary ROC AUC are computed for all resamples at once
    from the draw counts; other statistics are recomputed on each resample.
    """
    y, first, second = np.asarray(y), np.asarray(first), np.asarray(second)
    n = len(y)
    value = statistic(y, second) - statistic(y, first)
    if sides not in (1, 2):
        raise ValueError(f"sides must be 1 or 2, got {sides}")
    if n == 0:
        return Interval(value=float("nan"), lower=float("nan"), upper=float("nan"), confidence=confidence,
                        resamples=0, rows=0, sides=sides)
    rng = np.random.default_rng(seed)
    draws = rng.integers(0, n, (resamples, n))
    counts = np.stack([np.bincount(row, minlength=n) for row in draws]).astype(float)
    a = _resampled(statistic, y, first, counts)
    b = _resampled(statistic, y, second, counts)
    if a is not None and b is not None:
        diffs = b - a
    else:
        diffs = np.array([statistic(y[idx], second[idx]) - statistic(y[idx], first[idx]) for idx in draws])
    diffs = diffs[~np.isnan(diffs)]
    tail = (1 - confidence) / sides
    lower, upper = (np.quantile(diffs, [tail, 1 - tail]) if len(diffs) else (float("nan"), float("nan")))
    return Interval(value=float(value), lower=float(lower), upper=float(upper), confidence=confidence,
                    resamples=len(diffs), rows=n, sides=sides)


def paired_regression_p(champion_errors: Any, challenger_errors: Any, *, binary: bool) -> float:
    """One-sided p-value that the challenger does worse than the champion on the same rows.

    ``binary``: 0/1 errors, exact McNemar (binomial test on the discordant rows); else
    per-row losses, Wilcoxon signed-rank. 1.0 when the two never differ.

    Examples
    --------
    >>> round(paired_regression_p([0] * 20, [1] * 9 + [0] * 11, binary=True), 4)
    0.002
    >>> paired_regression_p([0.5, 1.0], [0.5, 1.0], binary=False)
    1.0
    """
    from scipy import stats

    champ, chall = np.asarray(champion_errors, dtype=float), np.asarray(challenger_errors, dtype=float)
    if binary:
        worse = int(((champ == 0) & (chall == 1)).sum())
        better = int(((champ == 1) & (chall == 0)).sum())
        if worse + better == 0:
            return 1.0
        return float(stats.binomtest(worse, worse + better, 0.5, alternative="greater").pvalue)
    diff = chall - champ
    if not np.any(diff != 0):
        return 1.0
    return float(stats.wilcoxon(diff, alternative="greater").pvalue)
