"""Feedback through the project: label checks naming the row, CSV and Parquet files, counts."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest

from leanloop.errors import DataError, InputError
from leanloop.project import Project
from leanloop.store import FeedbackCounts


def make_project(tmp_path: Path, target: list[object]) -> Project:
    data = tmp_path / "train.csv"
    pd.DataFrame({"x": [float(i) for i in range(len(target))], "y": target}).to_csv(data, index=False)
    return Project.init(data, target="y", root=tmp_path / "project")


def log(project: Project, ids: list[str], at: float = 100.0) -> None:
    project.store.insert_predictions([{"prediction_id": i, "created_at": at, "model_version": "v1",
                                       "features": {"x": 1.0}, "prediction": 0, "probabilities": None}
                                      for i in ids])


def nothing_written(project: Project) -> bool:
    window = project.store.window()
    return bool(window["label"].isna().all()) and project.store.count_parked() == 0


@pytest.fixture
def classifier(tmp_path: Path) -> Iterator[Project]:
    with make_project(tmp_path, [0, 1] * 20) as project:
        log(project, ["a", "b", "c"])
        yield project


def test_counts_from_python(classifier: Project) -> None:
    assert classifier.feedback([("a", 1), ("b", 0), ("ghost", 1.0)]) == FeedbackCounts(3, 3, 0, 0, 1)
    assert classifier.feedback([("a", 1), ("b", 1)]) == FeedbackCounts(2, 1, 1, 1, 0)
    assert [h["source"] for h in classifier.store.label_history("b")] == ["python", "python"]
    window = classifier.store.window()
    assert window["label"].tolist() == [1, 1, None]


def test_wrong_class_names_the_row_and_writes_nothing(classifier: Project) -> None:
    with pytest.raises(InputError, match=r"row 2: label 'maybe' is not one of the classes \[0, 1\]"):
        classifier.feedback([("a", 1), ("b", 0), ("c", "maybe")])
    with pytest.raises(InputError, match=r"row 1: label 0\.5 is not one of the classes"):
        classifier.feedback([("a", 1), ("ghost", 0.5)])
    with pytest.raises(InputError, match=r"row 1: label '0' is text, but the classes are numbers \[0, 1\]"):
        classifier.feedback([("a", 1), ("b", "0")])  # typed as on /predict: text is not a number
    assert nothing_written(classifier)


def test_regression_label_must_be_a_number(tmp_path: Path) -> None:
    with make_project(tmp_path, [i * 1.37 for i in range(40)]) as project:
        log(project, ["a", "b"])
        with pytest.raises(InputError, match=r"row 1: label 'high' must be a finite number"):
            project.feedback([("a", 2.5), ("b", "high")])
        assert nothing_written(project)
        assert project.feedback([("a", 2.5), ("b", 3)]).recorded == 2
        assert project.store.window()["label"].tolist() == [2.5, 3.0]


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_file_inputs(classifier: Project, tmp_path: Path, suffix: str) -> None:
    path = tmp_path / f"labels{suffix}"
    frame = pd.DataFrame({"pid": ["a", "b", "late"], "truth": [1, 0, 1]})
    frame.to_csv(path, index=False) if suffix == ".csv" else frame.to_parquet(path)
    counts = classifier.feedback_file(path, id_column="pid", label_column="truth")
    assert counts == FeedbackCounts(received=3, recorded=3, duplicates=0, updated=0, parked=1)
    assert classifier.feedback_file(path, id_column="pid", label_column="truth").duplicates == 3
    log(classifier, ["late"], at=50.0)
    window = classifier.store.window()
    assert dict(zip(window["prediction_id"], window["label"], strict=True)) == {"a": 1, "b": 0, "c": None, "late": 1}
    assert classifier.store.label_history("a") == [
        {"label": 1, "received_at": window["received_at"].iloc[0], "source": f"file:labels{suffix}"}]


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_bad_file_names_the_row_and_writes_nothing(classifier: Project, tmp_path: Path, suffix: str) -> None:
    path = tmp_path / f"labels{suffix}"
    frame = pd.DataFrame({"prediction_id": ["a", "b", "c"], "label": ["1", "0", "yes"]})
    frame.to_csv(path, index=False) if suffix == ".csv" else frame.to_parquet(path)
    # A CSV file has no types, so its "1" is the number 1 and the word is the row named; a
    # Parquet column of text is text, refused at its first row like a JSON string.
    wrong = r"row 2: label 'yes' is not one of the classes \[0, 1\]" if suffix == ".csv" else \
        r"row 0: label '1' is text, but the classes are numbers \[0, 1\]: send it as a number .*"
    with pytest.raises(InputError, match=rf"labels{suffix}: {wrong} \(column 'label'"):
        classifier.feedback_file(path, id_column="prediction_id", label_column="label")
    assert nothing_written(classifier)
    write = (lambda f: f.to_csv(path, index=False)) if suffix == ".csv" else (lambda f: f.to_parquet(path))
    write(frame.assign(label=[1, 0, 7]))
    with pytest.raises(InputError, match=rf"labels{suffix}: row 2: label 7 is not one of the classes"
                                         r" \[0, 1\] \(column 'label'"):
        classifier.feedback_file(path, id_column="prediction_id", label_column="label")
    assert nothing_written(classifier)
    frame.assign(prediction_id=["a", None, "c"]).to_csv(tmp_path / "gap.csv", index=False)
    with pytest.raises(DataError, match=r"id column 'prediction_id' is empty at row 1"):
        classifier.feedback_file(tmp_path / "gap.csv", id_column="prediction_id", label_column="label")
    assert nothing_written(classifier)


def test_bulk_file_of_100k_labels(classifier: Project, tmp_path: Path) -> None:
    n = 100_000
    path = tmp_path / "bulk.parquet"
    pd.DataFrame({"prediction_id": ["a", "b", "c"] + [f"id{i}" for i in range(3, n)],
                  "label": [i % 2 for i in range(n)]}).to_parquet(path)
    counts = classifier.feedback_file(path, id_column="prediction_id", label_column="label")
    assert counts == FeedbackCounts(received=n, recorded=n, duplicates=0, updated=0, parked=n - 3)
    assert classifier.store.window()["label"].tolist() == [0, 1, 0]
