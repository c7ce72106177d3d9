"""Batch scoring: ``leanloop predict`` and the library under it, on a small built project."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from leanloop.batch import BatchOptions, predict_file
from leanloop.cli import app
from leanloop.config import ValuePolicy, render_config
from leanloop.errors import DataError
from leanloop.schema import Schema
from leanloop.scoring import model_input, score
from tests.conftest import small_built_project


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory, car_loan_data) -> Iterator:
    built = small_built_project(tmp_path_factory.mktemp("batch"), car_loan_data)
    yield built
    built.close()


@pytest.fixture(scope="module")
def rows(car_loan_data) -> pd.DataFrame:
    """1,500 analysis rows with the project's id and time columns (and the target, unused)."""
    return car_loan_data.analysis.head(1500).reset_index(drop=True)


def cli(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, list(args))
    return result.exit_code, result.stdout, result.stderr


def expected(project, frame: pd.DataFrame) -> tuple[list, np.ndarray]:
    """The champion's labels and probabilities for ``frame``, scored whole the way measurement does."""
    record = project.registry.champion()
    model, _ = project.registry.load(record.version)
    schema = Schema.model_validate(record.schema_)
    scored = score(model, model_input(schema, frame, record.input_format, "t"), "classification")
    return scored.labels, scored.probabilities


def test_a_csv_file_is_scored_in_chunks_logged_and_written_whole(project, rows, tmp_path: Path) -> None:
    source = tmp_path / "day.csv"
    rows.to_csv(source, index=False)
    before = project.store.count_predictions()
    seen: list[int] = []
    result = predict_file(project.workspace, source, BatchOptions(chunk_rows=400), progress=seen.append)
    out = pd.read_csv(tmp_path / "day.predictions.csv")
    labels, probabilities = expected(project, rows)
    assert seen == [400, 400, 400, 300] and result.rows == result.scored == result.logged == 1500
    assert list(out.columns) == ["row", "id", "prediction_id", "prediction", "probability_0", "probability_1"]
    assert out["row"].tolist() == list(range(1500)) and out["id"].tolist() == rows["id"].tolist()
    assert out["prediction"].tolist() == labels
    np.testing.assert_allclose(out[["probability_0", "probability_1"]].to_numpy(), probabilities, rtol=1e-12)
    assert project.store.count_predictions() == before + 1500
    logged = project.store.get_prediction(out["prediction_id"][1234])
    assert logged["model_version"] == "v1" and logged["prediction"] == labels[1234]
    assert logged["features"]["car_value"] == float(rows["car_value"][1234])
    assert logged["features"]["repaid_loan_on_prev_car"] == bool(rows["repaid_loan_on_prev_car"][1234])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["day.csv", "day.predictions.csv"]


def test_parquet_gives_what_csv_gives_and_no_log_logs_nothing(project, rows, tmp_path: Path) -> None:
    rows.to_parquet(tmp_path / "day.parquet")
    rows.to_csv(tmp_path / "day.csv", index=False)
    before = project.store.count_predictions()
    options = BatchOptions(log=False, chunk_rows=700)
    first = predict_file(project.workspace, tmp_path / "day.parquet", options)
    second = predict_file(project.workspace, tmp_path / "day.csv", options.model_copy(
        update={"output": tmp_path / "csv-out.parquet"}))
    a, b = pd.read_parquet(first.output), pd.read_parquet(second.output)
    assert first.logged == second.logged == 0 and project.store.count_predictions() == before
    assert a["prediction_id"].isna().all()
    pd.testing.assert_frame_equal(a, b)


def test_a_bad_row_stops_the_run_naming_row_and_column_and_nothing_is_written_or_logged(project, rows,
                                                                                        tmp_path: Path) -> None:
    bad = rows.astype({"car_value": object})
    bad.loc[1203, "car_value"] = "4O"
    bad.to_csv(tmp_path / "day.csv", index=False)
    (tmp_path / "day.predictions.csv").write_text("an earlier output\n")
    before = project.store.count_predictions()
    code, out, err = cli("predict", str(tmp_path / "day.csv"), "--chunk-rows", "500", "--dir", str(project.paths.root))
    assert code == 2 and out == ""
    message = " ".join(err.split())
    assert "row 1203, column 'car_value': must be a number, got '4O'" in message and "--skip-invalid" in message
    assert project.store.count_predictions() == before
    assert (tmp_path / "day.predictions.csv").read_text() == "an earlier output\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["day.csv", "day.predictions.csv"]


def test_skip_invalid_scores_the_rest_and_writes_bad_rows_to_the_rejects_file(project, rows, tmp_path: Path) -> None:
    bad = rows.assign(car_value=rows["car_value"].astype(str), timestamp=rows["timestamp"].astype(str))
    bad.loc[7, "car_value"] = "n/a?"
    bad.loc[901, "salary_range"] = None  # a required feature left empty
    bad.loc[902, "timestamp"] = "yesterday"
    bad.to_parquet(tmp_path / "day.parquet")
    code, out, _ = cli("predict", str(tmp_path / "day.parquet"), "-o", str(tmp_path / "out.csv"), "--skip-invalid",
                       "--chunk-rows", "600", "--json", "--dir", str(project.paths.root))
    result = json.loads(out)
    counts = (result["rows"], result["scored"], result["rejected"], result["logged"])
    assert code == 0 and counts == (1500, 1497, 3, 1497)
    scored = pd.read_csv(tmp_path / "out.csv")
    assert scored["row"].tolist() == [r for r in range(1500) if r not in (7, 901, 902)]
    rejects = pd.read_csv(result["rejects"])
    assert result["rejects"] == str(tmp_path / "out.rejects.csv")
    assert rejects[["row", "column"]].values.tolist() == [[7, "car_value"], [901, "salary_range"], [902, "timestamp"]]
    assert rejects["problem"].tolist() == [
        "must be a number, got 'n/a?'", "is required (not nullable), got nothing",
        "'yesterday' is not a time; give ISO 8601 (2024-05-01T12:00:00+00:00) or epoch seconds"]
    assert rejects["id"].tolist() == rows["id"][[7, 901, 902]].tolist()


def test_a_missing_feature_and_mixed_time_zones_are_refused(project, rows, tmp_path: Path) -> None:
    rows.drop(columns=["driver_tenure"]).to_parquet(tmp_path / "short.parquet")
    with pytest.raises(DataError, match=r"short.parquet lacks the model's features \['driver_tenure'\]"):
        predict_file(project.workspace, tmp_path / "short.parquet")
    zoned = rows.assign(timestamp=rows["timestamp"].dt.strftime("%Y-%m-%dT%H:%M:%S+00:00"))
    zoned.loc[1100, "timestamp"] = "2018-10-30T18:00:00"
    zoned.to_csv(tmp_path / "zones.csv", index=False)
    with pytest.raises(DataError, match=r"row 1100, column 'timestamp': '2018-10-30T18:00:00' has no time zone, "
                                        r"but row 0 has one"):
        predict_file(project.workspace, tmp_path / "zones.csv", BatchOptions(chunk_rows=500))
    assert not (tmp_path / "zones.predictions.csv").exists()


def test_the_serve_policies_refuse_as_the_api_does(project, rows, tmp_path: Path) -> None:
    config = project.config
    strict = config.model_copy(update={"serve": config.serve.model_copy(update={"out_of_range": ValuePolicy.REJECT})})
    project.paths.config.write_text(render_config(strict), encoding="utf-8")
    try:
        from leanloop.project import Project

        with Project.open(project.paths.root) as reopened:
            frame = rows.head(50).assign(car_value=[10**9] + [20000] * 49)
            with pytest.raises(Exception, match=r"row 0, column 'car_value': 1000000000 is outside the training range"):
                reopened.predict(frame, log=False)
    finally:
        project.paths.config.write_text(render_config(config), encoding="utf-8")


def test_the_cli_prints_a_summary_and_refuses_a_file_of_unknown_type(project, rows, tmp_path: Path) -> None:
    rows.head(10).to_csv(tmp_path / "few.csv", index=False)
    code, out, _ = cli("predict", str(tmp_path / "few.csv"), "--no-log", "--dir", str(project.paths.root))
    assert code == 0 and "scored 10 of 10 rows with v1" in out and "logged 0" in out
    (tmp_path / "few.xlsx").write_text("x")
    code, _, err = cli("predict", str(tmp_path / "few.xlsx"), "--dir", str(project.paths.root))
    assert code == 2 and "name it .csv, .tsv or .parquet" in err
    code, _, err = cli("predict", str(tmp_path / "few.csv"), "--chunk-rows", "20000000",
                       "--dir", str(project.paths.root))
    assert code == 2 and "--chunk-rows" in err


def test_records_carry_the_id_as_text_the_event_time_and_the_source() -> None:
    from sklearn.dummy import DummyClassifier

    from leanloop.batch import ChunkScorer
    from leanloop.config import ServeConfig
    from leanloop.schema import Feature

    schema = Schema(features=[Feature(name="x", kind="numeric", nullable=True)])
    model = DummyClassifier().fit(pd.DataFrame({"x": [0.0, 1.0]}), [0, 1])
    scorer = ChunkScorer(model=model, version="v3", schema=schema, task="classification", classes=[0, 1],
                         serve=ServeConfig(), id_column="loan", time_column="at")
    chunk = pd.DataFrame({"x": [1.0, None, 2.0], "loan": [17.0, None, 19.0],
                          "at": ["2024-05-01T12:00:00+02:00", None, "1714557600"]})
    done = scorer(chunk, first_row=0, log=True)
    records = done.records.to_records()
    assert [r["row_id"] for r in records] == ["17", None, "19"]
    assert [r["event_at"] for r in records] == [1714557600.0, None, 1714557600.0]
    assert {r["source"] for r in records} == {"batch"} and {r["model_version"] for r in records} == {"v3"}
    assert [r["features"] for r in records] == [{"x": 1.0}, {"x": None}, {"x": 2.0}]
    assert done.output["prediction_id"].tolist() == [r["prediction_id"] for r in records]


def test_an_id_of_the_wrong_type_stops_the_run_or_goes_to_the_rejects_file(project, rows, tmp_path: Path) -> None:
    bad = rows.astype({"id": object})
    bad.loc[640, "id"] = "L-640"  # [data] id_type = "integer" (inferred at init)
    bad.loc[641, "id"] = "007"  # a whole number written as text: the integer 7, as in a labels file
    bad.to_csv(tmp_path / "day.csv", index=False)
    before = project.store.count_predictions()
    code, out, err = cli("predict", str(tmp_path / "day.csv"), "--chunk-rows", "500", "--dir", str(project.paths.root))
    message = " ".join(err.split())
    assert code == 2 and out == "" and project.store.count_predictions() == before
    assert "row 640, column 'id': the id must be a whole number ([data] id_type), got text 'L-640'" in message
    assert sorted(p.name for p in tmp_path.iterdir()) == ["day.csv"]
    code, out, _ = cli("predict", str(tmp_path / "day.csv"), "--skip-invalid", "--json", "--dir",
                       str(project.paths.root))
    result = json.loads(out)
    assert code == 0 and (result["rejected"], result["logged"]) == (1, 1499)
    assert pd.read_csv(result["rejects"])[["row", "column"]].values.tolist() == [[640, "id"]]
    scored = pd.read_csv(result["output"], dtype={"id": str}).set_index("row")
    assert scored.loc[641, "id"] == "7" and 640 not in scored.index
    assert project.store.get_prediction(scored.loc[641, "prediction_id"])["row_id"] == "7"


def test_a_parquet_file_without_a_feature_names_it_and_writes_nothing(project, rows, tmp_path: Path) -> None:
    rows.drop(columns=["car_value", "loan_length"]).to_parquet(tmp_path / "day.parquet")
    code, _, err = cli("predict", str(tmp_path / "day.parquet"), "--dir", str(project.paths.root))
    assert code == 2 and "lacks the model's features ['car_value', 'loan_length']" in " ".join(err.split())
    assert sorted(p.name for p in tmp_path.iterdir()) == ["day.parquet"]


#: Event times as the two doors get them (a JSON request's values; the same as a CSV
#: file's text), and what each door must make of them: epoch seconds, or the row refused.
TIMES = [
    (["2024-05-01T12:00:00+02:00", 1714557600], [1714557600.0, 1714557600.0]),
    (["2024-05-01", "2024-05-01T10:00:00"], [1714521600.0, 1714557600.0]),  # a date has no zone, like the time
    (["0001-01-01T00:00:00+00:00"], [-62135596800.0]),  # years before pandas' range still read
    ([1714557600, "2024-05-01T10:00:00"], "has no time zone, but row 0 has one"),  # epoch seconds are zoned
    (["2024-05-01T10:00:00", "2024-05-01T10:00:00Z"], "has a time zone, but row 0 has none"),
    ([1e13], "epoch seconds is not a time between the years 1 and 9999"),
    (["soon"], "'soon' is not a time"),
]


@pytest.mark.parametrize(("values", "expected"), TIMES)
def test_one_reader_of_event_times_serves_the_api_and_batch_files(values, expected, project, rows,
                                                                  tmp_path: Path) -> None:
    from leanloop.errors import InputError
    from leanloop.row_keys import event_seconds

    frame = rows.head(len(values)).assign(timestamp=[str(v) for v in values])
    frame.to_csv(tmp_path / "day.csv", index=False)
    if isinstance(expected, str):
        with pytest.raises(InputError, match=expected):
            event_seconds(values, field="timestamp")
        with pytest.raises(DataError, match=f"column 'timestamp': .*{expected}"):
            predict_file(project.workspace, tmp_path / "day.csv")
        return
    assert event_seconds(values, field="timestamp") == expected
    result = predict_file(project.workspace, tmp_path / "day.csv")
    logged = [project.store.get_prediction(p)["event_at"] for p in pd.read_csv(result.output)["prediction_id"]]
    assert logged == expected


def test_log_columns_write_the_json_the_servers_records_get() -> None:
    import orjson

    from leanloop.batch.records import features_json
    from leanloop.schema import Feature

    rng = np.random.default_rng(15)
    schema = Schema(features=[Feature(name="x", kind="numeric", nullable=True),
                              Feature(name="naïve \"c\"", kind="categorical", nullable=True),
                              Feature(name="b", kind="boolean", nullable=True),
                              Feature(name="t", kind="datetime", nullable=True)])
    numbers = rng.standard_normal(500) * 10.0 ** rng.integers(-30, 30, 500)
    numbers[::7] = np.nan
    texts = np.array([None, "a", "€ {x}", "line\nbreak", "\"quoted\""] * 100, dtype=object)
    flags = np.array([True, False, None, True, False] * 100, dtype=object)
    times = pd.Series(pd.to_datetime(rng.integers(0, 2 * 10**9, 500), unit="s", utc=True)).mask(
        pd.Series(range(500)) % 9 == 0)
    frame = pd.DataFrame({"x": numbers, "naïve \"c\"": texts, "b": flags, "t": times})
    as_served = [{"x": None if x != x else float(x), "naïve \"c\"": c, "b": b,
                  "t": None if pd.isna(t) else t.isoformat()}
                 for x, c, b, t in zip(numbers.tolist(), texts.tolist(), flags.tolist(), times.tolist(), strict=True)]
    assert features_json(frame, schema) == [orjson.dumps(r).decode() for r in as_served]
