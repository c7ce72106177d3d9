"""The policy: turn a measurement into a decision, with every rule's numbers.

Each rule reads one number of the measurement, compares it with a threshold from
``[policy]`` in ``leanloop.toml`` and says whether it fired. The action follows from
the rules that fired, in this order: too little evidence means ``wait``; a drop of
the main metric or of the KPI (or, if configured, broad drift) means ``retrain``;
else ``continue``.
Drift alone does not retrain by default: when labels show performance held, the
model is left alone and the decision says so.

Examples
--------
>>> from leanloop.config import DataConfig, PolicyConfig
>>> data = DataConfig(path="d.csv", target="y", task="classification", classes=[0, 1])
>>> decision = decide(rows=5000, champion_rows=5000, labelled=4000, drift_share=0.1,
...                   realized={"roc_auc": 0.80}, reference={"roc_auc": 0.90},
...                   policy=PolicyConfig(), data=data)
>>> decision.action.value
'retrain'
>>> [(r.rule, r.fired) for r in decision.reasons]  # doctest: +NORMALIZE_WHITESPACE
[('min_rows', False), ('champion_rows', False), ('min_labels', False),
 ('metric_drop', True), ('kpi_drop', False), ('drift_share', False)]
"""

from __future__ import annotations

from enum import Enum

from pydantic import BaseModel, ConfigDict

from leanloop.config import DataConfig, PolicyConfig
from leanloop.measure.performance import higher_is_better

__all__ = ["Action", "Rule", "Decision", "decide"]


class Action(str, Enum):
    """What the loop does after a measurement."""

    CONTINUE = "continue"
    WAIT = "wait"
    RETRAIN = "retrain"


class Rule(BaseModel):
    """One rule's verdict: the value it saw, its threshold, whether it fired, and why."""

    model_config = ConfigDict(frozen=True)

    rule: str
    value: float | None
    threshold: float | None
    fired: bool
    says: str


class Decision(BaseModel):
    """The action and every rule behind it."""

    model_config = ConfigDict(frozen=True)

    action: Action
    reasons: list[Rule]

    def summary(self) -> str:
        """The rules that fired, in one line (or why nothing did)."""
        fired = [r.says for r in self.reasons if r.fired]
        return "; ".join(fired) if fired else "no rule fired"


def decide(*, rows: int, champion_rows: int, labelled: int, drift_share: float,
           realized: dict[str, float], reference: dict[str, float], policy: PolicyConfig,
           data: DataConfig, kpi_name: str = "net_value", realized_kpi: float | None = None,
           reference_kpi: float | None = None) -> Decision:
    """Apply the policy's rules to a window's numbers."""
    metric = policy.main_metric_for(data)
    rules = [
        Rule(rule="min_rows", value=rows, threshold=policy.min_rows, fired=rows < policy.min_rows,
             says=f"{rows} predictions in the window ({policy.min_rows} needed to judge)"),
        Rule(rule="champion_rows", value=champion_rows, threshold=policy.min_rows,
             fired=champion_rows < policy.min_rows,
             says=f"the champion served {champion_rows} rows of the window ({policy.min_rows} needed to judge it)"),
        Rule(rule="min_labels", value=labelled, threshold=policy.min_labels, fired=labelled < policy.min_labels,
             says=f"{labelled} labelled rows ({policy.min_labels} needed; {max(policy.min_labels - labelled, 0)} more)"),
    ]
    drop = None
    if metric in realized and metric in reference:
        sign = 1.0 if higher_is_better(metric) else -1.0
        drop = sign * (reference[metric] - realized[metric])
    rules.append(Rule(
        rule="metric_drop", value=drop, threshold=policy.max_metric_drop,
        fired=drop is not None and drop > policy.max_metric_drop and labelled >= policy.min_labels,
        says=(f"{metric} fell by {drop:.4f} vs the reference (retrain above {policy.max_metric_drop})"
              if drop is not None else f"{metric} unknown: no labelled rows"),
    ))
    kpi_drop = None
    if realized_kpi is not None and reference_kpi is not None:
        kpi_drop = (reference_kpi - realized_kpi) / max(abs(reference_kpi), 1e-12)
    rules.append(Rule(
        rule="kpi_drop", value=kpi_drop, threshold=policy.max_kpi_drop,
        fired=kpi_drop is not None and kpi_drop > policy.max_kpi_drop and labelled >= policy.min_labels,
        says=(f"{kpi_name} per prediction fell by {kpi_drop:.1%} vs the reference (retrain above {policy.max_kpi_drop:.0%})"
              if kpi_drop is not None else f"{kpi_name} unknown: no labelled rows"),
    ))
    rules.append(Rule(
        rule="drift_share", value=drift_share, threshold=policy.max_drift_share,
        fired=drift_share > policy.max_drift_share,
        says=f"{drift_share:.0%} of features drifted (limit {policy.max_drift_share:.0%}"
             + ("; drift alone does not retrain unless retrain_on_drift is set)" if not policy.retrain_on_drift else ")"),
    ))
    fired = {r.rule for r in rules if r.fired}
    if fired & {"min_rows", "champion_rows", "min_labels"}:
        action = Action.WAIT
    elif fired & {"metric_drop", "kpi_drop"} or ("drift_share" in fired and policy.retrain_on_drift):
        action = Action.RETRAIN
    else:
        action = Action.CONTINUE
    return Decision(action=action, reasons=rules)
