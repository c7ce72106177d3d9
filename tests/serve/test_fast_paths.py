"""The predict path's fast paths give exactly what the careful paths give.

Each shortcut taken for speed (issue 6) is checked against the code it stands in for:
the JSON fast parser against the careful one, the column-wise encoding of validated
rows against :func:`~leanloop.scoring.model_input`, one transform per model call
against the pipeline's own ``predict``/``predict_proba``, and the lone log group that
is committed without waiting for a batch window.
"""

from __future__ import annotations

import asyncio
import json
import time

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from leanloop.schema import Feature, Schema
from leanloop.scoring import InputFormat, model_input, rows_input, score
from leanloop.serve.logger import PredictionLogger, Spool
from leanloop.serve.requests import BodyError, parse_json, parse_json_carefully
from leanloop.store import SQLStore
from tests.serve.conftest import ROW

_scalars = (st.none() | st.booleans() | st.integers(-10**45, 10**45)
            | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=8))
_values = st.recursive(_scalars, lambda inner: st.lists(inner, max_size=4)
                       | st.dictionaries(st.text(max_size=4), inner, max_size=4), max_leaves=20)
_tricks = st.sampled_from(['{"a": 1, "a": 2}', '{"a": NaN}', '{"a": -Infinity}', '{"a": "\\u0000"}',
                           '{"a": "\\ud800"}', '{"a": "\\ud83d\\ude00"}', '{"a": 1e400}', '[1,]', '{"a": 01}',
                           '{"a": "x\\u20acy"}', "[" * 3000 + "]" * 3000, '{"rows": [{"x": 1}, {"x": 2, "x": 3}]}',
                           "\ufeff{}", '{"a": "\t"}', "", "nul\x00"])


def _outcome(parse, body: bytes):
    try:
        return ("value", repr(parse(body)))
    except BodyError as exc:
        return ("error", exc.problem, str(exc))


@settings(max_examples=150, deadline=None)
@given(value=_values, ascii_only=st.booleans())
def test_fast_parse_returns_what_the_careful_parser_returns(value, ascii_only):
    body = json.dumps(value, ensure_ascii=ascii_only).encode("utf-8", "surrogatepass")
    assert _outcome(parse_json, body) == _outcome(parse_json_carefully, body)


@settings(max_examples=60, deadline=None)
@given(trick=_tricks, prefix=st.sampled_from(["", " ", '{"rows": [', "\n"]))
def test_every_refusal_is_the_careful_parsers_refusal(trick, prefix):
    body = (prefix + trick).encode("utf-8", "surrogatepass")
    assert _outcome(parse_json, body) == _outcome(parse_json_carefully, body)


def test_over_long_integers_are_refused_as_before():
    body = b'{"rows": [{"x": 1' + b"0" * 45 + b"}]}"
    with pytest.raises(BodyError, match="integer of 46 digits"):
        parse_json(body)


def test_validated_rows_encode_as_model_input_does(car_loan_data):
    schema = Schema(features=[
        Feature(name="car_value", kind="numeric", nullable=True),
        Feature(name="salary_range", kind="categorical", nullable=True),
        Feature(name="repaid_loan_on_prev_car", kind="boolean", nullable=True),
        Feature(name="driver_tenure", kind="numeric"),
    ])
    rows = car_loan_data.analysis[schema.names].head(50).to_dict("records")
    rows = [{k: (v.item() if hasattr(v, "item") else v) for k, v in row.items()} for row in rows]
    rows[3] = {**rows[3], "car_value": None, "salary_range": None, "repaid_loan_on_prev_car": None}
    rows[4] = {**rows[4], "repaid_loan_on_prev_car": False}
    fast = rows_input(schema, rows, InputFormat.ENCODED)
    careful = model_input(schema, pd.DataFrame(rows, columns=schema.names), InputFormat.ENCODED, "request")
    # the same values; text stays NumPy objects (the transformer's own form) in the fast path
    pd.testing.assert_frame_equal(fast.astype(object), careful.astype(object))


def test_the_model_sees_the_same_numbers_from_either_encoding(project):
    champion = project.registry.champion()
    model, _ = project.registry.load(champion.version)
    schema = project.config.schema_
    frame = pd.DataFrame([ROW, {**ROW, "salary_range": "never seen", "car_value": 1e9}])
    records = frame.to_dict("records")
    fast = rows_input(schema, records, champion.input_format)
    careful = model_input(schema, frame, champion.input_format, "request")
    np.testing.assert_array_equal(model[:-1].transform(fast), model[:-1].transform(careful))
    np.testing.assert_array_equal(model.predict_proba(fast), model.predict_proba(careful))


def _frame(n: int, seed: int = 0) -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = pd.DataFrame({"x": rng.normal(size=n), "c": rng.choice(["a", "b", "c"], size=n)})
    y = (X["x"] + (X["c"] == "a") + rng.normal(scale=0.5, size=n) > 0.5).astype(int).to_numpy()
    return X, y


@pytest.mark.parametrize("estimator", ["hgb", "logistic", "threshold"])
def test_one_transform_scores_as_the_pipeline_does(estimator):
    from sklearn.compose import ColumnTransformer
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import FixedThresholdClassifier
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    final = {"hgb": HistGradientBoostingClassifier(max_iter=10, random_state=0),
             "logistic": LogisticRegression(),
             # predict is not the argmax of predict_proba here: labels must come from predict
             "threshold": FixedThresholdClassifier(LogisticRegression(), threshold=0.9)}[estimator]
    prepare = ColumnTransformer([("n", StandardScaler(), ["x"]), ("c", OneHotEncoder(), ["c"])])
    X, y = _frame(300)
    model = make_pipeline(prepare, final).fit(X, y)
    scored = score(model, X, "classification")
    assert scored.labels == model.predict(X).tolist()
    np.testing.assert_array_equal(scored.probabilities, model.predict_proba(X))
    assert scored.classes == [0, 1]


def test_a_lone_log_group_is_committed_without_waiting_for_the_window(tmp_path):
    logger = PredictionLogger(SQLStore(f"sqlite:///{tmp_path / 's.db'}"), Spool(tmp_path / "spool"),
                              max_wait_ms=2000)
    logger.start()
    record = {"prediction_id": "p1", "created_at": 1.0, "model_version": "v1", "features": {"x": 1.0},
              "prediction": 1, "probabilities": {"0": 0.25, "1": 0.75}}
    try:
        started = time.perf_counter()
        asyncio.run(logger.log([record]))
        took = time.perf_counter() - started
    finally:
        logger.stop()
    assert took < 1.0
    assert logger.store.get_prediction("p1")["probabilities"] == {"0": 0.25, "1": 0.75}


def test_a_full_queue_sheds_before_the_body_is_parsed(project):
    from fastapi.testclient import TestClient

    from leanloop.serve import create_app

    with TestClient(create_app(project), raise_server_exceptions=False) as client:
        batcher = client.app.state.batcher
        batcher.pending_rows = batcher.max_queue_rows  # as if 20,000 rows were waiting
        try:
            shed = client.post("/predict", content=b'{"rows": [{"car_value": ',
                               headers={"content-type": "application/json"})
        finally:
            batcher.pending_rows = 0
        assert shed.status_code == 503 and int(shed.headers["retry-after"]) >= 1
        assert shed.json()["error"] == "overloaded" and "queue_max_rows" in shed.json()["detail"][0]
        # with room again the same body is parsed, and refused for what it is
        assert client.post("/predict", content=b'{"rows": [{"car_value": ',
                           headers={"content-type": "application/json"}).status_code == 422
        assert client.post("/predict", json={"rows": [ROW]}).status_code == 200
        assert b'leanloop_rejections_total{reason="overloaded"} 1.0' in client.get("/metrics").content


def test_a_date_time_feature_is_served_and_logged_as_the_pipeline_scores_it(tmp_path):
    """Date-times take the generic encoding (not the column-wise one); a served row gets the
    pipeline's own probabilities, and its log record keeps the instant it was sent."""
    from fastapi.testclient import TestClient

    from leanloop.config import render_config
    from leanloop.project import Project
    from leanloop.serve import create_app

    rng = np.random.default_rng(0)
    n = 300
    data = pd.DataFrame({"x": rng.normal(size=n), "signed": pd.date_range("2024-01-01", periods=n, freq="h"),
                         "y": rng.integers(0, 2, size=n)})
    data.to_csv(tmp_path / "d.csv", index=False)
    project = Project.init(tmp_path / "d.csv", target="y", root=tmp_path / "p")
    quick = project.config.model_copy(update={"model": project.config.model.model_copy(update={"max_iter": 10})})
    project.paths.config.write_text(render_config(quick), encoding="utf-8")
    project = Project(tmp_path / "p")
    assert project.config.schema_.feature("signed").kind.value == "datetime"
    project.build()
    rows = [{"x": 0.5, "signed": "2024-01-05T10:00:00"}, {"x": -1.0, "signed": "2024-01-09T23:30:00"}]
    champion = project.registry.champion()
    model, _ = project.registry.load(champion.version)
    expected = model.predict_proba(model_input(project.config.schema_, pd.DataFrame(rows), champion.input_format, "t"))
    with TestClient(create_app(project, token="t" * 32)) as client:
        answer = client.post("/predict", json={"rows": rows})
        assert answer.status_code == 200, answer.text
        outputs = answer.json()["predictions"]
        np.testing.assert_allclose([[o["probabilities"]["0"], o["probabilities"]["1"]] for o in outputs], expected,
                                   rtol=0, atol=1e-15)
        logged = client.get(f"/predictions/{outputs[1]['prediction_id']}",
                            headers={"Authorization": "Bearer " + "t" * 32})
        assert pd.Timestamp(logged.json()["features"]["signed"]) == pd.Timestamp("2024-01-09T23:30:00")
    project.close()
