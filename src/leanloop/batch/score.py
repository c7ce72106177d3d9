"""Score one chunk of rows: judge them (the API's rules), score the good ones with one
model call, and build their output rows and the records the store logs.

:class:`ChunkScorer` holds what every chunk shares (the model, its version and schema,
the ``[serve]`` policies, the project's id and time columns); calling it on a chunk
gives a :class:`ScoredChunk`. It is the unit of work of ``leanloop predict`` and of
``Project.predict``, and what an engine that splits a file into partitions calls per
partition. The served label comes from :func:`leanloop.scoring.score` (the one
implementation), and the log records from :func:`batch_records` (the one builder).

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
>>> done.records[0]["features"], done.records[0]["row_id"], done.records[0]["source"]
({'x': 3.0}, '7', 'batch')
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from leanloop.batch.events import Zones, event_seconds, row_ids
from leanloop.batch.validate import Checked, Problem, check_chunk
from leanloop.schema import FeatureKind, Schema
from leanloop.scoring import InputFormat, Scored, model_input, score

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

    from leanloop.config import ServeConfig

__all__ = ["ChunkScorer", "ScoredChunk", "batch_records", "probability_column"]


def probability_column(label: Any) -> str:
    """The output column of a class's probability.

    >>> probability_column(1), probability_column("yes")
    ('probability_1', 'probability_yes')
    """
    return f"probability_{label}"


@dataclass(frozen=True)
class ScoredChunk:
    """One chunk scored: the output rows (input order, bad rows left out), the log
    records of those rows (empty when not logging), the bad rows' problems, the mask of
    bad rows within the chunk, and the unforeseen values accepted per feature."""

    output: pd.DataFrame
    records: list[dict[str, Any]]
    problems: list[Problem]
    bad: np.ndarray
    flagged: dict[str, dict[str, int]] = field(default_factory=dict)


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

    def __call__(self, chunk: pd.DataFrame, *, first_row: int, log: bool) -> ScoredChunk:
        """Score ``chunk`` (rows ``first_row``...); with ``log``, each good row gets a
        prediction id and a log record (without, neither: an id nothing logged is useless)."""
        import time

        from leanloop.ids import prediction_ids

        events, checked = self.judge(chunk, first_row=first_row)
        good = checked.frame
        scored = score(self.model, self._model_input(good), self.task) if len(good) \
            else Scored(labels=[], probabilities=None, classes=self.classes)
        keep = (~checked.bad).nonzero()[0]
        identities = row_ids(chunk[self.id_column].iloc[keep]) if self._has(chunk, self.id_column) else None
        ids = prediction_ids(len(good)) if log else None
        output = self._output(checked.rows, identities, ids, scored)
        records = [] if ids is None else batch_records(
            ids=ids, features=logged_features(good, self.schema), scored=scored, version=self.version,
            at=time.time(), row_ids=identities, event_at=None if events is None else events[keep],
            source=self.source)
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
                present = np.fromiter((v is not None for v in text), dtype=bool, count=len(text))
                out = np.full(len(text), np.nan, dtype=object)
                out[present] = text[present] if feature.kind is FeatureKind.CATEGORICAL \
                    else np.where(text[present].astype(bool), "True", "False")
                columns[feature.name] = out
        return columns

    @staticmethod
    def _has(chunk: pd.DataFrame, column: str | None) -> bool:
        return column is not None and column in chunk.columns

    def judge(self, chunk: pd.DataFrame, *, first_row: int) -> tuple[Any, Checked]:
        """The rows' event times (None without a time column) and the chunk judged by the
        API's rules, an unreadable time making its row bad too."""
        checked = check_chunk(chunk, self.schema, self.serve, first_row=first_row)
        column = self.time_column
        if column is None or column not in chunk.columns:
            return None, checked
        import numpy as np

        seconds, bad = event_seconds(chunk[column].reset_index(drop=True), self.zones, first_row=first_row)
        if not bad:
            return seconds, checked
        mask = checked.bad.copy()
        mask[list(bad)] = True
        problems = sorted([*checked.problems, *(Problem(row=first_row + p, column=column, problem=text)
                                                for p, text in bad.items())], key=lambda p: p.row)
        newly = np.flatnonzero(~mask)
        # The good rows' frame lost the rows whose time is bad: keep those still good.
        still = np.isin(checked.rows, first_row + newly)
        frame = checked.frame.iloc[np.flatnonzero(still)].reset_index(drop=True)
        return seconds, Checked(frame=frame, rows=first_row + newly, problems=problems, bad=mask,
                                flagged=checked.flagged)

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


def _EPOCH() -> Any:
    import pandas as pd

    return pd.Timestamp(0, tz="UTC")


def logged_features(frame: pd.DataFrame, schema: Schema) -> list[dict[str, Any]]:
    """The good rows' features as the server logs them: numbers as floats, text as text,
    booleans as booleans, date-times as ISO 8601 text, missing values as None."""
    import numpy as np

    columns: dict[str, Any] = {}
    for feature in schema.features:
        values = frame[feature.name]
        if feature.kind is FeatureKind.DATETIME:
            columns[feature.name] = [None if v is None or v != v else v.isoformat()
                                     for v in values.astype(object).tolist()]
        elif feature.kind is FeatureKind.NUMERIC:
            array = np.asarray(values, dtype="float64")
            columns[feature.name] = [None if v != v else v for v in array.tolist()]
        else:
            columns[feature.name] = values.to_numpy(dtype=object).tolist()
    names = list(columns)
    return [dict(zip(names, row, strict=True)) for row in zip(*columns.values(), strict=True)] \
        if names else [{} for _ in range(len(frame))]


def batch_records(*, ids: list[str], features: list[dict[str, Any]], scored: Scored, version: str, at: float,
                  row_ids: list[Any] | None, event_at: Any, source: str) -> list[dict[str, Any]]:
    """The prediction records of scored rows, as the store logs them: the server's keys
    plus ``row_id`` (the id column as text), ``event_at`` (epoch seconds) and ``source``.

    >>> from leanloop.scoring import Scored
    >>> batch_records(ids=["p1"], features=[{"x": 1.0}], scored=Scored([0], None, None), version="v2", at=5.0,
    ...               row_ids=None, event_at=None, source="batch")
    [{'prediction_id': 'p1', 'created_at': 5.0, 'model_version': 'v2', 'features': {'x': 1.0}, 'prediction': 0, \
'probabilities': None, 'row_id': None, 'event_at': None, 'source': 'batch'}]
    """
    count = len(ids)
    identities = row_ids if row_ids is not None else [None] * count
    times = [None] * count if event_at is None else [None if t != t else float(t) for t in list(event_at)]
    return [{"prediction_id": i, "created_at": at, "model_version": version, "features": f, "prediction": label,
             "probabilities": proba, "row_id": r, "event_at": t, "source": source}
            for i, f, label, proba, r, t in zip(ids, features, scored.labels, scored.probability_dicts(), identities,
                                                  times, strict=True)]
