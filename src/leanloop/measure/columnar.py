"""Columnar caches in the workspace, so a cycle does not redo work that cannot change.

The champion's scored reference depends only on the version (its artifact's sha256),
the reference file and how it is sampled; scoring it again every cycle cost about a
second. :func:`cached_reference_scored` keeps the outputs as one Parquet file per
version in ``.leanloop/cache/`` (labels, class probabilities, the class order in its
metadata: :func:`write_scored`), written atomically; a cache file that cannot be read is recomputed, never trusted.
:func:`cached_scored` does the same for the champion's other fixed rows (its holdout, the
rows its estimator is fitted on), and :func:`cached_baseline` keeps the trivial
baseline's one answer (it answers every row alike): with all three cached, measuring a
window loads no model, and skips the skops import and the model load that were a third
of a 10k-row window's fixed cost.

Examples
--------
>>> import tempfile, pathlib, numpy as np
>>> folder = pathlib.Path(tempfile.mkdtemp())
>>> calls = []
>>> def compute():
...     calls.append(1)
...     return Scored(labels=[0, 1], probabilities=np.array([[0.9, 0.1], [0.2, 0.8]]), classes=[0, 1])
>>> first = cached_reference_scored(folder, "v1-abc-100-0", compute)
>>> again = cached_reference_scored(folder, "v1-abc-100-0", compute)
>>> len(calls), again.labels, again.probabilities.tolist(), again.classes
(1, [0, 1], [[0.9, 0.1], [0.2, 0.8]], [0, 1])
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from leanloop.scoring import Scored, to_python

if TYPE_CHECKING:
    import numpy as np

__all__ = ["cached_reference_scored", "cached_scored", "cached_baseline", "ConstantModel", "reference_key",
           "read_scored", "write_scored", "stored_on", "take"]


def reference_key(version: str, sha256: str, max_rows: int, seed: int) -> str:
    """What the scored reference depends on, as a file-name-safe key.

    Examples
    --------
    >>> reference_key("v3", "ab" * 32, 50_000, 0)
    'v3-abababababababab-50000-0'
    """
    return f"{version}-{sha256[:16]}-{max_rows}-{seed}"


def cached_reference_scored(folder: Path, key: str, compute: Callable[[], Scored]) -> Scored:
    """The scored reference for ``key`` from ``folder``, computed and stored on a miss."""
    return cached_scored(folder, "reference", key, compute)


def cached_scored(folder: Path, rows: str, key: str, compute: Callable[[], Scored]) -> Scored:
    """The champion's outputs on its ``rows`` (``reference``, ``holdout``, ...) for ``key``
    from ``folder``, computed and stored on a miss."""
    path = Path(folder) / f"{rows}-scored-{key}.parquet"
    found = read_scored(path)
    if found is not None:
        return found
    scored = compute()
    write_scored(path, scored)
    return scored


#: Where a scored file keeps the class order (Parquet schema metadata: one file says it all).
_CLASSES = b"leanloop.classes"


def write_scored(path: Path, scored: Scored) -> None:
    """Write ``scored`` to ``path`` atomically as one Parquet file: a ``label`` column,
    one ``p<i>`` column per class probability, the class order in its metadata."""
    import pandas as pd
    import pyarrow as pa
    import pyarrow.parquet as pq

    columns: dict[str, object] = {"label": scored.labels}
    if scored.probabilities is not None:
        columns |= {f"p{i}": scored.probabilities[:, i] for i in range(scored.probabilities.shape[1])}
    table = pa.Table.from_pandas(pd.DataFrame(columns), preserve_index=False)
    table = table.replace_schema_metadata({**(table.schema.metadata or {}),
                                           _CLASSES: json.dumps(scored.classes).encode()})
    _write(Path(path), lambda p: pq.write_table(table, p))


def read_scored(path: Path) -> Scored | None:
    """The outputs :func:`write_scored` wrote to ``path``; None when it is missing or
    cannot be read (a damaged file is never trusted).

    >>> import tempfile, pathlib, numpy as np
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "scored.parquet"
    >>> write_scored(path, Scored(labels=["a", "b"], probabilities=np.array([[0.7, 0.3], [0.4, 0.6]]),
    ...                           classes=["a", "b"]))
    >>> found = read_scored(path)
    >>> found.labels, found.probabilities.tolist(), found.classes, read_scored(path.with_name("gone.parquet"))
    (['a', 'b'], [[0.7, 0.3], [0.4, 0.6]], ['a', 'b'], None)
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    if not Path(path).is_file():
        return None
    try:
        table = pq.read_table(path)
        classes = json.loads((table.schema.metadata or {})[_CLASSES])
        frame = table.to_pandas()
        proba = [c for c in frame.columns if c.startswith("p")]
        return Scored(labels=[to_python(v) for v in frame["label"]],
                      probabilities=frame[proba].to_numpy() if proba else None, classes=classes)
    except (OSError, ValueError, KeyError, pa.ArrowException):
        return None  # a damaged file: the caller computes the outputs again


def stored_on(path: Path, positions: Any, compute: Callable[[], Scored]) -> Scored:
    """The outputs stored at ``path`` (:func:`write_scored`) on ``positions``, else
    ``compute()``: a cross-fitted champion's out-of-fold outputs on its test rows, kept
    with the version, fill the measurement's cache, never its own outputs on rows it
    trained on (:mod:`leanloop.learn.retrain`).

    >>> import tempfile, pathlib
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "v2-out-of-fold.parquet"
    >>> write_scored(path, Scored(labels=[1.5, 2.5, 3.5], probabilities=None, classes=None))
    >>> stored_on(path, [2, 0], lambda: 1 / 0).labels
    [3.5, 1.5]
    >>> stored_on(path.with_name("v1-out-of-fold.parquet"), [0], lambda: "computed")
    'computed'
    """
    import numpy as np

    stored = read_scored(path)
    return compute() if stored is None else take(stored, np.asarray(positions))


def take(scored: Scored, positions: np.ndarray) -> Scored:
    """The outputs on ``positions`` only.

    >>> import numpy as np
    >>> take(Scored(labels=["a", "b", "c"], probabilities=None, classes=None), np.array([2, 0])).labels
    ['c', 'a']
    """
    import numpy as np

    return Scored(labels=[scored.labels[i] for i in positions], classes=scored.classes,
                  probabilities=None if scored.probabilities is None else np.asarray(scored.probabilities)[positions])


class ConstantModel:
    """A model that answers every row alike: a cached trivial baseline (one label, and
    one row of class probabilities for a classifier), scored as the baseline itself is
    by :func:`leanloop.scoring.score`."""

    def __init__(self, label: Any, probabilities: list[float] | None, classes: list[Any] | None) -> None:
        self.label, self.probabilities = label, probabilities
        if classes is not None:
            self.classes_ = classes

    def predict(self, rows: Any) -> Any:
        import numpy as np

        out = np.empty(len(rows), dtype=object)
        out[:] = [self.label] * len(rows)
        return out

    def predict_proba(self, rows: Any) -> Any:
        import numpy as np

        if self.probabilities is None:
            raise AttributeError("this constant model answers values, not class probabilities")
        return np.tile(np.asarray(self.probabilities, dtype=float), (len(rows), 1))


#: Trivial baselines whose answer does not depend on the row (the others draw at random).
_CONSTANT = {"DummyRegressor": None, "DummyClassifier": {"prior", "most_frequent", "constant"}}


def cached_baseline(folder: Path, key: str, load: Callable[[], Any], sample: Any, task: str) -> Any:
    """The champion's baseline for ``key``: a :class:`ConstantModel` from ``folder`` when
    it was cached, else ``load()``'s, cached when it answers every row alike (its answer
    on ``sample``, one row in model form).

    >>> import tempfile, pathlib, pandas as pd
    >>> from sklearn.dummy import DummyClassifier
    >>> from leanloop.scoring import score
    >>> folder, rows = pathlib.Path(tempfile.mkdtemp()), pd.DataFrame({"x": [0.0, 1.0, 2.0]})
    >>> fitted = DummyClassifier(strategy="prior").fit(rows, [0, 1, 1])
    >>> first = cached_baseline(folder, "v1", lambda: fitted, rows.head(1), "classification")
    >>> again = cached_baseline(folder, "v1", lambda: 1 / 0, rows.head(1), "classification")
    >>> first is fitted, type(again).__name__
    (True, 'ConstantModel')
    >>> found, direct = score(again, rows, "classification"), score(fitted, rows, "classification")
    >>> found.labels == direct.labels, bool((found.probabilities == direct.probabilities).all()), found.classes
    (True, True, [0, 1])
    """
    from leanloop.scoring import score

    path = Path(folder) / f"baseline-{key}.json"
    if path.is_file():
        try:
            body = json.loads(path.read_text(encoding="utf-8"))
            return ConstantModel(body["label"], body["probabilities"], body["classes"])
        except (OSError, ValueError, KeyError):
            pass  # a damaged cache: the baseline is loaded below
    baseline = load()
    strategies = _CONSTANT.get(type(baseline).__name__, ())
    if type(baseline).__module__.startswith("sklearn.dummy") and (
            strategies is None or getattr(baseline, "strategy", None) in strategies):
        scored = score(baseline, sample, task)
        body = {"label": scored.labels[0], "classes": scored.classes,
                "probabilities": None if scored.probabilities is None else scored.probabilities[0].tolist()}
        _write(path, lambda p: p.write_text(json.dumps(body), encoding="utf-8"))
    return baseline


def _write(target: Path, write: Callable[[Path], Any]) -> None:
    """Write ``target`` atomically (a partial file renamed into place)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(target.name + f".{os.getpid()}.tmp")
    write(partial)
    os.replace(partial, target)
