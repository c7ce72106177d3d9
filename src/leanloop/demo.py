"""The demo: the whole loop on NannyML's car-loan data, through a real server.

1. Build on the reference period (target ``repaid``), with a money KPI: a granted loan
   that is repaid earns 1,000; a granted loan that defaults loses 5,000.
2. Start ``leanloop serve`` on a free loopback port and replay the analysis period
   in time order as HTTP requests; labels arrive ``label_delay`` rows late.
3. Every ``cycle_every`` rows run a cycle (measure, decide, maybe retrain and
   promote); the server hot-swaps the champion.
4. Compare the KPI of what was served with the loop against the first model frozen and
   an oracle retrained with hindsight on the post-shift rows (cross-fitted, an upper
   bound: :mod:`leanloop.learn.oracle`), all under the version's label rule (expected
   value: lend only above p = 5/6), and the first model's KPI under the rule against
   what argmax would have earned: the gain of the rule itself.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from leanloop.config import KpiConfig, render_config
from leanloop.datasets import SHIFT_ROW, car_loan
from leanloop.errors import LeanloopError, ProjectError
from leanloop.learn.oracle import gain_kept, yardsticks
from leanloop.measure.evaluation import evaluate_scored
from leanloop.measure.kpi import argmax_kpis, row_weights
from leanloop.measure.logged import logged_scored
from leanloop.project import Project
from leanloop.scoring import score
from leanloop.serve.security import bearer
from leanloop.waiting import wait_until

if TYPE_CHECKING:
    from collections.abc import Iterator

    import httpx
    import pandas as pd
    from rich.console import Console

__all__ = ["ServerStarter", "run_demo", "free_port", "running_server", "wait_healthy", "wait_serving", "DEMO_KPI"]

#: Starts a server for a project folder on a port and yields its base URL while it runs
#: (:func:`running_server`, or a test's forked one).
ServerStarter = Callable[[Path, int], AbstractContextManager[str]]

#: Money per loan decision: approve & repaid earns interest, approve & default loses principal.
DEMO_KPI = {"name": "profit", "default_value": 0.0,
            "outcomes": [{"actual": 1, "predicted": 1, "value": 1000.0},
                         {"actual": 0, "predicted": 1, "value": -5000.0}]}


def free_port() -> int:
    """A free TCP port on the loopback interface."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_healthy(url: str, process: subprocess.Popen[bytes], timeout: float, log: str = "the server log") -> None:
    """Wait until ``url/health`` answers 200; a clear error if ``process`` exits or time runs out."""
    import httpx

    def healthy() -> bool:
        if process.poll() is not None:
            raise LeanloopError(f"the server exited with code {process.returncode}; see {log}")
        try:
            return httpx.get(f"{url}/health", timeout=1.0).status_code == 200
        except httpx.HTTPError:
            return False

    if not wait_until(healthy, timeout, interval=0.1):
        raise LeanloopError(f"the server did not become healthy within {timeout:.0f} s; see {log}")


def wait_serving(client: httpx.Client, version: str, timeout: float = 30.0) -> None:
    """Wait until the server behind ``client`` answers with ``version``: it follows the
    champion alias on its own (within about a second), and the demo replays the next rows
    only once it has, so that which version serves which row does not depend on timing and
    a run's figures repeat exactly. A clear error if ``timeout`` seconds pass first."""
    serving: list[str] = []

    def answers() -> bool:
        serving.append(client.get("/health").json()["model_version"])
        return serving[-1] == version

    if not wait_until(answers, timeout, interval=0.05):
        raise LeanloopError(f"the server still serves {serving[-1]}, not the new champion {version}, "
                            f"after {timeout:.0f} s; see the server log")


@contextmanager
def running_server(root: Path, port: int, timeout: float = 120.0, workers: int = 1,
                   loop: bool = False) -> Iterator[str]:
    """Run ``leanloop serve`` for ``root`` in a subprocess; yield its base URL once healthy.

    ``loop``: let the server run cycles on the ``[loop]`` schedule (off by default: the
    demo, and most callers, run their own cycles).
    """
    log = open(Path(root) / ".leanloop" / "server.log", "ab")  # noqa: SIM115 - closed below
    process = subprocess.Popen(
        [sys.executable, "-m", "leanloop.cli", "serve", "--port", str(port), "--dir", str(root),
         "--workers", str(workers), *([] if loop else ["--no-loop"])],
        stdout=log, stderr=subprocess.STDOUT, env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_healthy(url, process, timeout, log=log.name)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


def _configure(project: Project) -> Project:
    """Set the demo's money KPI and policy in leanloop.toml."""
    config = project.config.model_copy(update={
        "kpi": KpiConfig.model_validate(DEMO_KPI),
        "policy": project.config.policy.model_copy(update={"min_rows": 1000, "min_labels": 500}),
    })
    project.paths.config.write_text(render_config(config), encoding="utf-8")
    project.close()
    return Project(project.paths.root)


def run_demo(directory: Path, *, rows: int = 50_000, cycle_every: int = 5000, batch: int = 100,
             label_delay: int = 1500, shuffle_seed: int | None = None,
             console: Console | None = None, progress: bool = True,
             server: ServerStarter | None = None) -> dict[str, Any]:
    """Run the demo in ``directory``; returns the summary (also printed to ``console``,
    with a progress bar of the replay unless ``progress`` is False).

    ``server`` starts the ``leanloop serve`` the replay talks to, given the project's
    folder and a port (default: :func:`running_server`, a fresh process); the tests pass
    one that forks it from a process with the libraries already imported.

    With ``shuffle_seed`` the first ``rows`` analysis rows are replayed in a random
    (seeded) order instead of in time: a control with no change over time (with
    ``rows`` up to 25,000, before the data's known shift, none against the reference
    either), where the loop should never retrain.
    """
    started = time.perf_counter()
    directory = Path(directory)
    if (directory / "leanloop.toml").exists():
        raise ProjectError(f"{directory} already holds a project; pass another --dir or delete it")
    directory.mkdir(parents=True, exist_ok=True)
    def say(text: str) -> None:
        if console:
            console.print(text, markup=False, highlight=False, soft_wrap=True)

    data = car_loan()
    reference_path = directory / "car_loan_reference.parquet"
    data.reference.to_parquet(reference_path, index=False)
    project = _configure(Project.init(reference_path, target="repaid", time_column="timestamp",
                                      id_column="id", root=directory))
    v1 = project.build()
    kpi = project.config.kpi.name
    say(f"built {v1.version} on {v1.rows['train']} reference rows: roc_auc {v1.metrics['roc_auc']:.4f}, "
        f"{kpi} {v1.kpi[kpi]:.1f} per loan (trivial baseline {v1.kpi['baseline_' + kpi]:.1f})")

    analysis = data.analysis.sort_values("timestamp", kind="stable").head(rows)
    if shuffle_seed is not None:
        analysis = analysis.sample(frac=1.0, random_state=shuffle_seed)
    analysis = analysis.reset_index(drop=True)
    truth = analysis.merge(data.analysis_targets, on="id", how="left")["repaid"].astype(int).tolist()
    records = cast("list[dict[str, Any]]", analysis[project.config.schema_.names].to_dict("records"))
    served, cycles = _replay(project, directory, records, truth, batch=batch, label_delay=label_delay,
                             cycle_every=cycle_every, console=console, say=say, progress_bar=progress,
                             server=server or running_server)
    loop_values = evaluate_served(served, truth, project)
    model, _ = project.registry.load(v1.version)
    frozen, frozen_argmax = _frozen(project, model, analysis, truth)
    summary = _summary(project, served, cycles, loop_values, frozen, started)
    summary["decision"] = v1.decision.value
    summary["kpi_frozen_argmax"] = frozen_argmax.get(f"{kpi}_total")
    # the data's shift is in time order: shuffled or cut before it, there is no change to retrain for
    change_at = SHIFT_ROW if shuffle_seed is None and len(analysis) > SHIFT_ROW else None
    summary["kpi_oracle"] = yardsticks(project.config, model, analysis.assign(repaid=truth), change_at,
                                       seed=project.config.model.seed).oracle
    summary["gain_kept"] = gain_kept(summary["kpi_with_loop"], summary["kpi_frozen"], summary["kpi_oracle"])
    summary["seconds"] = round(time.perf_counter() - started, 1)
    project.close()
    if console:
        _say_summary(say, summary, len(cycles), directory)
    return summary


def _say_summary(say: Any, summary: dict[str, Any], cycles: int, directory: Path) -> None:
    """The demo's outcome in a few lines: loop, frozen and oracle side by side, the rule's gain."""
    kpi = summary["kpi"]
    say(f"\n{summary['rows']} predictions served and logged ({summary['logged']} in the store), "
        f"{cycles} cycles, {summary['promotions']} promotion(s); champion now {summary['champion']}")
    say(f"{kpi} over the analysis period, under the {summary['decision']} label rule:")
    say(f"  with the loop        {summary['kpi_with_loop']:>14,.0f}")
    gain = summary["kpi_with_loop"] - summary["kpi_frozen"]
    say(f"  first model frozen   {summary['kpi_frozen']:>14,.0f}  (the loop earned {gain:+,.0f} more)")
    kept = summary["gain_kept"]
    say(f"  oracle (hindsight)   {summary['kpi_oracle']:>14,.0f}  (an upper bound; the loop kept "
        + ("no gain to keep" if kept is None else f"{kept:.0%} of its gain over frozen") + ")")
    if summary["kpi_frozen_argmax"] is not None and summary["decision"] == "expected_value":
        rule_gain = summary["kpi_frozen"] - summary["kpi_frozen_argmax"]
        say(f"the expected-value rule itself: the first model frozen earns {summary['kpi_frozen']:,.0f} under it, "
            f"{summary['kpi_frozen_argmax']:,.0f} serving the most probable class (argmax): {rule_gain:+,.0f} "
            f"({rule_gain / abs(summary['kpi_frozen_argmax']):+.1%})")
    say(f"accuracy with the loop {summary['accuracy_with_loop']:.4f}, frozen {summary['accuracy_frozen']:.4f}; "
        f"done in {summary['seconds']} s. Explore: leanloop history --dir {directory}")


def _frozen(project: Project, model: Any, analysis: pd.DataFrame, truth: list[Any]) -> tuple[Any, dict[str, float]]:
    """The first model frozen on the analysis rows under its own rule, and what argmax
    would have earned with the same probabilities."""
    X = project.config.schema_.model_frame(analysis, "analysis")
    scored = score(model, X, project.config.data.task.value)
    weights = row_weights(X, project.config.kpi)
    frozen = evaluate_scored(scored, truth, project.config.data, project.config.kpi, weights=weights)
    return frozen, argmax_kpis(scored, truth, project.config.kpi, weights)


def _replay(project: Project, directory: Path, records: list[dict[str, Any]], truth: list[Any], *, batch: int,
            label_delay: int, cycle_every: int, console: Console | None,
            say: Any, server: ServerStarter,
            progress_bar: bool = True) -> tuple[list[tuple[str, str, Any]], list[dict[str, Any]]]:
    """Serve ``records`` over HTTP in batches, send labels ``label_delay`` rows late and run
    a cycle every ``cycle_every`` rows; returns what was served and the cycles' JSON."""
    import httpx
    from rich.progress import Progress

    kpi = project.config.kpi.name
    served: list[tuple[str, str, Any]] = []
    cycles: list[dict[str, Any]] = []
    labelled_upto = 0
    # Feedback is a write endpoint: the demo uses the project's token like any client.
    headers = bearer(project)
    with server(directory, free_port()) as url, \
            httpx.Client(base_url=url, timeout=60.0, headers=headers) as client:
        say(f"serving at {url}; replaying {len(records)} analysis rows, labels {label_delay} rows late")
        with Progress(disable=console is None or not progress_bar, console=console, transient=True) as progress:
            task = progress.add_task("replay", total=len(records))
            for start in range(0, len(records), batch):
                response = client.post("/predict", json={"rows": records[start:start + batch]})
                response.raise_for_status()
                body = response.json()
                served += [(p["prediction_id"], body["model_version"], p["prediction"]) for p in body["predictions"]]
                ready = max(0, len(served) - label_delay)
                if ready > labelled_upto:
                    client.post("/feedback", json={"feedback": [
                        {"prediction_id": served[i][0], "label": truth[i]} for i in range(labelled_upto, ready)
                    ]}).raise_for_status()
                    labelled_upto = ready
                progress.update(task, completed=len(served))
                if len(served) % cycle_every == 0:
                    cycle = project.cycle().to_json()
                    cycle["served"] = len(served)
                    cycles.append(cycle)
                    if cycle["champion_after"] != body["model_version"]:
                        wait_serving(client, cycle["champion_after"])
                    if console:
                        progress.console.print(_cycle_line(cycle, len(served), kpi), markup=False, highlight=False,
                                               soft_wrap=True)
        client.post("/feedback", json={"feedback": [
            {"prediction_id": served[i][0], "label": truth[i]} for i in range(labelled_upto, len(served))
        ]}).raise_for_status()
    return served, cycles


def _summary(project: Project, served: list[tuple[str, str, Any]], cycles: list[dict[str, Any]], loop_values: Any,
             frozen: Any, started: float) -> dict[str, Any]:
    """The demo's outcome: the loop against the first model frozen, and every decision."""
    kpi = project.config.kpi.name
    return {
        "rows": len(served), "logged": project.store.count_predictions(), "cycles": len(cycles),
        "retrains": sum(1 for c in cycles if c["challenger"]), "promotions": sum(1 for c in cycles if c["promoted"]),
        "champion": project.registry.champion().version,
        "kpi": kpi, "kpi_with_loop": loop_values.kpis[f"{kpi}_total"], "kpi_frozen": frozen.kpis[f"{kpi}_total"],
        "roc_auc_with_loop": loop_values.metrics.get("roc_auc"), "roc_auc_frozen": frozen.metrics.get("roc_auc"),
        "accuracy_with_loop": loop_values.metrics["accuracy"], "accuracy_frozen": frozen.metrics["accuracy"],
        "seconds": round(time.perf_counter() - started, 1),
        "decisions": [{"served": c["served"], "cycle": c["cycle"], "action": c["decision"]["action"],
                       "challenger": c["challenger"], "promoted": c["promoted"],
                       "checks": (c["comparison"] or {}).get("checks", [])} for c in cycles],
    }


def _cycle_line(cycle: dict[str, Any], served: int, kpi: str) -> str:
    m = cycle["measurement"]
    auc = m["performance"]["realized"].get("roc_auc")
    drifted = ",".join(m["drifted_features"]) or "-"
    outcome = ""
    if cycle["challenger"]:
        outcome = f"({cycle['challenger']} {'promoted' if cycle['promoted'] else 'rejected by gate'})"
    return (f"cycle {cycle['cycle']:>2} | rows {served - m['window']['rows']:>5}-{served:<5} "
            f"labelled {m['window']['labelled']:>4} | roc_auc {'-' if auc is None else f'{auc:.4f}'} "
            f"{kpi}/loan {m['kpis'].get(kpi, float('nan')):6.1f} | {cycle['decision']['action']:<8} "
            f"{outcome:<22} | champion {cycle['champion_after']} | drifted: {drifted}")


def evaluate_served(served: list[tuple[str, str, Any]], truth: list[Any], project: Project) -> Any:
    """Metrics and KPIs of the predictions actually served, from the log."""
    window = project.store.window().set_index("prediction_id").loc[[s[0] for s in served]].reset_index()
    scored = logged_scored(window, project.config.data.task, project.config.data.classes)
    return evaluate_scored(scored, truth, project.config.data, project.config.kpi)
