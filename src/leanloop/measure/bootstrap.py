"""Confidence intervals: a value with its lower and upper bound, and the seeded
percentile bootstrap that makes them for realized metrics and KPIs.

Resamples are drawn as count vectors (how often each row is drawn) and every metric
is computed for all resamples at once from those counts (see :mod:`.weighted`).

**Large samples** (``max_rows``): the cost grows with resamples x rows, so beyond
``max_rows`` rows the bootstrap runs on a seeded random subsample of ``m = max_rows``
rows and its interval is rescaled to the full ``n`` rows around the full-sample value:
``value + sqrt(m / n) * (bound_m - value_m)`` (the m-out-of-n bootstrap of Bickel,
Götze and van Zwet, 1997, valid for the smooth statistics here: means, shares, ROC AUC,
F1, errors). :func:`subsample_rows` picks the rows and :func:`rescaled` maps an interval
(:func:`rescaled_means` maps each resample's means, for statistics built from several
per-row means, such as the harm split and the calibration shift); results say how many
rows the bootstrap read.

Examples
--------
>>> import numpy as np
>>> values = np.arange(10.0)
>>> table = lambda W: {"mean": W @ values / W.sum(axis=1)}
>>> mean = bootstrap(table, 10, BootstrapOptions(resamples=200, confidence=0.9, seed=0))["mean"]
>>> mean.value, round(mean.lower, 3), round(mean.upper, 3)
(4.5, 3.0, 6.01)
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict

if TYPE_CHECKING:
    import numpy as np

__all__ = ["Interval", "BootstrapOptions", "bootstrap", "bootstrap_counts", "percentile_interval", "subsample_rows",
           "rescaled", "rescaled_means", "shared_resamples", "BLOCK_CELLS"]

#: Most cells of a count matrix built at once; larger runs go block by block.
BLOCK_CELLS = 4_000_000
#: Count matrices kept for reuse inside :func:`shared_resamples` (about 100 MB).
SHARED_CELLS = 12_000_000
#: The count matrices of the current :func:`shared_resamples` block (None outside one).
_SHARED: ContextVar[dict[Any, Any] | None] = ContextVar("leanloop_shared_resamples", default=None)


@contextmanager
def shared_resamples(max_cells: int = SHARED_CELLS) -> Iterator[None]:
    """Within this block, :func:`bootstrap_counts` asked again for the same counts from a
    generator in the same state (same seed, same rows, same resamples) returns the
    matrix it drew before and moves the generator on as drawing it would have: results
    are those without it. A measurement draws one seed's resamples of its labelled rows
    for the model's metrics, the baseline's, both KPIs and their gain: five times the
    same matrices. Up to ``max_cells`` cells are kept, for the block's duration only.

    >>> import numpy as np
    >>> with shared_resamples():
    ...     first = bootstrap_counts(5, 3, np.random.default_rng(1))
    ...     again = bootstrap_counts(5, 3, np.random.default_rng(1))
    >>> again is first, bool((first == bootstrap_counts(5, 3, np.random.default_rng(1))).all())
    (True, True)
    """
    token = _SHARED.set({"cells": 0, "max": max_cells, "drawn": {}})
    try:
        yield
    finally:
        _SHARED.reset(token)


class Interval(BaseModel):
    """A value and its confidence interval ``[lower, upper]``."""

    model_config = ConfigDict(frozen=True)

    value: float
    lower: float
    upper: float


class BootstrapOptions(BaseModel):
    """How many resamples, which confidence, which seed."""

    model_config = ConfigDict(frozen=True)

    resamples: int = 500
    confidence: float = 0.95
    seed: int = 0
    #: bootstrap a subsample of this many rows (rescaled, see the module docstring) beyond it
    max_rows: int | None = None


def subsample_rows(n: int, options: BootstrapOptions) -> np.ndarray | None:
    """The rows (sorted positions, seeded) to bootstrap when ``n`` exceeds
    ``options.max_rows``; ``None`` when all ``n`` rows are bootstrapped.

    >>> subsample_rows(10, BootstrapOptions(max_rows=4)).tolist(), subsample_rows(10, BootstrapOptions())
    ([2, 4, 5, 7], None)
    """
    import numpy as np

    if options.max_rows is None or n <= options.max_rows:
        return None
    return np.sort(np.random.default_rng(options.seed).choice(n, options.max_rows, replace=False))


def rescaled(value: float, sub: Interval, m: int, n: int) -> Interval:
    """The interval of a statistic on ``n`` rows from its bootstrap interval ``sub`` on a
    random ``m`` of them: ``value`` (on all rows) plus the subsample's bounds' distance
    from its own value, shrunk by ``sqrt(m / n)``.

    >>> found = rescaled(0.5, Interval(value=0.52, lower=0.42, upper=0.62), 100, 400)
    >>> round(found.lower, 6), round(found.upper, 6)
    (0.45, 0.55)
    """
    scale = (m / n) ** 0.5
    return Interval(value=value, lower=min(value, value + scale * (sub.lower - sub.value)),
                    upper=max(value, value + scale * (sub.upper - sub.value)))


def rescaled_means(draws: np.ndarray, full: np.ndarray, sub: np.ndarray, m: int, n: int) -> np.ndarray:
    """Per-row means of resamples of ``m`` rows (``draws``, one resample a row) as if of
    ``n`` rows: the mean on all rows (``full``) plus each resample's distance from the
    ``m`` rows' own mean (``sub``), shrunk by ``sqrt(m / n)``.

    >>> import numpy as np
    >>> rescaled_means(np.array([[0.6], [0.4]]), np.array([0.52]), np.array([0.5]), 100, 400).tolist()
    [[0.5700000000000001], [0.47000000000000003]]
    """
    return full + (m / n) ** 0.5 * (draws - sub)


def bootstrap_counts(n: int, resamples: int, rng: np.random.Generator, size: int | None = None) -> np.ndarray:
    """``(resamples, n)`` counts: how often each of ``n`` rows is drawn, ``size`` draws
    each (default ``n``; fewer: an m-out-of-n bootstrap); read-only when kept by
    :func:`shared_resamples`."""
    shared = _SHARED.get()
    state = None if shared is None else rng.bit_generator.state
    key = None
    if shared is not None and state is not None and state.get("bit_generator") == "PCG64":
        key = (n, resamples, size, state["state"]["state"], state["state"]["inc"], state["has_uint32"],
               state["uinteger"])
        found = shared["drawn"].get(key)
        if found is not None:
            rng.bit_generator.state = found[1]
            return found[0]
    counts = _counts(n, resamples, rng, size)
    if key is not None and shared is not None and shared["cells"] + counts.size <= shared["max"]:
        counts.flags.writeable = False
        shared["drawn"][key] = (counts, rng.bit_generator.state)
        shared["cells"] += counts.size
    return counts


def _counts(n: int, resamples: int, rng: np.random.Generator, size: int | None) -> np.ndarray:
    import numpy as np

    # uniform doubles rather than rng.integers: one double per draw with no buffered
    # bits, so drawing block by block gives the same resamples as drawing at once;
    # worked in place (six arrays of a block's size were alive at once before: 190 MB
    # for 200 resamples of 20k rows, now two)
    uniform = rng.random((resamples, n if size is None else size))
    uniform *= n
    draws = uniform.astype(np.int64)
    del uniform
    np.minimum(draws, n - 1, out=draws)
    draws += (np.arange(resamples, dtype=np.int64) * n)[:, None]
    counts = np.bincount(draws.ravel(), minlength=resamples * n)
    del draws
    return counts.reshape(resamples, n).astype(float)


def percentile_interval(value: float, samples: np.ndarray, confidence: float) -> Interval:
    """``value`` with the central ``confidence`` share of ``samples`` (NaNs ignored),
    widened if needed so that it holds ``value``."""
    import numpy as np

    samples = np.asarray(samples, dtype=float)
    samples = samples[np.isfinite(samples)]
    if not len(samples) or not np.isfinite(value):
        return Interval(value=value, lower=value, upper=value)
    tail = (1 - confidence) / 2 * 100
    lower, upper = np.percentile(samples, [tail, 100 - tail])
    return Interval(value=value, lower=float(min(lower, value)), upper=float(max(upper, value)))


def bootstrap(table: Callable[[np.ndarray], dict[str, np.ndarray]], n: int,
              options: BootstrapOptions) -> dict[str, Interval]:
    """Percentile intervals of each metric over ``options.resamples`` resamples of ``n`` rows.

    ``table`` maps a weight matrix ``(B, n)`` to ``{metric: B values}``; a metric's value
    on all rows (weights of one) is its interval's ``value``. Metrics NaN on all rows
    are left out.
    """
    import numpy as np

    if n == 0:
        return {}
    points = {name: float(v[0]) for name, v in table(np.ones((1, n))).items()}
    rng = np.random.default_rng(options.seed)
    block = max(1, BLOCK_CELLS // n)
    samples: dict[str, list[np.ndarray]] = {name: [] for name in points}
    done = 0
    while done < options.resamples:
        size = min(block, options.resamples - done)
        for name, values in table(bootstrap_counts(n, size, rng)).items():
            samples[name].append(np.asarray(values, dtype=float))
        done += size
    return {name: percentile_interval(points[name], np.concatenate(samples[name]), options.confidence)
            for name in points if np.isfinite(points[name])}
