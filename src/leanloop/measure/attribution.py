"""Model harm apart from population change: who moved the KPI, the model or the mix?

A KPI per prediction (or a metric that is a mean over rows, such as accuracy or an
error) can fall for two reasons: the model got worse, or the population changed so that
the same model earns less (fewer anomalies to catch, more hard cases, a new price mix).
Only the first is a reason to retrain.

The split used here is a **direct standardisation** (as epidemiologists compare death
rates across populations of different ages): rows are grouped into *strata* by their
truth (the actual class; for regression, a quantile bin of the target fitted on
reference). For each stratum ``s`` the reference gives the model's mean value per row
there, ``v_ref(s)``. The window gives its own mix ``w(s)`` and its realized mean. Then

- ``expected = sum_s w(s) * v_ref(s)``: what the model would earn on the window's mix if
  it were as good in each stratum as on reference;
- ``population = expected - reference``: the change the mix alone explains;
- ``model = realized - expected``: the change the model is responsible for
  (negative: harm).

Under a pure prior shift (the class shares move, each class looks as before) the
model's per-class behaviour is unchanged, so ``model`` stays near 0 while
``population`` carries the whole change. A stratum the reference never saw is taken
at its realized value (the reference cannot say what the model should do there).
Intervals come from a two-sample percentile bootstrap (reference rows and window rows
resampled independently, seeded); a side of more than ``max_rows`` rows is resampled
from a seeded subsample of that many, each resample's per-stratum means rescaled to all
its rows (:func:`~leanloop.measure.bootstrap.rescaled_means`, the m-out-of-n bootstrap),
so a million-row window costs what a ``max_rows`` one does. Hand-written because no library splits a metric
change this way; it uses :func:`~leanloop.measure.bootstrap.bootstrap_counts`.

Examples
--------
>>> import numpy as np
>>> ref_truth = np.array([1] * 10 + [0] * 90)        # 10 % anomalies on reference
>>> ref_value = np.where(ref_truth == 1, 100.0, 0.0)   # each caught anomaly saves 100
>>> win_truth = np.array([1] * 3 + [0] * 97)         # 3 % now, the model as good as ever
>>> win_value = np.where(win_truth == 1, 100.0, 0.0)
>>> split = attribute(ref_truth, ref_value, win_truth, win_value, BootstrapOptions(resamples=200))
>>> split.reference, split.expected.value, split.realized
(10.0, 3.0, 3.0)
>>> round(split.population.value, 6), round(split.model.value, 6), split.harmed(tolerance=0.0)
(-7.0, 0.0, False)
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict

from leanloop.measure.bootstrap import (
    BLOCK_CELLS,
    BootstrapOptions,
    Interval,
    bootstrap_counts,
    percentile_interval,
    rescaled_means,
    subsample_rows,
)
from leanloop.measure.distinct import factorized

if TYPE_CHECKING:
    import numpy as np

__all__ = ["Stratum", "Attribution", "attribute", "truth_strata", "BootstrapOptions"]


class Stratum(BaseModel):
    """One stratum's share and mean value on reference and in the window."""

    model_config = ConfigDict(frozen=True)

    stratum: str
    reference_share: float
    window_share: float
    reference_value: float | None
    window_value: float | None


class Attribution(BaseModel):
    """A change of a mean-per-row value split into what the mix and what the model did."""

    model_config = ConfigDict(frozen=True)

    reference: float
    realized: float
    expected: Interval
    population: Interval
    model: Interval
    strata: list[Stratum]
    reference_rows: int
    window_rows: int

    def harmed(self, tolerance: float) -> bool:
        """Whether the model does worse than it should by more than ``tolerance``, with
        its whole interval below ``-tolerance`` (values where higher is better)."""
        return self.model.upper < -tolerance

    def population_changed(self, tolerance: float) -> bool:
        """Whether the mix alone moved the value by more than ``tolerance``, either way."""
        return self.population.upper < -tolerance or self.population.lower > tolerance


def truth_strata(reference_truth: Any, window_truth: Any, *, bins: int = 5,
                 continuous: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Stratum labels for both samples: the truth itself (classes), or for a continuous
    target its quantile bin on reference (``bins`` bins; the window's values outside the
    reference range fall in the first or last bin).

    >>> ref, win = truth_strata([1.0, 2.0, 3.0, 4.0], [0.0, 2.5, 9.0], bins=2, continuous=True)
    >>> ref.tolist(), win.tolist()
    (['bin 1', 'bin 1', 'bin 2', 'bin 2'], ['bin 1', 'bin 1', 'bin 2'])
    """
    import numpy as np

    reference = np.asarray(reference_truth)
    window = np.asarray(window_truth)
    if not continuous:
        return reference.astype(str), window.astype(str)
    edges = np.unique(np.quantile(reference.astype(float), np.linspace(0, 1, bins + 1)[1:-1]))

    def label(values: np.ndarray) -> np.ndarray:
        return np.char.add("bin ", (np.searchsorted(edges, values.astype(float), side="left") + 1).astype(str))

    return label(reference), label(window)


def _text_codes(values: Any) -> tuple[np.ndarray, list[str]]:
    """Each value's code into its distinct values, and those values as text (labels
    compare as text: ``1`` and ``"1"`` are one stratum)."""
    import numpy as np
    import pandas as pd

    found = factorized(values if isinstance(values, np.ndarray) else list(values))
    if found is None:  # mixed types: as text, row by row (what every row did before)
        found = pd.factorize(np.asarray(values).astype(str), use_na_sentinel=False)
    codes, uniques = found
    return np.asarray(codes, dtype=np.intp), [str(u) for u in uniques]


def _strata_codes(reference: Any, window: Any) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Both samples' strata as codes into their names in sorted order (one conversion to
    text per distinct stratum: a fixed-width text copy of a 1M-row window's labels, and
    a text comparison per row and stratum, were the measurement's peak memory)."""
    import numpy as np

    ref_codes, ref_names = _text_codes(reference)
    win_codes, win_names = _text_codes(window)
    names = sorted(set(ref_names) | set(win_names))
    index = {name: i for i, name in enumerate(names)}
    ref_map = np.array([index[name] for name in ref_names], dtype=np.intp)
    win_map = np.array([index[name] for name in win_names], dtype=np.intp)
    return ref_map[ref_codes], win_map[win_codes], names


def _sums(codes: np.ndarray, values: np.ndarray, strata: int) -> np.ndarray:
    """``(n, 2S)``: each row's indicator and value per stratum (counts and sums by ``@``)."""
    import numpy as np

    onehot = np.zeros((len(codes), strata))
    onehot[np.arange(len(codes)), codes] = 1.0
    return np.hstack([onehot, onehot * values[:, None]])


def _split(ref: np.ndarray, win: np.ndarray, fallback: np.ndarray) -> tuple[np.ndarray, ...]:
    """Reference mean, realized mean and expected mean from per-stratum count/sum rows
    (``(B, 2S)`` each); a stratum empty on reference takes the window's own mean."""
    import numpy as np

    strata = ref.shape[1] // 2
    ref_counts, ref_sums = ref[:, :strata], ref[:, strata:]
    win_counts, win_sums = win[:, :strata], win[:, strata:]
    with np.errstate(invalid="ignore", divide="ignore"):
        ref_means = np.where(ref_counts > 0, ref_sums / np.maximum(ref_counts, 1e-300), np.nan)
        win_means = np.where(win_counts > 0, win_sums / np.maximum(win_counts, 1e-300), fallback)
        means = np.where(np.isnan(ref_means), win_means, ref_means)
        mix = win_counts / win_counts.sum(axis=1, keepdims=True)
        expected = np.nansum(mix * np.nan_to_num(means), axis=1)
        return (ref_sums.sum(axis=1) / ref_counts.sum(axis=1), win_sums.sum(axis=1) / win_counts.sum(axis=1),
                expected)


class _Side:
    """One sample's per-row count/sum table (of the rows its bootstrap resamples: all,
    or a subsample whose resampled means are rescaled to all rows) and its point sums."""

    def __init__(self, codes: np.ndarray, values: np.ndarray, strata: int, picked: np.ndarray | None) -> None:
        import numpy as np

        self.picked, self.n = picked, len(codes)
        if picked is None:
            self.rows = _sums(codes, values, strata)
            self.point = self.rows.sum(axis=0)
        else:  # no table of every row: counts and sums by stratum straight from the codes
            self.rows = _sums(codes[picked], values[picked], strata)
            self.point = np.r_[np.bincount(codes, minlength=strata).astype(float),
                               np.bincount(codes, weights=values, minlength=strata)]

    def resampled(self, counts: np.ndarray) -> np.ndarray:
        """``counts`` (resamples of :attr:`rows`) as count/sum rows; :func:`_split` reads
        only ratios of them, so rescaled means stand in for sums."""
        sums = counts @ self.rows
        if self.picked is None:
            return sums
        m = len(self.rows)
        return rescaled_means(sums / m, self.point / self.n, self.rows.sum(axis=0) / m, m, self.n)


def attribute(reference_strata: Any, reference_values: Any, window_strata: Any, window_values: Any,
              options: BootstrapOptions | None = None) -> Attribution:
    """Split the change from reference to window of a mean-per-row value (higher is
    better: a KPI per row, or 1 for a correct prediction; negate errors) into the
    population's part and the model's part, each with a bootstrap interval.

    Both samples must be non-empty; strata are any labels (see :func:`truth_strata`).
    """
    import numpy as np

    options = options or BootstrapOptions()
    ref_values, win_values = np.asarray(reference_values, float), np.asarray(window_values, float)
    if not len(ref_values) or not len(win_values):
        raise ValueError("attribute needs rows on both sides: reference and window must not be empty")
    ref_codes, win_codes, names = _strata_codes(reference_strata, window_strata)
    ref_side = _Side(ref_codes, ref_values, len(names), subsample_rows(len(ref_values), options))
    win_side = _Side(win_codes, win_values, len(names),
                     subsample_rows(len(win_values), options.model_copy(update={"seed": options.seed + 1})))
    ref_point, win_point = ref_side.point[None, :], win_side.point[None, :]
    fallback = (win_point[:, len(names):] / np.maximum(win_point[:, :len(names)], 1e-300))
    reference, realized, expected = (float(v[0]) for v in _split(ref_point, win_point, fallback))

    rng = np.random.default_rng(options.seed)
    block = max(1, BLOCK_CELLS // max(len(ref_side.rows), len(win_side.rows)))
    draws: list[np.ndarray] = []
    done = 0
    while done < options.resamples:
        size = min(block, options.resamples - done)
        ref_b = ref_side.resampled(bootstrap_counts(len(ref_side.rows), size, rng))
        win_b = win_side.resampled(bootstrap_counts(len(win_side.rows), size, rng))
        draws.append(np.column_stack(_split(ref_b, win_b, fallback)))
        done += size
    samples = np.vstack(draws)
    ref_s, real_s, exp_s = samples[:, 0], samples[:, 1], samples[:, 2]
    counts_ref, counts_win = ref_point[0, :len(names)], win_point[0, :len(names)]
    strata = [Stratum(
        stratum=name, reference_share=float(counts_ref[i] / counts_ref.sum()),
        window_share=float(counts_win[i] / counts_win.sum()),
        reference_value=float(ref_point[0, len(names) + i] / counts_ref[i]) if counts_ref[i] else None,
        window_value=float(win_point[0, len(names) + i] / counts_win[i]) if counts_win[i] else None,
    ) for i, name in enumerate(names)]
    return Attribution(
        reference=reference, realized=realized,
        expected=percentile_interval(expected, exp_s, options.confidence),
        population=percentile_interval(expected - reference, exp_s - ref_s, options.confidence),
        model=percentile_interval(realized - expected, real_s - exp_s, options.confidence),
        strata=strata, reference_rows=len(ref_values), window_rows=len(win_values),
    )
