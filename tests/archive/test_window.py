"""A window read columnar from the archive equals the window read from the store, row for
row, on every backend: rows both archived and still in the store once, rows the export
skipped, rows logged since, labels that arrived after the export, rows retention deleted;
and a project's ``measure --json`` is the same either way."""

from __future__ import annotations

import shutil
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from leanloop.archive.columns import ColumnSpec
from leanloop.archive.export import export_log
from leanloop.archive.read import read_log
from leanloop.archive.window import _gaps, _runs, columnar_window
from leanloop.datasets import CarLoan
from leanloop.schema import Feature, Schema
from leanloop.store import SQLStore
from leanloop.store.features import feature_types
from tests.archive.test_project_export import log_scored, stable
from tests.conftest import small_built_project

SCHEMA = Schema(features=[Feature(name="x", kind="numeric"), Feature(name="c", kind="categorical"),
                          Feature(name="ok", kind="boolean")])
SPEC = ColumnSpec.of(SCHEMA, [0, 1])
CLASSES: list[Any] = [0, 1]


def logged(start: int, stop: int) -> list[dict[str, Any]]:
    """Rows ``start..stop``, an hour apart: features of every kind, a missing value now
    and then, a row in seven without probabilities, a row in five with an event time
    37 hours before it was logged."""
    return [{"prediction_id": f"p{i:04d}", "created_at": 3600.0 * i, "model_version": f"v{1 + i // 50}",
             "features": {"x": None if i % 11 == 0 else i / 2, "c": None if i % 13 == 0 else "abc"[i % 3],
                          "ok": i % 2 == 0},
             "prediction": i % 2, "event_at": 3600.0 * (i - 37) if i % 5 == 0 else None,
             "probabilities": None if i % 7 == 0 else {"0": 1 - (i % 10) / 10, "1": (i % 10) / 10}}
            for i in range(start, stop)]


def window(store: SQLStore, folder: Path, **options: Any) -> pd.DataFrame:
    return read_log(store, folder, feature_types=SPEC.features, classes=CLASSES, **options)


def assert_same(store: SQLStore, folder: Path, expected: dict[str, pd.DataFrame]) -> None:
    for name, options in CASES.items():
        got = columnar_window(store, folder, feature_types=SPEC.features, classes=CLASSES, **options)
        assert got is not None, name
        pd.testing.assert_frame_equal(got, expected[name], obj=name)


CASES: dict[str, dict[str, Any]] = {
    "last 40": {"last": 40}, "last 130": {"last": 130}, "last 1000": {"last": 1000},
    "since": {"since": 3600.0 * 30}, "since and until": {"since": 3600.0 * 20, "until": 3600.0 * 90},
    "everything": {},
}
CASES |= {f"{name}, by event time": {**options, "by_event": True} for name, options in CASES.items()}


def test_the_columnar_window_equals_the_store_window(store: SQLStore, tmp_path: Path) -> None:
    folder = tmp_path / "archive"
    store.log_predictions(logged(0, 100))
    store.add_feedback([(f"p{i:04d}", int(i % 3 == 0)) for i in range(0, 100, 2)], received_at=1e6)
    export_log(store, folder, SPEC, since=3600.0 * 10)  # rows 0..9 skipped: they stay in the store only
    store.log_predictions(logged(100, 120))  # past the export's mark
    store.add_feedback([("p0004", 1), ("p0051", 0), ("p0110", 1)], received_at=2e6)  # after the export
    expected = {name: store.window(feature_types=SPEC.features, classes=CLASSES, **options)
                for name, options in CASES.items()}
    assert expected["last 1000"]["prediction_id"].tolist() == [f"p{i:04d}" for i in range(120)]
    assert_same(store, folder, expected)
    assert window(store, folder, last=130)["label"].tolist() == expected["last 130"]["label"].tolist()
    assert expected["last 130"].set_index("prediction_id").loc["p0051", "label"] == 0

    # Retention exports, then deletes archived rows from the store: the archive still
    # gives them, once, with their late labels.
    export_log(store, folder, SPEC)
    assert_same(store, folder, expected)
    with store.engine.begin() as conn:
        conn.exec_driver_sql("DELETE FROM feedback WHERE prediction_id IN (SELECT prediction_id FROM predictions "
                             "WHERE seq BETWEEN 20 AND 60)")
        conn.exec_driver_sql("DELETE FROM predictions WHERE seq BETWEEN 20 AND 60")
    assert store.count_predictions() == 79
    assert_same(store, folder, expected)


def test_a_column_that_fits_no_type_is_read_row_wise(store: SQLStore, tmp_path: Path) -> None:
    folder = tmp_path / "archive"
    store.log_predictions(logged(0, 10))
    store.add_feedback([("p0001", "maybe")], received_at=1e6)  # a label of another type than the classes
    export_log(store, folder, SPEC)
    assert columnar_window(store, folder, feature_types=SPEC.features, classes=CLASSES) is None
    expected = store.window(feature_types=SPEC.features, classes=CLASSES)
    pd.testing.assert_frame_equal(window(store, folder), expected)


def test_a_measurement_from_the_archive_equals_the_one_from_the_store(tmp_path: Path,
                                                                       car_loan_data: CarLoan) -> None:
    with small_built_project(tmp_path, car_loan_data) as project:
        analysis = car_loan_data.analysis.merge(car_loan_data.analysis_targets, on="id").head(900)
        truth = analysis["repaid"].astype(int).tolist()
        log_scored(project, analysis.head(700), truth)
        project.export()
        # Labels for exported rows arrive after the export (new ones, and a relabel),
        # and rows are logged past it.
        project.feedback([(f"r{i}", truth[i]) for i in range(1, 700, 3)] + [("r3", 1 - truth[3])])
        project.store.log_predictions([{**row, "prediction_id": f"late{i}"} for i, row in enumerate(
            project.store.window(last=200)[["created_at", "model_version", "features", "prediction",
                                            "probabilities"]].to_dict("records"))])
        archive, since = project.paths.archive(project.config.store), time.time() - 30 * 86_400
        # A window by time reads the archive (as one of more than COLUMNAR_MIN_ROWS rows would).
        options = {"since": since, "feature_types": feature_types(project.config.schema_), "classes": [0, 1]}
        columnar = columnar_window(project.store, archive, **options, by_event=project.workspace.by_event)
        assert columnar is not None and columnar["label"].notna().sum() > 300
        from_archive = project.measure(since=since, save=False).to_json()
        shutil.move(archive, tmp_path / "elsewhere")
        from_store = project.measure(since=since, save=False).to_json()
    assert stable(from_archive) == stable(from_store)
    assert from_store["window"]["rows"] == 900


@pytest.mark.parametrize("last", [1, 5])
def test_a_window_the_new_rows_fill_reads_no_file(store: SQLStore, tmp_path: Path, last: int) -> None:
    folder = tmp_path / "archive"
    store.log_predictions(logged(0, 10))
    export_log(store, folder, SPEC)
    store.log_predictions(logged(10, 15))
    for part in folder.glob("day=*"):
        shutil.rmtree(part)  # no file would be readable
    got = columnar_window(store, folder, last=last, feature_types=SPEC.features, classes=CLASSES)
    assert got is not None and got["prediction_id"].tolist() == [f"p{i:04d}" for i in range(15 - last, 15)]


@settings(max_examples=300, deadline=None)
@given(st.sets(st.integers(0, 60), max_size=40), st.one_of(st.none(), st.integers(-3, 62)), st.integers(-3, 62))
def test_the_gaps_and_the_runs_cover_the_range_once(archived: set[int], lowest: int | None, highest: int) -> None:
    """The store query reads the gaps between the archived runs: with the runs they are
    every ``seq`` in the range, and no gap holds an archived one."""
    runs = _runs(np.array(sorted(archived), dtype=np.int64))
    gaps = _gaps(runs, lowest, highest)
    floor = min([lowest or 0, -3, *archived])
    in_gaps = [s for a, b in gaps for s in range(floor if a is None else a, b + 1)]
    assert len(in_gaps) == len(set(in_gaps))
    wanted = set(range(floor if lowest is None else lowest, highest + 1))
    assert set(in_gaps) == wanted - archived
    assert all(a is None or a <= b for a, b in gaps)
