"""Shadow version against the champion on live traffic: the same rows, both answers logged.

While a version is in shadow mode (:mod:`leanloop.serve.shadow`), every request the
champion answers is also scored by the shadow version. Once labels arrive, the two are
compared on exactly those rows, with the gate's own statistics
(:mod:`leanloop.learn.compare`): a paired bootstrap interval of the KPI lift per
prediction and of the main metric's gain. The report's checks read like the gate's:

- ``live_<kpi>_lift``: the shadow's KPI per prediction is higher by at least ``[gate]
  min_kpi_gain``, by the gate's one-sided test (the one-sided lower bound of the lift
  above zero and that margin, :func:`~leanloop.learn.compare.lift_check`);
- ``live_<metric>_no_regression``: the main metric is not significantly worse.

The verdict is ``promote`` when both pass, ``reject`` when either fails, and ``wait``
while fewer than ``[policy] min_labels`` shadowed rows have labels (it says how many more).
Only rows the current champion answered are compared; rows answered by an earlier
champion are counted, not mixed in.

With ``[gate] shadow_before_promote``, the loop does not promote a challenger that
passed the gate: it puts it on trial in shadow mode (:func:`loop_trial` finds it) and
each later cycle judges it (:func:`judge_trial`): ``promote`` promotes it, ``reject``
ends shadow mode, ``wait`` leaves it running (and the policy waits instead of training
another challenger).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict

from leanloop.config import Task
from leanloop.errors import NotFoundError
from leanloop.learn.compare import Check, contender, lift_check, metric_gain, truth_codes
from leanloop.learn.ledger import Cycle
from leanloop.measure.logged import logged_scored
from leanloop.target import normalize_target

if TYPE_CHECKING:
    import pandas as pd

    from leanloop.workspace import Workspace

__all__ = ["ShadowReport", "shadow_report", "loop_trial", "judge_trial"]


class ShadowReport(BaseModel):
    """The shadow version's record on live traffic against the champion."""

    model_config = ConfigDict(frozen=True)

    shadow: str
    champion: str
    rows_scored: int
    rows_compared: int
    rows_labelled: int
    answered_by: dict[str, int]
    agreement: float | None
    verdict: str
    says: str
    checks: list[Check]

    def to_json(self) -> dict[str, Any]:
        """The stable JSON shape ``leanloop shadow --status --json`` prints."""
        return self.model_dump(mode="json")

    def explain(self) -> str:
        """The report as lines of text, checks like a test report."""
        agree = "" if self.agreement is None else f"; they agree on {self.agreement:.1%} of them"
        lines = [f"shadow {self.shadow} vs champion {self.champion}: {self.verdict.upper()}",
                 (f"  {self.rows_scored} rows shadow-scored, {self.rows_compared} answered by {self.champion}"
                  f"{agree}; {self.rows_labelled} labelled"),
                 f"  {self.says}"]
        lines += [f"  [{'PASS' if c.passed else 'FAIL'}] {c.check}: {c.says}" for c in self.checks]
        return "\n".join(lines)


def _agreement(pairs: pd.DataFrame, task: Task) -> float | None:
    import numpy as np

    if pairs.empty:
        return None
    if task is Task.REGRESSION:
        a = pairs["prediction"].astype(float).to_numpy()
        b = pairs["shadow_prediction"].astype(float).to_numpy()
        return float(np.mean(np.isclose(a, b, rtol=0.01, atol=1e-12)))
    return float(np.mean([str(a) == str(b) for a, b in zip(pairs["prediction"], pairs["shadow_prediction"],
                                                         strict=True)]))


def shadow_report(ws: Workspace, version: str | None = None) -> ShadowReport:
    """Compare ``version`` (default: the current shadow) with the champion on the live
    rows both scored.

    A clear :class:`NotFoundError` when no version is named and none is in shadow mode.
    """
    config = ws.config
    policy = config.policy
    task = config.data.task
    if version is None:
        version = ws.store.get_alias("shadow")
        if version is None:
            raise NotFoundError("no version is in shadow mode; 'leanloop shadow VERSION' starts one, "
                                "'leanloop shadow --status VERSION' reports on an earlier one")
    ws.registry.get(version)
    champion = ws.registry.champion().version
    everything = ws.store.shadow_pairs(version)
    answered_by = {str(k): int(v) for k, v in everything["model_version"].value_counts().items()}
    pairs = everything[everything["model_version"] == champion].reset_index(drop=True)
    labelled = pairs[pairs["label"].notna()].reset_index(drop=True)
    common: dict[str, Any] = {
        "shadow": version, "champion": champion, "rows_scored": len(everything), "rows_compared": len(pairs),
        "rows_labelled": len(labelled), "answered_by": answered_by, "agreement": _agreement(pairs, task)}
    if len(labelled) < policy.min_labels:
        says = (f"{len(labelled)} of the compared rows have labels; the comparison needs [policy] min_labels = "
                f"{policy.min_labels}, {policy.min_labels - len(labelled)} more")
        return ShadowReport(verdict="wait", says=says, checks=[], **common)

    classes = config.data.classes
    y = normalize_target(labelled["label"], task).tolist()
    truth = truth_codes(y, config)
    mine = contender(logged_scored(labelled, task, classes), y, config)
    theirs = contender(logged_scored(labelled.assign(prediction=labelled["shadow_prediction"],
                                                     probabilities=labelled["shadow_probabilities"]), task, classes),
                       y, config)
    kpi, metric = config.kpi.name, policy.main_metric_for(config.data)
    champ, shad, gain = metric_gain(metric, truth, mine, theirs, config)
    checks = [
        lift_check(f"live_{kpi}_lift", truth, mine, theirs, config, rows=len(labelled),
                   where=f" on {len(labelled)} live rows"),
        Check(check=f"live_{metric}_no_regression", champion=champ, challenger=shad, threshold=0.0,
              passed=not gain.upper < 0.0, difference=gain.value, lower=gain.lower, upper=gain.upper,
              rows=len(labelled),
              says=f"{metric} {champ:.4f} -> {shad:.4f}, gain {gain.value:+.4f} (CI {gain.lower:+.4f}.."
                   f"{gain.upper:+.4f}); fails only if significantly worse"),
    ]
    if all(c.passed for c in checks):
        verdict, says = "promote", f"{version} beats {champion} on live traffic: 'leanloop promote {version}'"
    else:
        failed = ", ".join(c.check for c in checks if not c.passed)
        verdict, says = "reject", f"{version} does not beat {champion} on live traffic ({failed})"
    return ShadowReport(verdict=verdict, says=says, checks=checks, **common)


def loop_trial(ws: Workspace, ledger: list[Cycle]) -> str | None:
    """The version in shadow mode if the loop put it there (a cycle's ``shadowed``), else
    None: a shadow a person started is theirs to judge."""
    version = ws.store.get_alias("shadow")
    if version is None:
        return None
    return version if any(c.shadowed == version for c in ledger) else None


def judge_trial(ws: Workspace, version: str) -> ShadowReport:
    """Judge the loop's shadow trial of ``version`` and act on the verdict: promote it,
    end shadow mode, or (``wait``) leave it running."""
    report = shadow_report(ws, version)
    if report.verdict == "promote":
        ws.registry.promote(version)  # which ends its shadow mode
    elif report.verdict == "reject":
        ws.registry.stop_shadow()
    return report
