"""Benchmark: feedback ingestion on SQLite, in labels per second (goal: >= 20,000/s).

Builds a throwaway project (no model is needed to take labels), logs N predictions,
then times ``Project.feedback`` (what ``POST /feedback`` calls, label checks included)
and ``Project.feedback_file`` on CSV and Parquet, each with N labels in one call:

- ``new``: every label is new, half of them for predictions not logged yet (parked);
- ``repeat``: the same labels again (all duplicates);
- ``conflict``: every label changed (all updates, each kept in the history).

Run: ``.venv/bin/python bench/feedback_ingest.py [--rows 100000]``.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import pandas as pd

from leanloop.project import Project


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    n = parser.parse_args().rows
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        train = root / "train.csv"
        pd.DataFrame({"x": range(40), "y": [0, 1] * 20}).to_csv(train, index=False)
        Project.init(train, target="y", root=root / "project")
        with Project(root / "project") as project:
            ids = [f"{i:032x}" for i in range(n)]
            project.store.insert_predictions([
                {"prediction_id": i, "created_at": 0.0, "model_version": "v1", "features": {"x": 1.0},
                 "prediction": 0, "probabilities": None} for i in ids[::2]])
            runs = [("api/python", "new", [(i, k % 2) for k, i in enumerate(ids)]),
                    ("api/python", "repeat", [(i, k % 2) for k, i in enumerate(ids)]),
                    ("api/python", "conflict", [(i, 1 - k % 2) for k, i in enumerate(ids)])]
            for label, kind, items in runs:
                start, cpu = time.perf_counter(), time.process_time()
                counts = project.feedback(items)
                report(label, kind, n, time.perf_counter() - start, time.process_time() - cpu, counts.to_json())
            for flip, suffix in enumerate((".csv", ".parquet")):  # each file changes every label
                path = root / f"labels{suffix}"
                frame = pd.DataFrame({"prediction_id": ids, "label": [(k + flip) % 2 for k in range(n)]})
                frame.to_csv(path, index=False) if suffix == ".csv" else frame.to_parquet(path)
                start, cpu = time.perf_counter(), time.process_time()
                counts = project.feedback_file(path, id_column="prediction_id", label_column="label")
                report(f"file{suffix}", "conflict", n, time.perf_counter() - start, time.process_time() - cpu,
                       counts.to_json())


def report(source: str, kind: str, n: int, seconds: float, cpu: float, counts: dict[str, int]) -> None:
    # CPU time too: on a shared, loaded machine wall time mostly measures the other processes.
    print(f"{source:12} {kind:9} {n:>7} labels: {seconds:6.2f} s wall = {n / seconds:>8,.0f}/s; "
          f"{cpu:6.2f} s CPU = {n / cpu:>8,.0f}/s  {counts}")


if __name__ == "__main__":
    main()
