"""Export and retention: incremental, idempotent, atomic, late labels kept, and no row
deleted from the store that is not read back from the archive. On SQLite and PostgreSQL."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pyarrow.dataset as ds
import pyarrow.parquet as pq

from leanloop.archive import apply_retention, export_log, load_manifest, read_archive, read_log
from leanloop.archive.columns import ColumnSpec
from leanloop.schema import Feature, Schema
from leanloop.store import SQLStore

DAY = 86_400.0
SPEC = ColumnSpec.of(Schema(features=[Feature(name="x", kind="numeric"), Feature(name="c", kind="categorical"),
                                      Feature(name="ok", kind="boolean")]), [0, 1])


def log(store: SQLStore, start: int, count: int, *, day: float = 0.0, version: str = "v1") -> None:
    store.log_predictions([{"prediction_id": f"p{i:04d}", "created_at": day * DAY + i, "model_version": version,
                            "features": {"x": i * 0.5, "c": f"c{i % 3}", "ok": i % 2 == 0}, "prediction": i % 2,
                            "probabilities": {"0": 0.25, "1": 0.75}} for i in range(start, start + count)])


def files_on_disk(folder: Path) -> dict[str, int]:
    return {p.relative_to(folder).as_posix(): p.stat().st_mtime_ns for p in folder.rglob("*.parquet")}


def test_export_is_incremental_and_idempotent(store: SQLStore, tmp_path: Path) -> None:
    archive = tmp_path / "archive"
    log(store, 0, 10, day=0)
    log(store, 10, 10, day=1, version="v2")
    first = export_log(store, archive, SPEC)
    assert first.rows == 20 and sorted(first.files) == [
        "day=1970-01-01/model_version=v1/part-000000000001-000000000010.parquet",
        "day=1970-01-02/model_version=v2/part-000000000011-000000000020.parquet"]
    before = files_on_disk(archive)
    again = export_log(store, archive, SPEC)
    assert (again.rows, again.files, again.relabelled_rows) == (0, [], 0)
    assert files_on_disk(archive) == before  # nothing rewritten either
    log(store, 20, 5, day=1, version="v2")
    third = export_log(store, archive, SPEC)
    assert third.rows == 5 and third.files == ["day=1970-01-02/model_version=v2/part-000000000021-000000000025.parquet"]
    # Plain hive partitions, typed columns: pyarrow reads the folder without leanloop.
    table = ds.dataset(archive, format="parquet", partitioning="hive").to_table()
    assert sorted(table.column("seq").to_pylist()) == list(range(1, 26))
    types = {f.name: str(f.type) for f in table.schema}
    assert {k: types[k] for k in ("seq", "prediction_id", "created_at", "features.x", "features.c", "features.ok",
                                  "prediction", "probabilities.1", "label", "received_at")} == {
        "seq": "int64", "prediction_id": "string", "created_at": "double", "features.x": "double",
        "features.c": "string", "features.ok": "bool", "prediction": "int64", "probabilities.1": "double",
        "label": "int64", "received_at": "double"}
    assert load_manifest(archive).seq == 25 and load_manifest(archive).rows() == 25


def test_read_back_equals_the_store(store: SQLStore, tmp_path: Path) -> None:
    log(store, 0, 12, day=3)
    store.add_feedback([("p0001", 1), ("p0004", 0)], received_at=9.0)
    export_log(store, tmp_path / "a", SPEC)
    archived = read_archive(tmp_path / "a").drop(columns=["seq"])
    logged = store.window()
    pd.testing.assert_frame_equal(archived[list(logged.columns)], logged, check_dtype=False)


def test_labels_that_arrive_after_the_export_reach_the_archive(store: SQLStore, tmp_path: Path) -> None:
    archive = tmp_path / "archive"
    log(store, 0, 6)
    store.add_feedback([("p0001", 0)], received_at=10.0)
    export_log(store, archive, SPEC)
    store.add_feedback([("p0001", 1), ("p0002", 1)], received_at=11.0)  # a change and a new label
    merged = export_log(store, archive, SPEC)
    assert (merged.rows, merged.relabelled_rows, len(merged.relabelled_files)) == (0, 2, 1)
    labels = read_archive(archive).set_index("prediction_id")["label"]
    assert labels.to_dict() == {"p0000": None, "p0001": 1, "p0002": 1, "p0003": None, "p0004": None, "p0005": None}
    # A row retention already deleted: its late label is parked in the store and merged.
    assert apply_retention(store, archive, days=1, now=2 * DAY).deleted == 5  # the newest row stays
    store.add_feedback([("p0003", 0)], received_at=12.0)
    assert export_log(store, archive, SPEC).relabelled_rows == 1
    assert read_archive(archive).set_index("prediction_id")["label"]["p0003"] == 0
    assert export_log(store, archive, SPEC).relabelled_rows == 0


def test_retention_never_deletes_a_row_not_in_the_archive(store: SQLStore, tmp_path: Path) -> None:
    archive = tmp_path / "archive"
    log(store, 0, 10, day=0)
    log(store, 10, 10, day=1)
    assert apply_retention(store, archive, days=1, now=5 * DAY).deleted == 0  # no archive yet
    export_log(store, archive, SPEC, since=DAY)  # the first day skipped: not archived
    log(store, 20, 5, day=0)  # old rows logged late (a spool replay), after the export
    # A file the manifest lists but that lost rows: only rows read back count.
    listed = load_manifest(archive).files[0]
    table = pq.read_table(archive / listed.path)
    pq.write_table(table.slice(0, 8), archive / listed.path)
    result = apply_retention(store, archive, days=1, now=5 * DAY)
    assert (result.older, result.deleted, result.not_archived) == (24, 8, 16)  # newest row (p0024) never counted
    left = set(store.window()["prediction_id"])
    assert left == {f"p{i:04d}" for i in [*range(10), 18, 19, *range(20, 25)]}
    archived = set(read_archive(archive)["prediction_id"])
    assert {f"p{i:04d}" for i in range(25)} - left <= archived


def test_a_crashed_run_leaves_nothing_that_counts(store: SQLStore, tmp_path: Path) -> None:
    archive = tmp_path / "archive"
    log(store, 0, 4)
    export_log(store, archive, SPEC)
    log(store, 4, 4)
    stray = archive / "day=1970-01-01/model_version=v1/part-000000000005-000000000006.parquet"
    pq.write_table(pq.read_table(next(archive.rglob("part-*.parquet"))), stray)  # written, never listed
    (stray.parent / ".part-000000000005-000000000008.parquet.tmp").write_bytes(b"half")
    done = export_log(store, archive, SPEC)
    assert not stray.exists() and not list(archive.rglob("*.tmp"))
    assert done.rows == 4 and sorted(read_archive(archive)["seq"]) == list(range(1, 9))


def test_the_window_reaches_into_the_archive(store: SQLStore, tmp_path: Path) -> None:
    archive = tmp_path / "archive"
    log(store, 0, 10, day=0)
    log(store, 10, 10, day=2)
    store.add_feedback([(f"p{i:04d}", i % 2) for i in range(0, 20, 3)], received_at=3 * DAY)
    before = {kind: store.window(**kind_args) for kind, kind_args in WINDOWS.items()}
    export_log(store, archive, SPEC)
    assert apply_retention(store, archive, days=1, now=2.5 * DAY).deleted == 10
    for kind, kind_args in WINDOWS.items():
        after = read_log(store, archive, **kind_args)
        expected = before[kind]
        assert after["prediction_id"].tolist() == expected["prediction_id"].tolist(), kind
        assert after["label"].tolist() == expected["label"].tolist(), kind
        assert after["features"].tolist() == expected["features"].tolist(), kind  # x logged as float
        columns = read_log(store, archive, classes=[0, 1], **kind_args)  # archived dicts become columns too
        assert columns["prediction_id"].tolist() == expected["prediction_id"].tolist(), kind
        assert columns["probability:1"].tolist() == [0.75] * len(expected) and columns["has_probabilities"].all()


WINDOWS = {"last": {"last": 15}, "all": {}, "since": {"since": 5.0}, "until": {"until": 2 * DAY + 3},
           "labelled": {"labelled_only": True, "last": 6}}


def test_the_newest_archived_rows_across_interleaved_files(store: SQLStore, tmp_path: Path) -> None:
    archive = tmp_path / "archive"
    for i in range(12):  # two versions served side by side: their files' seq ranges interleave
        log(store, i, 1, version=f"v{i % 2}")
    log(store, 12, 1, day=3)
    before = store.window(last=7)["prediction_id"].tolist()
    export_log(store, archive, SPEC)
    assert apply_retention(store, archive, days=1, now=3 * DAY).deleted == 12
    assert read_log(store, archive, last=7)["prediction_id"].tolist() == before
