"""Tests for leanloop.registry with a real SQLite store and artifacts in a temp folder."""

from __future__ import annotations

import builtins
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from sklearn.dummy import DummyClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer, StandardScaler

from leanloop.errors import ArtifactError, InputError, NotFoundError
from leanloop.registry import ModelVersion, Registry, sha256_file
from leanloop.store import SQLStore

FIELDS: dict[str, Any] = {
    "task": "classification", "schema": {"features": [{"name": "a", "kind": "numeric"}]},
    "metrics": {"accuracy": 0.8}, "baseline_metrics": {"accuracy": 0.5}, "fingerprint": "abc", "source": "build",
}


def double(x: Any) -> Any:
    """A function outside scikit-learn: its artifact must need trust."""
    return x * 2


@pytest.fixture
def registry(tmp_path: Path) -> Iterator[Registry]:
    store = SQLStore(f"sqlite:///{tmp_path / 'store.db'}")
    yield Registry(store, tmp_path / "artifacts")
    store.close()


@pytest.fixture
def data() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    X = rng.normal(size=(80, 3))
    y = (X[:, 0] + rng.normal(0, 0.5, 80) > 0).astype(int)
    return X, y


def fitted(data: tuple[np.ndarray, np.ndarray]) -> tuple[Any, Any]:
    X, y = data
    return make_pipeline(StandardScaler(), LogisticRegression()).fit(X, y), DummyClassifier().fit(X, y)


def test_register_load_round_trip(registry: Registry, data: tuple[np.ndarray, np.ndarray]) -> None:
    model, baseline = fitted(data)
    record = registry.register(model, baseline, alias="champion", **FIELDS)
    assert record.version == "v1"
    assert (registry.artifacts / record.artifact).is_file()
    assert record.sha256 == sha256_file(registry.artifacts / record.artifact)
    loaded, loaded_baseline = registry.load("v1")
    X, _ = data
    np.testing.assert_array_equal(loaded.predict(X), model.predict(X))
    np.testing.assert_allclose(loaded.predict_proba(X), model.predict_proba(X), rtol=0, atol=0)
    np.testing.assert_array_equal(loaded_baseline.predict(X), baseline.predict(X))
    assert registry.get("v1") == record
    assert registry.champion() == record
    assert not list(registry.artifacts.glob(".*"))  # no temporary files left


def test_versions_increment(registry: Registry, data: tuple[np.ndarray, np.ndarray]) -> None:
    model, baseline = fitted(data)
    first = registry.register(model, baseline, **FIELDS)
    second = registry.register(model, baseline, parent="v1", **FIELDS)
    assert (first.version, second.version) == ("v1", "v2")
    assert registry.next_version() == "v3"
    assert [v.version for v in registry.versions()] == ["v1", "v2"]
    assert registry.get("v2").parent == "v1"
    assert registry.alias("champion") is None


def test_promote_sets_previous(registry: Registry, data: tuple[np.ndarray, np.ndarray]) -> None:
    model, baseline = fitted(data)
    registry.register(model, baseline, alias="champion", **FIELDS)
    registry.register(model, baseline, **FIELDS)
    registry.promote("v2")
    assert registry.champion().version == "v2"
    assert registry.alias("previous").version == "v1"  # type: ignore[union-attr]
    registry.promote("v2")  # promoting the champion again keeps previous
    assert registry.store.aliases() == {"champion": "v2", "previous": "v1"}


def test_promote_unknown_version(registry: Registry) -> None:
    with pytest.raises(NotFoundError, match=r"model version 'v7' does not exist"):
        registry.promote("v7")


def test_no_champion(registry: Registry) -> None:
    with pytest.raises(NotFoundError, match=r"no champion model yet; run 'leanloop build' or 'leanloop adopt'"):
        registry.champion()


def test_flipped_byte_fails_integrity(registry: Registry, data: tuple[np.ndarray, np.ndarray]) -> None:
    model, baseline = fitted(data)
    record = registry.register(model, baseline, **FIELDS)
    path = registry.artifacts / record.artifact
    raw = bytearray(path.read_bytes())
    raw[len(raw) // 2] ^= 0x01
    path.write_bytes(bytes(raw))
    with pytest.raises(ArtifactError, match=r"artifact v1\.skops fails its integrity check .*changed or corrupted"):
        registry.load("v1")


def test_tampered_baseline_fails_integrity(registry: Registry, data: tuple[np.ndarray, np.ndarray]) -> None:
    model, baseline = fitted(data)
    record = registry.register(model, baseline, **FIELDS)
    (registry.artifacts / record.baseline_artifact).write_bytes(b"not skops")
    with pytest.raises(ArtifactError, match=r"v1-baseline\.skops fails its integrity"):
        registry.load("v1")


def test_missing_artifact(registry: Registry, data: tuple[np.ndarray, np.ndarray]) -> None:
    model, baseline = fitted(data)
    record = registry.register(model, baseline, **FIELDS)
    (registry.artifacts / record.artifact).unlink()
    with pytest.raises(ArtifactError, match=r"artifact .*v1\.skops is missing; the registry cannot serve this version"):
        registry.load("v1")


def test_custom_function_needs_trust(registry: Registry, data: tuple[np.ndarray, np.ndarray]) -> None:
    X, y = data
    model = make_pipeline(FunctionTransformer(double), LogisticRegression()).fit(X, y)
    registry.register(model, DummyClassifier().fit(X, y), **FIELDS)
    with pytest.raises(ArtifactError, match=(r"not on leanloop's allow-list of model types and functions: "
                                             r"\[.*double'\]\. .*load it with trust=True")):
        registry.load("v1")
    loaded, _ = registry.load("v1", trust=True)
    np.testing.assert_array_equal(loaded.predict(X), model.predict(X))


def test_builtin_eval_needs_trust(registry: Registry, data: tuple[np.ndarray, np.ndarray]) -> None:
    X, y = data
    model = FunctionTransformer(builtins.eval)
    registry.register(model, DummyClassifier().fit(X, y), **FIELDS)
    with pytest.raises(ArtifactError, match="not on leanloop's allow-list"):
        registry.load("v1")


def test_unknown_version(registry: Registry) -> None:
    with pytest.raises(NotFoundError, match=r"model version 'v1' does not exist; known versions: \[\]"):
        registry.load("v1")


def test_failed_record_leaves_no_artifacts(registry: Registry, data: tuple[np.ndarray, np.ndarray]) -> None:
    model, baseline = fitted(data)
    registry.register(model, baseline, **FIELDS)
    with pytest.raises(NotFoundError, match="unknown aliases"):
        registry.register(model, baseline, alias="best", **FIELDS)
    assert not (registry.artifacts / "v2.skops").exists()
    assert not (registry.artifacts / "v2-baseline.skops").exists()


def test_failed_alias_registers_nothing(registry: Registry, data: tuple[np.ndarray, np.ndarray]) -> None:
    model, baseline = fitted(data)
    registry.register(model, baseline, **FIELDS)
    with pytest.raises(NotFoundError, match="unknown aliases"):
        registry.register(model, baseline, alias="best", **FIELDS)
    assert [v.version for v in registry.versions()] == ["v1"]


def test_record_json_shape(registry: Registry, data: tuple[np.ndarray, np.ndarray]) -> None:
    model, baseline = fitted(data)
    record = registry.register(model, baseline, **FIELDS)
    body = registry.store.get_model("v1")
    assert body["schema"] == FIELDS["schema"]
    assert ModelVersion.model_validate(body) == record


# -- safety: untrusted types, disguised pickles, size caps, names and paths ---------------
class Sentinel:
    """Loading this runs code: ``__setstate__`` creates the file named in its state."""

    def __init__(self, path: str) -> None:
        self.path = path

    def __setstate__(self, state: dict[str, Any]) -> None:
        Path(state["path"]).write_text("code ran")
        self.__dict__.update(state)


def test_untrusted_types_are_refused_listed_and_run_no_code(registry: Registry, tmp_path: Path,
                                                           data: tuple[np.ndarray, np.ndarray]) -> None:
    sentinel = tmp_path / "sentinel"
    X, y = data
    registry.register(Sentinel(str(sentinel)), DummyClassifier().fit(X, y), **FIELDS)
    with pytest.raises(ArtifactError,
                       match=r"not on leanloop's allow-list of model types and functions: \[.*Sentinel'\]"):
        registry.load("v1")
    assert not sentinel.exists()
    registry.load("v1", trust=True)  # the same file does run code once trusted: the test can see it
    assert sentinel.read_text() == "code ran"


class Explodes:
    """A pickle payload that would create a file when unpickled."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def __reduce__(self) -> tuple[Any, ...]:
        return (Path.write_text, (self.path, "code ran"))


def test_pickle_disguised_as_skops_is_refused_by_content(tmp_path: Path) -> None:
    import pickle

    from leanloop.model_files import load_model_bytes

    sentinel = tmp_path / "sentinel"
    payload = pickle.dumps(Explodes(sentinel))
    for trust in (False, True):  # content is checked even for trusted files
        with pytest.raises(ArtifactError, match=r"model\.skops is not a skops file \(skops files are zip archives; "
                                                r"this is a pickle or joblib file\)"):
            load_model_bytes(payload, "model.skops", trust)
    assert not sentinel.exists()


def test_disguised_pickle_in_the_registry_is_refused(registry: Registry, tmp_path: Path,
                                                     data: tuple[np.ndarray, np.ndarray]) -> None:
    import pickle

    import sqlalchemy as sa

    from leanloop.store import tables

    model, baseline = fitted(data)
    record = registry.register(model, baseline, **FIELDS)
    sentinel = tmp_path / "sentinel"
    path = registry.artifacts / record.artifact
    path.write_bytes(pickle.dumps(Explodes(sentinel)))
    # The hash matches: the content decides.
    body = record.model_dump(mode="json", by_alias=True) | {"sha256": sha256_file(path)}
    with registry.store.engine.begin() as conn:
        conn.execute(sa.update(tables.models).where(tables.models.c.version == "v1").values(body=body))
    with pytest.raises(ArtifactError, match="is not a skops file"):
        registry.load("v1")
    assert not sentinel.exists()


def test_size_caps(tmp_path: Path, data: tuple[np.ndarray, np.ndarray]) -> None:
    import io
    import zipfile

    from leanloop.model_files import load_model_bytes

    store = SQLStore(f"sqlite:///{tmp_path / 's.db'}")
    small = Registry(store, tmp_path / "artifacts", max_artifact_bytes=200)
    model, baseline = fitted(data)
    small.register(model, baseline, **FIELDS)
    with pytest.raises(ArtifactError, match=r"v1\.skops is \d+ bytes, over the cap of 200; refused without reading"):
        small.load("v1")
    store.close()
    bomb = io.BytesIO()
    with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("schema.json", b"\0" * 5_000_000)
    assert len(bomb.getvalue()) < 20_000
    with pytest.raises(ArtifactError, match=r"unpacks to 5000000 bytes, over the cap of 1000000"):
        load_model_bytes(bomb.getvalue(), "bomb.skops", False, max_unpacked_bytes=1_000_000)


@pytest.mark.parametrize("name", ["../../etc/passwd", "/etc/passwd", "v1\x00", "%2e%2e%2fetc", "..", "v1/../../x",
                                  "", "v1\\..\\x", ".hidden", "a" * 65, "v1%00"])
def test_version_names_are_validated(registry: Registry, name: str) -> None:
    with pytest.raises(InputError, match=r"model version name .* is not valid"):
        registry.load(name)
    with pytest.raises(InputError, match="is not valid"):
        registry.promote(name)


def test_artifact_paths_are_confined_to_the_workspace(registry: Registry, tmp_path: Path,
                                                      data: tuple[np.ndarray, np.ndarray]) -> None:
    import sqlalchemy as sa

    from leanloop.store import tables

    model, baseline = fitted(data)
    record = registry.register(model, baseline, **FIELDS)
    outside = tmp_path / "outside.skops"
    outside.write_bytes((registry.artifacts / record.artifact).read_bytes())
    for artifact in ("../outside.skops", str(outside), "x\x00.skops"):
        body = record.model_dump(mode="json", by_alias=True) | {"artifact": artifact}
        with registry.store.engine.begin() as conn:
            conn.execute(sa.update(tables.models).where(tables.models.c.version == "v1").values(body=body))
        with pytest.raises(ArtifactError, match="points outside the artifacts folder"):
            registry.load("v1")


def test_a_tampered_new_champion_is_refused_and_the_old_one_keeps_serving(
        registry: Registry, data: tuple[np.ndarray, np.ndarray]) -> None:
    from leanloop.serve.models import ModelHolder

    model, baseline = fitted(data)
    registry.register(model, baseline, alias="champion", **FIELDS)
    holder = ModelHolder(registry, refresh_seconds=1e-9)
    assert holder.current()[0].version == "v1"
    record = registry.register(model, baseline, **FIELDS)
    path = registry.artifacts / record.artifact
    raw = bytearray(path.read_bytes())
    raw[len(raw) // 2] ^= 0x01
    path.write_bytes(bytes(raw))
    registry.promote("v2")
    champion, served = holder.current()
    assert champion.version == "v1" and holder.load_failures == 1
    assert "v2.skops fails its integrity check" in (holder.last_error or "")
    X, _ = data
    np.testing.assert_array_equal(served.predict(X), model.predict(X))
