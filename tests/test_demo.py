"""The demo job, small: it must run the loop through the real server and report both KPIs."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from leanloop.demo import run_demo
from leanloop.errors import ProjectError

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


def test_demo_runs_the_loop_and_compares_with_frozen(tmp_path: Path, analysis_with_truth: pd.DataFrame) -> None:
    summary = run_demo(tmp_path / "demo", rows=2000, cycle_every=1000, label_delay=300)
    assert summary["rows"] == summary["logged"] == 2000
    assert summary["cycles"] == 2
    assert summary["promotions"] == 0 and summary["champion"] == "v1"
    # With no promotion the loop served exactly what the frozen model would have.
    assert summary["kpi_with_loop"] == summary["kpi_frozen"]
    truth = analysis_with_truth["repaid"].head(2000)
    assert summary["kpi_frozen"] <= 1000 * int(truth.sum())  # never more than every repaid loan granted
    assert 0.9 < summary["accuracy_frozen"] <= 1.0
    # the expected-value rule is served, and it earns more than argmax on the same probabilities
    assert summary["decision"] == "expected_value"
    assert summary["kpi_frozen"] > summary["kpi_frozen_argmax"]
    # 2,000 rows end long before the data's shift: the oracle is the frozen model, no gain to keep
    assert summary["kpi_oracle"] == summary["kpi_frozen"] and summary["gain_kept"] is None
    with pytest.raises(ProjectError, match="already holds a project"):
        run_demo(tmp_path / "demo", rows=2000)
