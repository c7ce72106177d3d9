"""A project with a large prediction log, written fast: group inserts straight into the store.

Logging a million predictions through ``leanloop serve`` takes many minutes; the window
suite only needs the log itself. So the car-loan analysis period is sampled with a fixed
seed, scored once by the champion (outputs as the server logs them) and written with the
server's own group-commit insert (:meth:`SQLStore.log_predictions`, 50,000 rows a group),
one second apart; every row is labelled through :meth:`SQLStore.add_feedback`. Then the
log is exported to the project's Parquet archive, as the server's retention (or a cron
``leanloop export``) keeps it, so windows read their exported rows as columns
(:mod:`leanloop.archive.window`). The result is cached by size.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from bench.logged import cached_folder
from bench.project import make_project

__all__ = ["WindowLog", "window_log"]

#: Rows per group insert and per feedback batch.
GROUP = 50_000
START = 1_700_000_000.0


@dataclass(frozen=True)
class WindowLog:
    root: Path
    rows: int


def window_log(folder: Path, rows: int, *, seed: int = 17) -> WindowLog:
    """The project in ``folder/window-ROWS`` with ``rows`` logged, labelled predictions."""
    import numpy as np

    from leanloop.archive import archive_log
    from leanloop.datasets import car_loan
    from leanloop.scoring import model_input, score, to_python
    from leanloop.workspace import Workspace

    folder = folder / f"window-{rows}"
    done = WindowLog(folder / "project", rows)
    if cached_folder(folder):
        return done
    print(f"[bench] writing {rows:,} logged predictions into a project store", flush=True)
    root = make_project(done.root)
    data = car_loan()
    analysis = data.analysis.merge(data.analysis_targets, on="id")
    rng = np.random.default_rng(seed)
    with Workspace.open(root) as ws:
        schema, champion = ws.config.schema_, ws.registry.champion()
        model, _ = ws.registry.load(champion.version)
        features = schema.coerce(analysis[schema.names], "car-loan analysis")
        scored = score(model, model_input(schema, features, champion.input_format, "bench"), ws.config.data.task.value)
        records = features.astype(object).where(features.notna(), None).to_dict("records")
        for key in records:
            for name, value in key.items():
                key[name] = to_python(value)
        proba = scored.probabilities
        classes = [str(c) for c in scored.classes or []]
        truth = analysis["repaid"].tolist()
        for start in range(0, rows, GROUP):
            picks = rng.integers(0, len(records), size=min(GROUP, rows - start))
            group = [{"prediction_id": f"w{start + i:08d}", "created_at": START + start + i,
                      "model_version": champion.version, "features": records[j],
                      "prediction": to_python(scored.labels[j]),
                      "probabilities": None if proba is None else dict(zip(classes, map(float, proba[j]),
                                                                           strict=True))}
                     for i, j in enumerate(picks)]
            ws.store.log_predictions(group)
            ws.store.add_feedback([(g["prediction_id"], int(truth[j])) for g, j in zip(group, picks, strict=True)],
                                  received_at=START + rows + start, source="bench")
        archive_log(ws, now=START)  # now=START: retention (none configured) could delete nothing
    (folder / "done").touch()
    return done
