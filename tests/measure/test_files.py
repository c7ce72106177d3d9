"""measure_files: two files measured column by column give what the frames read whole give."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from leanloop.errors import DataError
from leanloop.measure.drift import DriftMethod, DriftOptions, drift_report
from leanloop.measure.duplicates import DuplicateRows
from leanloop.measure.files import measure_files
from leanloop.measure.quality import quality_report


def _frames(rows: int = 3000) -> tuple[pd.DataFrame, pd.DataFrame]:
    rng = np.random.default_rng(7)

    def side(shift: float, n: int) -> pd.DataFrame:
        frame = pd.DataFrame({
            "amount": rng.normal(100 + shift, 15, n),
            "count": rng.integers(0, 5, n).astype("float64"),  # few values: duplicate rows happen
            "city": rng.choice(["paris", "lyon", "nice"], n),
            "visits": rng.integers(0, 50, n),
            "ok": rng.random(n) < 0.3,
            "seen": pd.Timestamp("2026-01-01") + pd.to_timedelta(rng.integers(0, 10**6, n), unit="s"),
        })
        frame.loc[rng.random(n) < 0.05, "amount"] = np.nan
        frame.loc[rng.random(n) < 0.05, "city"] = None
        return frame

    reference, current = side(0.0, rows), side(8.0, rows + 17)
    current.loc[:40, "city"] = "marseille"  # an unseen category
    duplicated = current.iloc[:25].copy()
    duplicated["amount"] = 1.0  # rows repeating each other on every column
    duplicated["seen"] = pd.Timestamp("2026-02-01")
    duplicated["ok"] = True
    duplicated["count"] = 1.0
    duplicated["visits"] = 3
    duplicated["city"] = "lyon"
    current = pd.concat([current, duplicated], ignore_index=True)
    reference["only_here"] = 1.0
    return reference, current


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, pd.DataFrame, pd.DataFrame]:
    folder = tmp_path_factory.mktemp("files")
    reference, current = _frames()
    # Small row groups: each column arrives in several chunks, as in a large file.
    reference.to_parquet(folder / "ref.parquet", row_group_size=700)
    current.to_parquet(folder / "cur.parquet", row_group_size=700)
    return folder / "ref.parquet", folder / "cur.parquet", pd.read_parquet(folder / "ref.parquet"), \
        pd.read_parquet(folder / "cur.parquet")


@pytest.mark.parametrize("chunks", [0, 3])
def test_parquet_column_by_column_equals_the_frames_read_whole(files, chunks: int) -> None:
    ref_path, cur_path, reference, current = files
    options = DriftOptions(large_sample=2000)
    methods = {"count": DriftMethod.KS}
    got = measure_files(ref_path, cur_path, options=options, methods=methods, chunks=chunks, workers=2)
    assert got.drift == drift_report(reference, current, options=options, methods=methods, chunks=chunks)
    assert got.quality == quality_report(reference, current)
    assert "amount" in got.drift.drifted and got.drift.only_reference == ["only_here"]
    assert got.quality.results[-1].count == 24  # 25 identical rows: 24 repeat an earlier one
    assert {r.check.value for r in got.quality.results if r.flagged and r.feature == "city"} == {"unseen_categories"}


def test_same_files_same_result_and_csv_is_measured_the_same_way(files, tmp_path: Path) -> None:
    ref_path, cur_path, reference, current = files
    first = measure_files(ref_path, cur_path).to_json()
    assert measure_files(ref_path, cur_path, workers=1).to_json() == first
    reference.drop(columns=["seen"]).to_csv(tmp_path / "ref.csv", index=False)
    current.drop(columns=["seen"]).to_csv(tmp_path / "cur.csv", index=False)
    from_csv = measure_files(tmp_path / "ref.csv", tmp_path / "cur.csv")
    expected = drift_report(pd.read_csv(tmp_path / "ref.csv"), pd.read_csv(tmp_path / "cur.csv"))
    assert from_csv.drift == expected


def test_missing_empty_or_broken_files_are_refused(tmp_path: Path) -> None:
    good = tmp_path / "good.parquet"
    pd.DataFrame({"x": [1.0, 2.0]}).to_parquet(good)
    with pytest.raises(DataError, match="does not exist"):
        measure_files(tmp_path / "nope.parquet", good)
    pd.DataFrame({"x": pd.Series([], dtype="float64")}).to_parquet(tmp_path / "empty.parquet")
    with pytest.raises(DataError, match="no data rows"):
        measure_files(good, tmp_path / "empty.parquet")
    (tmp_path / "broken.parquet").write_bytes(b"not parquet")
    with pytest.raises(DataError, match="not a readable parquet file"):
        measure_files(good, tmp_path / "broken.parquet")


@pytest.mark.parametrize("seed", range(5))
def test_duplicate_rows_count_equals_pandas_in_any_column_order(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n = 500
    frame = pd.DataFrame({
        "a": rng.integers(0, 3, n).astype(float), "b": rng.choice(["x", "y", None], n),
        "c": rng.integers(0, 4, n), "d": rng.normal(0, 1, n).round(1),
    })
    frame.loc[rng.random(n) < 0.1, "a"] = np.nan
    expected = int(frame.duplicated().sum())
    for order in (list(frame.columns), list(frame.columns)[::-1]):
        rows = DuplicateRows(n)
        for name in order:
            rows.add(frame[name])
        assert rows.count == expected
    assert DuplicateRows(n).count == 0
    with pytest.raises(ValueError, match="3 values given to a table of 500 rows"):
        DuplicateRows(n).add(pd.Series([1, 2, 3]))


def test_drift_only_skips_quality_and_gives_the_same_drift(files) -> None:
    ref_path, cur_path, _, _ = files
    drift_only = measure_files(ref_path, cur_path, with_quality=False)
    assert drift_only.quality is None and drift_only.to_json()["quality"] is None
    assert drift_only.drift == measure_files(ref_path, cur_path).drift


def test_a_stored_data_frame_index_is_not_a_feature(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    for name, shift in (("ref", 0.0), ("cur", 1.0)):
        frame = pd.DataFrame({"x": rng.normal(shift, 1, 200)}, index=[f"row{i}" for i in range(200)])
        frame.to_parquet(tmp_path / f"{name}.parquet")
    result = measure_files(tmp_path / "ref.parquet", tmp_path / "cur.parquet")
    assert [r.feature for r in result.drift.features] == ["x"] and result.drift.only_reference == []
    assert {r.feature for r in result.quality.results} == {"x", None}


def test_leanloop_drift_on_two_parquet_files_reads_them_column_by_column(files) -> None:
    import json

    from typer.testing import CliRunner

    from leanloop.cli import app

    ref_path, cur_path, _, _ = files
    result = CliRunner().invoke(app, ["drift", str(ref_path), str(cur_path), "--json", "--chunks", "2"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output) == measure_files(ref_path, cur_path, chunks=2, with_quality=False).drift.to_json()
