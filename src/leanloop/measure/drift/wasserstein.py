"""Wasserstein (earth mover's) distance, normalised by the reference's standard deviation."""

from __future__ import annotations

import numpy as np

from leanloop.measure.drift.result import DriftMethod, MethodSpec, Outcome
from leanloop.measure.drift.samples import NumericSample

__all__ = ["wasserstein_statistic", "normalised", "SPEC"]


def wasserstein_statistic(reference: NumericSample, current: NumericSample) -> Outcome:
    """W1(reference, current) / std(reference), with the population std (ddof=0).

    Dividing by the reference's spread makes the distance unit-free: 0.1 means the
    mass moved a tenth of a standard deviation on average (the default threshold). A
    constant reference (std 0) is divided by 1. Exact, from the sorted samples:
    W1 = integral of |Q_ref(t) - Q_cur(t)| over t in [0, 1], the quantile functions
    being step functions whose breakpoints i/n and j/m are merged in integer units
    (hand-written because :func:`scipy.stats.wasserstein_distance` re-sorts both
    samples; the result equals scipy's to rounding).

    Examples
    --------
    >>> ref, cur = NumericSample.of([0.0, 1.0, 2.0, 3.0]), NumericSample.of([1.0, 2.0, 3.0, 4.0])
    >>> round(wasserstein_statistic(ref, cur)[0], 6)  # moved by 1, std is sqrt(1.25)
    0.894427
    """
    r, c = reference.values, current.values
    n, m = r.size, c.size
    if n == m:
        gaps = np.subtract(r, c)
        w = float(np.mean(np.abs(gaps, out=gaps)))  # one temporary array, not two
    else:
        ends = np.sort(np.concatenate([np.arange(1, n + 1, dtype=np.int64) * m,
                                       np.arange(1, m + 1, dtype=np.int64) * n]))
        widths = np.diff(ends, prepend=0)
        ir = (ends + m - 1) // m - 1
        ic = (ends + n - 1) // n - 1
        w = float(np.sum(widths * np.abs(r[ir] - c[ic])) / (float(n) * float(m)))
    return normalised(w, float(np.std(r))), None


def normalised(distance: float, spread: float) -> float:
    """W1 divided by the reference's standard deviation, or by 1 for a constant reference.

    >>> normalised(0.5, 2.0), normalised(0.5, 0.0)
    (0.25, 0.5)
    """
    return distance / (spread if spread > 0 else 1.0)


SPEC = MethodSpec(DriftMethod.WASSERSTEIN, test=False, noise_power=1.0, root=True,
                  numeric=lambda r, c, o: wasserstein_statistic(r, c))
