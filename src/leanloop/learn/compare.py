"""Champion versus challenger on the same rows, and the promotion gate.

Both versions score the champion's holdout and the recent labelled production rows
that neither trained on. The gate promotes the challenger only when every check
passes, and lists each check with its numbers, like a test suite.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict

from leanloop.build.evaluate import Evaluation, evaluate
from leanloop.measure.performance import higher_is_better
from leanloop.scoring import model_input
from leanloop.target import normalize_target

if TYPE_CHECKING:
    import pandas as pd

    from leanloop.project import Project

__all__ = ["Check", "Comparison", "compare"]


class Check(BaseModel):
    """One gate check: the champion's and the challenger's value, the bar, the verdict."""

    model_config = ConfigDict(frozen=True)

    check: str
    champion: float | None
    challenger: float | None
    threshold: float
    passed: bool


class Comparison(BaseModel):
    """The gate's verdict on a challenger."""

    model_config = ConfigDict(frozen=True)

    champion: str
    challenger: str
    rows: dict[str, int]
    checks: list[Check]

    @property
    def promote(self) -> bool:
        """Whether every check passed."""
        return all(c.passed for c in self.checks)


def _gain(metric: str, champion: float, challenger: float) -> float:
    return challenger - champion if higher_is_better(metric) else champion - challenger


def compare(project: Project, champion: str, challenger: str, *, recent: pd.DataFrame,
            holdout: pd.DataFrame) -> Comparison:
    """Evaluate both versions on ``recent`` and ``holdout`` and apply the gate."""
    config = project.config
    metric = config.policy.main_metric_for(config.data)
    kpi = config.kpi.name
    registry = project.registry
    contenders = {version: (registry.get(version), *registry.load(version)) for version in (champion, challenger)}
    baseline = contenders[champion][2]
    results: dict[Any, Evaluation] = {}
    for name, frame in (("recent", recent), ("holdout", holdout)):
        frame = frame.reset_index(drop=True)
        y = normalize_target(frame[config.data.target], config.data.task).tolist()
        for version, (record, model, _) in contenders.items():
            X = model_input(config.schema_, frame, record.input_format, f"{name} rows")
            results[(name, version)] = evaluate(model, X, y, config.data, config.kpi)
        X = config.schema_.model_frame(frame, f"{name} rows")
        results[(name, "baseline")] = evaluate(baseline, X, y, config.data, config.kpi)

    def value(name: str, who: str, key: str, metrics: bool = True) -> float | None:
        source = results[(name, who)].metrics if metrics else results[(name, who)].kpis
        return source.get(key)

    checks = []
    champ, chall = value("recent", champion, metric), value("recent", challenger, metric)
    checks.append(Check(check=f"recent_{metric}_gain", champion=champ, challenger=chall, threshold=0.0,
                        passed=None not in (champ, chall) and _gain(metric, champ, chall) > 0.0))
    champ_kpi, chall_kpi = value("recent", champion, kpi, False), value("recent", challenger, kpi, False)
    checks.append(Check(check=f"recent_{kpi}_gain", champion=champ_kpi, challenger=chall_kpi,
                        threshold=config.policy.min_kpi_gain,
                        passed=None not in (champ_kpi, chall_kpi) and chall_kpi - champ_kpi >= config.policy.min_kpi_gain))
    champ_h, chall_h = value("holdout", champion, metric), value("holdout", challenger, metric)
    checks.append(Check(check=f"holdout_{metric}_regression", champion=champ_h, challenger=chall_h,
                        threshold=config.policy.max_metric_drop,
                        passed=None not in (champ_h, chall_h) and -_gain(metric, champ_h, chall_h) <= config.policy.max_metric_drop))
    base = value("recent", "baseline", metric)
    checks.append(Check(check=f"recent_{metric}_beats_baseline", champion=base, challenger=chall, threshold=0.0,
                        passed=None not in (base, chall) and _gain(metric, base, chall) > 0.0))
    return Comparison(champion=champion, challenger=challenger,
                      rows={"recent": len(recent), "holdout": len(holdout)}, checks=checks)
