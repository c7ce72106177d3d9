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
from leanloop.scoring import Scored

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

__all__ = ["logged_scored", "output_sample"]


def logged_scored(window: pd.DataFrame, task: Task, classes: list[Any] | None) -> Scored:
    """The logged outputs of ``window`` as a :class:`Scored` batch, probabilities in class order."""
    labels = window["prediction"].tolist()
    if task is Task.REGRESSION or not classes or window["probabilities"].isna().any():
        return Scored(labels=labels, probabilities=None, classes=classes)
    import pandas as pd

    names = [str(c) for c in classes]
    # one columnar pass over the logged dicts (a class a row lacks has probability 0)
    proba = pd.DataFrame(window["probabilities"].tolist(), columns=names).fillna(0.0).to_numpy(dtype=float)
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
