"""A batch file scored end to end (``leanloop predict``), and a frame scored in memory
(``Project.predict``).

:func:`predict_file` reads the input in chunks, judges and scores each
(:class:`~leanloop.batch.score.ChunkScorer`), appends the output rows to a temporary
file renamed into place at the end, and logs the rows as predictions through the
store's group insert (one transaction per chunk), the path the server's writer takes.
Memory holds a chunk at a time, whatever the file's size.

All or nothing: when the rows are logged and bad rows stop the run, the whole file
is judged first, so a bad row anywhere stops it before anything is logged or written.
With ``skip_invalid`` bad rows cannot stop it (they go to the rejects file), and
without logging nothing lasting happens before the rename: both take one pass.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field

from leanloop.batch.files import InputFile, OutputFile
from leanloop.batch.score import ChunkScorer, JudgedChunk, ScoredChunk
from leanloop.batch.validate import Problem
from leanloop.config.limits import MAX_ROWS
from leanloop.errors import DataError, InputError
from leanloop.schema import FeatureKind, Schema

if TYPE_CHECKING:
    import pandas as pd

    from leanloop.store.predictions import LogColumns
    from leanloop.workspace import Workspace

__all__ = ["BatchOptions", "BatchResult", "batch_result", "chunk_scorer", "default_output", "finish_in_threads",
           "output_paths",
           "predict_file", "predict_frame", "read_columns", "refusal", "write_scored"]


class BatchOptions(BaseModel):
    """How a batch file is scored (``leanloop predict``'s options)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    output: Path | None = Field(None, description="Where the predictions go (default: INPUT.predictions.<suffix>).")
    version: str | None = Field(None, description="The model version to score with (default: the champion).")
    log: bool = Field(True, description="Log the rows as predictions (source 'batch').")
    skip_invalid: bool = Field(False, description="Write bad rows to the rejects file instead of stopping.")
    rejects: Path | None = Field(None, description="Where bad rows go with skip_invalid (default: OUTPUT.rejects.csv).")
    chunk_rows: int = Field(100_000, ge=1, le=MAX_ROWS, description="Rows read, scored and logged at a time.")


class BatchResult(BaseModel):
    """What a batch run did."""

    model_config = ConfigDict(frozen=True)

    input: str
    output: str
    rejects: str | None
    model_version: str
    rows: int = Field(description="data rows read")
    scored: int = Field(description="rows scored and written to the output")
    rejected: int = Field(description="bad rows written to the rejects file")
    logged: int = Field(description="rows logged as predictions")
    flagged: dict[str, dict[str, int]] = Field(description="unseen categories and out-of-range numbers accepted")
    seconds: float
    rows_per_second: float

    def to_json(self) -> dict[str, Any]:
        """The stable JSON shape (``leanloop predict --json``)."""
        return self.model_dump(mode="json")


def default_output(path: Path) -> Path:
    """``data.csv`` -> ``data.predictions.csv``.

    >>> default_output(Path("jobs/day.parquet")).as_posix()
    'jobs/day.predictions.parquet'
    """
    return path.with_name(f"{path.stem}.predictions{path.suffix}")


def output_paths(path: Path, options: BatchOptions) -> tuple[Path, Path | None]:
    """The output file and, with ``skip_invalid``, the rejects file of a run on ``path``
    (a Parquet folder's default output is ``FOLDER.predictions.parquet``)."""
    target = Path(options.output) if options.output is not None \
        else path.with_name(f"{path.name}.predictions.parquet") if path.is_dir() else default_output(path)
    if target.resolve() == path.resolve():
        raise InputError(f"the output {target} is the input; give another -o/--output")
    rejects = (options.rejects or target.with_name(f"{target.stem}.rejects.csv")) if options.skip_invalid else None
    return target, rejects


def chunk_scorer(ws: Workspace, version: str | None = None, *, source: str = "batch") -> ChunkScorer:
    """A :class:`ChunkScorer` for the champion (or ``version``) of ``ws``."""
    record = ws.registry.champion() if version is None else ws.registry.get(version)
    model, _ = ws.registry.load(record.version)
    data = ws.config.data
    return ChunkScorer(model=model, version=record.version, schema=Schema.model_validate(record.schema_),
                       task=data.task.value, classes=data.classes, serve=ws.config.serve,
                       input_format=record.input_format, id_column=data.id_column, time_column=data.time_column,
                       source=source, id_type=data.id_type)


def read_columns(scorer: ChunkScorer, source: InputFile) -> tuple[list[str], list[str]]:
    """The columns to read (features, then id and time when the file has them) and those read as text."""
    source.require(scorer.schema.names, "model's features")
    extra = [c for c in (scorer.id_column, scorer.time_column) if c and c in source.columns
             and c not in scorer.schema.names]
    text = scorer.schema.of_kind(FeatureKind.CATEGORICAL, FeatureKind.BOOLEAN, FeatureKind.DATETIME)
    return scorer.schema.names + extra, text + ([scorer.id_column] if scorer.id_column in extra else [])


def refusal(problem: Problem, name: str, more: int) -> DataError:
    also = f" ({more} more bad rows)" if more else ""
    return DataError(f"{name}: {problem.text()}{also}; rows count from 0 after the header. Nothing was written or "
                     "logged: fix the rows, or pass --skip-invalid to score the rest and write the bad rows to a "
                     "rejects file")


def _prejudge(scorer: ChunkScorer, source: InputFile, columns: list[str], text: list[str]) -> None:
    """Judge the whole file before anything is logged; raise on its first bad row."""
    from dataclasses import replace

    from leanloop.row_keys import Zones

    judge = replace(scorer, zones=Zones())  # the run itself starts the zone habit afresh
    first, count, start = None, 0, 0
    for chunk in source.chunks(columns, text=text):
        checked = judge.judge(chunk, first_row=start).checked
        count += int(checked.bad.sum())
        first = first or (checked.problems[0] if checked.problems else None)
        start += len(chunk)
    if first is not None:
        raise refusal(first, source.path.name, count - 1)


def predict_file(ws: Workspace, path: str | Path, options: BatchOptions | None = None, *,
                 progress: Callable[[int], None] | None = None) -> BatchResult:
    """Score the CSV or Parquet file at ``path`` with the project's champion (see the module)."""
    options = options or BatchOptions()
    started = time.perf_counter()
    path = Path(path)
    source = InputFile.open(path, chunk_rows=options.chunk_rows)
    target, rejects = output_paths(path, options)
    scorer = chunk_scorer(ws, options.version)
    columns, text = read_columns(scorer, source)
    if options.log and not options.skip_invalid:
        _prejudge(scorer, source, columns, text)
    rows = [0]  # the rows judged so far: the next chunk's first row number

    def judged() -> Iterator[tuple[JudgedChunk, pd.DataFrame]]:
        for chunk in source.chunks(columns, text=text):
            yield scorer.judge(chunk, first_row=rows[0]), chunk
            rows[0] += len(chunk)

    totals, flagged = write_scored(ws, finish_in_threads(scorer, judged(), log=options.log), scorer=scorer,
                                   columns=columns, target=target, rejects=rejects, options=options, name=path.name,
                                   progress=progress)
    return batch_result(path, target, rejects, scorer.version, totals, flagged, started=started)


def finish_in_threads(scorer: ChunkScorer, judged: Iterable[tuple[JudgedChunk, pd.DataFrame]], *, log: bool,
                      threads: int = 2) -> Iterator[tuple[ScoredChunk, pd.DataFrame]]:
    """Chunks judged in file order, finished (scored, output and log records built) on
    ``threads`` threads and handed on in file order, at most ``threads + 1`` at a time.

    The model call, NumPy and Arrow's reading and writing leave the interpreter lock, so
    one chunk is scored while another is built, the next read and judged and the last
    written. Chunks are judged before, in order, because the file's zone habit carries
    from chunk to chunk; finishing a chunk holds no state.
    """
    from collections import deque
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=threads, thread_name_prefix="leanloop-batch-score") as pool:
        pending: deque[tuple[Any, pd.DataFrame]] = deque()
        for checked, chunk in judged:
            pending.append((pool.submit(scorer.finish, checked, log=log), chunk))
            if len(pending) > threads:
                future, first = pending.popleft()
                yield future.result(), first
        while pending:
            future, first = pending.popleft()
            yield future.result(), first


def write_scored(ws: Workspace, scored: Iterable[tuple[ScoredChunk, pd.DataFrame]], *, scorer: ChunkScorer,
                 columns: list[str], target: Path, rejects: Path | None, options: BatchOptions, name: str,
                 progress: Callable[[int], None] | None) -> tuple[dict[str, int], dict[str, dict[str, int]]]:
    """Write scored chunks (in input order) to the output and rejects files and log their
    records, committing the files only when every chunk is in: the one writer of both
    engines (the local reader here, the Dask client in :mod:`leanloop.engines.dask_batch`).
    Returns the run's counts and its flagged values per feature."""
    totals = {"rows": 0, "scored": 0, "rejected": 0, "logged": 0}
    flagged: dict[str, dict[str, int]] = {}
    with no_gc(), OutputFile(target) as out, Rejects(rejects) as bad, BatchLogger(ws) as logger:
        for done, chunk in scored:
            if done.problems and not options.skip_invalid:
                raise refusal(done.problems[0], name, int(done.bad.sum()) - 1)
            out.write(done.output)
            bad.write(chunk, done)
            logger.log(done.records)
            add_counts(totals, flagged, done)
            if progress is not None:
                progress(len(done.bad))
        if totals["rows"] == 0:
            out.write(scorer(source_empty(columns), first_row=0, log=False).output)
        totals["logged"] = logger.finish()
        bad.commit()
        out.commit()
    return totals, flagged


def batch_result(path: str | Path, target: Path, rejects: Path | None, version: str, totals: dict[str, int],
                 flagged: dict[str, dict[str, int]], *, started: float) -> BatchResult:
    """The summary of a run that began at ``started`` (``time.perf_counter``)."""
    seconds = time.perf_counter() - started
    return BatchResult(input=str(path), output=str(target), rejects=None if rejects is None else str(rejects),
                       model_version=version, flagged=flagged, seconds=round(seconds, 3),
                       rows_per_second=round(totals["rows"] / seconds, 1) if seconds else 0.0, **totals)


class BatchLogger:
    """Logs each chunk's records on a thread of its own while the next chunk is read and
    scored: SQLite's insert runs without the interpreter lock, so the two overlap (one
    chunk in flight at most, so memory holds two chunks' records at the most)."""

    def __init__(self, ws: Workspace) -> None:
        self.ws = ws
        self.pool: Any = None
        self.pending: Any = None
        self.logged = 0

    def __enter__(self) -> BatchLogger:
        from concurrent.futures import ThreadPoolExecutor

        self.pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="leanloop-batch-log")
        return self

    def log(self, records: LogColumns) -> None:
        """Wait for the previous chunk's transaction, then start this one's."""
        self._wait()
        if len(records):
            self.pending = self.pool.submit(self.ws.store.log_columns, records)

    def _wait(self) -> None:
        if self.pending is not None:
            pending, self.pending = self.pending, None
            self.logged += pending.result()  # a store error surfaces here, before the output is renamed

    def finish(self) -> int:
        """Wait for the last transaction; the rows logged."""
        self._wait()
        return self.logged

    def __exit__(self, *exc: Any) -> None:
        self.pool.shutdown(wait=True)


@contextmanager
def no_gc() -> Iterator[None]:
    """The cyclic garbage collector paused while chunks are scored: a chunk's log records
    are 100,000 small dicts that hold no cycles, and the collections their creation
    triggers cost more than building them (measured: a third of the logging time)."""
    import gc

    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def source_empty(columns: list[str]) -> pd.DataFrame:
    """An empty chunk of ``columns`` (a file with a header and no rows still gets an output header)."""
    import pandas as pd

    return pd.DataFrame({c: pd.Series([], dtype=object) for c in columns})


def add_counts(totals: dict[str, int], flagged: dict[str, dict[str, int]], done: ScoredChunk) -> None:
    """Add a scored chunk's rows and accepted values to the run's totals."""
    totals["rows"] += len(done.bad)
    totals["scored"] += len(done.output)
    totals["rejected"] += int(done.bad.sum())
    for feature, counts in done.flagged.items():
        for flag, n in counts.items():
            flagged.setdefault(feature, {}).setdefault(flag, 0)
            flagged[feature][flag] += n


class Rejects:
    """The rejects file: each bad row's number, columns and problems, then its values as read."""

    def __init__(self, path: Path | None) -> None:
        self.out = None if path is None else OutputFile(path)

    def __enter__(self) -> Rejects:
        if self.out is not None:
            self.out.__enter__()
        return self

    def write(self, chunk: pd.DataFrame, done: ScoredChunk) -> None:
        if self.out is None or (not done.problems and self.out.rows):
            return
        import pandas as pd

        by_row: dict[int, list[Problem]] = {}
        for p in done.problems:
            by_row.setdefault(p.row, []).append(p)
        values = chunk.iloc[done.bad.nonzero()[0]].reset_index(drop=True).astype(object)
        head = pd.DataFrame({"row": list(by_row), "column": [", ".join(p.column for p in ps) for ps in by_row.values()],
                             "problem": ["; ".join(p.problem for p in ps) for ps in by_row.values()]})
        self.out.write(pd.concat([head, values], axis=1))

    def commit(self) -> None:
        if self.out is not None:
            self.out.commit()

    def __exit__(self, *exc: Any) -> None:
        if self.out is not None:
            self.out.__exit__(*exc)


def predict_frame(ws: Workspace, frame: pd.DataFrame, *, log: bool = True, version: str | None = None,
                  source: str = "python") -> pd.DataFrame:
    """Score a data frame in memory: ``prediction_id`` (None unless logged), ``prediction``
    and one ``probability_<class>`` column per class, indexed like ``frame``. A bad row
    raises :class:`~leanloop.errors.InputError` naming its position and column, and
    nothing is logged."""
    scorer = chunk_scorer(ws, version, source=source)
    missing = [n for n in scorer.schema.names if n not in frame.columns]
    if missing:
        raise InputError(f"the frame lacks the model's features {missing}; its columns are {list(frame.columns)}")
    done = scorer(frame.reset_index(drop=True), first_row=0, log=log)
    if done.problems:
        raise InputError(f"{done.problems[0].text()} (rows count from 0); nothing was logged")
    if len(done.records):
        ws.store.log_columns(done.records)
    output = done.output.drop(columns=[c for c in ("row", scorer.id_column) if c in done.output.columns])
    output.index = frame.index
    return output
