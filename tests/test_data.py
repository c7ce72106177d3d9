"""Tests for leanloop.data: reading CSV and Parquet with clear errors, and fingerprints."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from leanloop.data import fingerprint, read_table, require_columns
from leanloop.errors import DataError


@pytest.fixture
def frame() -> pd.DataFrame:
    rng = np.random.default_rng(0)
    return pd.DataFrame({
        "x": rng.normal(size=6).round(6),
        "n": rng.integers(0, 10, 6),
        "city": ["a", "b", "c", "a", "b", "c"],
    })


@pytest.mark.parametrize("name", ["d.csv", "d.CSV", "d.txt"])
def test_csv_round_trip(tmp_path: Path, frame: pd.DataFrame, name: str) -> None:
    path = tmp_path / name
    frame.to_csv(path, index=False)
    pd.testing.assert_frame_equal(read_table(path), frame, check_dtype=False)
    assert read_table(str(path))["city"].tolist() == frame["city"].tolist()


def test_tsv(tmp_path: Path, frame: pd.DataFrame) -> None:
    path = tmp_path / "d.tsv"
    frame.to_csv(path, index=False, sep="\t")
    pd.testing.assert_frame_equal(read_table(path), frame, check_dtype=False)


@pytest.mark.parametrize("name", ["d.parquet", "d.pq"])
def test_parquet_round_trip(tmp_path: Path, frame: pd.DataFrame, name: str) -> None:
    path = tmp_path / name
    frame.to_parquet(path, index=False)
    pd.testing.assert_frame_equal(read_table(path), frame, check_dtype=False)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"data file '.*nope\.csv' does not exist; check the path"):
        read_table(tmp_path / "nope.csv")


def test_directory_is_not_a_file(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="does not exist"):
        read_table(tmp_path)


@pytest.mark.parametrize(("name", "shown"), [("d.xlsx", "'.xlsx'"), ("data", "'no extension'")])
def test_unknown_extension(tmp_path: Path, name: str, shown: str) -> None:
    path = tmp_path / name
    path.write_text("a,b\n1,2\n")
    with pytest.raises(DataError, match=rf"cannot read '{name}': expected a \.csv or \.parquet file, got {shown}"):
        read_table(path)


@pytest.mark.parametrize("content", ["", "\n\n"])
def test_empty_file(tmp_path: Path, content: str) -> None:
    path = tmp_path / "e.csv"
    path.write_text(content)
    with pytest.raises(DataError, match=r"^e\.csv is empty; it needs a header row and data rows$"):
        read_table(path)


def test_header_only(tmp_path: Path) -> None:
    path = tmp_path / "h.csv"
    path.write_text("a,b\n")
    with pytest.raises(DataError, match=r"^h\.csv has a header but no data rows$"):
        read_table(path)


def test_row_with_too_many_fields(tmp_path: Path) -> None:
    path = tmp_path / "bad.csv"
    path.write_text("a,b\n1,2\n3,4,5\n")
    with pytest.raises(DataError, match=r"bad\.csv is not a readable csv file: .*Expected 2 fields in line 3, saw 3"):
        read_table(path)


def test_unterminated_quote(tmp_path: Path) -> None:
    path = tmp_path / "q.csv"
    path.write_text('a,b\n"1,2\n')
    with pytest.raises(DataError, match=r"q\.csv is not a readable csv file: .*EOF inside string"):
        read_table(path)


def test_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "enc.csv"
    path.write_bytes(b"a,b\n\xff\xfe,1\n")
    with pytest.raises(DataError, match=r"enc\.csv is not a readable csv file: 'utf-8' codec can't decode"):
        read_table(path)


def test_corrupt_parquet(tmp_path: Path) -> None:
    path = tmp_path / "bad.parquet"
    path.write_bytes(b"this is not parquet at all")
    with pytest.raises(DataError, match=r"bad\.parquet is not a readable parquet file: "):
        read_table(path)


def test_require_columns_lists_columns() -> None:
    with pytest.raises(DataError, match=r"^id column 'pid' not found in f\.csv; columns are: \['a', 'b'\]$"):
        require_columns(pd.DataFrame({"a": [1], "b": [2]}), ["a", "pid"], "f.csv", "id column")
    require_columns(pd.DataFrame({"a": [1]}), ["a"], "f.csv")


# --- fingerprint --------------------------------------------------------------------


def test_fingerprint_is_stable(frame: pd.DataFrame, tmp_path: Path) -> None:
    value = fingerprint(frame)
    assert len(value) == 64 and int(value, 16) >= 0
    assert fingerprint(frame.copy()) == value
    assert fingerprint(frame.set_axis(range(10, 16))) == value  # the index is not content
    frame.to_parquet(tmp_path / "f.parquet", index=False)
    assert fingerprint(read_table(tmp_path / "f.parquet")) == value


def test_fingerprint_is_order_and_content_sensitive(frame: pd.DataFrame) -> None:
    value = fingerprint(frame)
    assert fingerprint(frame.iloc[::-1]) != value
    assert fingerprint(frame[["n", "x", "city"]]) != value
    assert fingerprint(frame.rename(columns={"x": "y"})) != value
    changed = frame.copy()
    changed.loc[0, "city"] = "z"
    assert fingerprint(changed) != value
