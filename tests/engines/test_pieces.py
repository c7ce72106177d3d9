"""Parquet pieces read by pyarrow on the workers: the plan covers every row once, and a
piece's summary equals the one made from the column as pandas reads it."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from leanloop.engines.parts import column_part, merge_parts
from leanloop.engines.pieces import piece_part, plan, read_frame
from leanloop.errors import DataError
from leanloop.schema import FeatureKind


def _dataset(folder: Path) -> pd.DataFrame:
    rng = np.random.default_rng(7)
    frame = pd.DataFrame({"x": rng.normal(0, 1, 3_000), "n": pd.array(rng.integers(0, 50, 3_000), dtype="Int64"),
                          "city": rng.choice(["Oslo", "Lima", "Pune"], 3_000),
                          "f32": rng.normal(0, 1, 3_000).astype(np.float32), "on": rng.random(3_000) < 0.3})
    frame.loc[::7, "x"] = np.nan
    frame.loc[::11, "n"] = pd.NA
    frame.loc[::13, "city"] = None
    folder.mkdir()
    for i, part in enumerate(np.array_split(np.arange(len(frame)), 3)):
        frame.iloc[part].to_parquet(folder / f"part-{i}.parquet", index=False, row_group_size=250)
    (folder / "_SUCCESS").write_text("")
    return frame


@pytest.mark.parametrize("piece_bytes", [1, 4_000, 10**9])
def test_pieces_cover_every_row_group_once_in_order(tmp_path: Path, piece_bytes: int) -> None:
    frame = _dataset(tmp_path / "data")
    data = plan(str(tmp_path / "data"))
    pieces = data.pieces(["x"], piece_bytes=piece_bytes)
    assert data.rows == len(frame) and sum(p.rows for p in pieces) == len(frame)
    read = pd.concat([read_frame(p, data.names) for p in pieces], ignore_index=True)
    pd.testing.assert_frame_equal(read, pd.read_parquet(tmp_path / "data"))
    # One row group a piece, one file a piece, or between (12 row groups in 3 files).
    assert len(pieces) == 12 if piece_bytes == 1 else len(pieces) == 3 if piece_bytes == 10**9 else 3 < len(pieces) < 12


@pytest.mark.parametrize(("name", "kind"), [("x", FeatureKind.NUMERIC), ("n", FeatureKind.NUMERIC),
                                            ("f32", FeatureKind.NUMERIC), ("on", FeatureKind.NUMERIC),
                                            ("city", FeatureKind.CATEGORICAL)])
def test_piece_summaries_equal_the_pandas_columns(tmp_path: Path, name: str, kind: FeatureKind) -> None:
    _dataset(tmp_path / "data")
    data = plan(str(tmp_path / "data"))
    whole = pd.read_parquet(tmp_path / "data")[name]
    ours = merge_parts([piece_part(p, name, kind, drift=True, quality=True, text=name in data.text)
                        for p in data.pieces([name], piece_bytes=4_000)])
    theirs = column_part(whole, kind, name=name, drift=True, quality=True)
    assert ours.tally is not None and theirs.tally is not None
    assert (ours.tally.rows, ours.tally.missing, ours.tally.bad) == (theirs.tally.rows, theirs.tally.missing, 0)
    if kind is FeatureKind.NUMERIC:
        np.testing.assert_array_equal(ours.sample.values, theirs.sample.values)  # type: ignore[union-attr]
        np.testing.assert_array_equal(ours.tally.values, theirs.tally.values)  # type: ignore[arg-type]
    else:
        assert ours.sample.labels == theirs.sample.labels  # type: ignore[union-attr]
        np.testing.assert_array_equal(ours.sample.counts, theirs.sample.counts)  # type: ignore[union-attr]


def test_an_fsspec_url_is_planned_and_read(tmp_path: Path) -> None:
    import fsspec

    frame = _dataset(tmp_path / "data")
    fs = fsspec.filesystem("memory")
    for path in (tmp_path / "data").glob("part-*.parquet"):
        fs.pipe(f"/pieces-test/{path.name}", path.read_bytes())
    data = plan("memory://pieces-test")
    assert data.rows == len(frame)
    assert [p.source.startswith("memory://") for p in data.pieces(["x"])] == [True] * 3
    assert data.sample(10)["x"].equals(frame["x"].head(10))


def test_a_missing_path_is_a_data_error_naming_it(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"nowhere\.parquet is not a readable Parquet file or folder"):
        plan(str(tmp_path / "nowhere.parquet"))
