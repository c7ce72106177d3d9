"""``python -m bench.report_bench [--rows 50000] [--cycles 10]``: time ``leanloop report``.

Builds (once, cached under ``bench/data/report-<rows>-<cycles>``) a project whose
``rows`` car-loan predictions were served through the app in ``cycles`` equal windows,
80 % of them labelled, each window measured by a real cycle (the second half from the
drifted period, so cycles retrain and judge challengers); then writes the report in
each format and prints the seconds and bytes. Target (issue 16): under 5 s and 5 MB.
"""

from __future__ import annotations

import argparse
import shutil
import time
from pathlib import Path

FOLDER = Path(__file__).resolve().parent / "data"


def build(root: Path, rows: int, cycles: int) -> None:
    from fastapi.testclient import TestClient

    from leanloop.config import render_config
    from leanloop.datasets import car_loan
    from leanloop.project import Project
    from leanloop.serve import create_app
    from leanloop.serve.security import bearer

    if root.exists():
        shutil.rmtree(root)
    root.mkdir(parents=True)
    data = car_loan()
    csv = root / "loans.csv"
    data.reference.head(10000).to_csv(csv, index=False)
    created = Project.init(csv, target="repaid", time_column="timestamp", id_column="id", root=root / "project")
    config = created.config.model_copy(update={
        "policy": created.config.policy.model_copy(update={"min_rows": 500, "min_labels": 300, "max_kpi_drop": 0.0,
                                                           "max_metric_drop": 0.0})})
    created.paths.config.write_text(render_config(config), encoding="utf-8")
    created.close()
    analysis = data.analysis.merge(data.analysis_targets, on="id").sort_values("timestamp", kind="stable")
    analysis = analysis.reset_index(drop=True)
    per = rows // cycles
    with Project(root / "project") as project:
        project.build()
        features = project.config.schema_.names
        for i in range(cycles):
            start = i * per if i < cycles // 2 else 30000 + (i - cycles // 2) * per
            part = analysis.iloc[start % len(analysis):start % len(analysis) + per]
            with TestClient(create_app(project), headers=bearer(project)) as client:
                answers = []
                for s in range(0, len(part), 1000):
                    body = {"rows": part.iloc[s:s + 1000][features].to_dict("records")}
                    answers += client.post("/predict", json=body).json()["predictions"]
                labels = [{"prediction_id": a["prediction_id"], "label": int(y)}
                          for a, y in zip(answers, part["repaid"], strict=True)][: int(per * 0.8)]
                client.post("/feedback", json={"feedback": labels})
            cycle = project.cycle(last=per)
            print(f"[bench] cycle {cycle.cycle}: {cycle.decision.action.value}", flush=True)
    (root / "done").touch()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.report_bench", description=__doc__)
    parser.add_argument("--rows", type=int, default=50_000)
    parser.add_argument("--cycles", type=int, default=10)
    args = parser.parse_args(argv)
    root = FOLDER / f"report-{args.rows}-{args.cycles}"
    if not (root / "done").exists():
        build(root, args.rows, args.cycles)
    from leanloop.project import Project
    from leanloop.report import ReportFormat, write_report

    print("| format | seconds | bytes |\n|---|---|---|")
    with Project(root / "project") as project:
        for fmt in ReportFormat:
            path = root / f"report.{fmt.value}"
            started = time.perf_counter()
            write_report(project, path, fmt=fmt)
            print(f"| {fmt.value} | {time.perf_counter() - started:.2f} | {path.stat().st_size:,} |", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
