"""Hostile model files: every one refused before it is loaded or scored, names listed.

Each payload here is a real gadget: a pipeline that, once loaded and used, would create a
marker file (the test proves it does, with ``trust``), or a callable that reaches
``exec``/``eval``/``getattr``/``importlib``/``subprocess``/``os``. The first one is the chain
that ran code through ``leanloop adopt`` when anything under ``numpy.`` was trusted.
"""

from __future__ import annotations

import builtins
import functools
import importlib
import io
import json
import operator
import os
import pickle
import subprocess
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import numpy.lib.format
import numpy.testing._private.utils as np_testing_utils
import pandas as pd
import pytest
import sklearn.utils._testing as sk_testing
import sklearn.utils.discovery as sk_discovery
import skops.io as sio
from sklearn.ensemble import HistGradientBoostingClassifier, RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer
from typer.testing import CliRunner

from leanloop.cli import app
from leanloop.errors import ArtifactError
from leanloop.model_files import allowed_names, load_model_bytes, untrusted_names


def chain(sink: Callable[..., Any], code: str, **sink_kwargs: Any) -> Any:
    """The gadget from the report: ``full_like`` turns any input into an array of ``code``,
    ``max`` picks the string, and ``sink`` receives it."""
    return make_pipeline(
        FunctionTransformer(np.full_like, kw_args={"fill_value": code, "dtype": object}),
        FunctionTransformer(np.max),
        FunctionTransformer(sink, kw_args=sink_kwargs),
    )


def gadgets(marker: Path) -> dict[str, Any]:
    """Every hostile payload, by name; the first six create ``marker`` when used."""
    python = f"open({str(marker)!r}, 'w').write('code ran')"
    shell = f"touch {marker}"
    return {
        "numpy.testing runstring chain": chain(np_testing_utils.runstring, python, dict={}),
        "builtins.exec chain": chain(builtins.exec, python),
        "builtins.eval chain": chain(builtins.eval, python),
        "os.system chain": chain(os.system, shell),
        "subprocess.getoutput chain": chain(subprocess.getoutput, shell),
        "numpy.testing runstring alone": FunctionTransformer(np_testing_utils.runstring),
        "numpy.lib.format.read_array": FunctionTransformer(numpy.lib.format.read_array),
        "numpy.load (pickles)": FunctionTransformer(np.load, kw_args={"allow_pickle": True}),
        "numpy.max alone": FunctionTransformer(np.max),
        "sklearn.utils runs a python script": FunctionTransformer(sk_testing.assert_run_python_script_without_output),
        "sklearn.utils imports every module": FunctionTransformer(sk_discovery.all_estimators),
        "builtins.getattr": FunctionTransformer(builtins.getattr, kw_args={"name": "__class__"}),
        "builtins.__import__": FunctionTransformer(builtins.__import__),
        "importlib.import_module": FunctionTransformer(importlib.import_module),
        "subprocess.check_output": FunctionTransformer(subprocess.check_output),
        "os.popen": FunctionTransformer(os.popen),
        "pickle.loads": FunctionTransformer(pickle.loads),
        "operator.attrgetter chain": FunctionTransformer(operator.attrgetter("__class__.__init__.__globals__")),
        "operator.methodcaller": FunctionTransformer(operator.methodcaller("__reduce__")),
        "functools.partial over eval": FunctionTransformer(functools.partial(builtins.eval, "1")),
        "functools.partial over an allowed ufunc": FunctionTransformer(functools.partial(np.log1p)),
        "a bound method": FunctionTransformer(LogisticRegression().get_params),
    }


FRAME = pd.DataFrame({"a": [1.0, 2.0, 3.0], "b": [0.5, 0.1, 0.2]})


@pytest.fixture
def marker(tmp_path: Path) -> Path:
    return tmp_path / "marker"


def test_the_gadgets_are_real(marker: Path) -> None:
    """With ``trust`` the chain does run code: the marker tells the tests below apart."""
    for name in ("numpy.testing runstring chain", "builtins.exec chain", "os.system chain"):
        payload = sio.dumps(gadgets(marker)[name])
        model = load_model_bytes(payload, "model.skops", trust=True)
        model.fit_transform(FRAME)
        assert marker.exists(), name
        marker.unlink()


@pytest.mark.parametrize("name", list(gadgets(Path("m"))))
def test_every_gadget_is_refused_with_its_names(name: str, marker: Path) -> None:
    payload = sio.dumps(gadgets(marker)[name])
    refused = untrusted_names(payload)
    assert refused and not set(refused) & allowed_names()
    with pytest.raises(ArtifactError, match=r"not on leanloop's allow-list of model types and functions: \['"):
        load_model_bytes(payload, "model.skops", trust=False)
    assert not marker.exists()


@pytest.mark.parametrize("name", list(gadgets(Path("m")))[:6])
def test_adopt_refuses_hostile_files_with_exit_2_and_no_side_effect(name: str, tmp_path: Path, marker: Path,
                                                                    car_loan_csv: Path) -> None:
    model_file = tmp_path / "model.skops"
    model_file.write_bytes(sio.dumps(gadgets(marker)[name]))
    root = tmp_path / "project"
    result = CliRunner().invoke(app, ["adopt", str(model_file), "--reference", str(car_loan_csv),
                                      "--target", "repaid", "--dir", str(root)])
    assert result.exit_code == 2, result.output
    assert "allow-list" in result.stderr and "--trust" in result.stderr and "Traceback" not in result.output
    assert not marker.exists()
    assert not (root / "leanloop.toml").exists()


def test_allowed_models_load_and_predict_the_same() -> None:
    """What leanloop builds and what users commonly adopt needs no trust."""
    rng = np.random.default_rng(0)
    X = pd.DataFrame(rng.normal(size=(200, 3)), columns=["a", "b", "c"])
    y = (X["a"] > 0).astype(int)
    for model in (make_pipeline(FunctionTransformer(np.log1p), LogisticRegression()),
                  HistGradientBoostingClassifier(max_iter=5), RandomForestClassifier(n_estimators=3)):
        model.fit(X.abs(), y)
        payload = sio.dumps(model)
        assert untrusted_names(payload) == []
        loaded = load_model_bytes(payload, "model.skops", trust=False)
        np.testing.assert_array_equal(loaded.predict(X.abs()), model.predict(X.abs()))


def rewrite_schema(payload: bytes, edit: Callable[[dict[str, Any]], None]) -> bytes:
    """The same archive with its schema.json edited: a file crafted by hand."""
    source = zipfile.ZipFile(io.BytesIO(payload))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as target:
        for item in source.infolist():
            data = source.read(item.filename)
            if item.filename == "schema.json":
                schema = json.loads(data)
                edit(schema)
                data = json.dumps(schema).encode()
            target.writestr(item, data)
    return out.getvalue()


def test_hand_crafted_schemas_are_refused() -> None:
    """Names skops' own defaults might pass, or loaders it would dispatch, are refused too."""
    model = FunctionTransformer(np.log1p)
    payload = sio.dumps(model)

    def rename(schema: dict[str, Any]) -> None:  # an allowed ufunc's node pointed at exec
        node = schema["content"]["content"]["func"]
        node["__module__"], node["__class__"] = "builtins", "exec"

    def unknown_loader(schema: dict[str, Any]) -> None:
        schema["content"]["content"]["func"]["__loader__"] = "SomethingNewNode"

    def method(schema: dict[str, Any]) -> None:  # a MethodNode on an allowed estimator
        schema["content"]["content"]["func"] = {
            "__class__": "FunctionTransformer", "__module__": "sklearn.preprocessing._function_transformer",
            "__loader__": "MethodNode", "content": {"func": "__init_subclass__", "obj": {
                "__class__": "FunctionTransformer", "__module__": "sklearn.preprocessing._function_transformer",
                "__loader__": "ObjectNode", "content": {"__class__": "dict", "__module__": "builtins",
                                                        "__loader__": "DictNode", "content": {}, "key_types": {
                                                            "__class__": "list", "__module__": "builtins",
                                                            "__loader__": "ListNode", "content": []}}}}}

    expected = {rename: "builtins.exec", unknown_loader: "loader 'SomethingNewNode'", method: "__init_subclass__"}
    for edit, name in expected.items():
        crafted = rewrite_schema(payload, edit)
        with pytest.raises(ArtifactError, match="allow-list"):
            load_model_bytes(crafted, "crafted.skops", trust=False)
        assert any(name in refused for refused in untrusted_names(crafted)), edit.__name__


def test_a_tree_pointing_outside_its_arrays_is_refused() -> None:
    """scikit-learn follows child indices without bounds checks: a crafted index is refused
    after loading and before any prediction."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(100, 2))
    y = (X[:, 0] > 0).astype(int)
    for model, field in ((RandomForestClassifier(n_estimators=2, random_state=0).fit(X, y), "tree"),
                         (HistGradientBoostingClassifier(max_iter=2).fit(X, y), "predictor")):
        loaded = load_model_bytes(sio.dumps(model), "model.skops", trust=False)
        if field == "tree":
            tree = loaded.estimators_[0].tree_
            state = tree.__getstate__()
            nodes = state["nodes"].copy()
            nodes["left_child"][0] = 10_000
            tree.__setstate__(state | {"nodes": nodes})
        else:
            loaded._predictors[0][0].nodes["left"][0] = 10_000
        with pytest.raises(ArtifactError, match="node or feature indices point outside"):
            load_model_bytes(sio.dumps(loaded), "crafted.skops", trust=False)
