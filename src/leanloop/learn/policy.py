"""The policy: turn a window's evidence into a decision, with every rule's numbers.

Each rule reads one number of the :class:`~leanloop.learn.evidence.Evidence`, compares
it with a threshold from ``[policy]`` in ``leanloop.toml`` and says whether it fired.
The action follows from the rules that fired, in this order:

1. ``wait`` when the window is too small to judge (``min_rows``, ``champion_rows``),
   or its data is broken (``quality``): retraining on broken data would learn the bug;
2. ``rollback`` when the ``previous`` version beats the champion on the same labelled
   rows, beyond the margin and its confidence interval (``rollback``);
3. ``pivot`` when the model no longer beats the trivial baseline by the margin
   (``baseline_margin``), or the last retrains did not bring the KPI back
   (``failed_retrains``): the approach needs a human, not another retrain;
4. ``recalibrate`` when the model still ranks as on reference (ROC AUC) but the class
   mix moved or the probabilities lost calibration (ECE against the holdout, with its
   interval; ``recalibrate``) and the metric did not fall: new calibration and prior
   correction of the same fitted model, through the same gate;
5. ``retrain`` when performance fell (``metric_drop``) or the KPI fell by the model's
   doing (``kpi_drop``: where the change was split into population and model, the
   model's part must be beyond the tolerance too; or broad drift with
   ``retrain_on_drift``), unless the labels are too few to retrain (``min_labels``), the
   last retrain is too recent (``cooldown``), the harm has not lasted ``confirm_cycles``
   cycles with new labels yet (``confirm``), no label arrived since the last cycle judged
   these rows (``same_evidence``) or a challenger is still on trial in shadow mode
   (``shadow_trial``, with ``shadow_before_promote``) — then ``wait``;
6. ``wait`` when labels are too few to judge (``min_labels``, ``min_coverage``), saying
   how many more are needed — and, if the estimate says performance fell
   (``estimated_drop``), that labels are needed to retrain;
7. ``retrain`` when a champion that answered a change learned it from few rows and
   ``ADAPT_GROWTH`` times as many are labelled now (``adapt``): its successor learns
   the new population from all of them, through the same gate;
8. else ``continue``. Drift without harm is not a reason to retrain: when the labels
   show performance held, ``drift_without_harm`` fires and says so. A KPI change the
   population explains (``population``) is a finding, never an action, and never
   counts toward a pivot.

Examples
--------
>>> from leanloop.config import PolicyConfig
>>> from leanloop.learn.evidence import Evidence
>>> evidence = Evidence(rows=5000, champion_rows=5000, labelled=4000, metric="roc_auc",
...                     realized=0.80, reference=0.90, drift_share=0.1)
>>> decision = decide(evidence, PolicyConfig())
>>> decision.action.value
'retrain'
>>> [r.rule for r in decision.reasons if r.fired]
['metric_drop']
"""

from __future__ import annotations

from enum import Enum

from pydantic import BaseModel, ConfigDict

from leanloop.config import PolicyConfig
from leanloop.learn.evidence import Evidence
from leanloop.measure.performance import higher_is_better

__all__ = ["Action", "Rule", "Decision", "decide", "recalibrate_rule", "adapt_rule", "ADAPT_GROWTH"]


class Action(str, Enum):
    """What the loop does after a measurement."""

    CONTINUE = "continue"
    WAIT = "wait"
    RETRAIN = "retrain"
    ROLLBACK = "rollback"
    PIVOT = "pivot"
    #: refit calibration / prior correction of the same fitted model (:mod:`leanloop.learn.recalibrate`)
    RECALIBRATE = "recalibrate"


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

    def explain(self) -> str:
        """Every rule on its own line: fired or not, value, threshold, what it says."""
        lines = [f"decision: {self.action.value}"]
        for r in self.reasons:
            value = "-" if r.value is None else f"{r.value:.4g}"
            threshold = "-" if r.threshold is None else f"{r.threshold:.4g}"
            lines.append(f"  [{'FIRED' if r.fired else '  ok '}] {r.rule:<20} value={value:<10} "
                         f"threshold={threshold:<10} {r.says}")
        return "\n".join(lines)


def _drop(metric: str, reference: float | None, value: float | None) -> float | None:
    """How much worse ``value`` is than ``reference`` (positive = worse)."""
    if reference is None or value is None:
        return None
    return (reference - value) if higher_is_better(metric) else (value - reference)


def _evidence_rules(e: Evidence, policy: PolicyConfig) -> list[Rule]:
    more_labels = max(policy.min_labels - e.labelled, 0)
    quality_limit = policy.max_quality_breaches
    return [
        Rule(rule="min_rows", value=e.rows, threshold=policy.min_rows, fired=e.rows < policy.min_rows,
             says=f"{e.rows} predictions in the window ({policy.min_rows} needed to judge)"),
        Rule(rule="champion_rows", value=e.champion_rows, threshold=policy.min_rows,
             fired=e.champion_rows < policy.min_rows,
             says=f"the champion served {e.champion_rows} rows of the window ({policy.min_rows} needed to judge it)"),
        Rule(rule="min_labels", value=e.labelled, threshold=policy.min_labels, fired=e.labelled < policy.min_labels,
             says=f"{e.labelled} labelled rows ({policy.min_labels} needed; {more_labels} more)"),
        Rule(rule="min_coverage", value=e.coverage, threshold=policy.min_coverage,
             fired=e.coverage < policy.min_coverage,
             says=f"labels arrived for {e.coverage:.1%} of the window ({policy.min_coverage:.0%} needed)"),
        Rule(rule="quality", value=len(e.quality_breaches), threshold=quality_limit,
             fired=quality_limit is not None and len(e.quality_breaches) > quality_limit,
             says=(f"data-quality breaches: {', '.join(e.quality_breaches) or 'none'}"
                   + (f" (limit {quality_limit}; fix the data before retraining on it)"
                      if quality_limit is not None else " (informational: max_quality_breaches is not set)"))),
    ]


def _harm_rules(e: Evidence, policy: PolicyConfig) -> list[Rule]:
    enough = e.labelled >= policy.min_labels
    drop = _drop(e.metric, e.reference, e.realized)
    bound = e.realized_upper if higher_is_better(e.metric) else e.realized_lower
    significant = bound is None or (_drop(e.metric, e.reference, bound) or 0.0) > 0.0
    band = (f" (CI {e.realized_lower:.4f}..{e.realized_upper:.4f})"
            if e.realized_lower is not None and e.realized_upper is not None else "")
    metric_rule = Rule(
        rule="metric_drop", value=drop, threshold=policy.max_metric_drop,
        fired=drop is not None and drop > policy.max_metric_drop and enough and significant,
        says=(f"{e.metric} {e.realized:.4f}{band} vs reference {e.reference:.4f}: fell by {drop:.4f} "
              f"(retrain above {policy.max_metric_drop}"
              + ("" if significant else "; not significant: the reference is inside the interval") + ")"
              if drop is not None else f"{e.metric} unknown: no labelled rows"),
    )
    estimated = _drop(e.metric, e.reference, e.estimated)
    estimated_rule = Rule(
        rule="estimated_drop", value=estimated, threshold=policy.max_metric_drop,
        fired=(estimated is not None and estimated > policy.max_metric_drop
               and not (enough and _labels_cover(e, policy))),
        says=(f"estimated {e.metric} {e.estimated:.4f} vs reference {e.reference:.4f}: fell by {estimated:.4f} "
              f"while labels are missing; {max(policy.min_labels - e.labelled, 0)} more labels are needed to retrain"
              if estimated is not None else f"no estimate of {e.metric}"),
    )
    kpi_rule = _kpi_rule(e, policy, enough)
    drift_rule = Rule(
        rule="drift_share", value=e.drift_share, threshold=policy.max_drift_share,
        fired=e.drift_share > policy.max_drift_share,
        says=f"{e.drift_share:.0%} of features drifted{_names(e.drifted_features)} (limit {policy.max_drift_share:.0%}"
             + (")" if policy.retrain_on_drift else "; drift alone does not retrain unless retrain_on_drift is set)"),
    )
    multivariate_rule = Rule(
        rule="multivariate_drift", value=None if e.multivariate_drift is None else float(e.multivariate_drift),
        threshold=None, fired=bool(e.multivariate_drift),
        says=("the joint distribution of the features moved" if e.multivariate_drift
              else "no multivariate drift" if e.multivariate_drift is not None else "multivariate drift not measured"),
    )
    prediction_rule = Rule(
        rule="prediction_drift", value=None if e.prediction_drift is None else float(e.prediction_drift),
        threshold=None, fired=bool(e.prediction_drift),
        says=("the model's outputs moved" if e.prediction_drift
              else "the model's outputs did not move" if e.prediction_drift is not None
              else "prediction drift not measured"),
    )
    return [metric_rule, estimated_rule, kpi_rule, _population_rule(e, policy, kpi_rule.fired and enough), drift_rule,
            multivariate_rule, prediction_rule]


def _kpi_tolerance(e: Evidence, policy: PolicyConfig) -> float | None:
    """The KPI change per prediction tolerated (``max_kpi_drop`` of the reference KPI)."""
    return None if e.reference_kpi is None else policy.max_kpi_drop * abs(e.reference_kpi)


def _kpi_rule(e: Evidence, policy: PolicyConfig, enough: bool) -> Rule:
    """The KPI fell beyond the tolerance, and (where the change was split) by the
    model's doing: its own part below the tolerance with its interval below 0."""
    kpi_drop = None
    if e.kpi is not None and e.reference_kpi is not None:
        kpi_drop = (e.reference_kpi - e.kpi) / max(abs(e.reference_kpi), 1e-12)
    tolerance = _kpi_tolerance(e, policy)
    model_harm = None
    if e.kpi_model is not None and e.kpi_model_upper is not None and tolerance is not None:
        model_harm = e.kpi_model < -tolerance and e.kpi_model_upper < 0
    says = (f"{e.kpi_name} per prediction {e.kpi:.4g} vs reference {e.reference_kpi:.4g}: fell by {kpi_drop:.1%} "
            f"(retrain above {policy.max_kpi_drop:.0%})" if kpi_drop is not None
            else f"{e.kpi_name} unknown: no labelled rows")
    if model_harm is not None and kpi_drop is not None:
        says += (f"; the model's part {e.kpi_model:+.4g} per prediction (CI upper {e.kpi_model_upper:.4g}) "
                 + ("is harm the model is responsible for" if model_harm
                    else "is within the tolerance or the noise: the rest is the population"))
    return Rule(rule="kpi_drop", value=kpi_drop, threshold=policy.max_kpi_drop,
                fired=kpi_drop is not None and kpi_drop > policy.max_kpi_drop and enough and model_harm is not False,
                says=says)


def _population_rule(e: Evidence, policy: PolicyConfig, model_harmed: bool) -> Rule:
    """A finding, never a reason to act: the population alone moved the KPI beyond the
    tolerance, the model did not (e.g. fewer anomalies to catch)."""
    tolerance = _kpi_tolerance(e, policy)
    lower, upper = e.kpi_population_lower, e.kpi_population_upper
    changed = (tolerance is not None and lower is not None and upper is not None
               and (upper < -tolerance or lower > tolerance))
    fired = changed and not model_harmed and e.labelled >= policy.min_labels
    if fired:
        says = e.finding or f"business change: the population moved the KPI by {e.kpi_population:+.4g}; model unchanged"
        says += " (a population finding: not a reason to retrain, not counted toward a pivot)"
    elif e.kpi_population is not None:
        says = (f"population part of the KPI change {e.kpi_population:+.4g} per prediction "
                "(no population change beyond the tolerance)")
    else:
        says = "population change not measured"
    return Rule(rule="population", value=e.kpi_population, threshold=tolerance, fired=fired, says=says)


def _labels_cover(e: Evidence, policy: PolicyConfig) -> bool:
    """Whether the newest window itself has enough labels: else the labelled evidence is
    older than what drift and the estimate see, and cannot contradict them."""
    return e.window_labelled is None or e.window_labelled >= policy.min_labels


def _names(features: list[str]) -> str:
    return f" ({', '.join(features[:5])}{', ...' if len(features) > 5 else ''})" if features else ""


def _learning_rules(e: Evidence, policy: PolicyConfig, harmed: bool) -> list[Rule]:
    since = e.history.cycles_since_retrain
    fresh = e.fresh(policy.min_labels)
    streak = e.history.harm_streak + (1 if harmed and fresh else 0)
    prev = e.previous
    gain = _drop(e.metric, e.realized, e.baseline)  # how much better the model does than the baseline
    rules = [
        Rule(rule="cooldown", value=since, threshold=policy.cooldown_cycles,
             fired=harmed and since is not None and since < policy.cooldown_cycles,
             says=(f"the last retrain was {since} cycle(s) ago (cooldown {policy.cooldown_cycles})"
                   if since is not None else "no retrain yet")),
        Rule(rule="confirm", value=streak, threshold=policy.confirm_cycles,
             fired=harmed and streak < policy.confirm_cycles,
             says=f"harm seen in {streak} consecutive cycle(s) ({policy.confirm_cycles} needed before retraining)"),
        Rule(rule="same_evidence", value=e.new_labels, threshold=policy.min_labels,
             fired=harmed and not fresh,
             says=("no label arrived since the last cycle judged these rows: the same evidence confirms nothing "
                   "and retrains nothing" if not e.new_evidence
                   else f"only {e.new_labels} label(s) arrived since the last cycle that counted ({policy.min_labels} "
                        "needed): overlapping rows confirm nothing twice" if not fresh
                   else "labels arrived since the last cycle")),
        Rule(rule="rollback", value=None if prev is None else prev.gain_lower, threshold=policy.rollback_margin,
             fired=prev is not None and prev.gain_lower > policy.rollback_margin,
             says=(f"previous version {prev.version} scores {prev.previous_metric:.4f} vs the champion's "
                   f"{prev.champion_metric:.4f} on the same {prev.rows} rows "
                   f"(gain CI {prev.gain_lower:.4f}..{prev.gain_upper:.4f}; roll back above {policy.rollback_margin})"
                   if prev is not None else "no previous version to compare")),
        Rule(rule="baseline_margin", value=gain, threshold=policy.pivot_baseline_margin,
             fired=gain is not None and e.labelled >= policy.min_labels and gain < policy.pivot_baseline_margin,
             says=(f"{e.metric} beats the trivial baseline ({e.baseline:.4f}) by {gain:.4f} "
                   f"(pivot below {policy.pivot_baseline_margin}: the approach itself needs rethinking)"
                   if gain is not None else "baseline not measured: no labelled rows")),
        Rule(rule="failed_retrains", value=e.history.failed_retrains, threshold=policy.pivot_after_retrains,
             fired=harmed and e.history.failed_retrains >= policy.pivot_after_retrains,
             says=f"{e.history.failed_retrains} retrain(s) since the KPI was last healthy did not bring it back "
                  f"(pivot after {policy.pivot_after_retrains}: features, target framing or model family "
                  "need a human)"),
        Rule(rule="shadow_trial", value=None, threshold=None, fired=harmed and e.shadow_trial is not None,
             says=(f"{e.shadow_trial} is on trial in shadow mode; its verdict on live traffic comes before another "
                   "retrain" if e.shadow_trial else "no challenger on trial in shadow mode")),
    ]
    return rules


def _calibration_moved(e: Evidence, policy: PolicyConfig) -> tuple[bool, str]:
    """Whether the served probabilities lost calibration beyond ``max_calibration_shift``
    (the lower end of the ECE gained over the champion's holdout), and what that says."""
    limit = policy.max_calibration_shift
    if e.calibration_shift is None or e.calibration_shift_lower is None:
        return False, "calibration not measured"
    moved = limit is not None and e.calibration_shift_lower > limit
    return moved, (f"ECE {e.calibration_error:.4f} vs {e.calibration_reference:.4f} on the holdout: gained "
                   f"{e.calibration_shift:+.4f} (CI lower {e.calibration_shift_lower:+.4f}; recalibrate above "
                   + ("never" if limit is None else f"{limit:.3g}") + ")")


def recalibrate_rule(e: Evidence, policy: PolicyConfig) -> Rule:
    """``recalibrate``: the model still ranks as on reference (the reference ROC AUC is
    not above the realized interval) but the class mix moved beyond
    ``max_class_mix_shift`` or its probabilities lost calibration beyond
    ``max_calibration_shift`` (ECE gained over the holdout, lower end of the interval):
    the probabilities, not the model, are out of date. Refitting the calibration and a
    prior correction takes seconds; a retrain would learn again what the model still knows.

    >>> from leanloop.config import PolicyConfig
    >>> e = Evidence(rows=5000, champion_rows=5000, labelled=4000, metric="roc_auc", realized=0.9, reference=0.9,
    ...              ranking=0.9, ranking_lower=0.88, ranking_upper=0.92, ranking_reference=0.9, class_mix_shift=0.25)
    >>> recalibrate_rule(e, PolicyConfig()).fired
    True
    >>> e = e.model_copy(update={"class_mix_shift": 0.0, "calibration_error": 0.12, "calibration_reference": 0.02,
    ...                          "calibration_shift": 0.1, "calibration_shift_lower": 0.07})
    >>> recalibrate_rule(e, PolicyConfig()).fired
    True
    """
    limit = policy.max_class_mix_shift
    held = (e.ranking is not None and e.ranking_reference is not None
            and (e.ranking_upper if e.ranking_upper is not None else e.ranking) >= e.ranking_reference)
    mixed = limit is not None and e.class_mix_shift is not None and e.class_mix_shift > limit
    calibration_moved, calibration_says = _calibration_moved(e, policy)
    fired = held and (mixed or calibration_moved) and e.labelled >= policy.min_labels
    if e.ranking is None or e.ranking_reference is None:
        says = "ranking (roc_auc) not measured: no labelled rows with probabilities"
    else:
        band = (f" (CI {e.ranking_lower:.4f}..{e.ranking_upper:.4f})"
                if e.ranking_lower is not None and e.ranking_upper is not None else "")
        mix = "not measured" if e.class_mix_shift is None else f"{e.class_mix_shift:.1%}"
        says = (f"roc_auc {e.ranking:.4f}{band} vs reference {e.ranking_reference:.4f}: "
                + ("the model still ranks as on reference" if held else "the ranking fell (retrain, not recalibrate)")
                + f"; class mix moved by {mix} (recalibrate above "
                + ("never" if limit is None else f"{limit:.0%}") + f"); {calibration_says}"
                + ("; refit calibration and prior correction on recent labelled rows instead of retraining"
                   if fired else ""))
    return Rule(rule="recalibrate", value=e.class_mix_shift, threshold=limit, fired=fired, says=says)


#: A promoted challenger that learned from the rows since a change is retrained once this
#: many times as many such rows are labelled: its successor learns the new population
#: from more of it (the loop's first answer to a change learns from one window).
ADAPT_GROWTH = 2.0


def adapt_rule(e: Evidence, policy: PolicyConfig) -> Rule:
    """``adapt``: the champion answered a change from few of its rows (``history.adapting_rows``);
    now ``ADAPT_GROWTH`` times as many are labelled, so a challenger learning from all
    of them is worth its compute (the gate still judges it; one it rejects ends the
    adaptation). Counts only fresh evidence and waits out the cooldown.

    >>> from leanloop.config import PolicyConfig
    >>> from leanloop.learn.evidence import History
    >>> e = Evidence(rows=1500, champion_rows=1500, labelled=1500, metric="roc_auc", adapt_rows=3000,
    ...              history=History(cycles_since_retrain=1, adapting_since=0.0, adapting_rows=1050))
    >>> adapt_rule(e, PolicyConfig()).fired
    True
    """
    learned, since = e.history.adapting_rows, e.history.cycles_since_retrain
    if learned is None or e.adapt_rows is None:
        return Rule(rule="adapt", value=None, threshold=None, fired=False, says="no adaptation to a change under way")
    needed = ADAPT_GROWTH * learned
    cooled = since is None or since >= policy.cooldown_cycles
    fired = e.adapt_rows >= needed and cooled and e.fresh(policy.min_labels)
    return Rule(rule="adapt", value=e.adapt_rows, threshold=needed, fired=fired,
                says=(f"the champion learned the changed population from {learned} rows; {e.adapt_rows} are labelled "
                      f"now (retrain at {needed:.0f}" + ("" if cooled else ", after the cooldown") + ")"
                      + ("; a challenger learns from all of them" if fired else "")))


def decide(evidence: Evidence, policy: PolicyConfig) -> Decision:
    """Apply the policy's rules to a window's evidence (see the module docs for the order)."""
    rules = _evidence_rules(evidence, policy)
    harm = _harm_rules(evidence, policy)
    fired = {r.rule for r in [*rules, *harm] if r.fired}
    harmed = bool(fired & {"metric_drop", "kpi_drop"}) or (
        policy.retrain_on_drift and bool(fired & {"drift_share", "multivariate_drift"}))
    learning = _learning_rules(evidence, policy, harmed)
    fired |= {r.rule for r in learning if r.fired}
    drifted = bool(fired & {"drift_share", "multivariate_drift", "prediction_drift"}) or bool(evidence.drifted_features)
    held = (drifted and not harmed and evidence.labelled >= policy.min_labels and evidence.realized is not None
            and _labels_cover(evidence, policy))
    explained = Rule(
        rule="drift_without_harm", value=None, threshold=None, fired=held,
        says=(f"drift seen{_names(evidence.drifted_features)} but the labels show {evidence.metric} held: "
              "not a reason to retrain" if held else "no drift that the labels contradict"),
    )
    recalibrate = recalibrate_rule(evidence, policy)
    adapt = adapt_rule(evidence, policy)
    reasons = [*rules, *harm, *learning, explained, recalibrate, adapt]
    if fired & {"min_rows", "champion_rows", "quality"}:
        action = Action.WAIT
    elif "rollback" in fired:
        action = Action.ROLLBACK
    elif fired & {"baseline_margin", "failed_retrains"}:
        action = Action.PIVOT
    elif recalibrate.fired and "metric_drop" not in fired and "shadow_trial" not in fired:
        action = Action.RECALIBRATE
    elif harmed:
        action = (Action.WAIT if fired & {"min_labels", "cooldown", "confirm", "shadow_trial", "same_evidence"}
                  else Action.RETRAIN)
    elif fired & {"min_labels", "min_coverage", "estimated_drop"}:
        action = Action.WAIT
    elif adapt.fired and "shadow_trial" not in fired:
        action = Action.RETRAIN
    else:
        action = Action.CONTINUE
    return Decision(action=action, reasons=reasons)
