"""Champion versus challenger on the same rows, and the promotion gate.

Both versions score the same row sets: the recent labelled production rows that
neither trained on, and the champion's holdout. Every difference comes with a paired
bootstrap confidence interval (:mod:`leanloop.learn.paired`). The gate promotes the
challenger only when every check passes, and lists each check with its numbers, like
a test suite:

- ``recent_<kpi>_lift``: the KPI per prediction rises on the recent rows by at least
  ``min_kpi_gain``, shown by a one-sided test at the configured confidence (the one-sided
  lower bound of the paired lift above zero and at least ``min_kpi_gain``,
  :func:`lift_check`) — a gain inside the noise is not worth a deploy;
- ``recent_<metric>_no_regression``: the main metric is not significantly worse on the
  recent rows (the interval's upper end is not below zero);
- ``holdout_<metric>_regression``: on the champion's holdout the challenger loses at
  most ``max_metric_drop`` (the population it was built for still matters). A challenger
  that relearns after model harm (:mod:`leanloop.learn.retrain`, ``relearn_since``) is
  judged on the population it will serve instead: the champion's own error grew there,
  so its holdout follows a relation that no longer holds, and a challenger that learned
  the new one must lose on it; the check is then reported (its numbers, ``skipped``
  saying why) and does not veto. Its recent rows are every labelled row since the harm,
  its output on each from a fold model that did not train on it (:class:`OutOfFold`),
  paired with the champion's: the cross-validation estimate of the version fitted on
  all of them, slightly pessimistic (fold models learn from fewer rows), never optimistic;
- ``recent_<metric>_beats_baseline``: the challenger beats the trivial baseline by more
  than ``pivot_baseline_margin``;
- ``hard_cases_regression``: no significant regression on the enriched test set of hard
  cases (:mod:`leanloop.learn.testset`, held out of retraining; a relearning challenger
  learns from them and is judged on those among its recent rows instead), both versions
  paired on its rows: for a classifier the exact McNemar test, i.e. a one-sided binomial test
  (``scipy.stats.binomtest``) that among the rows exactly one version gets right, the
  challenger is the one wrong more than half the time; for a regressor the one-sided
  Wilcoxon signed-rank test (``scipy.stats.wilcoxon``) that the challenger's absolute
  errors are larger. It fails when that p-value is below ``[testset] alpha`` and is
  skipped (passing, with the reason) when the set holds fewer than ``[testset] min_rows``;
- ``segments_no_regression``: no significant loss on any of the top segments of the
  recent rows: a paired bootstrap per segment, p-values adjusted across segments
  (:mod:`leanloop.learn.segment_gate`); every segment's numbers are in ``segments``.

The gate is a list of check functions (:data:`GATE`), each reading one :class:`Judged`
record (both versions and the baseline scored on the same rows) and returning its
:class:`Check`; ``compare(..., checks=[...])`` runs another list, so a new evidence
source is one more function.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict

from leanloop.config import SegmentMetric, Task
from leanloop.learn.paired import Interval, mean, paired_difference, paired_regression_p, statistic_for
from leanloop.learn.segment_gate import SegmentGain, segment_gains
from leanloop.learn.testset import hard_case_frame
from leanloop.measure.kpi import row_weights
from leanloop.measure.performance import higher_is_better
from leanloop.measure.rows import row_outcomes
from leanloop.scoring import Scored, model_input, score
from leanloop.target import normalize_target

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

    from leanloop.config import ProjectConfig
    from leanloop.registry import ModelVersion
    from leanloop.workspace import Workspace

__all__ = ["GATE", "Check", "Comparison", "Contender", "GateCheck", "Judged", "OutOfFold", "beats_baseline",
           "compare", "contender", "hard_cases", "holdout_regression", "judge", "kpi_lift", "lift_check", "metric_gain",
           "metric_no_regression", "paired_regression_p", "score_rows", "segments_no_regression", "truth_codes"]


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
    #: ``segments_no_regression`` only: each segment tested, largest first.
    segments: list[SegmentGain] | None = None


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
            for g in c.segments or []:
                lines.append(f"      {'WORSE' if g.regressed else 'ok   '} {g.segment} ({g.rows} rows): "
                             f"{g.champion:.4g} -> {g.challenger:.4g}, {g.difference:+.4g} "
                             f"(CI {g.lower:+.4g}..{g.upper:+.4g}), adjusted p = {g.adjusted_p_value:.3g}")
        return "\n".join(lines)


class Contender(BaseModel):
    """One model's outputs on a row set, as arrays the statistics read."""

    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True)

    labels: Any
    scores: Any
    kpi: Any
    error: Any = None


def truth_codes(y: list[Any], config: ProjectConfig) -> np.ndarray:
    import numpy as np

    if config.data.task is Task.REGRESSION:
        return np.asarray(y, dtype=float)
    classes = [str(c) for c in config.data.classes or sorted({str(v) for v in y})]
    return np.array([classes.index(str(v)) if str(v) in classes else -1 for v in y])


def score_rows(model: Any, X: pd.DataFrame, y: list[Any], config: ProjectConfig,
               weights: np.ndarray | None = None) -> Contender:
    """Score ``X`` and keep what the gate's statistics read: class codes (or values),
    the positive-class probability (binary) or probability matrix, and each row's
    error and KPI value (:func:`leanloop.measure.rows.row_outcomes`, ``weights`` scaling the KPI)."""
    return contender(score(model, X, config.data.task.value), y, config, weights)


def contender(scored: Scored, y: list[Any], config: ProjectConfig, weights: np.ndarray | None = None) -> Contender:
    """What the gate's statistics read from outputs already made (scored now, or logged)."""
    import numpy as np

    if config.data.task is Task.REGRESSION:
        labels = np.asarray(scored.labels, dtype=float)
        outcomes = row_outcomes(y, scored.labels, None, config.data, config.kpi, weights)
        return Contender(labels=labels, scores=labels, kpi=outcomes.kpi, error=outcomes.error)
    classes = [str(c) for c in config.data.classes or scored.classes or []]
    labels = np.array([classes.index(str(v)) if str(v) in classes else -1 for v in scored.labels])
    proba = scored.probabilities
    if proba is not None and scored.classes is not None:
        order = [[str(c) for c in scored.classes].index(c) for c in classes]
        proba = np.asarray(proba)[:, order]
    outcomes = row_outcomes(y, scored.labels, proba if config.data.classes else None, config.data, config.kpi,
                            weights)
    scores = proba[:, 1] if proba is not None and len(classes) == 2 else proba
    return Contender(labels=labels, scores=scores, kpi=outcomes.kpi, error=outcomes.error)


def metric_gain(metric: str, truth: np.ndarray, first: Contender, second: Contender,
                 config: ProjectConfig) -> tuple[float, float, Interval]:
    """Each side's value of ``metric`` and the paired gain (better is positive)."""
    statistic, reads = statistic_for(metric)
    a, b = (first.scores, second.scores) if reads == "scores" else (first.labels, second.labels)
    diff = paired_difference(truth, a, b, statistic=statistic, resamples=config.gate.resamples,
                             confidence=config.gate.confidence, seed=config.model.seed)
    if not higher_is_better(metric):
        diff = Interval(value=-diff.value, lower=-diff.upper, upper=-diff.lower, confidence=diff.confidence,
                        resamples=diff.resamples, rows=diff.rows)
    return statistic(truth, a), statistic(truth, b), diff


@dataclass(frozen=True)
class OutOfFold:
    """A cross-fitted challenger's outputs on the recent rows and the hard cases, row for
    row, each from a fold model that did not train on it (:func:`leanloop.learn.retrain.cross_fit`):
    the registered version trained on every one of them."""

    recent: Scored
    hard: Scored


@dataclass(frozen=True)
class Judged:
    """What every gate check reads: both versions (and the trivial baseline) scored on
    the same row sets. ``frames`` holds ``recent``, ``holdout`` and ``hard`` (the
    enriched test set); ``outputs[(set, side)]`` a side's :class:`Contender` on a set
    (side: the champion's version, the challenger's, or ``"baseline"``; ``hard`` is
    scored by the check that reads it)."""

    ws: Workspace
    champion: str
    challenger: str
    contenders: dict[str, tuple[ModelVersion, Any, Any]]
    frames: dict[str, pd.DataFrame]
    truths: dict[str, np.ndarray]
    outputs: dict[tuple[str, str], Contender]
    #: the challenger relearns a relation changed since this time (None: it does not)
    relearn_since: float | None = None
    #: the challenger's cross-fitted outputs (None: scored here)
    out_of_fold: OutOfFold | None = None

    @property
    def config(self) -> ProjectConfig:
        return self.ws.config


#: A gate check: reads the scored rows, returns its verdict with its numbers.
GateCheck = Callable[[Judged], Check]


def lift_check(name: str, truth: np.ndarray, champion: Contender, challenger: Contender, config: ProjectConfig,
               *, rows: int | None = None, where: str = "") -> Check:
    """The KPI lift per prediction, challenger minus champion, by a one-sided test of superiority.

    The question is one-sided (is the challenger better by at least ``[gate]
    min_kpi_gain``?), so the bar is the one-sided lower confidence bound of the paired
    lift at ``[gate] confidence`` (the bootstrap's ``1 - confidence`` quantile): it passes
    when that bound is above 0 and at least ``min_kpi_gain``. A lift that does not clear
    it is inside the noise at that confidence. (A two-sided interval's lower end would be
    a test at ``(1 + confidence) / 2``: 97.5 % for the default 0.95, stricter than the
    setting says.) ``lower`` and ``upper`` are the one-sided bounds at ``confidence``.

    Examples
    --------
    >>> import numpy as np
    >>> from leanloop.config import ProjectConfig
    >>> config = ProjectConfig.model_validate({"data": {"path": "x.csv", "target": "y", "task": "classification"},
    ...     "schema": {"features": [{"name": "a", "kind": "numeric"}]}, "gate": {"min_kpi_gain": 10.0}})
    >>> rng = np.random.default_rng(0)
    >>> champ = Contender(labels=None, scores=None, kpi=rng.normal(0.0, 100.0, 400))
    >>> noisy = Contender(labels=None, scores=None, kpi=champ.kpi + rng.normal(12.0, 100.0, 400))
    >>> check = lift_check("lift", np.zeros(400), champ, noisy, config)
    >>> check.difference > 10.0, check.lower < 10.0, check.passed
    (True, True, False)
    """
    lift = paired_difference(truth, champion.kpi, challenger.kpi, statistic=mean, resamples=config.gate.resamples,
                             confidence=config.gate.confidence, seed=config.model.seed, sides=1)
    margin = config.gate.min_kpi_gain
    return Check(
        check=name, champion=float(champion.kpi.mean()), challenger=float(challenger.kpi.mean()), threshold=margin,
        passed=bool(lift.lower > 0.0 and lift.lower >= margin), difference=lift.value, lower=lift.lower,
        upper=lift.upper, rows=rows,
        says=f"{config.kpi.name} per prediction {lift.value:+.4g}{where} (one-sided {lift.confidence:.0%} lower bound "
             f"{lift.lower:+.4g}, upper {lift.upper:+.4g}); needs the lower bound above 0 and at least {margin:g}")


def kpi_lift(judged: Judged) -> Check:
    """``recent_<kpi>_lift``: the KPI per prediction rises beyond the noise by ``min_kpi_gain``
    (:func:`lift_check`: a one-sided test of superiority)."""
    return lift_check(f"recent_{judged.config.kpi.name}_lift", judged.truths["recent"],
                      judged.outputs[("recent", judged.champion)], judged.outputs[("recent", judged.challenger)],
                      judged.config)


def metric_no_regression(judged: Judged) -> Check:
    """``recent_<metric>_no_regression``: the main metric is not significantly worse on the recent rows."""
    config = judged.config
    metric = config.policy.main_metric_for(config.data)
    champ, chall, gain = metric_gain(metric, judged.truths["recent"], judged.outputs[("recent", judged.champion)],
                                     judged.outputs[("recent", judged.challenger)], config)
    return Check(
        check=f"recent_{metric}_no_regression", champion=champ, challenger=chall, threshold=0.0,
        passed=not gain.upper < 0.0, difference=gain.value, lower=gain.lower, upper=gain.upper,
        says=f"{metric} {champ:.4f} -> {chall:.4f}, gain {gain.value:+.4f} (CI {gain.lower:+.4f}..{gain.upper:+.4f}); "
             "fails only if significantly worse")


def holdout_regression(judged: Judged) -> Check:
    """``holdout_<metric>_regression``: on the champion's holdout the challenger loses at most ``max_metric_drop``."""
    config = judged.config
    policy = config.policy
    metric = policy.main_metric_for(config.data)
    champ, chall, gain = metric_gain(metric, judged.truths["holdout"], judged.outputs[("holdout", judged.champion)],
                                     judged.outputs[("holdout", judged.challenger)], config)
    says = f"{metric} on the champion's holdout {champ:.4f} -> {chall:.4f}; may lose at most {policy.max_metric_drop}"
    skipped = None
    if judged.relearn_since is not None:
        skipped = ("the champion's own error grew on the population it serves (model harm): its holdout follows a "
                   "relation that no longer holds, so the challenger is judged on the recent rows, not here")
        says = f"not binding: {skipped}; {says}"
    return Check(
        check=f"holdout_{metric}_regression", champion=champ, challenger=chall, threshold=policy.max_metric_drop,
        passed=skipped is not None or -gain.value <= policy.max_metric_drop, difference=gain.value,
        lower=gain.lower, upper=gain.upper, says=says, skipped=skipped)


def beats_baseline(judged: Judged) -> Check:
    """``recent_<metric>_beats_baseline``: the challenger beats the trivial baseline by ``pivot_baseline_margin``."""
    config = judged.config
    policy = config.policy
    metric = policy.main_metric_for(config.data)
    base, chall, over = metric_gain(metric, judged.truths["recent"], judged.outputs[("recent", "baseline")],
                                    judged.outputs[("recent", judged.challenger)], config)
    return Check(
        check=f"recent_{metric}_beats_baseline", champion=base, challenger=chall,
        threshold=policy.pivot_baseline_margin, passed=over.value > policy.pivot_baseline_margin,
        difference=over.value, lower=over.lower, upper=over.upper,
        says=f"trivial baseline {base:.4f} vs challenger {chall:.4f}; "
             f"must beat it by more than {policy.pivot_baseline_margin}")


def hard_cases(judged: Judged) -> Check:
    """``hard_cases_regression`` (module docstring)."""
    return _hard_case_check(judged.ws, judged.contenders, judged.champion, judged.challenger,
                            judged.frames["hard"], None if judged.out_of_fold is None else judged.out_of_fold.hard)


def _hard_case_check(ws: Workspace, contenders: dict[str, Any], champion: str, challenger: str,
                     hard: pd.DataFrame, challenger_scored: Scored | None = None) -> Check:
    config = ws.config
    settings = config.testset
    name = "hard_cases_regression"
    if len(hard) < settings.min_rows:
        reason = (f"the enriched test set has {len(hard)} rows, fewer than "
                  f"[testset] min_rows = {settings.min_rows}")
        return Check(check=name, champion=None, challenger=None, threshold=settings.alpha, passed=True,
                     rows=len(hard), skipped=reason, says=f"skipped: {reason}")
    hard = hard.reset_index(drop=True)
    y = normalize_target(hard[config.data.target], config.data.task).tolist()
    binary = config.data.task is Task.CLASSIFICATION
    errors = {}
    for version in (champion, challenger):
        record, model, _ = contenders[version]
        X = model_input(config.schema_, hard, record.input_format, "the enriched test set")
        errors[version] = (contender(challenger_scored, y, config) if version == challenger and challenger_scored
                           is not None else score_rows(model, X, y, config)).error
    p = paired_regression_p(errors[champion], errors[challenger], binary=binary)
    # Shown as accuracy (classification) or MAE (regression) on the set.
    shown = {v: float(1 - e.mean()) if binary else float(e.mean()) for v, e in errors.items()}
    what = "accuracy" if binary else "mae"
    test = "exact McNemar" if binary else "Wilcoxon signed-rank"
    return Check(check=name, champion=shown[champion], challenger=shown[challenger], threshold=settings.alpha,
                 passed=p >= settings.alpha, p_value=p, rows=len(hard),
                 says=f"{what} on {len(hard)} hard cases {shown[champion]:.4f} -> {shown[challenger]:.4f}; "
                      f"{test} p = {p:.3g} that the challenger is worse; fails below {settings.alpha:g}")


def _per_row(config: ProjectConfig, side: Contender) -> np.ndarray:
    """What the segment check pairs per row, higher is better: the KPI value, or minus the error."""
    import numpy as np

    if config.segments.metric is SegmentMetric.KPI:
        return np.asarray(side.kpi, dtype=float)
    return -np.asarray(side.error, dtype=float)


def segments_no_regression(judged: Judged) -> Check:
    """``segments_no_regression``: no significant loss on any top segment of the recent
    rows (:mod:`leanloop.learn.segment_gate`)."""
    config = judged.config
    name = "segments_no_regression"
    recent = judged.frames["recent"]
    champ = _per_row(config, judged.outputs[("recent", judged.champion)])
    chall = _per_row(config, judged.outputs[("recent", judged.challenger)])
    what = config.kpi.name if config.segments.metric is SegmentMetric.KPI else "minus the error"
    holdout = judged.frames["holdout"]
    found = segment_gains(
        config.schema_.model_frame(recent, "recent rows"), champ, chall, segments=config.segments, gate=config.gate,
        seed=config.model.seed,
        reference=config.schema_.model_frame(holdout, "holdout rows") if len(holdout) else None)
    if not found:
        reason = (f"no segment of the {len(recent)} recent rows has [segments] min_support = "
                  f"{config.segments.min_support} rows (and fewer than all of them)")
        return Check(check=name, champion=None, challenger=None, threshold=config.segments.alpha, passed=True,
                     rows=len(recent), skipped=reason, says=f"skipped: {reason}")
    worst = min(found, key=lambda s: (s.adjusted_p_value, s.difference))
    broken = [s for s in found if s.regressed]
    verdict = (f"worse on {', '.join(s.segment for s in broken)}" if broken
               else f"no segment significantly worse; weakest {worst.segment!r}")
    return Check(
        check=name, champion=worst.champion, challenger=worst.challenger, threshold=config.segments.alpha,
        passed=not broken, difference=worst.difference, lower=worst.lower, upper=worst.upper,
        p_value=worst.adjusted_p_value, rows=len(recent), segments=found,
        says=f"{len(found)} segments of the recent rows, {what} per row paired; {verdict} "
             f"({worst.segment}: {worst.difference:+.4g}, CI {worst.lower:+.4g}..{worst.upper:+.4g}, "
             f"{config.segments.correction.value}-adjusted p = {worst.adjusted_p_value:.3g}); "
             f"fails below {config.segments.alpha:g}")


#: The promotion gate, in the order its checks are listed.
GATE: tuple[GateCheck, ...] = (kpi_lift, metric_no_regression, holdout_regression, beats_baseline, hard_cases,
                               segments_no_regression)


def judge(ws: Workspace, champion: str, challenger: str, *, recent: pd.DataFrame, holdout: pd.DataFrame,
          hard: pd.DataFrame, models: dict[str, tuple[Any, Any]] | None = None,
          relearn_since: float | None = None, out_of_fold: OutOfFold | None = None) -> Judged:
    """Score champion, challenger and the trivial baseline on ``recent`` and ``holdout``.

    ``models`` maps a version to its already loaded ``(model, baseline)``, so a caller
    that holds them (the loop) spares loading them again. ``out_of_fold``: see :func:`compare`.
    """
    config = ws.config
    registry = ws.registry
    loaded = dict(models or {})
    contenders = {version: (registry.get(version), *(loaded.get(version) or registry.load(version)))
                  for version in (champion, challenger)}
    baseline = contenders[champion][2]
    outputs: dict[tuple[str, str], Contender] = {}
    truths: dict[str, np.ndarray] = {}
    frames = {"recent": recent.reset_index(drop=True), "holdout": holdout.reset_index(drop=True), "hard": hard}
    for name in ("recent", "holdout"):
        frame = frames[name]
        y = normalize_target(frame[config.data.target], config.data.task).tolist()
        truths[name] = truth_codes(y, config)
        model_frame = config.schema_.model_frame(frame, f"{name} rows")
        weights = row_weights(model_frame, config.kpi)
        for version, (record, model, _) in contenders.items():
            if name == "recent" and version == challenger and out_of_fold is not None:
                outputs[(name, version)] = contender(out_of_fold.recent, y, config, weights)
                continue
            X = model_input(config.schema_, frame, record.input_format, f"{name} rows")
            outputs[(name, version)] = score_rows(model, X, y, config, weights)
        outputs[(name, "baseline")] = score_rows(baseline, model_frame, y, config, weights)
    return Judged(ws=ws, champion=champion, challenger=challenger, contenders=contenders, frames=frames,
                  truths=truths, outputs=outputs, relearn_since=relearn_since, out_of_fold=out_of_fold)


def compare(ws: Workspace, champion: str, challenger: str, *, recent: pd.DataFrame,
            holdout: pd.DataFrame, hard: pd.DataFrame | None = None, checks: Sequence[GateCheck] = GATE,
            models: dict[str, tuple[Any, Any]] | None = None, relearn_since: float | None = None,
            out_of_fold: OutOfFold | None = None) -> Comparison:
    """Score both versions (and the trivial baseline) on ``recent``, ``holdout`` and the
    enriched test set ``hard`` (default: the project's) and apply the gate: each of
    ``checks`` (default :data:`GATE`) in order. ``models``: see :func:`judge`.
    ``relearn_since``: the challenger relearns a relation changed since then (module
    docstring): the holdout check does not veto. ``out_of_fold``: the challenger's
    cross-fitted outputs on ``recent`` and ``hard`` (:class:`OutOfFold`)."""
    hard = hard_case_frame(ws) if hard is None else hard
    judged = judge(ws, champion, challenger, recent=recent, holdout=holdout, hard=hard, models=models,
                   relearn_since=relearn_since, out_of_fold=out_of_fold)
    return Comparison(champion=champion, challenger=challenger,
                      rows={"recent": len(recent), "holdout": len(holdout), "hard_cases": len(hard)},
                      checks=[check(judged) for check in checks])
