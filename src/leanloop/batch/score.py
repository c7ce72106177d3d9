"""Score one chunk of rows: judge them (the API's rules), score the good ones with one
model call, and build their output rows and the records the store logs.

:class:`ChunkScorer` holds what every chunk shares (the model, its version and schema,
the ``[serve]`` policies, the project's id and time columns); calling it on a chunk
gives a :class:`ScoredChunk`. It is the unit of work of ``leanloop predict`` and of
``Project.predict``, and what an engine that splits a file into partitions calls per
partition. The served label comes from :func:`leanloop.scoring.score` (the one
implementation), and the log records from :func:`~leanloop.batch.records.log_columns`.

Examples
--------
>>> import pandas as pd
>>> from sklearn.dummy import DummyClassifier
>>> from leanloop.config import ServeConfig
>>> from leanloop.schema import Feature, Schema
>>> schema = Schema(features=[Feature(name="x", kind="numeric")])
>>> model = DummyClassifier().fit(pd.DataFrame({"x": [0.0, 1.0, 1.0]}), [0, 1, 1])
>>> scorer = ChunkScorer(model=model, version="v1", schema=schema, task="classification", classes=[0, 1],
...                      serve=ServeConfig(), input_format="encoded", id_column="id")
>>> done = scorer(pd.DataFrame({"x": [3.0, "bad"], "id": [7, 8]}), first_row=0, log=True)
>>> done.output.drop(columns="prediction_id").round(3).to_dict("records")
[{'row': 0, 'id': '7', 'prediction': 1, 'probability_0': 0.333, 'probability_1': 0.667}]
>>> [p.text() for p in done.problems]
["row 1, column 'x': must be a number, got 'bad'"]
>>> record = done.records.to_records()[0]
>>> record["features"], record["row_id"], record["source"]
({'x': 3.0}, '7', 'batch')
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from leanloop.batch.records import log_columns
from leanloop.batch.validate import Checked, Problem, check_chunk
from leanloop.config import IdType
from leanloop.row_keys import RowKeys, Zones, time_seconds
from leanloop.schema import FeatureKind, Schema
from leanloop.scoring import InputFormat, Scored, model_input, score
from leanloop.store.predictions import LogColumns

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

    from leanloop.config import ServeConfig

__all__ = ["ChunkScorer", "JudgedChunk", "ScoredChunk", "probability_column"]


def probability_column(label: Any) -> str:
    """The output column of a class's probability.

    >>> probability_column(1), probability_column("yes")
    ('probability_1', 'probability_yes')
    """
    return f"probability_{label}"


@dataclass(frozen=True)
class ScoredChunk:
    """One chunk scored: the output rows (input order, bad rows left out), the log
    records of those rows (none when not logging), the bad rows' problems, the mask of
    bad rows within the chunk, and the unforeseen values accepted per feature."""

    output: pd.DataFrame
    records: LogColumns
    problems: list[Problem]
    bad: np.ndarray
    flagged: dict[str, dict[str, int]] = field(default_factory=dict)


@dataclass(frozen=True)
class JudgedChunk:
    """One chunk judged: every rule of a row applied (features, event time, id), what
    scoring it needs next. ``events``: each row's event time in epoch seconds (None
    without a time column); ``identities``: the good rows' ids as text (None without an
    id column)."""

    checked: Checked
    events: np.ndarray | None
    identities: list[Any] | None


@dataclass(frozen=True)
class ChunkScorer:
    """Everything the chunks of one batch share; call it on each chunk."""

    model: Any
    version: str
    schema: Schema
    task: str
    classes: list[Any] | None
    serve: ServeConfig
    input_format: InputFormat = InputFormat.ENCODED
    id_column: str | None = None
    time_column: str | None = None
    source: str = "batch"
    zones: Zones = field(default_factory=Zones)
    id_type: IdType | None = None

    def __call__(self, chunk: pd.DataFrame, *, first_row: int, log: bool) -> ScoredChunk:
        """Score ``chunk`` (rows ``first_row``...); with ``log``, each good row gets a
        prediction id and a log record (without, neither: an id nothing logged is useless)."""
        return self.finish(self.judge(chunk, first_row=first_row), log=log)

    def finish(self, judged: JudgedChunk, *, log: bool) -> ScoredChunk:
        """Score a judged chunk's good rows (one model call) and build their output rows
        and log records. It holds no state across chunks, so chunks judged in order may
        be finished on several threads at once (the model call leaves the interpreter lock)."""
        import time

        from leanloop.ids import prediction_ids

        checked = judged.checked
        good = checked.frame
        scored = score(self.model, self._model_input(good), self.task) if len(good) \
            else Scored(labels=[], probabilities=None, classes=self.classes)
        ids = prediction_ids(len(good)) if log else None
        output = self._output(checked.rows, judged.identities, ids, scored)
        events = None if judged.events is None else judged.events[~checked.bad]
        records = LogColumns([], [], [], [], [], [], [], [], []) if ids is None else log_columns(
            ids=ids, frame=good, schema=self.schema, scored=scored, version=self.version, at=time.time(),
            row_ids=judged.identities, event_at=events, source=self.source)
        return ScoredChunk(output=output, records=records, problems=checked.problems, bad=checked.bad,
                           flagged=checked.flagged)

    def _model_input(self, good: pd.DataFrame) -> Any:
        """The judged rows as the version wants them: leanloop's pipeline takes NumPy
        columns (its compiled prepare step reads them as they are; a frame of pandas'
        Arrow-backed text would send every chunk through scikit-learn's transformer),
        an adopted model a frame of native types (:func:`~leanloop.scoring.model_input`)."""
        if InputFormat(self.input_format) is InputFormat.NATIVE:
            return model_input(self.schema, good, self.input_format, "the batch")
        import numpy as np

        columns: dict[str, Any] = {}
        for feature in self.schema.features:
            values = good[feature.name]
            if feature.kind is FeatureKind.NUMERIC:
                columns[feature.name] = values.to_numpy(dtype="float64", na_value=np.nan)
            elif feature.kind is FeatureKind.DATETIME:
                columns[feature.name] = (values - _EPOCH()).dt.total_seconds().to_numpy(dtype="float64",
                                                                                          na_value=np.nan)
            else:  # text, and booleans as the pipeline's "True" / "False" categories; missing as NaN
                text = values.to_numpy(dtype=object)
                present = text != None  # noqa: E711 - NumPy's compare in C, not a generator per row (0.12 s/100k)
                if feature.kind is FeatureKind.CATEGORICAL and present.all():
                    columns[feature.name] = text
                    continue
                out = np.full(len(text), np.nan, dtype=object)
                out[present] = text[present] if feature.kind is FeatureKind.CATEGORICAL \
                    else np.where(text[present].astype(bool), "True", "False")
                columns[feature.name] = out
        return columns

    @staticmethod
    def _has(chunk: pd.DataFrame, column: str | None) -> bool:
        return column is not None and column in chunk.columns

    def judge(self, chunk: pd.DataFrame, *, first_row: int) -> JudgedChunk:
        """The chunk judged by the API's rules: its features, then its event times and
        ids (an unreadable time or an id of the wrong type makes its row bad too). Chunks
        are judged in file order: the zone habit of the file's times carries across them."""
        import numpy as np

        checked = check_chunk(chunk, self.schema, self.serve, first_row=first_row)
        extra: dict[str, dict[int, str]] = {}
        events = ids = None
        if self._has(chunk, self.time_column):
            events, extra[str(self.time_column)] = time_seconds(
                chunk[self.time_column].reset_index(drop=True), self.zones, first_row=first_row)
        if self._has(chunk, self.id_column):
            ids, extra[str(self.id_column)] = RowKeys(id_column=self.id_column, id_type=self.id_type).id_texts(
                chunk[self.id_column].reset_index(drop=True))
        checked = _with_problems(checked, extra, first_row)
        keep = np.flatnonzero(~checked.bad)
        if ids is not None and checked.bad.any():
            ids = [ids[k] for k in keep]
        return JudgedChunk(checked=checked, events=events, identities=ids)

    def _output(self, rows: Any, identities: list[Any] | None, ids: list[str] | None, scored: Scored) -> pd.DataFrame:
        import numpy as np
        import pandas as pd

        columns: dict[str, Any] = {"row": np.asarray(rows, dtype="int64")}
        if identities is not None and self.id_column is not None:
            columns[self.id_column] = pd.Series(identities, dtype=object)
        columns["prediction_id"] = pd.Series(ids if ids is not None else [None] * len(rows), dtype=object)
        columns["prediction"] = pd.Series(scored.labels, dtype="float64" if self.task == "regression" else None)
        classes = scored.classes if scored.classes is not None else self.classes
        if self.task != "regression" and classes is not None:
            probabilities = scored.probabilities if scored.probabilities is not None \
                else np.empty((len(rows), len(classes)))
            for k, label in enumerate(classes):
                columns[probability_column(label)] = np.asarray(probabilities[:, k], dtype="float64")
        return pd.DataFrame(columns)


def _with_problems(checked: Checked, extra: dict[str, dict[int, str]], first_row: int) -> Checked:
    """``checked`` with more bad rows (``{column: {position: problem}}``): they leave the good frame."""
    import numpy as np

    if not any(extra.values()):
        return checked
    mask = checked.bad.copy()
    added = [Problem(row=first_row + p, column=column, problem=text)
             for column, bad in extra.items() for p, text in bad.items()]
    mask[[p.row - first_row for p in added]] = True
    problems = sorted([*checked.problems, *added], key=lambda p: p.row)  # stable: features first
    newly = np.flatnonzero(~mask)
    # The good rows' frame loses the rows a time or an id made bad: keep those still good.
    still = np.isin(checked.rows, first_row + newly)
    frame = checked.frame.iloc[np.flatnonzero(still)].reset_index(drop=True)
    return Checked(frame=frame, rows=first_row + newly, problems=problems, bad=mask, flagged=checked.flagged)


def _EPOCH() -> Any:
    import pandas as pd

    return pd.Timestamp(0, tz="UTC")
