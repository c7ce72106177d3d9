"""Scenarios for the loop's decisions (issue 11), replayed through the real server.

Every scenario is a sequence of labelled car-loan rows with a known change (or none),
built from the bundled data with fixed seeds:

- ``concept``: the analysis period in time order around its known shift at row 25,000
  of 50,000 (covariate drift and a changed relation between features and repayment);
- ``prior``: held-out reference rows, the positive share halved in the second half by
  thinning positives (each class looks as before: the model is still right);
- ``drift``: held-out reference rows, the second half only loans with a car value above
  the median (the features drift; the frozen model's error does not grow, which
  :attr:`Scenario.frozen_before` and :attr:`Scenario.frozen_after` let the caller verify);
- ``none``: held-out reference rows shuffled (no change at all);
- ``gradual``: a stable first quarter of held-out reference rows, then a linear ramp to
  post-shift analysis rows over the middle half, post-shift rows only in the last quarter.

One first model is built once (:func:`prepare`) on reference rows that no scenario
replays; each run (:func:`replay`) copies that project, starts ``leanloop serve`` on it,
posts the rows batch by batch, sends each batch's labels ``label_delay`` batches late and
runs ``project.cycle()`` after every batch. The result holds, for the loop (what was
served, read back from the prediction log), the frozen first model and an oracle, the
KPI over the period, the decisions, the retrains and their seconds, and the rows from
the change to the first promotion after it.

The oracle is the frozen model before the change; from the change on, a fresh pipeline
(:func:`leanloop.build.pipeline.make_pipeline`) trained on the post-change labelled rows,
cross-fitted over two seeded folds so that no row is scored by a model that trained on
it: a model retrained with hindsight the moment the change starts, an upper bound.

The library uses only leanloop's public entry points, so it measures whatever decision
logic the installed leanloop has.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from leanloop.datasets import SHIFT_ROW

if TYPE_CHECKING:
    import pandas as pd

    from leanloop.datasets import CarLoan
    from leanloop.demo import ServerStarter
    from leanloop.learn.oracle import Yardsticks
    from leanloop.project import Project

__all__ = ["SCENARIOS", "Scenario", "Sizes", "Run", "FrozenError", "make_scenarios", "prepare", "replay",
           "oracle_kpi", "oracle_yardsticks", "reachable_by_batch", "frozen_errors", "with_frozen_split",
           "decision_string", "first_harm_batch"]

TARGET = "repaid"
#: The covariate that selects the second half of the ``drift`` scenario: higher car values
#: drift the features but the first model errs less on them (0.045 against 0.072 below the
#: median on held-out reference rows), at the same positive share.
DRIFT_COVARIATE = "car_value"
SCENARIOS = ["concept", "prior", "drift", "none", "gradual"]
#: One letter per action in :func:`decision_string` (a promoted cycle's letter is upper case).
LETTERS = {"continue": "c", "wait": "w", "retrain": "r", "rollback": "b", "pivot": "p", "recalibrate": "k"}


@dataclass(frozen=True)
class Sizes:
    """How big a bench run is: rows the first model is built on, rows each scenario
    replays (the ``concept`` scenario takes half before and half after the shift), and
    how many batches (one cycle each) they arrive in.
    The change starts ``change_share`` of the way in (a quarter of the way in for ``gradual``,
    whose ramp takes the middle half).

    >>> Sizes(build_rows=2000, rows=1000, batches=4).batch_rows
    250
    """

    build_rows: int = 25_000
    rows: int = 20_000
    batches: int = 10
    seed: int = 0
    #: where the change starts in ``concept``, ``prior`` and ``drift``, as a share of ``rows``
    change_share: float = 0.5
    #: rows per ``/predict`` request
    request_rows: int = 1000

    @property
    def batch_rows(self) -> int:
        return self.rows // self.batches


@dataclass(frozen=True)
class FrozenError:
    """The first model's error rate and KPI per row on some rows of a scenario."""

    rows: int
    error: float
    kpi_per_row: float


@dataclass(frozen=True)
class Scenario:
    """Labelled rows in replay order (features, ``repaid``) and where the change starts."""

    name: str
    rows: pd.DataFrame
    change_at: int | None
    says: str
    frozen_before: FrozenError | None = None
    frozen_after: FrozenError | None = None


@dataclass
class Run:
    """One scenario replayed with one label delay: what the loop did and what it earned."""

    scenario: str
    label_delay: int
    rows: int
    batch_rows: int
    change_at: int | None
    kpi_name: str
    kpi_loop: float
    kpi_frozen: float
    kpi_oracle: float
    logged: int = 0
    cycles: list[dict[str, Any]] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def actions(self) -> list[str]:
        return [c["decision"]["action"] for c in self.cycles]

    @property
    def decisions(self) -> str:
        return decision_string(self.cycles)

    @property
    def retrains(self) -> int:
        """Challengers trained (a retrain decision that produced one; a recalibration of
        the same fitted model is not a retrain)."""
        return sum(1 for c in self.cycles if c.get("challenger") and c["decision"]["action"] == "retrain")

    @property
    def promotions(self) -> int:
        return sum(1 for c in self.cycles if c.get("promoted"))

    @property
    def retrain_seconds(self) -> float:
        """Seconds spent training (or recalibrating) challengers and judging them at the gate."""
        return sum(float(c.get("durations", {}).get(k, 0.0)) for c in self.cycles for k in ("retrain", "compare"))

    @property
    def rows_to_promotion(self) -> int | None:
        """Rows served from the change to the first promotion after it (None: no change or none)."""
        if self.change_at is None:
            return None
        for c in self.cycles:
            if c.get("promoted") and c["served"] > self.change_at:
                return int(c["served"] - self.change_at)
        return None

    @property
    def gain_reachable(self) -> float | None:
        """The share of the oracle's gain a loop could keep at most with these labels: the
        share of the post-change rows served after the first cycle whose labels include
        a post-change row (a promotion there, of a model as good as the oracle); the
        oracle itself serves every post-change row, labels or not.

        >>> Run("concept", 1, 15_000, 1500, 7500, "profit", 0.0, 0.0, 0.0).gain_reachable
        0.6
        """
        if self.change_at is None:
            return None
        first = self.change_at // self.batch_rows + self.label_delay
        return max(self.rows - (first + 1) * self.batch_rows, 0) / (self.rows - self.change_at)

    @property
    def gain_kept(self) -> float | None:
        from leanloop.learn.oracle import gain_kept

        return gain_kept(self.kpi_loop, self.kpi_frozen, self.kpi_oracle)

    def fired(self, rule: str) -> list[int]:
        """Indexes of the cycles whose decision had ``rule`` fire."""
        return [i for i, c in enumerate(self.cycles)
                if any(r["rule"] == rule and r["fired"] for r in c["decision"]["reasons"])]

    def to_json(self) -> dict[str, Any]:
        return {"scenario": self.scenario, "label_delay": self.label_delay, "rows": self.rows,
                "batch_rows": self.batch_rows, "change_at": self.change_at, "kpi": self.kpi_name,
                "kpi_loop": self.kpi_loop, "kpi_frozen": self.kpi_frozen, "kpi_oracle": self.kpi_oracle,
                "logged": self.logged, "gain_kept": self.gain_kept, "gain_reachable": self.gain_reachable,
                "decisions": self.decisions, "retrains": self.retrains,
                "promotions": self.promotions, "retrain_seconds": round(self.retrain_seconds, 3),
                "rows_to_promotion": self.rows_to_promotion, "seconds": round(self.seconds, 1),
                "cycles": [{k: c.get(k) for k in ("served", "cycle", "decision", "challenger", "promoted",
                                                  "durations", "champion_after")} for c in self.cycles]}


def decision_string(cycles: list[dict[str, Any]]) -> str:
    """The cycles' actions as letters (``c`` continue, ``w`` wait, ``r`` retrain, ``b`` rollback,
    ``p`` pivot, ``k`` recalibrate), upper case where the cycle promoted a challenger.

    >>> decision_string([{"decision": {"action": "wait"}}, {"decision": {"action": "retrain"}, "promoted": True},
    ...                  {"decision": {"action": "continue"}}])
    'w R c'
    """
    letters = []
    for c in cycles:
        action = c["decision"]["action"]
        letter = LETTERS.get(action, action[:1])
        letters.append(letter.upper() if c.get("promoted") else letter)
    return " ".join(letters)


def first_harm_batch(errors: list[int], batch_rows: int, before: int, *, z: float = 1.645) -> int | None:
    """The first batch whose error count is significantly above the error rate of the
    first ``before`` batches (one-sided two-proportion z-test at ``z``); None if none is.

    ``errors`` holds each row's error (1 wrong, 0 right) in replay order.

    >>> first_harm_batch([0] * 95 + [1] * 5 + [0] * 90 + [1] * 10 + [0] * 70 + [1] * 30, 100, 1)
    2
    """
    import math

    if before < 1:
        return None
    base = errors[: before * batch_rows]
    p0 = sum(base) / len(base)
    for b in range(before, len(errors) // batch_rows):
        batch = errors[b * batch_rows:(b + 1) * batch_rows]
        p1 = sum(batch) / len(batch)
        pooled = (sum(base) + sum(batch)) / (len(base) + len(batch))
        se = math.sqrt(max(pooled * (1 - pooled), 1e-12) * (1 / len(base) + 1 / len(batch)))
        if (p1 - p0) / se > z:
            return b
    return None


# -- scenarios -----------------------------------------------------------------------


def _split_reference(data: CarLoan, sizes: Sizes) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Reference rows to build on and held-out reference rows to replay (disjoint, seeded)."""
    import numpy as np

    order = np.random.default_rng(sizes.seed).permutation(len(data.reference))
    half = len(order) // 2
    build = data.reference.iloc[order[:half][: sizes.build_rows]]
    held = data.reference.iloc[order[half:]]
    return build.sort_values("timestamp", kind="stable").reset_index(drop=True), held.reset_index(drop=True)


def _analysis(data: CarLoan) -> pd.DataFrame:
    frame = data.analysis.merge(data.analysis_targets, on="id", how="left")
    return frame.sort_values("timestamp", kind="stable").reset_index(drop=True)


def make_scenarios(data: CarLoan, sizes: Sizes, names: list[str] | None = None) -> dict[str, Scenario]:
    """The scenarios named (all by default) at ``sizes``, with fixed seeds.

    Held-out reference rows come from the half of the reference period that
    :func:`prepare` never builds on.
    """
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(sizes.seed + 1)
    _, held = _split_reference(data, sizes)
    held = held.sample(frac=1.0, random_state=sizes.seed).reset_index(drop=True)
    analysis = _analysis(data)
    n, half = sizes.rows, round(sizes.rows * sizes.change_share)
    if not 0 < half < n:
        raise ValueError(f"change_share={sizes.change_share} leaves no rows before or after the change")
    if half > SHIFT_ROW or n - half > len(data.analysis) - SHIFT_ROW or n > len(held):
        raise ValueError(f"rows={n} is too many: at most {min(2 * SHIFT_ROW, len(held)):,} "
                         f"(and {SHIFT_ROW:,} on either side of the change); pass fewer rows")
    made: dict[str, Scenario] = {}
    wanted = names or SCENARIOS
    if "concept" in wanted:
        rows = analysis.iloc[SHIFT_ROW - half:SHIFT_ROW - half + n]
        made["concept"] = Scenario("concept", rows.reset_index(drop=True), half,
                                   f"analysis rows {SHIFT_ROW - half:,}-{SHIFT_ROW - half + n:,} in time order "
                                   f"(shift at {SHIFT_ROW:,})")
    if "prior" in wanted:
        first = held.iloc[:half]
        pool = held.iloc[half:]
        share = float(first[TARGET].mean())
        positives = round((n - half) * share / 2)
        pos = pool[pool[TARGET] == 1].iloc[:positives]
        neg = pool[pool[TARGET] == 0].iloc[: n - half - positives]
        if len(neg) < n - half - positives:
            raise ValueError(f"rows={n} is too many for the prior scenario: its second half needs "
                             f"{n - half - positives} held-out negatives, there are {len(neg)}; pass fewer rows")
        second = pd.concat([pos, neg]).sample(frac=1.0, random_state=sizes.seed)
        made["prior"] = Scenario("prior", pd.concat([first, second], ignore_index=True), half,
                                 f"held-out reference rows; positive share {share:.3f} -> "
                                 f"{positives / (n - half):.3f} from row {half:,} (positives thinned)")
    if "drift" in wanted:
        first = held.iloc[:half]
        pool = held.iloc[half:]
        cut = float(held[DRIFT_COVARIATE].median())
        second = pool[pool[DRIFT_COVARIATE] > cut].iloc[: n - half]
        if len(second) < n - half:
            raise ValueError(f"rows={n} is too many for the drift scenario: {len(second)} held-out rows have "
                             f"{DRIFT_COVARIATE} > {cut:,.0f}, {n - half} needed; pass fewer rows")
        made["drift"] = Scenario("drift", pd.concat([first, second], ignore_index=True), half,
                                 f"held-out reference rows; from row {half:,} only {DRIFT_COVARIATE} > {cut:,.0f}")
    if "none" in wanted:
        made["none"] = Scenario("none", held.iloc[:n].reset_index(drop=True), None,
                                "held-out reference rows, shuffled")
    if "gradual" in wanted:
        quarter = n // 4
        post = analysis.iloc[SHIFT_ROW:]
        if n > len(post):
            raise ValueError(f"rows={n} is too many for the gradual scenario (post-shift rows: {len(post)})")
        i = np.arange(n)
        share_new = np.clip((i - quarter) / max(n - 2 * quarter, 1), 0.0, 1.0)
        new = rng.random(n) < share_new
        picked = pd.concat([post.iloc[: int(new.sum())], held.iloc[: n - int(new.sum())]], ignore_index=True)
        # row i takes the next post-shift row where new[i], else the next held-out one
        order = np.where(new, np.cumsum(new) - 1, int(new.sum()) + np.cumsum(~new) - 1)
        rows = picked.iloc[order].reset_index(drop=True)
        made["gradual"] = Scenario("gradual", rows, quarter,
                                   f"held-out reference rows, ramping linearly from row {quarter:,} to "
                                   f"post-shift analysis rows at row {n - quarter:,}")
    return {k: made[k] for k in wanted}


# -- the first model and the runs ----------------------------------------------------


def prepare(directory: Path, data: CarLoan, sizes: Sizes, *, kpi: dict[str, Any] | None = None,
            window_rows: int | None = None, policy: dict[str, Any] | None = None) -> Path:
    """``Project.init`` on the build rows, the money KPI (the demo's by default), the
    measurement window (one batch by default: each cycle judges the newest batch, as a
    user cycling after each delivery would) and ``policy`` overrides; then ``build``.

    Returns the project folder, a template that :func:`replay` copies for each run.
    """
    from leanloop.config import KpiConfig, render_config
    from leanloop.demo import DEMO_KPI
    from leanloop.project import Project

    directory = Path(directory)
    if directory.exists():
        shutil.rmtree(directory)
    directory.mkdir(parents=True)
    build, _ = _split_reference(data, sizes)
    path = directory / "car_loan_build.parquet"
    build.to_parquet(path, index=False)
    project = Project.init(path, target=TARGET, time_column="timestamp", id_column="id", root=directory)
    config = project.config.model_copy(update={
        "kpi": KpiConfig.model_validate(kpi or DEMO_KPI),
        "measure": project.config.measure.model_copy(update={"window_rows": window_rows or sizes.batch_rows}),
        "policy": project.config.policy.model_copy(update=policy or {}),
    })
    project.paths.config.write_text(render_config(config), encoding="utf-8")
    project.close()
    with Project(directory) as project:
        project.build()
    return directory


def _frozen_model(project: Project) -> Any:
    first = project.registry.versions()[0]
    model, _ = project.registry.load(first.version)
    return model


def _evaluate(project: Project, model: Any, rows: pd.DataFrame) -> Any:
    from leanloop.measure.evaluation import evaluate

    frame = project.config.schema_.model_frame(rows, "scenario")
    return evaluate(model, frame, rows[TARGET].astype(int).tolist(), project.config.data, project.config.kpi)


def frozen_errors(project: Project, scenario: Scenario) -> list[int]:
    """Each row's error (1 wrong, 0 right) under the frozen first model, in replay order:
    the model's own mistakes (the most probable class), whatever label rule serves it, so
    harm is read the same under argmax and under the expected-value rule."""
    from leanloop.build.served import fitted_model
    from leanloop.scoring import score

    frame = project.config.schema_.model_frame(scenario.rows, "scenario")
    labels = score(fitted_model(_frozen_model(project), keep_calibration=True), frame,
                   project.config.data.task.value).labels
    return [int(p != t) for p, t in zip(labels, scenario.rows[TARGET].astype(int).tolist(), strict=True)]


def with_frozen_split(project: Project, scenario: Scenario) -> Scenario:
    """``scenario`` with the frozen model's error and KPI before and after its change."""
    if scenario.change_at is None:
        return scenario
    model, kpi = _frozen_model(project), project.config.kpi.name

    def part(rows: pd.DataFrame) -> FrozenError:
        found = _evaluate(project, model, rows)
        return FrozenError(len(rows), 1.0 - found.metrics["accuracy"], found.kpis[kpi])

    rows = scenario.rows
    return Scenario(scenario.name, rows, scenario.change_at, scenario.says,
                    part(rows.iloc[: scenario.change_at]), part(rows.iloc[scenario.change_at:]))


def oracle_yardsticks(project: Project, scenario: Scenario, batch_rows: int, seed: int = 0) -> Yardsticks:
    """The frozen and oracle KPI totals over the scenario's rows and per batch of
    ``batch_rows`` (:func:`leanloop.learn.oracle.yardsticks`)."""
    from leanloop.learn.oracle import yardsticks

    rows = scenario.rows.assign(**{TARGET: scenario.rows[TARGET].astype(int)})
    return yardsticks(project.config, _frozen_model(project), rows, scenario.change_at, seed=seed,
                      batch_rows=batch_rows)


def reachable_by_batch(found: Yardsticks, change_at: int | None, batch_rows: int, label_delay: int) -> float | None:
    """The share of the oracle's gain that the oracle itself earned on the batches a loop
    could serve with a model learnt from post-change labels (those after the first
    cycle whose labels include a post-change row): what a loop promoting a model exactly
    as good as the oracle there would keep. Unlike :attr:`Run.gain_reachable` it counts
    where in the period the oracle's gain fell (seldom evenly: a batch's gain is noisy).

    >>> from leanloop.learn.oracle import Yardsticks
    >>> found = Yardsticks(10.0, 16.0, (5.0, 5.0, 0.0), (5.0, 9.0, 2.0))
    >>> reachable_by_batch(found, 1, 1, 0), reachable_by_batch(found, 1, 1, 1)
    (0.3333333333333333, 0.0)
    """
    gain = found.oracle - found.frozen
    if change_at is None or gain <= 0 or not found.oracle_batches:
        return None
    first = change_at // batch_rows + label_delay
    later = zip(found.oracle_batches[first + 1:], found.frozen_batches[first + 1:], strict=True)
    return sum(o - f for o, f in later) / gain


def oracle_kpi(project: Project, scenario: Scenario, seed: int = 0) -> tuple[float, float]:
    """(frozen, oracle) KPI totals over the scenario's rows
    (:func:`leanloop.learn.oracle.yardsticks`, the same yardsticks the demo prints)."""
    from leanloop.learn.oracle import yardsticks

    rows = scenario.rows.assign(**{TARGET: scenario.rows[TARGET].astype(int)})
    found = yardsticks(project.config, _frozen_model(project), rows, scenario.change_at, seed=seed)
    return found.frozen, found.oracle


def replay(template: Path, directory: Path, scenario: Scenario, *, batches: int, label_delay: int,
           request_rows: int = 1000, on_cycle: Callable[[dict[str, Any]], None] | None = None,
           oracle: tuple[float, float] | None = None, server: ServerStarter | None = None) -> Run:
    """Copy the project at ``template`` to ``directory`` and replay ``scenario`` through
    its real server in ``batches`` batches, a cycle after each; labels arrive
    ``label_delay`` batches late (0: before the cycle of their own batch).

    ``oracle`` (frozen, oracle KPI totals) saves recomputing them per label delay;
    ``server`` starts the project's server (default: ``leanloop serve`` in a fresh process).
    """
    import httpx

    from leanloop.demo import evaluate_served, free_port, running_server, wait_serving
    from leanloop.project import Project
    from leanloop.serve.security import bearer

    started = time.perf_counter()
    directory = Path(directory)
    if directory.exists():
        shutil.rmtree(directory)
    shutil.copytree(template, directory)
    project = Project(directory)
    try:
        rows = scenario.rows
        size = len(rows) // batches
        truth = rows[TARGET].astype(int).tolist()[: size * batches]
        records = rows[project.config.schema_.names].to_dict("records")[: size * batches]
        served: list[tuple[str, str, Any]] = []
        cycles: list[dict[str, Any]] = []
        with (server or running_server)(directory, free_port()) as url, \
                httpx.Client(base_url=url, timeout=120.0, headers=bearer(project)) as client:
            for b in range(batches):
                for start in range(b * size, (b + 1) * size, request_rows):
                    response = client.post("/predict", json={"rows": records[start:min(start + request_rows,
                                                                                        (b + 1) * size)]})
                    response.raise_for_status()
                    body = response.json()
                    served += [(p["prediction_id"], body["model_version"], p["prediction"])
                               for p in body["predictions"]]
                labelled = b - label_delay
                if labelled >= 0:
                    ids = range(labelled * size, (labelled + 1) * size)
                    client.post("/feedback", json={"feedback": [
                        {"prediction_id": served[i][0], "label": truth[i]} for i in ids]}).raise_for_status()
                cycle = project.cycle().to_json()
                cycle["served"] = len(served)
                cycle["batch"] = b
                cycles.append(cycle)
                if on_cycle is not None:
                    on_cycle(cycle)
                if cycle["champion_after"] != served[-1][1]:
                    wait_serving(client, cycle["champion_after"])
        loop = evaluate_served(served, truth, project)
        logged = project.store.count_predictions()
        kpi = project.config.kpi.name
        frozen, best = oracle if oracle is not None else oracle_kpi(project, scenario)
        return Run(scenario=scenario.name, label_delay=label_delay, rows=len(served), batch_rows=size,
                   change_at=scenario.change_at, kpi_name=kpi, kpi_loop=loop.kpis[f"{kpi}_total"],
                   kpi_frozen=frozen, kpi_oracle=best, logged=logged, cycles=cycles,
                   seconds=time.perf_counter() - started)
    finally:
        project.close()
