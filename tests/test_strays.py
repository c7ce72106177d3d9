"""Type inference that says what it saw: a column of numbers or dates but for a few stray
values stops ``init`` with the rows and values named, unless ``--coerce``."""

from __future__ import annotations

import json
import re
import tomllib
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from leanloop.cli import app
from leanloop.schema import FeatureKind
from leanloop.strays import coerce_strays, find_strays


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, list(args))
    return result.exit_code, re.sub(r"\s+", " ", result.stdout), re.sub(r"\s+", " ", result.stderr)


def test_find_strays_names_numbers_and_dates_but_not_text() -> None:
    n = 100
    frame = pd.DataFrame({
        "income": [str(1000 + i) for i in range(n)],
        "signup": [f"2024-01-{1 + i % 28:02d}" for i in range(n)],
        "city": ["a", "b", "c", "12"] * (n // 4),  # text with a number in it: a category, not a typo
        "many": [str(i) for i in range(n - 10)] + ["x"] * 10,  # 10 % text: not "a few"
        "mixed": [*range(n - 1), "n/a"],  # Parquet keeps Python ints beside the text
        "clean": [float(i) for i in range(n)],
    }).astype({"mixed": object})
    frame.loc[[7, 40], "income"] = ["4O", "1,200"]
    frame.loc[3, "signup"] = "2024-13-45"
    found = {s.column: s for s in find_strays(frame)}
    assert set(found) == {"income", "signup", "mixed"}
    assert (found["income"].kind, found["income"].count, found["income"].rows, found["income"].values) == (
        FeatureKind.NUMERIC, 2, [7, 40], ["4O", "1,200"])
    assert (found["signup"].kind, found["signup"].rows, found["signup"].values) == (
        FeatureKind.DATETIME, [3], ["2024-13-45"])
    assert found["income"].describe() == ("column 'income' holds numbers but for 2 values: '4O' (row 7), "
                                          "'1,200' (row 40)")
    assert find_strays(frame, exclude=["income", "signup", "mixed"]) == []

    fixed = coerce_strays(frame, ["income", "signup", "mixed", "city"])
    assert fixed["income"].dtype == "float64" and fixed["income"].isna().sum() == 2 and fixed["income"][8] == 1008
    assert fixed["signup"].isna().sum() == 1 and fixed["signup"][4] == "2024-01-05"
    assert fixed["city"].equals(frame["city"]) and fixed["mixed"].isna().sum() == 1


def test_many_strays_are_shown_five_and_counted() -> None:
    frame = pd.DataFrame({"x": [str(i) for i in range(400)]})
    frame.loc[range(0, 120, 10), "x"] = "?"
    (stray,) = find_strays(frame)
    assert stray.count == 12 and stray.rows == [0, 10, 20, 30, 40]
    assert stray.describe().endswith("'?' (row 40) and 7 more")


@pytest.fixture
def typo_csv(tmp_path: Path, car_loan_data) -> Path:
    frame = car_loan_data.reference.head(800).copy()
    frame["car_value"] = frame["car_value"].astype(object)
    frame.loc[7, "car_value"] = "4O"
    frame["signed"] = pd.to_datetime(frame["timestamp"]).dt.strftime("%Y-%m-%d %H:%M")
    frame.loc[[11, 12], "signed"] = ["2024-02-30 10:00", "yesterday"]
    path = tmp_path / "typo.csv"
    frame.to_csv(path, index=False)
    return path


def test_init_stops_on_stray_values_and_names_them(typo_csv: Path, tmp_path: Path) -> None:
    root = tmp_path / "p"
    code, _, err = run("init", str(typo_csv), "--target", "repaid", "--time-column", "timestamp",
                       "--id-column", "id", "--dir", str(root))
    assert code == 2
    assert "column 'car_value' holds numbers but for 1 value: '4O' (row 7)" in err
    assert "column 'signed' holds date-times but for 2 values: '2024-02-30 10:00' (row 11), 'yesterday' (row 12)" in err
    assert "--coerce" in err and not (root / "leanloop.toml").exists()


def test_init_coerce_reads_them_as_missing_and_build_reads_the_table_the_same_way(typo_csv: Path,
                                                                                   tmp_path: Path) -> None:
    root = tmp_path / "p"
    args = ["init", str(typo_csv), "--target", "repaid", "--time-column", "timestamp", "--id-column", "id",
            "--coerce", "--dir", str(root)]
    code, out, err = run(*args, "--json")
    assert code == 0, err
    body = json.loads(out)
    assert [(c["column"], c["kind"], c["count"]) for c in body["coerced"]] == [
        ("car_value", "numeric", 1), ("signed", "datetime", 2)]
    kinds = {f["name"]: (f["kind"], f["nullable"]) for f in body["features"]}
    assert kinds["car_value"] == ("numeric", True) and kinds["signed"] == ("datetime", True)
    config = tomllib.loads((root / "leanloop.toml").read_text(encoding="utf-8"))
    assert config["data"]["coerce"] == ["car_value", "signed"]
    code, _, err = run("build", "--dir", str(root), "--json")
    assert code == 0, err

    code, out, err = run(*args[:-1], str(tmp_path / "q"))
    assert code == 0, err
    assert "coerced: column 'car_value' holds numbers but for 1 value: '4O' (row 7); read as missing (1 value)" in out


def test_adopt_creating_a_project_stops_on_strays_too_and_coerces_the_reference(typo_csv: Path,
                                                                               tmp_path: Path) -> None:
    import skops.io as sio
    from sklearn.ensemble import HistGradientBoostingClassifier

    numeric = ["car_value", "debt_to_income_ratio", "loan_length"]
    frame = pd.read_csv(typo_csv)
    frame["car_value"] = pd.to_numeric(frame["car_value"], errors="coerce")
    model = HistGradientBoostingClassifier(max_iter=10).fit(frame[numeric], frame["repaid"])
    sio.dump(model, tmp_path / "model.skops")
    adopt = ["adopt", str(tmp_path / "model.skops"), "--reference", str(typo_csv), "--target", "repaid",
             "--time-column", "timestamp", "--id-column", "id"]
    code, _, err = run(*adopt, "--dir", str(tmp_path / "a"))
    assert code == 2 and "'4O' (row 7)" in err and not (tmp_path / "a" / "leanloop.toml").exists()
    code, out, err = run(*adopt, "--coerce", "--dir", str(tmp_path / "b"), "--json")
    assert code == 0, err
    expected = (model.predict(frame[numeric]) == frame["repaid"]).mean()
    assert json.loads(out)["metrics"]["accuracy"] == pytest.approx(expected)


def test_a_time_column_with_bad_times_stops_init_naming_them_and_coerce_reads_them_as_missing(
        car_loan_data, tmp_path: Path) -> None:
    frame = car_loan_data.reference.head(800).copy()
    frame["timestamp"] = pd.to_datetime(frame["timestamp"]).dt.strftime("%Y-%m-%dT%H:%M:%S")
    bad_rows = [5, 50, 51, 52, 53, 54, 700]
    frame.loc[bad_rows, "timestamp"] = ["soon", "2024-02-30T10:00:00", "n.a.", "?", "yesterday", "later",
                                        "2024-05-01T10:00:00+02:00"]  # a zone where the others have none
    frame.to_csv(tmp_path / "times.csv", index=False)
    args = ["init", str(tmp_path / "times.csv"), "--target", "repaid", "--time-column", "timestamp", "--id-column",
            "id"]
    code, _, err = run(*args, "--dir", str(tmp_path / "p"))
    assert code == 2 and not (tmp_path / "p" / "leanloop.toml").exists()
    assert ("column 'timestamp' holds date-times but for 7 values: 'soon' (row 5), '2024-02-30T10:00:00' (row 50), "
            "'n.a.' (row 51), '?' (row 52), 'yesterday' (row 53) and 2 more") in err and "--coerce" in err
    code, out, err = run(*args, "--coerce", "--dir", str(tmp_path / "q"))
    assert code == 0, err
    assert "coerced: column 'timestamp' holds date-times but for 7 values" in out and "(7 values)" in out
    config = tomllib.loads((tmp_path / "q" / "leanloop.toml").read_text(encoding="utf-8"))
    assert config["data"]["coerce"] == ["timestamp"]
    fixed = coerce_strays(pd.read_csv(tmp_path / "times.csv"), ["timestamp"], "timestamp")
    assert fixed["timestamp"].isna().sum() == 7 and fixed["timestamp"][6] == frame["timestamp"][6]
    code, _, err = run("build", "--dir", str(tmp_path / "q"))
    assert code == 0, err
