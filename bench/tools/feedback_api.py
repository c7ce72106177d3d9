"""Time ``Project.feedback`` on a labels file, in process (repo's .venv).

Usage: feedback_api.py PROJECT_DIR LABELS.parquet ; prints {"labels", "seconds", "labels_per_s"}.
"""

from __future__ import annotations

import json
import sys
import time

import pandas as pd


def main(root: str, labels_path: str) -> None:
    from leanloop.project import Project

    frame = pd.read_parquet(labels_path)
    items = list(zip(frame["prediction_id"].astype(str), frame["label"].tolist(), strict=True))
    with Project(root) as project:
        started = time.perf_counter()
        recorded = project.feedback(items)
        seconds = time.perf_counter() - started
    print(json.dumps({"labels": recorded, "seconds": round(seconds, 3), "labels_per_s": round(recorded / seconds)}))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
