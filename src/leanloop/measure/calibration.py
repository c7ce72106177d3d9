"""Calibration: do the probabilities say how often the model is right?

The expected-value rule (:mod:`leanloop.label_rule`) weighs probabilities, so it is only
as good as they are honest. Two measures, shared by ``build`` (calibration before and
after, :mod:`leanloop.build.calibration`) and the measurement of a window:

- :func:`reliability`: the top-label reliability table, rows binned by their highest
  probability, with each bin's mean confidence, share correct and rows;
- :func:`expected_calibration_error` (ECE): the rows-weighted mean gap between
  confidence and accuracy over those bins.

:func:`calibration_shift` compares the served probabilities on a window's labelled rows
with the champion's on its holdout: the window's ECE, the reference's, and their
difference with a bootstrap interval. Binned ECE grows as rows get fewer (each bin's
gap carries sampling noise), so the reference is resampled *at the window's size*
(an m-out-of-n bootstrap, m = the window's rows): both sides carry the same small-sample
bias, and the difference measures calibration lost, not rows missing. The policy
recalibrates when its lower bound passes ``[policy] max_calibration_shift`` while the
model still ranks as on reference. A window beyond ``max_rows`` rows is resampled at
``max_rows`` rows on both sides and each resample's per-bin means are rescaled to the
window's size (the m-out-of-n bootstrap of :mod:`leanloop.measure.bootstrap`), so a
million-row window costs what a ``max_rows`` one does.

Examples
--------
>>> import numpy as np
>>> y = np.array([0, 0, 1, 1])
>>> proba = np.array([[0.9, 0.1], [0.6, 0.4], [0.3, 0.7], [0.2, 0.8]])
>>> round(expected_calibration_error(y, proba, bins=2), 4)  # all right, 75 % sure on average
0.25
>>> [(b.rows, round(b.confidence, 2), b.accuracy) for b in reliability(y, proba, bins=2)]
[(4, 0.75, 1.0)]
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
from leanloop.measure.distinct import by_distinct

if TYPE_CHECKING:
    import numpy as np

__all__ = ["ReliabilityBin", "CalibrationShift", "reliability", "expected_calibration_error", "calibration_shift"]


class ReliabilityBin(BaseModel):
    """One confidence bin: mean top-label confidence, share correct, rows."""

    model_config = ConfigDict(frozen=True)

    lower: float
    upper: float
    confidence: float
    accuracy: float
    rows: int


class CalibrationShift(BaseModel):
    """The served probabilities' calibration on the labelled window against the
    champion's on its holdout."""

    model_config = ConfigDict(frozen=True)

    #: ECE of the window's served probabilities, with its bootstrap interval
    window: Interval
    #: ECE of the champion on its holdout (all its rows)
    reference: float
    #: window ECE minus the reference's ECE at the window's size, with its interval
    shift: Interval
    window_rows: int
    reference_rows: int
    bins: int
    #: the window's reliability table
    reliability: list[ReliabilityBin]


def _binned(y_true: Any, probabilities: np.ndarray, classes: Any, bins: int) -> tuple[np.ndarray, ...]:
    """Each row's top-label confidence, whether that label is right, and its bin."""
    import numpy as np

    probabilities = np.asarray(probabilities, dtype=float)
    classes = np.arange(probabilities.shape[1]) if classes is None else np.asarray(classes)
    confidence = probabilities.max(axis=1)
    # compared as text: logged labels and a model's classes may differ in type (1 vs "1");
    # one text per distinct label, not a fixed-width text copy of every row (2 x 84 MB at 1M rows)
    names = np.empty(len(classes), dtype=object)
    names[:] = [str(c) for c in classes.tolist()]
    truth = y_true if isinstance(y_true, list | np.ndarray) else list(y_true)
    correct = (names[probabilities.argmax(axis=1)] == by_distinct(truth, str)).astype(float)
    edges = np.linspace(0.0, 1.0, bins + 1)
    which = np.clip(np.searchsorted(edges, confidence, side="left") - 1, 0, bins - 1)
    return confidence, correct, which


def reliability(y_true: Any, probabilities: np.ndarray, classes: Any = None, bins: int = 10) -> list[ReliabilityBin]:
    """The top-label reliability table: rows binned by their highest probability.

    ``classes`` is the column order of ``probabilities`` (default ``0..k-1``); empty
    bins are left out.
    """
    import numpy as np

    confidence, correct, which = _binned(y_true, probabilities, classes, bins)
    edges = np.linspace(0.0, 1.0, bins + 1)
    table = []
    for b in range(bins):
        mask = which == b
        if mask.any():
            table.append(ReliabilityBin(lower=float(edges[b]), upper=float(edges[b + 1]),
                                        confidence=float(confidence[mask].mean()),
                                        accuracy=float(correct[mask].mean()), rows=int(mask.sum())))
    return table


def expected_calibration_error(y_true: Any, probabilities: np.ndarray, classes: Any = None, bins: int = 10) -> float:
    """ECE: the rows-weighted mean gap between confidence and accuracy over the bins."""
    table = reliability(y_true, probabilities, classes, bins)
    rows = sum(b.rows for b in table)
    return sum(b.rows * abs(b.confidence - b.accuracy) for b in table) / rows if rows else 0.0


class _Gaps:
    """Each row's confidence minus correctness and its bin: as an ``(n, bins)`` table
    with the gap in its bin's column (ECE of weights ``W`` is
    ``|W @ table|.sum(axis=1) / W.sum(axis=1)``), for all rows or some."""

    def __init__(self, y_true: Any, probabilities: np.ndarray, classes: Any, bins: int) -> None:
        confidence, correct, self.which = _binned(y_true, probabilities, classes, bins)
        self.gap, self.bins = confidence - correct, bins

    def __len__(self) -> int:
        return len(self.gap)

    def table(self, rows: np.ndarray | None = None) -> np.ndarray:
        """The ``(n, bins)`` table of ``rows`` (default: every row)."""
        import numpy as np

        gap, which = (self.gap, self.which) if rows is None else (self.gap[rows], self.which[rows])
        table = np.zeros((len(gap), self.bins))
        table[np.arange(len(gap)), which] = gap
        return table

    def sums(self) -> np.ndarray:
        """The table's column sums, without the table: a column sum adds the rows in
        order, as the bin counts do (the same sums, bit for bit)."""
        import numpy as np

        return np.bincount(self.which, weights=self.gap, minlength=self.bins)


def _ece_draws(gaps: np.ndarray, draws: int, size: int, rng: np.random.Generator,
               toward: tuple[np.ndarray, int] | None = None) -> np.ndarray:
    """ECE of ``draws`` resamples of ``size`` rows each (with replacement) from ``gaps``;
    with ``toward`` ``(per-bin means of all rows, n)``, of ``n`` rows each instead, each
    resample's per-bin means rescaled (:func:`~leanloop.measure.bootstrap.rescaled_means`)."""
    import numpy as np

    n = len(gaps)
    block = max(1, BLOCK_CELLS // max(n, size))
    found: list[np.ndarray] = []
    done = 0
    own = None if toward is None else gaps.mean(axis=0)
    while done < draws:
        count = min(block, draws - done)
        weights = bootstrap_counts(n, count, rng, size)
        if toward is None or own is None:
            found.append(np.abs(weights @ gaps).sum(axis=1) / weights.sum(axis=1))
        else:
            means = rescaled_means(weights @ gaps / size, toward[0], own, size, toward[1])
            found.append(np.abs(means).sum(axis=1))
        done += count
    return np.concatenate(found)


def calibration_shift(reference_truth: Any, reference_proba: np.ndarray, window_truth: Any,
                      window_proba: np.ndarray, classes: Any = None, *, bins: int = 10,
                      options: BootstrapOptions | None = None) -> CalibrationShift:
    """The window's ECE against the reference's (see the module docs); both samples
    must be non-empty, their probability columns in ``classes`` order.

    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> p = rng.uniform(0.5, 1.0, 4000)
    >>> honest = rng.random(4000) < p                       # right as often as it says
    >>> proba = np.column_stack([1 - p, p])
    >>> same = calibration_shift(honest.astype(int), proba, honest[:1000].astype(int), proba[:1000],
    ...                          options=BootstrapOptions(resamples=200))
    >>> same.shift.lower < 0.0 < same.shift.upper           # no calibration lost
    True
    >>> worse = calibration_shift(honest.astype(int), proba, np.ones(1000, int), proba[1000:2000],
    ...                           options=BootstrapOptions(resamples=200))  # now right every time
    >>> round(worse.window.value, 2), worse.shift.lower > 0.1
    (0.26, True)
    """
    import numpy as np

    options = options or BootstrapOptions()
    ref_gaps = _Gaps(reference_truth, reference_proba, classes, bins)
    win_gaps = _Gaps(window_truth, window_proba, classes, bins)
    if not len(ref_gaps) or not len(win_gaps):
        raise ValueError("calibration_shift needs rows on both sides: reference and window must not be empty")
    rng = np.random.default_rng(options.seed)
    n = len(win_gaps)
    picked = subsample_rows(n, options)
    ref_sums, win_sums = ref_gaps.sums(), win_gaps.sums()
    if picked is None:
        win_draws = _ece_draws(win_gaps.table(), options.resamples, n, rng)
        ref_draws = _ece_draws(ref_gaps.table(), options.resamples, n, rng)
    else:
        # A window beyond max_rows: both sides resampled at max_rows rows, their per-bin
        # means rescaled to the window's size (the reference from a subsample too when
        # larger); the window's table is made of the sampled rows only.
        m = len(picked)
        ref_rows = subsample_rows(len(ref_gaps), options.model_copy(update={"seed": options.seed + 1}))
        win_draws = _ece_draws(win_gaps.table(picked), options.resamples, m, rng, (win_sums / n, n))
        ref_draws = _ece_draws(ref_gaps.table(ref_rows), options.resamples, m, rng, (ref_sums / len(ref_gaps), n))
    window_ece = float(np.abs(win_sums).sum() / n)
    reference_ece = float(np.abs(ref_sums).sum() / len(ref_gaps))
    # the point estimate subtracts the reference's ECE at the window's size (its mean
    # over the m-out-of-n draws), so a small window is not taken for a miscalibrated one;
    # the window's draws are centred on its own ECE (resampling adds binning noise again)
    shift = window_ece - float(ref_draws.mean())
    centred = win_draws - (float(win_draws.mean()) - window_ece)
    return CalibrationShift(
        window=percentile_interval(window_ece, win_draws, options.confidence), reference=reference_ece,
        shift=percentile_interval(shift, centred - ref_draws, options.confidence),
        window_rows=len(win_gaps), reference_rows=len(ref_gaps), bins=bins,
        reliability=reliability(window_truth, window_proba, classes, bins),
    )
