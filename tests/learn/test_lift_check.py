"""The gate's KPI lift: a one-sided test of superiority at ``[gate] confidence``.

A challenger that is worse, no better, or better by a lift inside the noise is
rejected; one whose one-sided lower bound clears 0 and ``min_kpi_gain`` is promoted.
The bound is the bootstrap's ``1 - confidence`` quantile (a normal-theory check below),
not the lower end of a two-sided interval (a test at ``(1 + confidence) / 2``).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from scipy import stats

from leanloop.config import ProjectConfig
from leanloop.learn.compare import Contender, lift_check
from leanloop.learn.paired import mean, paired_difference

ROWS = 1500


def _config(**gate: Any) -> ProjectConfig:
    return ProjectConfig.model_validate({"data": {"path": "x.csv", "target": "y", "task": "classification"},
                                         "schema": {"features": [{"name": "a", "kind": "numeric"}]},
                                         "gate": {"resamples": 2000, **gate}})


def _sides(lift: float, noise: float, seed: int = 0) -> tuple[Contender, Contender]:
    """A champion's KPI per row (a loan: +1,000 or -5,000) and a challenger's that differs
    from it by ``lift`` on average with per-row noise ``noise``."""
    rng = np.random.default_rng(seed)
    champ = np.where(rng.random(ROWS) < 0.85, 1000.0, -5000.0)
    diff = rng.normal(0.0, noise, ROWS)
    chall = champ + diff - diff.mean() + lift  # the lift is exactly ``lift`` on these rows
    return (Contender(labels=None, scores=None, kpi=champ), Contender(labels=None, scores=None, kpi=chall))


def _check(lift: float, noise: float, **gate: Any) -> Any:
    champ, chall = _sides(lift, noise)
    return lift_check("recent_profit_lift", np.zeros(ROWS), champ, chall, _config(**gate))


@pytest.mark.parametrize("lift", [-40.0, 0.0])
def test_a_worse_or_no_better_challenger_is_rejected(lift: float) -> None:
    check = _check(lift, noise=800.0)
    assert not check.passed and check.difference == pytest.approx(lift)
    assert check.lower is not None and check.lower < 0.0


def test_a_clear_lift_is_promoted() -> None:
    check = _check(60.0, noise=300.0)
    assert check.passed and check.lower is not None and check.lower > 0.0
    assert "one-sided 95% lower bound" in check.says


def test_a_positive_noisy_lift_whose_bound_is_below_the_margin_is_rejected() -> None:
    """+38 per loan, the bound above 0 but below a margin of 25: rejected by the margin,
    while a point-estimate rule (lift >= margin, bound > 0) would have promoted it."""
    check = _check(38.0, noise=830.0, min_kpi_gain=25.0)
    assert check.difference == pytest.approx(38.0) and check.difference >= 25.0
    assert check.lower is not None and 0.0 < check.lower < 25.0
    assert not check.passed and check.threshold == 25.0
    assert _check(38.0, noise=830.0, min_kpi_gain=0.0).passed


def test_the_bound_is_one_sided_at_the_configured_confidence() -> None:
    """The lower bound is the 5 % quantile at confidence 0.95 (normal theory: lift - 1.645
    SE); a two-sided 95 % interval's lower end is at 2.5 % (lift - 1.96 SE). A lift
    between the two is promoted by the one-sided test and would not be by the two-sided."""
    champ, chall = _sides(38.0, noise=830.0)
    check = lift_check("lift", np.zeros(ROWS), champ, chall, _config())
    se = float(np.std(chall.kpi - champ.kpi, ddof=1) / np.sqrt(ROWS))
    assert check.lower == pytest.approx(38.0 + stats.norm.ppf(0.05) * se, abs=0.15 * se)
    two_sided = paired_difference(np.zeros(ROWS), champ.kpi, chall.kpi, statistic=mean, resamples=2000,
                                  confidence=0.95, seed=0)
    assert two_sided.lower < 0.0 < check.lower and check.passed
    # the same bound at confidence 0.975 is the two-sided 95 % interval's lower end
    stricter = lift_check("lift", np.zeros(ROWS), champ, chall, _config(confidence=0.975))
    assert stricter.lower == pytest.approx(two_sided.lower) and not stricter.passed
