"""The gate's segment check: a challenger that wins overall but breaks a segment is rejected."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from leanloop.config import Correction, GateConfig, SegmentsConfig
from leanloop.learn.compare import GATE, compare, segments_no_regression
from leanloop.learn.segment_gate import segment_gains
from leanloop.project import Project
from leanloop.scoring import model_input, score

# Holm over the slices of at least 200 rows, the 50 largest.
HOLM_200 = SegmentsConfig(min_support=200, top_k=50, correction=Correction.HOLM)


def test_one_broken_segment_is_found_among_many_and_named() -> None:
    rng = np.random.default_rng(1)
    n = 6000
    frame = pd.DataFrame({"city": rng.choice([f"c{i}" for i in range(8)], n), "x": rng.normal(size=n)})
    champion = rng.normal(0.0, 1.0, n)
    # Better by 0.3 per row on average, but worse by 0.5 in city c3.
    challenger = champion + rng.normal(0.3, 1.0, n) - 0.8 * (frame["city"] == "c3").to_numpy()
    assert challenger.mean() > champion.mean()
    found = segment_gains(frame, champion, challenger, segments=HOLM_200, gate=GateConfig(), seed=0)
    assert [s.segment for s in found if s.regressed] == ["city = c3"]
    broken = next(s for s in found if s.regressed)
    assert broken.upper < 0 and broken.difference == pytest.approx(challenger[frame["city"] == "c3"].mean()
                                                                   - champion[frame["city"] == "c3"].mean())
    # 8 cities + 5 bins of x, each with >= 200 rows, largest first.
    assert len(found) == 13 and [s.rows for s in found] == sorted((s.rows for s in found), reverse=True)
    # Holm never adjusts below the raw p-value; Bonferroni-style bound holds.
    assert all(s.p_value <= s.adjusted_p_value <= min(1.0, 13 * s.p_value) + 1e-12 for s in found)
    uniform = segment_gains(frame, champion, champion + rng.normal(0.3, 1.0, n), segments=HOLM_200, gate=GateConfig(),
                            seed=0)
    assert not any(s.regressed for s in uniform)


def test_p_values_match_a_normal_approximation_and_limits_apply() -> None:
    from scipy import stats

    rng = np.random.default_rng(2)
    n = 2000
    frame = pd.DataFrame({"g": np.where(np.arange(n) < 1000, "a", "b")})
    gain = rng.normal(-0.05, 1.0, n)
    found = segment_gains(frame, np.zeros(n), gain, segments=HOLM_200, gate=GateConfig(resamples=2000), seed=0)
    for s in found:
        rows = gain[frame["g"] == s.segment[-1]]
        # The bootstrap's standard error is close to the textbook one, so are the p-values.
        expected = stats.norm.cdf(rows.mean() / (rows.std(ddof=1) / np.sqrt(len(rows))))
        assert s.p_value == pytest.approx(expected, abs=0.02)
    # Segments smaller than min_support, or the whole set, are not tested; top_k caps the count.
    gate = GateConfig()
    assert segment_gains(frame, np.zeros(n), gain, segments=SegmentsConfig(min_support=1001), gate=gate, seed=0) == []
    assert len(segment_gains(frame, np.zeros(n), gain, segments=SegmentsConfig(top_k=1), gate=gate, seed=0)) == 1
    same = segment_gains(frame, np.zeros(n), gain, segments=SegmentsConfig(correction=Correction.BH),
                         gate=GateConfig(),                         seed=0)
    assert [s.p_value for s in same] == [s.p_value for s in found[:2]] or len(same) == 2


def _labelled_so_that(project: Project, challenger: str, rows: pd.DataFrame, broken: pd.Series) -> pd.DataFrame:
    """``rows`` with labels chosen so the challenger is right wherever the two versions
    disagree, except in ``broken``, where the champion is."""
    config = project.config
    said = {}
    for version in ("v1", challenger):
        record = project.registry.get(version)
        model, _ = project.registry.load(version)
        said[version] = np.asarray(score(model, model_input(config.schema_, rows, record.input_format, "rows"),
                                         "classification").labels)
    return rows.assign(repaid=np.where(broken.to_numpy(), said["v1"], said[challenger]))


def test_gate_rejects_a_challenger_that_wins_overall_but_breaks_a_segment(project: Project, car_loan_data) -> None:
    from leanloop.build.train import train_version

    reference = car_loan_data.reference.head(3000)
    flipped = reference.assign(repaid=1 - reference["repaid"])
    other = train_version(project.workspace, train=flipped.iloc[:2000],
                          test=reference.iloc[2000:], source="build", parent="v1", alias=None)
    rows = car_loan_data.analysis.head(3000).reset_index(drop=True)
    broken = rows["salary_range"] == rows["salary_range"].value_counts().index[0]
    recent = _labelled_so_that(project, other.version, rows, broken)
    holdout = reference.iloc[2000:]
    result = compare(project, "v1", other.version, recent=recent, holdout=holdout, hard=recent.head(0))
    checks = {c.check: c for c in result.checks}
    assert len(result.checks) == len(GATE) and result.checks[-1].check == "segments_no_regression"
    assert checks["recent_net_value_lift"].passed  # better overall ...
    segment = checks["segments_no_regression"]  # ... but not for one salary range
    name = f"salary_range = {rows['salary_range'].value_counts().index[0]}"
    assert not segment.passed and not result.promote
    # Named, and the worst; other slices that overlap it (low debt-to-income) may fail too.
    assert name in [s.segment for s in segment.segments if s.regressed]
    assert min(segment.segments, key=lambda s: s.difference).segment == name
    assert name in segment.says and name in result.explain()
    assert segment.p_value < 0.05 and segment.upper < 0 and segment.rows == len(recent)
    # The same challenger on rows where it is right wherever the two disagree: no segment regresses.
    fair = _labelled_so_that(project, other.version, rows, broken & False)
    passed = compare(project, "v1", other.version, recent=fair, holdout=holdout, hard=fair.head(0),
                     checks=[segments_no_regression]).checks
    assert [c.check for c in passed] == ["segments_no_regression"]
    # [segments] top_k (10) of the largest slices are tested, the finder's setting.
    assert passed[0].passed and len(passed[0].segments) == project.config.segments.top_k == 10
    assert all(s.difference >= 0 and s.adjusted_p_value >= 0.05 for s in passed[0].segments)
    # Too few rows for any segment: skipped, passing, with the reason.
    small = compare(project, "v1", other.version, recent=fair.head(40), holdout=holdout, hard=fair.head(0),
                    checks=[segments_no_regression]).checks[0]
    assert small.passed and small.skipped.startswith("no segment of the 40 recent rows has")
