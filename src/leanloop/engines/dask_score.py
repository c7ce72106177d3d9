"""Batch scoring on a Dask cluster: each partition scored by the one scoring function.

:func:`score_partition` is what a worker runs on one partition: the features put in
the form the version expects (:func:`~leanloop.scoring.model_input`) and scored by
:func:`~leanloop.scoring.score`, the same code as ``/predict`` and local batch
scoring, so the outputs equal local scoring row for row. :func:`score_dask` maps it
over a Dask data frame with the model scattered once to every worker (not shipped
inside each task); :func:`score_parquet` writes the scored rows as a Parquet folder
that appears whole or not at all.

Examples
--------
>>> import pandas as pd
>>> from sklearn.dummy import DummyClassifier
>>> model = DummyClassifier().fit(pd.DataFrame({"x": [0, 1, 1]}), [0, 1, 1])
>>> score_partition(pd.DataFrame({"x": [5, 6]}), model, "classification").round(3).to_dict("list")
{'prediction': [1, 1], 'probability_0': [0.333, 0.333], 'probability_1': [0.667, 0.667]}
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import TYPE_CHECKING, Any

from leanloop.engines.cluster import gather
from leanloop.errors import InputError
from leanloop.schema import Schema
from leanloop.scoring import InputFormat, model_input, score

if TYPE_CHECKING:
    import dask.dataframe as dd
    import pandas as pd
    from distributed import Client

__all__ = ["score_partition", "score_dask", "score_parquet"]


def score_partition(frame: pd.DataFrame, model: Any, task: str, schema: Schema | None = None,
                    input_format: InputFormat = InputFormat.ENCODED, keep: list[str] | None = None) -> pd.DataFrame:
    """The outputs for the rows of ``frame``: the ``keep`` columns of ``frame``, then
    ``prediction`` and, for a classifier with probabilities, ``probability_<class>`` per
    class (same index as ``frame``).

    With a ``schema`` the features are first put in the form the version expects;
    without one ``frame`` is in model form already.
    """
    import pandas as pd

    data = model_input(schema, frame, input_format, "the partition") if schema is not None else frame
    scored = score(model, data, task)
    columns: dict[str, Any] = {name: frame[name] for name in keep or []}
    columns["prediction"] = scored.labels
    if scored.probabilities is not None and scored.classes is not None:
        for i, label in enumerate(scored.classes):
            columns[f"probability_{label}"] = scored.probabilities[:, i]
    return pd.DataFrame(columns, index=frame.index)


def score_dask(data: dd.DataFrame, model: Any, task: str, *, client: Client, schema: Schema | None = None,
               input_format: InputFormat = InputFormat.ENCODED, keep: list[str] | None = None) -> dd.DataFrame:
    """``data`` scored partition by partition on the cluster of ``client`` (lazy: a Dask
    data frame of :func:`score_partition`'s columns).

    Raises
    ------
    InputError
        If ``data`` has no rows.
    """
    head = data.head(1, npartitions=-1)
    if head.empty:
        raise InputError("there is nothing to score: the data has no rows")
    # The output's column types, from scoring one row here.
    meta = score_partition(head, model, task, schema, input_format, keep).iloc[:0]
    # Scattered once to every worker: each task then reads the worker's copy.
    [shared] = client.scatter([model], broadcast=True, hash=False)
    return data.map_partitions(score_partition, shared, task, schema, input_format, keep, meta=meta)


def score_parquet(source: Any, destination: Path, model: Any, task: str, *, client: Client,
                  schema: Schema | None = None, input_format: InputFormat = InputFormat.ENCODED,
                  keep: list[str] | None = None) -> int:
    """Score a Parquet dataset into the folder ``destination`` (the ``keep`` columns of
    the input, then the outputs) and return the rows written.

    The folder is written beside its final place and renamed into it when every
    partition is in: a failed job (a worker lost past Dask's retries) leaves no folder.

    Raises
    ------
    InputError
        If ``destination`` exists already.
    EngineError
        If the job failed on the cluster.
    """
    import dask.dataframe as dd

    destination = Path(destination)
    if destination.exists():
        raise InputError(f"{destination} exists already: remove it or choose another output folder")
    data = dd.read_parquet(str(source))
    scored = score_dask(data, model, task, client=client, schema=schema, input_format=input_format, keep=keep)
    partial = destination.with_name(f".{destination.name}.partial-{os.getpid()}")
    try:
        # Through the engine's gather: a worker lost past Dask's retries, or one that died
        # holding a task's inputs (Dask's "cancelled"), becomes one clear EngineError.
        gather(client, [scored.to_parquet(str(partial), write_index=False, compute=False)],
               f"the scores of {source}", "no output was written")
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise
    os.replace(partial, destination)
    return int(dd.read_parquet(str(destination), columns=["prediction"]).shape[0].compute())
