"""Champion versus challenger on the same rows, and the promotion gate.

Both versions score the same row sets: the recent labelled production rows that
neither trained on, and the champion's holdout. Every difference comes with a paired
bootstrap confidence interval (:mod:`leanloop.learn.paired`). The gate promotes the
challenger only when every check passes, and lists each check with its numbers, like
a test suite:

- ``recent_<kpi>_lift``: the KPI per prediction rises on the recent rows, with the
  configured confidence (the interval's lower end above zero) and by at least
  ``min_kpi_gain`` — a gain inside the noise is not worth a deploy;
- ``recent_<metric>_no_regression``: the main metric is not significantly worse on the
  recent rows (the interval's upper end is not below zero);
- ``holdout_<metric>_regression``: on the champion's holdout the challenger loses at
  most ``max_metric_drop`` (the population it was built for still matters);
- ``recent_<metric>_beats_baseline``: the challenger beats the trivial baseline by more
  than ``pivot_baseline_margin``;
- ``hard_cases_regression``: no significant regression on the enriched test set of hard
  cases (:mod:`leanloop.learn.testset`, held out of retraining), both versions paired on
  its rows: for a classifier the exact McNemar test, i.e. a one-sided binomial test
  (``scipy.stats.binomtest``) that among the rows exactly one version gets right, the
  challenger is the one wrong more than half the time; for a regressor the one-sided
  Wilcoxon signed-rank test (``scipy.stats.wilcoxon``) that the challenger's absolute
  errors are larger. It fails when that p-value is below ``[testset] alpha`` and is
  skipped (passing, with the reason) when the set holds fewer than ``[testset] min_rows``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict

from leanloop.config import Task
from leanloop.learn.paired import Interval, mean, paired_difference, statistic_for
from leanloop.measure.performance import higher_is_better
from leanloop.scoring import Scored, model_input, score
from leanloop.target import normalize_target

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

    from leanloop.config import ProjectConfig
    from leanloop.project import Project

__all__ = ["Check", "Comparison", "Contender", "compare", "contender", "metric_gain", "paired_regression_p", "score_rows",
           "truth_codes"]


class Check(BaseModel):
    """One gate check: the champion's and the challenger's value, the bar, the verdict,
    and the paired difference (challenger minus champion, better is positive) with its
    confidence interval when it was bootstrapped."""

    model_config = ConfigDict(frozen=True)

    check: str
    champion: float | None
    challenger: float | None
    threshold: float
    passed: bool
    difference: float | None = None
    lower: float | None = None
    upper: float | None = None
    says: str = ""
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

    def explain(self) -> str:
        """The checks as a test report, one line each."""
        lines = [f"{self.challenger} vs {self.champion}: {'PROMOTE' if self.promote else 'REJECT'}"]
        for c in self.checks:
            lines.append(f"  [{'PASS' if c.passed else 'FAIL'}] {c.check}: {c.says}")
        return "\n".join(lines)


class Contender(BaseModel):
    """One model's outputs on a row set, as arrays the statistics read."""

    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True)

    labels: Any
    scores: Any
    kpi: Any


def truth_codes(y: list[Any], config: ProjectConfig) -> np.ndarray:
    import numpy as np

    if config.data.task is Task.REGRESSION:
        return np.asarray(y, dtype=float)
    classes = [str(c) for c in config.data.classes or sorted({str(v) for v in y})]
    return np.array([classes.index(str(v)) if str(v) in classes else -1 for v in y])


def score_rows(model: Any, X: pd.DataFrame, y: list[Any], config: ProjectConfig) -> Contender:
    """Score ``X`` and keep what the gate's statistics read: class codes (or values),
    the positive-class probability (binary) or probability matrix, each row's KPI."""
    return contender(score(model, X, config.data.task.value), y, config)


def contender(scored: Scored, y: list[Any], config: ProjectConfig) -> Contender:
    """What the gate's statistics read from outputs already made (scored now, or logged)."""
    import numpy as np

    if config.data.task is Task.REGRESSION:
        labels = np.asarray(scored.labels, dtype=float)
        return Contender(labels=labels, scores=labels, kpi=_row_kpis(y, scored.labels, config))
    classes = [str(c) for c in config.data.classes or scored.classes or []]
    labels = np.array([classes.index(str(v)) if str(v) in classes else -1 for v in scored.labels])
    proba = scored.probabilities
    if proba is not None and scored.classes is not None:
        order = [[str(c) for c in scored.classes].index(c) for c in classes]
        proba = np.asarray(proba)[:, order]
        proba = proba[:, 1] if len(classes) == 2 else proba
    return Contender(labels=labels, scores=proba, kpi=_row_kpis(y, scored.labels, config))


def _row_kpis(y: list[Any], predicted: list[Any], config: ProjectConfig) -> np.ndarray:
    import numpy as np

    from leanloop.measure.kpi import outcome_values

    if config.data.task is Task.REGRESSION:
        return -config.kpi.cost_per_unit_error * np.abs(np.asarray(y, dtype=float) - np.asarray(predicted, dtype=float))
    return np.asarray(outcome_values(y, predicted, config.kpi), dtype=float)


def metric_gain(metric: str, truth: np.ndarray, first: Contender, second: Contender,
                 config: ProjectConfig) -> tuple[float, float, Interval]:
    """Each side's value of ``metric`` and the paired gain (better is positive)."""
    statistic, reads = statistic_for(metric)
    a, b = (first.scores, second.scores) if reads == "scores" else (first.labels, second.labels)
    policy = config.policy
    diff = paired_difference(truth, a, b, statistic=statistic, resamples=policy.gate_resamples,
                             confidence=policy.gate_confidence, seed=config.model.seed)
    if not higher_is_better(metric):
        diff = Interval(value=-diff.value, lower=-diff.upper, upper=-diff.lower, confidence=diff.confidence,
                        resamples=diff.resamples, rows=diff.rows)
    return statistic(truth, a), statistic(truth, b), diff


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
    import numpy as np

    config = project.config
    settings = config.testset
    name = "hard_cases_regression"
    if len(hard) < settings.min_rows:
        reason = (f"the enriched test set has {len(hard)} rows, fewer than "
                  f"[testset] min_rows = {settings.min_rows}")
        return Check(check=name, champion=None, challenger=None, threshold=settings.alpha, passed=True,
                     rows=len(hard), skipped=reason, says=f"skipped: {reason}")
    hard = hard.reset_index(drop=True)
    y = normalize_target(hard[config.data.target], config.data.task).tolist()
    truth = truth_codes(y, config)
    binary = config.data.task is Task.CLASSIFICATION
    errors = {}
    for version in (champion, challenger):
        record, model, _ = contenders[version]
        X = model_input(config.schema_, hard, record.input_format, "the enriched test set")
        labels = score_rows(model, X, y, config).labels
        errors[version] = (labels != truth).astype(float) if binary else np.abs(labels - truth)
    p = paired_regression_p(errors[champion], errors[challenger], binary=binary)
    # Shown as accuracy (classification) or MAE (regression) on the set.
    shown = {v: float(1 - e.mean()) if binary else float(e.mean()) for v, e in errors.items()}
    what = "accuracy" if binary else "mae"
    test = "exact McNemar" if binary else "Wilcoxon signed-rank"
    return Check(check=name, champion=shown[champion], challenger=shown[challenger], threshold=settings.alpha,
                 passed=p >= settings.alpha, p_value=p, rows=len(hard),
                 says=f"{what} on {len(hard)} hard cases {shown[champion]:.4f} -> {shown[challenger]:.4f}; "
                      f"{test} p = {p:.3g} that the challenger is worse; fails below {settings.alpha:g}")


def compare(project: Project, champion: str, challenger: str, *, recent: pd.DataFrame,
            holdout: pd.DataFrame, hard: pd.DataFrame | None = None) -> Comparison:
    """Score both versions (and the trivial baseline) on ``recent``, ``holdout`` and the
    enriched test set ``hard`` (default: the project's) and apply the gate."""
    from leanloop.learn.testset import hard_case_frame

    hard = hard_case_frame(project) if hard is None else hard
    config = project.config
    policy = config.policy
    metric = policy.main_metric_for(config.data)
    kpi = config.kpi.name
    registry = project.registry
    contenders = {version: (registry.get(version), *registry.load(version)) for version in (champion, challenger)}
    baseline = contenders[champion][2]
    outputs: dict[tuple[str, str], Contender] = {}
    truths: dict[str, np.ndarray] = {}
    for name, frame in (("recent", recent), ("holdout", holdout)):
        frame = frame.reset_index(drop=True)
        y = normalize_target(frame[config.data.target], config.data.task).tolist()
        truths[name] = truth_codes(y, config)
        for version, (record, model, _) in contenders.items():
            X = model_input(config.schema_, frame, record.input_format, f"{name} rows")
            outputs[(name, version)] = score_rows(model, X, y, config)
        outputs[(name, "baseline")] = score_rows(baseline, config.schema_.model_frame(frame, f"{name} rows"), y, config)

    checks = []
    recent_champ, recent_chall = outputs[("recent", champion)], outputs[("recent", challenger)]
    lift = paired_difference(truths["recent"], recent_champ.kpi, recent_chall.kpi, statistic=mean,
                             resamples=policy.gate_resamples, confidence=policy.gate_confidence, seed=config.model.seed)
    passed = lift.lower > 0.0 and lift.value >= policy.min_kpi_gain
    checks.append(Check(
        check=f"recent_{kpi}_lift", champion=float(recent_champ.kpi.mean()), challenger=float(recent_chall.kpi.mean()),
        threshold=policy.min_kpi_gain, passed=passed, difference=lift.value, lower=lift.lower, upper=lift.upper,
        says=f"{kpi} per prediction {lift.value:+.4g} ({lift.confidence:.0%} CI {lift.lower:+.4g}..{lift.upper:+.4g}); "
             f"needs the interval above 0 and a lift of at least {policy.min_kpi_gain:g}"))
    champ, chall, gain = metric_gain(metric, truths["recent"], recent_champ, recent_chall, config)
    checks.append(Check(
        check=f"recent_{metric}_no_regression", champion=champ, challenger=chall, threshold=0.0,
        passed=not gain.upper < 0.0, difference=gain.value, lower=gain.lower, upper=gain.upper,
        says=f"{metric} {champ:.4f} -> {chall:.4f}, gain {gain.value:+.4f} (CI {gain.lower:+.4f}..{gain.upper:+.4f}); "
             "fails only if significantly worse"))
    champ_h, chall_h, gain_h = metric_gain(metric, truths["holdout"], outputs[("holdout", champion)],
                                            outputs[("holdout", challenger)], config)
    checks.append(Check(
        check=f"holdout_{metric}_regression", champion=champ_h, challenger=chall_h, threshold=policy.max_metric_drop,
        passed=-gain_h.value <= policy.max_metric_drop, difference=gain_h.value, lower=gain_h.lower, upper=gain_h.upper,
        says=f"{metric} on the champion's holdout {champ_h:.4f} -> {chall_h:.4f}; may lose at most {policy.max_metric_drop}"))
    base, _, over_base = metric_gain(metric, truths["recent"], outputs[("recent", "baseline")], recent_chall, config)
    checks.append(Check(
        check=f"recent_{metric}_beats_baseline", champion=base, challenger=chall, threshold=policy.pivot_baseline_margin,
        passed=over_base.value > policy.pivot_baseline_margin, difference=over_base.value, lower=over_base.lower,
        upper=over_base.upper,
        says=f"trivial baseline {base:.4f} vs challenger {chall:.4f}; must beat it by more than {policy.pivot_baseline_margin}"))
    checks.append(_hard_case_check(project, contenders, champion, challenger, hard))
    return Comparison(champion=champion, challenger=challenger,
                      rows={"recent": len(recent), "holdout": len(holdout), "hard_cases": len(hard)}, checks=checks)
