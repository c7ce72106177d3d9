"""One window of production measured against the champion's reference data.

:func:`measure_window` orchestrates: it reads the window while it reads the champion's
reference and fits what the slices share (the reference's scores, PCA drift, the
estimator) in the meantime, then measures the whole window and each chunk with
:func:`~leanloop.measure.slice.measure_frames` and adds what only the whole window
reports (stream detectors, weak segments, hard cases). The records it returns live in
:mod:`leanloop.measure.records` (re-exported here); the log adapter in
:mod:`leanloop.measure.logged`.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import wraps
from typing import TYPE_CHECKING, Any, ParamSpec, TypeVar

from leanloop.errors import NotFoundError
from leanloop.measure.bootstrap import shared_resamples
from leanloop.measure.chunking import chunk_by_count, chunk_by_period
from leanloop.measure.columnar import (
    cached_baseline,
    cached_reference_scored,
    cached_scored,
    reference_key,
    stored_on,
)
from leanloop.measure.distinct import column_list, shared_factorizations
from leanloop.measure.estimation.champion import fit_champion_estimator
from leanloop.measure.hard_cases import weak_spots
from leanloop.measure.harm import (
    accuracy_attribution,
    calibration_against_holdout,
    finding,
    kpi_attribution,
)
from leanloop.measure.labels import label_coverage, label_delay
from leanloop.measure.logged import logged_scored
from leanloop.measure.memory import release_freed_memory
from leanloop.measure.multivariate import PcaDrift
from leanloop.measure.outputs import prediction_signal
from leanloop.measure.records import Chunk, Frames, Measurement, Performance, SliceResult, Window
from leanloop.measure.rows import row_outcomes
from leanloop.measure.slice import ColumnsHook, SliceFrames, measure_frames
from leanloop.measure.stream import StreamResult, StreamSignal, detect_changes
from leanloop.scoring import Scored, model_input, score

if TYPE_CHECKING:
    import pandas as pd

    from leanloop.config import ProjectConfig
    from leanloop.measure.estimation.champion import ChampionEstimator
    from leanloop.registry import ModelVersion
    from leanloop.workspace import Workspace

_P = ParamSpec("_P")
_R = TypeVar("_R")

__all__ = ["Window", "Performance", "SliceResult", "Chunk", "Measurement", "Frames", "measure_window",
           "measure_frames", "logged_scored", "row_times"]


def _iso(seconds: float | None) -> str | None:
    return None if seconds is None else datetime.fromtimestamp(float(seconds), UTC).isoformat()


def row_times(frame: pd.DataFrame, by_event: bool) -> pd.Series:
    """Each row's time in epoch seconds: its event time where it carries one when
    ``by_event``, else its arrival (``created_at``).

    >>> import pandas as pd
    >>> frame = pd.DataFrame({"created_at": [10.0, 20.0], "event_at": [1.0, None]})
    >>> row_times(frame, True).tolist(), row_times(frame, False).tolist()
    ([1.0, 20.0], [10.0, 20.0])
    """
    arrival = frame["created_at"].astype(float)
    if not by_event or "event_at" not in frame:
        return arrival
    return frame["event_at"].astype(float).fillna(arrival)


def _span(frame: pd.DataFrame, by_event: bool) -> tuple[str | None, str | None]:
    """First and last time of ``frame``'s rows as ISO text (None when empty)."""
    if not len(frame):
        return None, None
    times = row_times(frame, by_event)
    return _iso(times.min()), _iso(times.max())


def _stream(config: ProjectConfig, window: pd.DataFrame, by_event: bool) -> list[StreamResult] | None:
    """River detectors over the per-prediction loss (labelled rows) and the prediction stream."""
    import numpy as np

    if not config.stream.enabled or window.empty:
        return None
    task, classes = config.data.task, config.data.classes
    ids, times = window["prediction_id"].to_numpy(), row_times(window, by_event).to_numpy(dtype=float)
    results = detect_changes(prediction_signal(logged_scored(window, task, classes), task),
                             signal=StreamSignal.PREDICTION, ids=ids, times=times, options=config.stream)
    rows = np.flatnonzero(window["label"].notna().to_numpy())
    if len(rows):
        labelled = window if len(rows) == len(window) else window.iloc[rows]  # no copy of a labelled window
        scored = logged_scored(labelled, task, classes)
        loss = row_outcomes(column_list(labelled["label"]), scored.labels, None, config.data, config.kpi).error
        results += detect_changes(loss, signal=StreamSignal.LOSS, rows=rows, ids=ids[rows],
                                  times=times[rows], options=config.stream)
    return results


def _chunks(measure: Any, window: pd.DataFrame, chunks: int, period: str | None,
            by_event: bool) -> list[Chunk] | None:
    """Each chunk of ``window`` measured on its own (``measure``: a slice to its :class:`Frames`);
    periods by each row's time, so a late event lands in the period it happened in."""
    slices = (chunk_by_period(row_times(window, by_event).to_numpy(dtype=float), period) if period
              else chunk_by_count(len(window), chunks) if chunks else None)
    if slices is None:
        return None
    found = []
    for part in slices:
        piece = window.iloc[part.positions]
        result: Frames = measure(piece)
        start, end = _span(piece, by_event)
        found.append(Chunk(start=start, end=end, rows=len(piece), labelled=result.labelled, period=part.label,
                           coverage=label_coverage(piece), label_delay=label_delay(piece),
                           **result.slice_fields()))
    return found


def _one_blas_thread(measure: Callable[_P, _R]) -> Callable[_P, _R]:
    """``measure`` with BLAS on one thread: a window's matrix products are small and
    memory-bound, and OpenBLAS's idle threads spinning beside them cost a 10k-row
    window 1 s of CPU and wall time on two cores (4.8 s against 3.7 s)."""

    @wraps(measure)
    def limited(*args: _P.args, **kwargs: _P.kwargs) -> _R:
        from threadpoolctl import threadpool_limits

        with threadpool_limits(limits=1, user_api="blas"):
            return measure(*args, **kwargs)

    return limited


@_one_blas_thread
@shared_resamples()
@shared_factorizations()
def measure_window(ws: Workspace, *, last: int | None = None, since: float | None = None,
                   chunks: int = 0, period: str | None = None, window: pd.DataFrame | None = None,
                   loaded: tuple[Any, Any] | None = None, until: float | None = None,
                   labels_after: float | None = None, columns: ColumnsHook | None = None) -> Measurement:
    """Measure the last ``last`` predictions (default: the configured window), or those
    since ``since`` (and before ``until``; epoch seconds), against the champion's training
    data; also per chunk: ``chunks`` parts by count, or calendar bins of ``period`` (e.g.
    "1D"). Times are event times when the project's windows go by them
    (:attr:`~leanloop.workspace.Workspace.by_event`).

    A caller that already read the window from the store (``window``, as
    :meth:`~leanloop.store.SQLStore.window` returns it) or loaded the champion's
    ``(model, baseline)`` (``loaded``) passes them so they are not read again.
    ``labels_after`` (epoch seconds): labels that arrived later are the labelled
    window's ``new_labels`` (the loop passes when the last cycle that counted judged).
    ``columns``: where the whole window's feature drift and data quality are computed
    (an engine's, e.g. :func:`leanloop.engines.dask_window.dask_columns`; default here)."""
    config = ws.config
    champion = ws.registry.champion()
    # Another host may have built the champion: fetch its reference and test data (a
    # no-op when they are here, or on a store that keeps no files).
    ws.registry.fetch(champion)
    if since is None and last is None and until is None:
        last = config.measure.window_rows
    by_event = ws.by_event
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="leanloop-window") as reader:
        # The window is read while the champion's side is loaded and fitted below: the
        # read waits on SQLite and Parquet decoding, which let go of the GIL, and the
        # champion's side is mostly imports and small fits (1M rows: 1 s of 11 s).
        reading = reader.submit(_read, ws, window, last=last, since=since, until=until)
        side = _champion_side(ws, champion, loaded)
        window = reading.result()
    reference, holdout, holdout_scored = side.reference, side.holdout, side.holdout_scored
    estimator = side.estimator if len(window) else None

    def measure(piece: pd.DataFrame) -> Frames:
        return measure_frames(config, reference, piece, side.reference_scored, side.baseline, side.pca, estimator,
                              outputs_reference=holdout_scored)

    labelled = _labelled_window(ws, window, last=last, since=since, until=until)
    frames = SliceFrames.of(config, window) if len(window) else None  # shared with the weak spots
    whole = measure_frames(config, reference, window, side.reference_scored, side.baseline, side.pca, estimator,
                           labelled=labelled, outputs_reference=holdout_scored, columns=columns, frames=frames)
    if frames is not None:
        frames.keep_model_frame_only()  # the weak spots read the model frame only
    release_freed_memory()  # the slice's arrays, freed but kept by the heap: 200 MB at 1M rows
    drifted = sorted(whole.drifted)
    spots = weak_spots(config, reference=reference, window=window, drifted=drifted, labelled=labelled,
                       model_frame=frames.all() if frames is not None else None)
    release_freed_memory()
    split = kpi_attribution(config, holdout, holdout_scored, labelled)
    start, end = _span(window, by_event)
    return Measurement(
        **{**whole.slice_fields(), "performance": whole.performance.model_copy(update={"reference": champion.metrics})},
        window=Window(start=start, end=end, rows=len(window), labelled=int(window["label"].notna().sum()),
                      coverage=label_coverage(window), label_delay=label_delay(window)),
        labelled_window=_labelled_record(window, labelled, by_event, labels_after), kpi_attribution=split,
        calibration=calibration_against_holdout(config, holdout, holdout_scored, labelled),
        accuracy_attribution=accuracy_attribution(config, holdout, holdout_scored, labelled),
        label_rule=champion.decision.value,
        finding=finding(split, config.data.target,
                        tolerance=0.0 if split is None else config.policy.max_kpi_drop * abs(split.reference)),
        champion=champion.version, served_by=_served(window),
        drifted_features=drifted, prediction_drift=whole.prediction_drift, baseline_kpis=whole.baseline_kpis,
        reference_kpis={k: v for k, v in champion.kpi.items() if not k.startswith("baseline_")},
        chunks=_chunks(measure, window, chunks, period, by_event), stream=_stream(config, window, by_event),
        segments=spots.segments, segment_rows=spots.segment_rows, hard_cases=spots.counts(),
        hard_case_rows=spots.hard_cases, baseline_kpi_intervals=whole.baseline_kpi_intervals,
        kpi_gain=whole.kpi_gain,
    )


@dataclass(frozen=True)
class _ChampionSide:
    """What a window is measured against, ready before the window is read."""

    reference: pd.DataFrame
    reference_scored: Scored
    pca: Any
    estimator: ChampionEstimator | None
    holdout: pd.DataFrame | None
    holdout_scored: Scored | None
    baseline: Any


def _champion_side(ws: Workspace, champion: ModelVersion, loaded: tuple[Any, Any] | None) -> _ChampionSide:
    """The champion's reference rows and its outputs there, the PCA drift fitted on them,
    the performance estimator, the holdout and its outputs, and the baseline; its models
    (``loaded``, or loaded from the registry) are scored only on a cache miss."""
    config, task = ws.config, ws.config.data.task.value
    reference = _reference(ws, champion.train_data, config.measure.reference_max_rows, config.model.seed)
    models = _Models(ws, champion.version, loaded)  # loaded only on a cache miss
    key = reference_key(champion.version, champion.sha256, config.measure.reference_max_rows, config.model.seed)
    cache = ws.paths.workspace / "cache"
    out_of_fold = ws.paths.datasets / champion.out_of_fold_data  # a cross-fitted champion's, on its test rows

    def scored(rows: pd.DataFrame, what: str) -> Scored:
        return score(models.model(), model_input(config.schema_, rows, champion.input_format, what), task)

    holdout = _holdout(ws, champion.test_data)
    return _ChampionSide(
        reference=reference,
        reference_scored=cached_reference_scored(cache, key, lambda: scored(reference, "reference data")),
        pca=_fit_pca(config, reference),
        estimator=fit_champion_estimator(ws, champion, None, lambda test: cached_scored(
            cache, "test", key, lambda: stored_on(out_of_fold, test.index, lambda: scored(test, "test data")))),
        holdout=holdout,
        holdout_scored=None if holdout is None or holdout.empty else cached_scored(
            cache, "holdout", key, lambda: stored_on(out_of_fold, holdout.index, lambda: scored(holdout, "holdout"))),
        baseline=loaded[1] if loaded is not None else cached_baseline(
            cache, key, models.baseline, config.schema_.model_frame(reference.head(1), "reference data"), task),
    )


def _read(ws: Workspace, window: pd.DataFrame | None, *, last: int | None, since: float | None,
          until: float | None) -> pd.DataFrame:
    """The window to measure (read from the log unless given), indexed 0..n-1; what
    reading it freed goes back to the system (110 MB at 1M rows)."""
    if window is None:
        window = ws.window(last=last, since=since, until=until, proba_columns=True)
    window = window.reset_index(drop=True)
    release_freed_memory()
    return window


def _served(window: pd.DataFrame) -> dict[str, int]:
    """Rows of the window each model version answered."""
    served = window["model_version"].value_counts().to_dict() if len(window) else {}
    return {str(k): int(v) for k, v in served.items()}


class _Models:
    """The champion's model and baseline, loaded from the registry when first asked for
    (``loaded``: already loaded by the caller)."""

    def __init__(self, ws: Workspace, version: str, loaded: tuple[Any, Any] | None) -> None:
        self.ws, self.version, self.loaded = ws, version, loaded

    def _load(self) -> tuple[Any, Any]:
        if self.loaded is None:
            self.loaded = self.ws.registry.load(self.version)
        return self.loaded

    def model(self) -> Any:
        return self._load()[0]

    def baseline(self) -> Any:
        return self._load()[1]


def _labelled_window(ws: Workspace, window: pd.DataFrame, *, last: int | None,
                     since: float | None, until: float | None = None) -> pd.DataFrame:
    """The newest labelled rows, wherever they fall in time: ``[measure]
    labelled_window_rows`` of them (else as many as the window's rows), none older than
    ``since`` or ``labelled_max_age_days`` before the newest prediction."""
    options = ws.config.measure
    if window.empty:
        return window
    oldest = since
    if options.labelled_max_age_days is not None:
        limit = float(row_times(window, ws.by_event).max()) - options.labelled_max_age_days * 86_400.0
        oldest = limit if oldest is None else max(oldest, limit)
    rows = options.labelled_window_rows or last or options.window_rows
    # The newest labelled rows are the window's own when it holds enough of them (or
    # holds every row since ``since``): the log is not read a second time.
    labelled = window["label"].notna().to_numpy(copy=True)
    if oldest is not None:
        labelled &= row_times(window, ws.by_event).to_numpy(dtype=float) >= oldest
    if labelled.sum() >= rows or (last is None and since is not None):
        if labelled.all() and rows >= len(window):
            return window  # every row: a copy of a 1M-row window cost 0.4 GB at the peak
        return window[labelled].iloc[-rows:].reset_index(drop=True)
    return ws.window(last=rows, since=oldest, until=until, labelled_only=True,
                     proba_columns=True).reset_index(drop=True)


def _labelled_record(window: pd.DataFrame, labelled: pd.DataFrame, by_event: bool,
                     labels_after: float | None) -> Window:
    """The labelled window's span, size, label delay, age behind the newest prediction,
    when its newest label arrived, and how many of its labels arrived after ``labels_after``."""
    start, end = _span(labelled, by_event)
    if labelled.empty:
        return Window(start=None, end=None, rows=0, labelled=0)
    age = float(row_times(window, by_event).max()) - float(row_times(labelled, by_event).max())
    return Window(start=start, end=end, rows=len(labelled), labelled=len(labelled), coverage=1.0,
                  label_delay=label_delay(labelled), age_seconds=max(age, 0.0),
                  labels_until=float(labelled["received_at"].max()),
                  new_labels=len(labelled) if labels_after is None
                  else int((labelled["received_at"].astype(float) > labels_after).sum()))


def _holdout(ws: Workspace, test_data: str | None) -> pd.DataFrame | None:
    """The champion's holdout (its reference metrics' rows), None when it has none."""
    import pandas as pd

    if not test_data or not (ws.paths.datasets / test_data).is_file():
        return None
    return pd.read_parquet(ws.paths.datasets / test_data)


def _fit_pca(config: ProjectConfig, reference: pd.DataFrame) -> Any:
    """PCA drift fitted once per window on the reference (``None`` when off or too small)."""
    options = config.multivariate
    if not options.enabled or len(reference) < 2 * options.pca_chunks:
        return None
    return PcaDrift(options).fit(reference, config.schema_)


def _reference(ws: Workspace, train_data: str | None, max_rows: int, seed: int) -> pd.DataFrame:
    import pandas as pd

    if not train_data or not (ws.paths.datasets / train_data).is_file():
        raise NotFoundError("the champion has no reference data in the workspace; rebuild or re-adopt it")
    frame = pd.read_parquet(ws.paths.datasets / train_data)
    if len(frame) > max_rows:
        frame = frame.sample(n=max_rows, random_state=seed)
    return frame
