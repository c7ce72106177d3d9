"""Champion versus challenger on the same rows, and the promotion gate.

Both versions score the champion's holdout and the recent labelled production rows
that neither trained on. The gate promotes the challenger only when every check
passes, and lists each check with its numbers, like a test suite.

``hard_cases_regression`` pairs the two versions on the enriched test set
(:mod:`leanloop.learn.testset`, held out of retraining): for a classifier, the exact
McNemar test, i.e. a one-sided binomial test (``scipy.stats.binomtest``) that among
the rows exactly one version gets right, the challenger is the one wrong more than
half the time; for a regressor, the one-sided Wilcoxon signed-rank test
(``scipy.stats.wilcoxon``) that the challenger's absolute errors are larger. The check
fails when that p-value is below ``[testset] alpha``, and is skipped (passing, with the
reason) when the set holds fewer than ``[testset] min_rows`` rows.
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
    p_value: float | None = None
    rows: int | None = None
    skipped: str | None = None


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


def paired_regression_p(champion_errors: Any, challenger_errors: Any, *, binary: bool) -> float:
    """One-sided p-value that the challenger does worse than the champion on the same rows.

    ``binary``: 0/1 errors, exact McNemar (binomial test on the discordant rows); else
    per-row losses, Wilcoxon signed-rank. 1.0 when the two never differ.

    Examples
    --------
    >>> round(paired_regression_p([0] * 20, [1] * 9 + [0] * 11, binary=True), 4)
    0.002
    >>> paired_regression_p([0.5, 1.0], [0.5, 1.0], binary=False)
    1.0
    """
    import numpy as np
    from scipy import stats

    champ, chall = np.asarray(champion_errors, dtype=float), np.asarray(challenger_errors, dtype=float)
    if binary:
        worse = int(((champ == 0) & (chall == 1)).sum())
        better = int(((champ == 1) & (chall == 0)).sum())
        if worse + better == 0:
            return 1.0
        return float(stats.binomtest(worse, worse + better, 0.5, alternative="greater").pvalue)
    diff = chall - champ
    if not np.any(diff != 0):
        return 1.0
    return float(stats.wilcoxon(diff, alternative="greater").pvalue)


def _hard_case_check(project: Project, contenders: dict[str, Any], champion: str, challenger: str,
                     hard: pd.DataFrame) -> Check:
    from leanloop.config import Task
    from leanloop.measure.rows import row_outcomes
    from leanloop.scoring import score

    config = project.config
    settings = config.testset
    name = "hard_cases_regression"
    if len(hard) < settings.min_rows:
        return Check(check=name, champion=None, challenger=None, threshold=settings.alpha, passed=True,
                     rows=len(hard), skipped=f"the enriched test set has {len(hard)} rows, fewer than "
                                             f"[testset] min_rows = {settings.min_rows}")
    hard = hard.reset_index(drop=True)
    y = normalize_target(hard[config.data.target], config.data.task).tolist()
    errors = {}
    for version in (champion, challenger):
        record, model, _ = contenders[version]
        X = model_input(config.schema_, hard, record.input_format, "the enriched test set")
        labels = score(model, X, config.data.task.value).labels
        errors[version] = row_outcomes(y, labels, None, config.data, config.kpi).error
    binary = config.data.task is Task.CLASSIFICATION
    p = paired_regression_p(errors[champion], errors[challenger], binary=binary)
    # Shown as accuracy (classification) or MAE (regression) on the set.
    shown = {v: float(1 - e.mean()) if binary else float(e.mean()) for v, e in errors.items()}
    return Check(check=name, champion=shown[champion], challenger=shown[challenger], threshold=settings.alpha,
                 passed=p >= settings.alpha, p_value=p, rows=len(hard))


def compare(project: Project, champion: str, challenger: str, *, recent: pd.DataFrame,
            holdout: pd.DataFrame, hard: pd.DataFrame | None = None) -> Comparison:
    """Evaluate both versions on ``recent``, ``holdout`` and the enriched test set
    ``hard`` (default: the project's) and apply the gate."""
    from leanloop.learn.testset import hard_case_frame

    hard = hard_case_frame(project) if hard is None else hard
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
    checks.append(_hard_case_check(project, contenders, champion, challenger, hard))
    return Comparison(champion=champion, challenger=challenger,
                      rows={"recent": len(recent), "holdout": len(holdout), "hard_cases": len(hard)}, checks=checks)
