"""Streaming change detection: where in the stream did things change?

Window statistics say *whether* a window differs from the reference; River's
streaming detectors say *where*: they read values one at a time, in prediction
order, and signal the row at which the stream's distribution changed.

- ADWIN keeps an adaptive window and cuts it when two sub-windows' means differ
  more than a Hoeffding bound allows (``adwin_delta``);
- Page-Hinkley accumulates deviations from the running mean and fires above
  ``page_hinkley_threshold`` (in the signal's units);
- KSWIN runs a Kolmogorov–Smirnov test between the newest values and a sample of its
  window (``kswin_alpha``, ``kswin_window``), sampled with the seed. One test per row
  costs about a millisecond, so it is not among the default detectors.

Two signals are watched: the per-prediction ``loss`` on labelled rows (0/1 error for
classifiers, absolute error for regressors) and the ``prediction`` itself (the
positive-class probability, the top probability for multiclass, the value for
regression). Each change reports the window row, the prediction id and its time.

Examples
--------
>>> import numpy as np
>>> rng = np.random.default_rng(0)
>>> values = np.r_[rng.normal(0.2, 0.05, 600), rng.normal(0.6, 0.05, 600)]
>>> every = StreamConfig(detectors=list(StreamDetectorKind))
>>> results = detect_changes(values, signal=StreamSignal.PREDICTION, options=every)
>>> [(r.detector.value, [c.row for c in r.changes]) for r in results]
[('adwin', [639]), ('page_hinkley', [742]), ('kswin', [634])]
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from enum import Enum
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict

from leanloop.config import StreamConfig, StreamDetectorKind
from leanloop.measure.page_hinkley import page_hinkley_changes

if TYPE_CHECKING:
    import numpy as np

__all__ = ["StreamSignal", "StreamChange", "StreamResult", "adwin_changes", "detect_changes", "make_detector",
           "page_hinkley_changes"]


class StreamSignal(str, Enum):
    """What stream a detector reads."""

    LOSS = "loss"
    PREDICTION = "prediction"


class StreamChange(BaseModel):
    """One detected change: where it was signalled and the value there."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    row: int
    prediction_id: str | None
    time: str | None
    value: float


class StreamResult(BaseModel):
    """One detector over one signal."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    signal: StreamSignal
    detector: StreamDetectorKind
    n: int
    changes: list[StreamChange]


def make_detector(kind: StreamDetectorKind, options: StreamConfig) -> Any:
    """A fresh River detector of ``kind`` configured from ``options``.

    >>> type(make_detector(StreamDetectorKind.KSWIN, StreamConfig())).__name__
    'KSWIN'
    """
    from river import drift

    if kind is StreamDetectorKind.ADWIN:
        # river types its detectors but leaves ADWIN's constructor unannotated.
        return drift.ADWIN(delta=options.adwin_delta)  # type: ignore[no-untyped-call]
    if kind is StreamDetectorKind.PAGE_HINKLEY:
        return drift.PageHinkley(threshold=options.page_hinkley_threshold, delta=options.page_hinkley_delta)
    return drift.KSWIN(alpha=options.kswin_alpha, window_size=options.kswin_window,
                       stat_size=max(options.kswin_window // 3, 10), seed=options.seed)


def detect_changes(values: Sequence[float] | np.ndarray, *, signal: StreamSignal,
                   rows: Sequence[int] | np.ndarray | None = None,
                   ids: Sequence[Any] | np.ndarray | None = None, times: Sequence[float] | np.ndarray | None = None,
                   options: StreamConfig | None = None) -> list[StreamResult]:
    """Run each configured detector over ``values`` in order; one result per detector.

    ``rows`` maps stream positions to window rows (default: the position itself),
    ``ids`` and ``times`` (epoch seconds) name each position. Missing values are skipped.
    """
    import numpy as np

    options = options or StreamConfig()
    data = np.asarray(values, dtype=float)
    positions = np.arange(len(data)) if rows is None else np.asarray(rows)
    results = []
    observed = data[~np.isnan(data)]  # NaN: nothing observed at this row
    where = np.flatnonzero(~np.isnan(data))
    for kind in options.detectors:
        found = (page_hinkley_changes(observed, options) if kind is StreamDetectorKind.PAGE_HINKLEY
                 else _detector_changes(kind, options, observed.tolist()))
        changes = [StreamChange(
            row=int(positions[i]),
            prediction_id=None if ids is None else str(ids[i]),
            time=None if times is None else datetime.fromtimestamp(float(times[i]), UTC).isoformat(),
            value=float(data[i]),
        ) for i in where[found].tolist()]
        results.append(StreamResult(signal=signal, detector=kind, n=len(observed), changes=changes))
    return results


def _detector_changes(kind: StreamDetectorKind, options: StreamConfig, values: list[float]) -> list[int]:
    """Positions in ``values`` where River's detector of ``kind`` fed them in order signals a change."""
    if kind is StreamDetectorKind.ADWIN:
        return adwin_changes(values, options)
    detector = make_detector(kind, options)
    update, found = detector.update, []
    for i, value in enumerate(values):
        update(value)
        if detector.drift_detected:
            found.append(i)
    return found


def adwin_changes(values: list[float], options: StreamConfig) -> list[int]:
    """Positions in ``values`` where River's ``ADWIN`` (``options.adwin_delta``, River's
    other defaults) signals a change, resets after each change included.

    River's compiled window (``AdaptiveWindowing``, what its ``ADWIN`` wraps) is fed
    directly: ``ADWIN.update`` is a Python call per value around it (1.7 s of the two
    signals of a 1M-row window), and importing ``river.drift`` for the class imports River's
    datasets too (0.27 s of CPU in a measurement, more than the 1M values take).

    >>> adwin_changes([0.0] * 500 + [1.0] * 500, StreamConfig())
    [511]
    """
    try:
        from river._river_rust.drift import AdaptiveWindowing
    except ImportError:  # a River before its Rust core: the window its ADWIN holds
        def window() -> Any:
            return make_detector(StreamDetectorKind.ADWIN, options)._helper
    else:
        def window() -> Any:  # River's ADWIN defaults but delta, as make_detector leaves them
            return AdaptiveWindowing(delta=options.adwin_delta, clock=32, max_buckets=5, min_window_length=5,
                                     grace_period=10)

    found: list[int] = []
    update = window().update
    for i, value in enumerate(values):
        if update(value):
            found.append(i)
            update = window().update  # River's reset on its next update: a fresh window
    return found
