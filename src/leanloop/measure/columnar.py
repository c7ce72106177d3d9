"""Columnar caches in the workspace, so a cycle does not redo work that cannot change.

The champion's scored reference depends only on the version (its artifact's sha256),
the reference file and how it is sampled; scoring it again every cycle cost about a
second. :func:`cached_reference_scored` keeps the outputs as one Parquet file per
version in ``.leanloop/cache/`` (labels, class probabilities) plus the class order,
written atomically; a cache file that cannot be read is recomputed, never trusted.

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

from leanloop.scoring import Scored, to_python

__all__ = ["cached_reference_scored", "reference_key"]


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
    import pandas as pd
    import pyarrow as pa

    path = Path(folder) / f"reference-scored-{key}.parquet"
    meta = path.with_suffix(".json")
    if path.is_file() and meta.is_file():
        try:
            frame = pd.read_parquet(path)
            classes = json.loads(meta.read_text(encoding="utf-8"))["classes"]
            proba = [c for c in frame.columns if c.startswith("p")]
            return Scored(labels=[to_python(v) for v in frame["label"]],
                          probabilities=frame[proba].to_numpy() if proba else None, classes=classes)
        except (OSError, ValueError, KeyError, pa.ArrowException):
            pass  # a damaged cache is recomputed below
    scored = compute()
    columns: dict[str, object] = {"label": scored.labels}
    if scored.probabilities is not None:
        columns |= {f"p{i}": scored.probabilities[:, i] for i in range(scored.probabilities.shape[1])}
    path.parent.mkdir(parents=True, exist_ok=True)
    for target, write in ((meta, lambda p: p.write_text(json.dumps({"classes": scored.classes}), encoding="utf-8")),
                          (path, lambda p: pd.DataFrame(columns).to_parquet(p, index=False))):
        partial = target.with_name(target.name + f".{os.getpid()}.tmp")
        write(partial)
        os.replace(partial, target)
    return scored
