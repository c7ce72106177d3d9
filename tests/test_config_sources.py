"""Config from one source: old files migrate, metrics and bounds are checked at load."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from leanloop.config import CONFIG_FILE, Correction, Metric, RetrainStrategy, load_config
from leanloop.config.migration import MOVED
from leanloop.config.render import render_config
from leanloop.errors import ProjectError

OLD_STYLE = """
[data]
path = "d.csv"
target = "y"
task = "classification"
classes = [0, 1]

[policy]
min_rows = 100
main_metric = "f1"
min_kpi_gain = 0.5
recent_eval_share = 0.25
production_weight = 2.0
gate_confidence = 0.9
gate_resamples = 300
retrain_strategy = "sliding"
retrain_window_rows = 800
recency_half_life_rows = 400
retrain_max_rows = 9000
segment_metric = "error"
segment_min_rows = 200
segment_top_k = 50
segment_alpha = 0.01
segment_correction = "holm"
shadow_before_promote = true

[segments]
correction = "bh"
"""


def _write(tmp_path: Path, text: str) -> Path:
    (tmp_path / CONFIG_FILE).write_text(text, encoding="utf-8")
    return tmp_path


def test_an_old_style_file_loads_with_every_key_in_its_new_place(tmp_path: Path,
                                                                  caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="leanloop.config"):
        config = load_config(_write(tmp_path, OLD_STYLE))
    assert config.policy.min_rows == 100 and config.policy.main_metric is Metric.F1
    assert (config.retrain.strategy, config.retrain.window_rows, config.retrain.recency_half_life_rows,
            config.retrain.max_rows, config.retrain.production_weight, config.retrain.recent_eval_share) == (
        RetrainStrategy.SLIDING, 800, 400, 9000, 2.0, 0.25)
    assert (config.gate.confidence, config.gate.resamples, config.gate.min_kpi_gain,
            config.gate.shadow_before_promote) == (0.9, 300, 0.5, True)
    assert (config.segments.metric.value, config.segments.min_support, config.segments.top_k,
            config.segments.alpha) == ("error", 200, 50, 0.01)
    # Both set: [segments] wins, and the note says the [policy] value was dropped.
    assert config.segments.correction is Correction.BH
    [note] = [r.getMessage() for r in caplog.records]
    assert "[policy] gate_resamples -> [gate] resamples" in note
    assert "[policy] retrain_strategy -> [retrain] strategy" in note
    assert "[policy] segment_min_rows -> [segments] min_support" in note
    assert "[policy] segment_correction = 'holm' dropped: [segments] correction = 'bh' is set" in note
    assert note.count("->") == len(MOVED) - 1


def test_a_new_file_loads_without_a_note(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    config = load_config(_write(tmp_path, OLD_STYLE))
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="leanloop.config"):
        assert load_config(_write(tmp_path, render_config(config))) == config
    assert caplog.records == []


@pytest.mark.parametrize(("policy", "pattern"), [
    ('main_metric = "precision"', r"policy\.main_metric: Input should be 'accuracy', 'roc_auc', 'f1', 'mae' or 'rmse'"),
    ('main_metric = "mae"', (r"policy\.main_metric = 'mae' is a regression metric but the task is classification; "
                             r"use one of: accuracy, roc_auc, f1")),
])
def test_main_metric_is_checked_at_load(tmp_path: Path, policy: str, pattern: str) -> None:
    text = OLD_STYLE.split("[policy]")[0] + f"[policy]\n{policy}\n"
    with pytest.raises(ProjectError, match=pattern):
        load_config(_write(tmp_path, text))


def test_metrics_know_their_direction_and_needs() -> None:
    assert [m.value for m in Metric if m.higher_is_better] == ["accuracy", "roc_auc", "f1"]
    assert [m.value for m in Metric if m.needs_probabilities] == ["roc_auc"]
    assert Metric.for_task(Metric.MAE.task) == [Metric.MAE, Metric.RMSE]


@pytest.mark.parametrize(("section", "line", "pattern"), [
    ("policy", "gate_resamples = 1000000000000",
     r"gate\.resamples: Input should be less than or equal to 100000 \(allowed: 50 to 100,000\)"),
    ("measure", "calibration_rounds = 1000000000",
     r"measure\.calibration_rounds: Input should be less than or equal to 10000 \(allowed: 5 to 10,000\)"),
    ("measure", "window_rows = 100000000000", r"measure\.window_rows: .* \(allowed: 10 to 10,000,000\)"),
    ("serve", "max_body_bytes = 100000000000", r"serve\.max_body_bytes: .* \(allowed: 1,024 to 1,073,741,824\)"),
    ("performance", "bootstrap_resamples = 10", r"performance\.bootstrap_resamples: .* \(allowed: 50 to 20,000\)"),
])
def test_settings_beyond_what_fits_in_memory_are_refused_at_load(tmp_path: Path, section: str, line: str,
                                                                   pattern: str) -> None:
    text = OLD_STYLE.replace("gate_resamples = 300\n", "")
    if f"[{section}]\n" in text:
        text = text.replace(f"[{section}]\n", f"[{section}]\n{line}\n")
    else:
        text += f"\n[{section}]\n{line}\n"
    with pytest.raises(ProjectError, match=pattern):
        load_config(_write(tmp_path, text))


def test_every_count_and_size_field_has_an_upper_bound() -> None:
    from leanloop.config.render import sections

    unbounded = []
    for section, model in sections().items():
        for name, info in model.model_fields.items():
            bounded = any(getattr(m, "le", None) is not None or getattr(m, "lt", None) is not None
                          for m in info.metadata)
            if info.annotation in (int, int | None) and "seed" not in name and not bounded:
                unbounded.append(f"{section}.{name}")
    assert unbounded == []


@pytest.mark.parametrize("metric", list(Metric))
def test_every_metric_is_one_the_gate_can_bootstrap_in_its_direction(metric: Metric) -> None:
    from leanloop.learn.paired import statistic_for
    from leanloop.measure.performance import higher_is_better

    _, reads = statistic_for(metric.value)
    assert reads == ("scores" if metric.needs_probabilities else "labels")
    assert higher_is_better(metric.value) is metric.higher_is_better
