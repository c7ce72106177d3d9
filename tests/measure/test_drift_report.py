"""drift_report on data frames and ``leanloop drift`` on two files: real data, JSON shape, errors."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from leanloop.cli import app
from leanloop.datasets import CarLoan
from leanloop.errors import InputError
from leanloop.measure.drift import DriftMethod, DriftOptions, DriftReport, drift_report

DATA = Path(__file__).resolve().parents[1] / "data"
CAR_FEATURES = ["car_value", "salary_range", "debt_to_income_ratio", "loan_length", "repaid_loan_on_prev_car",
                "size_of_downpayment", "driver_tenure"]
SHIFTED = ["car_value", "salary_range", "loan_length", "repaid_loan_on_prev_car"]
REPORT_KEYS = {"features", "drifted", "extra", "skipped", "only_reference", "only_current"}


def _frames(seed: int = 0, n: int = 3000) -> tuple[pd.DataFrame, pd.DataFrame]:
    rng = np.random.default_rng(seed)
    ref = pd.DataFrame({"age": rng.normal(40, 10, n), "city": rng.choice(["a", "b", "c"], n),
                        "vip": rng.random(n) < 0.2, "id": np.arange(n)})
    cur = pd.DataFrame({"age": rng.normal(46, 10, n), "city": rng.choice(["a", "b", "d"], n),
                        "vip": rng.random(n) < 0.2, "extra": 1.0})
    return ref, cur


# --- real data ----------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["fixed", "calibrated"])
def test_car_loan_drift_appears_in_the_middle_chunk_exactly_where_the_data_shifts(
        car_loan_data: CarLoan, mode: str) -> None:
    analysis = car_loan_data.analysis.sort_values("timestamp", kind="stable").reset_index(drop=True)
    report = drift_report(car_loan_data.reference[CAR_FEATURES], analysis[CAR_FEATURES], chunks=10,
                          options=DriftOptions(threshold_mode=mode))
    assert report.chunks is not None and [c.rows for c in report.chunks] == [5000] * 10
    if mode == "fixed":  # 5,000 rows per chunk: distances with effect-size thresholds
        assert {r.method for c in report.chunks for r in c.features} == {
            DriftMethod.WASSERSTEIN, DriftMethod.JENSEN_SHANNON}
        assert [sorted(c.drifted) for c in report.chunks] == [[]] * 5 + [sorted(SHIFTED)] * 5
    else:  # calibrated thresholds alarm at most at the configured rate before the shift
        before = [f for c in report.chunks[:5] for f in c.drifted]
        assert len(before) <= 0.05 * 5 * len(CAR_FEATURES)
        assert all(set(SHIFTED) <= set(c.drifted) for c in report.chunks[5:])
    assert set(report.drifted) <= set(SHIFTED)  # the whole period: half of it shifted


def test_census_false_alarms_stay_at_the_configured_rate_with_calibrated_thresholds() -> None:
    # Real, stable data: one year of the US census for Massachusetts, split at random
    # into a reference and a current half; nothing drifts, so every alarm is false.
    frame = pd.read_parquet(DATA / "census_employment_ma.parquet").sample(frac=1.0, random_state=0)
    reference, current = frame.iloc[:20_000], frame.iloc[20_000:].reset_index(drop=True)
    options = DriftOptions(threshold_mode="calibrated", false_alarm_rate=0.05)
    report = drift_report(reference, current, chunks=10, options=options)
    alarms = sum(len(c.drifted) for c in report.chunks or [])
    tests = sum(len(c.features) for c in report.chunks or [])
    assert tests == 16 * 10
    assert alarms / tests <= 0.05
    assert all(r.threshold_mode.value == "calibrated" for r in report.features)
    again = drift_report(reference, current, chunks=10, options=options)
    assert again.to_json() == report.to_json()  # seeded: identical across runs


# --- API and JSON -------------------------------------------------------------------


def test_report_shape_unseen_vanished_and_columns_on_one_side() -> None:
    ref, cur = _frames()
    report = drift_report(ref, cur)
    assert isinstance(report, DriftReport)
    body = report.to_json()
    assert set(body) == REPORT_KEYS
    assert json.loads(json.dumps(body)) == body
    by_name = {r["feature"]: r for r in body["features"]}
    assert list(by_name) == ["age", "city", "vip"]
    assert by_name["age"]["method"] == "wasserstein" and by_name["age"]["drifted"] is True
    assert by_name["city"]["unseen"] == ["d"] and by_name["city"]["vanished"] == ["c"]
    assert by_name["vip"]["drifted"] is False and by_name["age"]["unseen"] is None
    assert set(report.drifted) == {"age", "city"}
    assert (body["only_reference"], body["only_current"]) == (["id"], ["extra"])
    assert DriftReport.model_validate(body) == report


def test_methods_override_defaults_and_small_samples_get_tests_with_psi_beside() -> None:
    ref, cur = _frames(n=300)
    report = drift_report(ref, cur, methods={"age": DriftMethod.HELLINGER, "city": DriftMethod.L_INFINITY})
    methods = {r.feature: r.method for r in report.features}
    assert methods == {"age": DriftMethod.HELLINGER, "city": DriftMethod.L_INFINITY, "vip": DriftMethod.Z_TEST}
    assert [(r.feature, r.method) for r in report.extra] == [("vip", DriftMethod.PSI)]
    assert [r.feature for r in report.results] == ["age", "city", "vip", "vip"]


def test_chunks_are_consecutive_and_each_is_judged() -> None:
    ref, cur = _frames()
    report = drift_report(ref, cur, chunks=3)
    assert [(c.start, c.end) for c in report.chunks or []] == [(0, 1000), (1000, 2000), (2000, 3000)]
    assert all("age" in c.drifted for c in report.chunks or [])
    assert "chunks" in report.to_json()


def test_missing_values_and_unusable_columns_are_skipped_with_a_reason() -> None:
    ref, cur = _frames(n=300)
    cur["age"] = np.nan
    ref["note"] = [f"free text {i}" for i in range(300)]
    cur["note"] = "x"
    report = drift_report(ref, cur)
    assert "no non-missing values in the current data" in report.skipped["age"]
    assert "distinct values" in report.skipped["note"]
    assert "age" not in {r.feature for r in report.features}


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"methods": {"height": DriftMethod.KS}}, r"drift method is given for \['height'\].*features are: \['age'"),
        ({"methods": {"city": DriftMethod.KS}}, r"feature 'city' is categorical: method 'ks' does not apply"),
        ({"chunks": -1}, r"chunks must be 0 \(none\) or more, got -1"),
    ],
)
def test_bad_arguments_raise_clear_errors(kwargs: dict[str, object], message: str) -> None:
    ref, cur = _frames(n=100)
    with pytest.raises(InputError, match=message):
        drift_report(ref, cur, **kwargs)  # type: ignore[arg-type]


def test_no_common_columns_is_an_error() -> None:
    with pytest.raises(InputError, match=r"share no column; reference has \['a'\], current has \['b'\]"):
        drift_report(pd.DataFrame({"a": [1.0]}), pd.DataFrame({"b": [1.0]}))


# --- the command --------------------------------------------------------------------


def test_drift_command_on_two_files(tmp_path: Path) -> None:
    ref, cur = _frames()
    ref.to_csv(tmp_path / "ref.csv", index=False)
    cur.to_parquet(tmp_path / "cur.parquet")
    runner = CliRunner()
    result = runner.invoke(app, ["drift", str(tmp_path / "ref.csv"), str(tmp_path / "cur.parquet"), "--json",
                                 "--chunks", "2", "--method", "age=ks"])
    assert result.exit_code == 0, result.output
    body = json.loads(result.stdout)
    assert set(body) == REPORT_KEYS | {"chunks"}
    assert body["features"][0]["method"] == "ks" and len(body["chunks"]) == 2
    assert body == drift_report(pd.read_csv(tmp_path / "ref.csv"), cur, chunks=2,
                                methods={"age": DriftMethod.KS}).to_json()
    table = runner.invoke(app, ["drift", str(tmp_path / "ref.csv"), str(tmp_path / "cur.parquet")])
    assert table.exit_code == 0 and "drifted: age, city" in table.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["missing.csv", "cur.parquet"], "does not exist"),
        (["ref.csv", "cur.parquet", "--method", "age"], "must be FEATURE=METHOD"),
        (["ref.csv", "cur.parquet", "--method", "age=median"], "unknown method 'median'"),
        (["ref.csv", "cur.parquet", "--method", "height=ks"], "which the data does not have"),
    ],
)
def test_drift_command_bad_input_exits_2(tmp_path: Path, args: list[str], message: str) -> None:
    ref, cur = _frames(n=50)
    ref.to_csv(tmp_path / "ref.csv", index=False)
    cur.to_parquet(tmp_path / "cur.parquet")
    paths = [str(tmp_path / a) if a.endswith((".csv", ".parquet")) else a for a in args]
    result = CliRunner().invoke(app, ["drift", *paths])
    assert result.exit_code == 2
    assert message in " ".join(result.output.split())
