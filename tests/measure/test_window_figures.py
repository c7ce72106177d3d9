"""A window's measurement keeps its figures when the measurement gets faster.

The figures in ``tests/data/window_figures.json`` were written by the measurement before
the speed-ups of issue 17 (CBPE estimated once when the labelled rows are the window,
Page-Hinkley without River's per-value calls, label keys and logged probabilities read
once per distinct value): a window of 1,500 logged, labelled car-loan rows, with a stream
change planted, must still give every one of them (to 1e-9). Regenerate the file only for
a change meant to move them: ``python tests/measure/test_window_figures.py OUT.json``.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

PINNED = Path(__file__).resolve().parents[1] / "data" / "window_figures.json"
#: The sections of ``measure --json`` whose numbers are pinned (times and durations are not).
SECTIONS = ("drift", "prediction_drift", "performance", "kpis", "kpi_intervals", "baseline_kpis",
            "baseline_kpi_intervals", "kpi_gain", "estimated_kpis", "estimated_kpi_intervals", "argmax_kpis",
            "kpi_attribution", "accuracy_attribution", "calibration", "stream", "quality", "multivariate",
            "segments", "hard_cases")


def measured_figures(root: Path, car_loan_data: Any) -> dict[str, Any]:
    """Build the small project in ``root``, log 1,500 analysis rows as the champion scores
    them (the newest 500 from later in the period), label them all, and measure them."""
    from leanloop.config import render_config
    from leanloop.project import Project
    from tests.conftest import log_labelled, small_built_project

    rows = car_loan_data.analysis.merge(car_loan_data.analysis_targets, on="id")
    rows = rows.iloc[np.r_[0:1000, 20_000:20_500]].reset_index(drop=True)
    with small_built_project(root, car_loan_data) as project:
        log_labelled(project, rows, 5)
        ws = project.workspace
        # Sensitive detectors, so that changes are signalled on both streams.
        config = ws.config
        stream = config.stream.model_copy(update={"page_hinkley_threshold": 2.0, "adwin_delta": 0.5})
        ws.paths.config.write_text(render_config(config.model_copy(update={"stream": stream})), encoding="utf-8")
    with Project(root / "p") as project:
        body = project.measure(last=len(rows), save=False).to_json()
        # Again from the champion's cached outputs and baseline (no model loaded): the same.
        again = project.measure(last=len(rows), save=False).to_json()
    figures = {name: body.get(name) for name in SECTIONS}
    assert {name: again.get(name) for name in SECTIONS} == figures
    return figures


def test_the_window_figures_are_those_measured_before_the_speed_ups(tmp_path: Path, car_loan_data: Any) -> None:
    found = json.loads(json.dumps(measured_figures(tmp_path, car_loan_data), default=str))
    pinned = json.loads(PINNED.read_text(encoding="utf-8"))
    assert found["performance"]["labelled"] == 1500
    assert found["stream"] and found["kpi_attribution"] and found["calibration"]
    assert found == _approx(pinned)


def _approx(value: Any) -> Any:
    """``value`` with every float compared to 1e-9 (relative), every other leaf exactly."""
    if isinstance(value, dict):
        return {k: _approx(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_approx(v) for v in value]
    if isinstance(value, float):
        return pytest.approx(value, rel=1e-9, abs=1e-12)
    return value


if __name__ == "__main__":
    import tempfile

    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
    from leanloop.datasets import car_loan

    with tempfile.TemporaryDirectory() as folder:
        figures = measured_figures(Path(folder), car_loan())
    Path(sys.argv[1]).write_text(json.dumps(figures, indent=1, default=str) + "\n", encoding="utf-8")
