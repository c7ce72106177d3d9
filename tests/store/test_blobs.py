"""A version's files kept in the store (leanloop.store.blobs), on SQLite and PostgreSQL:
stored once per content, in parts, fetched verified and atomically, refused when damaged."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import sqlalchemy as sa
from sklearn.dummy import DummyClassifier
from sklearn.linear_model import LogisticRegression

from leanloop.errors import ArtifactError
from leanloop.registry import Registry
from leanloop.store import SQLStore, blobs
from leanloop.store import tables as t
from leanloop.store.blobs import FileKind, StoredFile, fetch, files_of

FIELDS = {"task": "classification", "schema": {"features": []}, "metrics": {"accuracy": 0.8},
          "baseline_metrics": {"accuracy": 0.5}, "fingerprint": "abc", "source": "build"}


def test_a_file_is_stored_in_parts_once_per_content_and_fetched_whole(store: SQLStore, tmp_path: Path,
                                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(blobs, "PART_BYTES", 1000)  # several parts from a small file
    content = np.random.default_rng(0).bytes(4321)
    path = tmp_path / "v1.skops"
    path.write_bytes(content)
    file = StoredFile.of(path, FileKind.ARTIFACT)
    store.add_model("v1", 1.0, {"version": "v1"}, files=[(file, path)])
    store.add_model("v2", 2.0, {"version": "v2"}, files=[(file.model_copy(update={"name": "v2.skops"}), path)])
    with store.engine.connect() as conn:
        parts = conn.execute(sa.select(t.blobs.c.part).where(t.blobs.c.sha256 == file.sha256)).scalars().all()
        assert files_of(conn, "v1") == [file]
        assert [f.name for f in files_of(conn, "v2")] == ["v2.skops"]
    assert sorted(parts) == [0, 1, 2, 3, 4]  # one copy of the content, shared by both versions
    target = tmp_path / "host-b" / "artifacts" / "v1.skops"
    assert fetch(store.engine, file, target).read_bytes() == content
    assert [p.name for p in target.parent.iterdir()] == ["v1.skops"]  # no temporary file left


def test_a_damaged_part_is_refused_and_nothing_is_written(store: SQLStore, tmp_path: Path) -> None:
    path = tmp_path / "v1.skops"
    path.write_bytes(b"PK" + b"\x01" * 500)
    file = StoredFile.of(path, FileKind.ARTIFACT)
    store.add_model("v1", 1.0, {"version": "v1"}, files=[(file, path)])
    with store.engine.begin() as conn:
        conn.execute(t.blobs.update().values(data=b"PK" + b"\x02" * 500))
    target = tmp_path / "elsewhere" / "v1.skops"
    with pytest.raises(ArtifactError, match=r"v1\.skops as stored in the database is damaged .* build the version"):
        fetch(store.engine, file, target)
    assert list(target.parent.iterdir()) == []


def test_a_version_registered_on_one_host_loads_on_another(store: SQLStore, tmp_path: Path) -> None:
    """Two registries on one store with different folders: what one registers, the other
    fetches (model, baseline and data), verified; nothing is fetched twice."""
    rng = np.random.default_rng(1)
    X, y = rng.normal(size=(60, 2)), rng.integers(0, 2, 60)
    host_a = Registry(store, tmp_path / "a" / "artifacts", datasets=tmp_path / "a" / "data", shared=True)
    host_b = Registry(store, tmp_path / "b" / "artifacts", datasets=tmp_path / "b" / "data", shared=True)
    (tmp_path / "a" / "data").mkdir(parents=True)
    (tmp_path / "a" / "data" / "v1-train.parquet").write_bytes(b"reference rows")
    model = LogisticRegression().fit(X, y)
    record = host_a.register(model, DummyClassifier().fit(X, y), alias="champion", train_data="v1-train.parquet",
                             test_data="v1-train.parquet", **FIELDS)
    loaded, _ = host_b.load(record.version)
    np.testing.assert_array_equal(loaded.predict(X), model.predict(X))
    assert sorted(p.name for p in (tmp_path / "b" / "artifacts").iterdir()) == ["v1-baseline.skops", "v1.skops"]
    assert not (tmp_path / "b" / "data").exists()  # serving needs the model only
    assert [p.name for p in host_b.fetch(record)] == ["v1-train.parquet"]
    assert (tmp_path / "b" / "data" / "v1-train.parquet").read_bytes() == b"reference rows"
    assert host_b.fetch(record) == []


def test_files_of_versions_registered_before_are_shared_by_the_first_host_that_has_them(
        store: SQLStore, tmp_path: Path) -> None:
    X, y = np.arange(20.0).reshape(10, 2), np.array([0, 1] * 5)
    old = Registry(store, tmp_path / "a", shared=False)  # as before the store kept files
    record = old.register(DummyClassifier().fit(X, y), DummyClassifier().fit(X, y), **FIELDS)
    elsewhere = Registry(store, tmp_path / "b", shared=True)
    with pytest.raises(ArtifactError, match=r"v1\.skops is missing; .*copy the file from the host that built it"):
        elsewhere.load(record.version)
    Registry(store, tmp_path / "a", shared=True).load(record.version)  # the host with the files
    elsewhere.load(record.version)
    assert (tmp_path / "b" / "v1.skops").read_bytes() == (tmp_path / "a" / "v1.skops").read_bytes()


def test_a_sqlite_registry_keeps_its_files_on_disk_only(tmp_path: Path) -> None:
    store = SQLStore(f"sqlite:///{tmp_path / 's.db'}")
    try:
        registry = Registry(store, tmp_path / "artifacts")
        assert not registry.shared
        X, y = np.arange(20.0).reshape(10, 2), np.array([0, 1] * 5)
        registry.register(DummyClassifier().fit(X, y), DummyClassifier().fit(X, y), **FIELDS)
        with store.engine.connect() as conn:
            assert conn.execute(sa.select(sa.func.count()).select_from(t.blobs)).scalar_one() == 0
    finally:
        store.close()
