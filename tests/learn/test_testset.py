"""The enriched test set: de-duplication, the cap, persistence, prune, export, the CLI,
and the promotion gate on it."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from leanloop.cli import app
from leanloop.errors import InputError
from leanloop.learn.compare import _hard_case_check, compare
from leanloop.learn.testset import add_hard_cases, cap_plan, export, prune, rows
from leanloop.measure.hard_cases import HardCase, Reason
from leanloop.project import Project
from leanloop.store import SQLStore

FEATURES = ["car_value", "salary_range", "debt_to_income_ratio", "loan_length",
            "repaid_loan_on_prev_car", "size_of_downpayment", "driver_tenure"]


def case(i: int, reason: Reason = Reason.HIGH_LOSS) -> HardCase:
    return HardCase(prediction_id=f"p{i}", reason=reason, detail=f"row {i}", loss=float(i), model_version="v1",
                    features={"x": float(i), "c": "a"}, label=i % 2, prediction=1 - i % 2)


@pytest.fixture
def store(tmp_path: Path) -> SQLStore:
    store = SQLStore(f"sqlite:///{tmp_path / 'store.db'}")
    yield store
    store.close()


def test_rows_are_deduplicated_by_prediction_id_and_keep_their_first_provenance(store: SQLStore) -> None:
    first = add_hard_cases(store, [case(1, Reason.CONFIDENT_ERROR), case(2), case(2, Reason.WEAK_SEGMENT)],
                           max_rows=100, cycle=1, at=10.0)
    assert first.added == {"confident_error": 1, "high_loss": 1, "weak_segment": 0, "drifted_region": 0}
    assert first.duplicates == 1 and first.size == 2
    again = add_hard_cases(store, [case(2, Reason.DRIFTED_REGION), case(3)], max_rows=100, cycle=2, at=20.0)
    assert again.duplicates == 1 and sum(again.added.values()) == 1 and again.size == 3
    kept = {r.prediction_id: r for r in rows(store)}
    assert kept["p2"].reason is Reason.HIGH_LOSS and kept["p2"].cycle == 1 and kept["p2"].added_at == 10.0
    assert kept["p3"].cycle == 2 and kept["p3"].features == {"x": 3.0, "c": "a"} and kept["p3"].label == 1
    assert [r.prediction_id for r in rows(store)] == ["p3", "p1", "p2"]  # newest first, then by id


def test_the_set_persists_across_cycles_and_store_restarts(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'store.db'}"
    for cycle in range(3):
        store = SQLStore(url)
        add_hard_cases(store, [case(10 * cycle + i) for i in range(5)], max_rows=100, cycle=cycle, at=float(cycle))
        store.close()
    store = SQLStore(url)
    kept = rows(store)
    store.close()
    assert len(kept) == 15 and sorted({r.cycle for r in kept}) == [0, 1, 2]


def test_cap_keeps_the_newest_rows_of_each_reason_and_balances_reasons(store: SQLStore) -> None:
    assert cap_plan({"confident_error": 10, "high_loss": 1, "weak_segment": 4, "drifted_region": 4}, 9) == {
        "confident_error": 3, "high_loss": 1, "weak_segment": 3, "drifted_region": 2}
    add_hard_cases(store, [case(i, Reason.CONFIDENT_ERROR) for i in range(6)], max_rows=8, at=1.0)
    result = add_hard_cases(store, [case(i, Reason.CONFIDENT_ERROR) for i in range(6, 10)]
                            + [case(i, Reason.HIGH_LOSS) for i in range(10, 12)], max_rows=8, at=2.0)
    assert result.capped == 4 and result.size == 8
    kept = rows(store)
    confident = sorted(int(r.prediction_id[1:]) for r in kept if r.reason is Reason.CONFIDENT_ERROR)
    assert confident == [0, 1, 6, 7, 8, 9]  # the newest batch stays; the oldest rows go first (by id among ties)
    assert sum(r.reason is Reason.HIGH_LOSS for r in kept) == 2


def test_prune_by_reason_age_and_count(store: SQLStore) -> None:
    add_hard_cases(store, [case(i) for i in range(4)], max_rows=100, at=100.0)
    add_hard_cases(store, [case(i, Reason.WEAK_SEGMENT) for i in range(4, 8)], max_rows=100, at=200.0)
    assert prune(store, reason=Reason.WEAK_SEGMENT, keep=1) == 3
    assert prune(store, older_than=50.0, now=180.0) == 4
    assert [r.prediction_id for r in rows(store)] == ["p4"]
    with pytest.raises(InputError, match="needs"):
        prune(store)


def test_export_round_trips_as_csv_and_parquet(store: SQLStore, tmp_path: Path) -> None:
    add_hard_cases(store, [case(1), case(2, Reason.CONFIDENT_ERROR)], max_rows=100, cycle=4, at=5.0)
    for name, reader in (("set.csv", pd.read_csv), ("set.parquet", pd.read_parquet)):
        assert export(store, tmp_path / name, target="repaid") == 2
        frame = reader(tmp_path / name)
        assert list(frame.columns) == ["prediction_id", "added_at", "cycle", "reason", "detail", "model_version",
                                       "prediction", "x", "c", "repaid"]
        assert frame["repaid"].tolist() == [1, 0] and frame["reason"].tolist() == ["high_loss", "confident_error"]
    with pytest.raises(InputError, match=r"must end in \.csv or \.parquet"):
        export(store, tmp_path / "set.xlsx")


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, list(args))
    return result.exit_code, result.stdout, result.stderr


def test_testset_cli_lists_exports_and_prunes(project: Project, tmp_path: Path) -> None:
    directory = str(project.paths.root)
    add_hard_cases(project.store, [case(1), case(2, Reason.CONFIDENT_ERROR), case(3, Reason.CONFIDENT_ERROR)],
                   max_rows=100, cycle=1, at=1.0)
    code, out, err = run("testset", "list", "--json", "--dir", directory)
    assert code == 0, err
    listed = json.loads(out)
    assert [r["prediction_id"] for r in listed] == ["p1", "p2", "p3"]
    assert set(listed[0]) == {"prediction_id", "added_at", "cycle", "reason", "detail", "model_version",
                              "features", "label", "prediction"}
    code, out, _ = run("testset", "list", "--reason", "confident_error", "--json", "--dir", directory)
    assert [r["prediction_id"] for r in json.loads(out)] == ["p2", "p3"]
    code, out, _ = run("testset", "list", "--dir", directory)
    assert code == 0 and "enriched test set: 3 rows" in out
    code, out, _ = run("testset", "export", str(tmp_path / "hard.parquet"), "--json", "--dir", directory)
    assert code == 0 and json.loads(out)["exported"] == 3
    assert pd.read_parquet(tmp_path / "hard.parquet")["repaid"].tolist() == [1, 0, 1]
    code, out, _ = run("testset", "prune", "--reason", "confident_error", "--keep", "1", "--json", "--dir", directory)
    assert code == 0 and json.loads(out) == {"removed": 1, "size": 2}
    # Bad input: exit 2 and a message that says what to do.
    code, _, err = run("testset", "export", str(tmp_path / "hard.txt"), "--dir", directory)
    assert code == 2 and "must end in .csv or .parquet" in err
    code, _, err = run("testset", "prune", "--dir", directory)
    assert code == 2 and "--older-than, --reason or --keep" in " ".join(err.split())
    code, _, err = run("testset", "list", "--reason", "boring", "--dir", directory)
    assert code == 2 and "unknown reason 'boring'; reasons are ['confident_error'," in " ".join(err.split())
    code, _, err = run("testset", "prune", "--keep", "-1", "--dir", directory)
    assert code == 2
    project.prune_testset(keep=0)
    assert project.testset() == []


def test_gate_rejects_a_challenger_that_regresses_on_the_hard_cases(project: Project, car_loan_data) -> None:
    from leanloop.build.train import train_version

    reference = car_loan_data.reference.head(2000)
    flipped = reference.assign(repaid=1 - reference["repaid"])
    # A challenger that learned the opposite of the truth.
    worse = train_version(project.workspace, train=flipped.iloc[:1500],
                          test=reference.iloc[1500:], source="build", parent="v1", alias=None)
    hard = car_loan_data.analysis.merge(car_loan_data.analysis_targets, on="id").head(200)
    result = compare(project, "v1", worse.version, recent=hard.iloc[:100], holdout=reference.iloc[1500:], hard=hard)
    check = {c.check: c for c in result.checks}["hard_cases_regression"]
    assert not check.passed and check.p_value < 0.05 and check.rows == 200
    assert check.challenger < check.champion and not result.promote
    assert result.rows["hard_cases"] == 200
    contenders = {v: (project.registry.get(v), *project.registry.load(v)) for v in ("v1", worse.version)}
    same = _hard_case_check(project, contenders, "v1", "v1", hard)
    assert same.passed and same.p_value == 1.0 and same.champion == same.challenger
    small = _hard_case_check(project, contenders, "v1", worse.version, hard.head(10))
    assert small.passed and small.p_value is None and small.skipped == (
        "the enriched test set has 10 rows, fewer than [testset] min_rows = 30")


def test_cli_help_names_every_reason() -> None:
    from leanloop.cli import _REASONS

    assert _REASONS.split(", ") == [r.value for r in Reason]
