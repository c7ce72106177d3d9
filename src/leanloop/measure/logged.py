"""The prediction log as the measurement reads it: logged outputs as a scored batch.

Examples
--------
>>> import pandas as pd
>>> from leanloop.config import Task
>>> window = pd.DataFrame({"prediction": [1, 0], "probabilities": [{"0": 0.2, "1": 0.8}, {"0": 0.9}]})
>>> scored = logged_scored(window, Task.CLASSIFICATION, [0, 1])
>>> scored.labels, scored.probabilities.tolist()
([1, 0], [[0.2, 0.8], [0.9, 0.0]])
>>> kind, values = output_sample(scored, Task.CLASSIFICATION)
>>> kind, values.tolist()
('numeric', [0.8, 0.0])
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from leanloop.config import Task
from leanloop.measure.distinct import column_list
from leanloop.scoring import Scored
from leanloop.store.predictions import HAS_PROBABILITIES, probability_column

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

__all__ = ["logged_scored", "output_sample"]


def logged_scored(window: pd.DataFrame, task: Task, classes: list[Any] | None) -> Scored:
    """The logged outputs of ``window`` as a :class:`Scored` batch, probabilities in class order
    (``window`` holds them as a dict per row, or as a float column per class as
    :func:`leanloop.store.predictions.probability_columns` reads them)."""
    labels = column_list(window["prediction"])
    import numpy as np

    if "probabilities" not in window:  # read as a float column per class
        if task is Task.REGRESSION or not classes or not window[HAS_PROBABILITIES].all():
            return Scored(labels=labels, probabilities=None, classes=classes)
        proba = np.column_stack([window[probability_column(c)].to_numpy(dtype=float) for c in classes])
        proba[np.isnan(proba)] = 0.0
        return Scored(labels=labels, probabilities=proba.reshape(len(labels), len(classes)), classes=classes)
    if task is Task.REGRESSION or not classes or window["probabilities"].isna().any():
        return Scored(labels=labels, probabilities=None, classes=classes)
    names = [str(c) for c in classes]
    dicts = window["probabilities"].tolist()
    # One array per class straight from the logged dicts (a class a row lacks, or holds
    # as null, has probability 0): a frame built from the dicts cost 3x as much.
    proba = np.array([[d.get(name) for d in dicts] for name in names], dtype=float).T
    proba[np.isnan(proba)] = 0.0
    return Scored(labels=labels, probabilities=proba.reshape(len(labels), len(names)), classes=classes)


def output_sample(scored: Scored, task: Task) -> tuple[str, np.ndarray | list[Any]]:
    """What prediction drift compares: positive-class probability (binary), class
    (multiclass), value (regression)."""
    import numpy as np

    if task is Task.REGRESSION:
        return "numeric", np.asarray(scored.labels, dtype=float)
    if scored.probabilities is not None and scored.classes is not None and len(scored.classes) == 2:
        return "numeric", np.asarray(scored.probabilities)[:, 1]
    return "categorical", [str(v) for v in scored.labels]
