"""Data quality: planted problems are caught, clean data flags nothing, JSON is stable."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from leanloop.config import QualityConfig
from leanloop.measure.quality import QualityCheck, QualityReport, quality_report
from leanloop.schema import Feature, Schema


def frame(rows: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame({
        "x": rng.normal(0, 1, rows),
        "y": rng.uniform(10, 20, rows),
        "city": rng.choice(["a", "b", "c"], rows),
        "ok": rng.choice([True, False], rows),
    })


def flags(report: QualityReport) -> set[tuple[str | None, str]]:
    return {(r.feature, r.check.value) for r in report.results if r.flagged}


def result(report: QualityReport, feature: str | None, check: QualityCheck):
    return next(r for r in report.results if r.feature == feature and r.check is check)


def test_clean_data_from_the_same_distribution_flags_nothing() -> None:
    report = quality_report(frame(5000, 0), frame(5000, 1))
    assert flags(report) == set()
    assert report.flagged_features == [] and not report.duplicates_flagged


def test_planted_problems_are_each_caught() -> None:
    reference, current = frame(5000, 0), frame(5000, 1)
    current.loc[:999, "x"] = np.nan                       # 20 % missing
    current.loc[1000:1199, "y"] = 99.0                    # 4 % above the reference max
    current.loc[1200:1299, "city"] = "zurich"             # 2 % unseen
    current["ok"] = True                                  # constant now
    current.iloc[2000:3000] = current.iloc[3000:4000].to_numpy()  # 1,000 repeated rows
    report = quality_report(reference, current)
    assert flags(report) == {("x", "missing_rate"), ("y", "out_of_range"), ("city", "unseen_categories"),
                             ("ok", "constant"), (None, "duplicate_rows")}
    assert result(report, "x", QualityCheck.MISSING).value == pytest.approx(0.2)
    assert result(report, "y", QualityCheck.OUT_OF_RANGE).count == 200
    unseen = result(report, "city", QualityCheck.UNSEEN)
    assert unseen.count == 100 and unseen.examples == ["zurich"]
    duplicates = result(report, None, QualityCheck.DUPLICATES)
    assert duplicates.count == 1000 and duplicates.value == pytest.approx(0.2)
    assert report.flagged_features == ["city", "ok", "x", "y"] and report.duplicates_flagged


def test_type_errors_count_values_the_schema_cannot_read() -> None:
    schema = Schema(features=[Feature(name="age", kind="numeric"), Feature(name="when", kind="datetime"),
                              Feature(name="ok", kind="boolean")])
    reference = pd.DataFrame({"age": [30.0, 40.0, 50.0, 60.0], "when": pd.to_datetime(["2024-01-01"] * 4),
                              "ok": [True, False, True, False]})
    current = pd.DataFrame({"age": ["31", "forty", None, "55"], "when": ["2024-02-01", "soon", "2024-02-03", None],
                            "ok": ["true", "maybe", "false", "0"]})
    report = quality_report(reference, current, schema)
    errors = {r.feature: (r.count, r.examples) for r in report.results if r.check is QualityCheck.TYPE_ERRORS}
    assert errors == {"age": (1, ["'forty'"]), "when": (1, ["'soon'"]), "ok": (1, ["'maybe'"])}
    assert result(report, "age", QualityCheck.TYPE_ERRORS).value == pytest.approx(1 / 3)


def test_thresholds_come_from_the_options() -> None:
    reference, current = frame(2000, 0), frame(2000, 1)
    current.loc[:99, "x"] = np.nan  # 5 % missing
    strict, lenient = QualityConfig(max_missing_increase=0.01), QualityConfig(max_missing_increase=0.1)
    assert ("x", "missing_rate") in flags(quality_report(reference, current, options=strict))
    assert ("x", "missing_rate") not in flags(quality_report(reference, current, options=lenient))


def test_a_feature_absent_from_the_current_frame_is_all_missing() -> None:
    reference, current = frame(100, 0), frame(100, 1).drop(columns=["y"])
    assert result(quality_report(reference, current), "y", QualityCheck.MISSING).value == 1.0


def test_json_shape_is_stable_and_round_trips() -> None:
    report = quality_report(frame(300, 0), frame(300, 1))
    body = json.loads(json.dumps(report.to_json()))
    assert set(body) == {"n_reference", "n_current", "results", "flagged_features", "duplicates_flagged"}
    assert set(body["results"][0]) == {"feature", "check", "value", "reference", "threshold", "flagged", "count",
                                       "examples"}
    assert QualityReport.model_validate(body) == report
    assert quality_report(frame(300, 0), frame(300, 1)) == report


@settings(max_examples=25, deadline=None)
@given(st.lists(st.tuples(st.one_of(st.none(), st.floats(-1e6, 1e6)), st.sampled_from(["a", "b", None])),
                min_size=1, max_size=30))
def test_a_frame_against_itself_flags_nothing_and_shares_are_proportions(rows: list) -> None:
    data = pd.DataFrame(rows, columns=["x", "c"]).astype({"x": "float64", "c": "object"})
    report = quality_report(data, data.copy())
    constant_now = {r.feature for r in report.results if r.check is QualityCheck.CONSTANT and r.value == 1.0}
    assert report.flagged_features == [] and not report.duplicates_flagged, constant_now
    assert all(0.0 <= r.value <= 1.0 for r in report.results)
