"""The registry: immutable model versions, their aliases, and a safe artifact store.

A version is a fitted pipeline saved with skops (never pickle), its sha256, the
trivial baseline fitted beside it, its schema, metrics and lineage. Loading checks
the hash first and refuses any type or function off the allow-list of
:mod:`leanloop.model_files` unless the caller trusts the file explicitly. Aliases
(``champion``, ``challenger``, ``previous``) move in one transaction, so a promotion is atomic.

Examples
--------
>>> import tempfile, pathlib
>>> from sklearn.dummy import DummyClassifier
>>> from leanloop.store import SQLStore
>>> folder = pathlib.Path(tempfile.mkdtemp())
>>> registry = Registry(SQLStore(f"sqlite:///{folder / 's.db'}"), folder / "artifacts")
>>> model = DummyClassifier().fit([[0], [1], [1]], [0, 1, 1])
>>> version = registry.register(model, model, task="classification", schema={"features": []},
...     metrics={"accuracy": 0.5}, baseline_metrics={"accuracy": 0.5}, fingerprint="abc",
...     source="build", alias="champion")
>>> version.version, registry.champion().version
('v1', 'v1')
>>> loaded, _ = registry.load("v1")
>>> loaded.predict([[5]]).tolist()
[1]
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from leanloop.build.calibration import CalibrationReport
from leanloop.build.checks import VersionWarning
from leanloop.config.enums import ModelKind
from leanloop.errors import ArtifactError, InputError, NotFoundError
from leanloop.label_rule import LabelRule
from leanloop.model_files import MAX_UNPACKED_BYTES, load_model_bytes
from leanloop.scoring import InputFormat
from leanloop.store.blobs import FileKind, StoredFile, fetch, files_of, save_files, sha256_of

if TYPE_CHECKING:
    from leanloop.store import SQLStore

__all__ = ["ModelVersion", "Registry", "sha256_file", "check_version_name", "MAX_ARTIFACT_BYTES"]

#: An artifact file larger than this is refused before it is read.
MAX_ARTIFACT_BYTES = 1 << 30

_VERSION_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")


def check_version_name(name: str) -> str:
    """Return ``name`` if it is a safe version name, else raise :class:`InputError`.

    Letters, digits, ``.``, ``_`` and ``-``, starting with a letter or digit, at most 64
    characters, no ``..``: so a name can never step out of the artifacts folder.

    Examples
    --------
    >>> check_version_name("v12")
    'v12'
    >>> check_version_name("../../etc/passwd")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    leanloop.errors.InputError: model version name '../../etc/passwd' is not valid: use letters, digits, ... e.g. 'v3'
    """
    if not isinstance(name, str) or not _VERSION_NAME.fullmatch(name) or ".." in name:
        shown = repr(name).encode("ascii", "backslashreplace").decode("ascii")[:80]
        raise InputError(f"model version name {shown} is not valid: use letters, digits, '.', '_' or '-' "
                         "(starting with a letter or digit, at most 64, no '..'), e.g. 'v3'")
    return name


class ModelVersion(BaseModel):
    """An immutable trained pipeline and everything needed to reproduce and judge it."""

    model_config = ConfigDict(frozen=True)

    version: str
    created_at: float
    task: str
    artifact: str
    sha256: str
    baseline_artifact: str
    baseline_sha256: str
    schema_: dict[str, Any] = Field(alias="schema")
    metrics: dict[str, float]
    baseline_metrics: dict[str, float]
    kpi: dict[str, float] = Field(default_factory=dict)
    fingerprint: str
    parent: str | None = None
    source: str
    train_data: str | None = None
    test_data: str | None = None
    cycle: int | None = None
    rows: dict[str, int] = Field(default_factory=dict)
    input_format: InputFormat = InputFormat.ENCODED
    trusted: bool = False
    #: the label a classifier serves: argmax, or expected_value under the [kpi] values
    decision: LabelRule = LabelRule.ARGMAX
    #: calibration on held-out rows when the version was built (before/after), if any
    calibration: CalibrationReport | None = None
    #: the quantile a regressor targets (asymmetric absolute costs), if any
    quantile: float | None = None
    #: for a recalibrated version: what was refitted (calibration, prior correction)
    recalibration: dict[str, Any] | None = None
    #: whose estimator this is: the user's own (adopted, or its clone refitted) or leanloop's pipeline
    model_kind: ModelKind = ModelKind.LEANLOOP
    #: the estimator's class (a pipeline's steps), e.g. RandomForestClassifier
    estimator: str | None = None
    #: what deserves a second look (below the baseline, optimistic reference metrics, ...)
    warnings: list[VersionWarning] = Field(default_factory=list)

    @property
    def out_of_fold_data(self) -> str:
        """The data folder's file that keeps a cross-fitted version's out-of-fold outputs
        on its test rows (:mod:`leanloop.learn.crossfit`); other versions have none."""
        return f"{self.version}-out-of-fold.parquet"

    @model_validator(mode="before")
    @classmethod
    def _kind_of_older_records(cls, data: Any) -> Any:
        # Records from before model_kind: only an adopted (own) model takes native input.
        if isinstance(data, dict) and "model_kind" not in data and data.get("input_format") == "native":
            return {**data, "model_kind": ModelKind.OWN}
        return data


#: The sha256 hex digest of a file, read in blocks (one implementation, the store's).
sha256_file = sha256_of


class Registry:
    """Model versions in the store, artifacts in a folder."""

    def __init__(self, store: SQLStore, artifacts: Path, *, datasets: Path | None = None,
                 shared: bool | None = None, max_artifact_bytes: int = MAX_ARTIFACT_BYTES,
                 max_unpacked_bytes: int = MAX_UNPACKED_BYTES) -> None:
        self.store = store
        self.artifacts = Path(artifacts)
        #: where a version's reference and test data live (None: not kept in the store)
        self.datasets = None if datasets is None else Path(datasets)
        #: whether a version's files go into the store too (default: on PostgreSQL, the
        #: store several hosts share; a SQLite store lives beside the files it would copy)
        self.shared = store.dialect == "postgresql" if shared is None else shared
        self.max_artifact_bytes = max_artifact_bytes
        self.max_unpacked_bytes = max_unpacked_bytes

    def next_version(self) -> str:
        """The name the next registered version gets (``v1``, ``v2``, ...)."""
        numbers = [int(v[1:]) for v in self.store.model_versions() if v[1:].isdigit()]
        return f"v{max(numbers, default=0) + 1}"

    def register(self, model: Any, baseline: Any, *, alias: str | None = None, **fields: Any) -> ModelVersion:
        """Save ``model`` and ``baseline`` with skops and record a new version.

        Files are written to a temporary name, fsynced and renamed, then the record is
        committed; a failure at any step registers nothing. A shared registry also
        stores the files (and the version's reference and test data) in that transaction.
        """
        version = self.next_version()
        self.artifacts.mkdir(parents=True, exist_ok=True)
        artifact = self._save(model, f"{version}.skops")
        baseline_artifact = self._save(baseline, f"{version}-baseline.skops")
        record = ModelVersion(
            version=version, created_at=time.time(),
            artifact=artifact.name, sha256=sha256_file(artifact),
            baseline_artifact=baseline_artifact.name, baseline_sha256=sha256_file(baseline_artifact),
            **fields,
        )
        try:
            self.store.add_model(version, record.created_at, record.model_dump(mode="json", by_alias=True),
                                 alias=alias, files=self._local_files(record) if self.shared else ())
        except Exception:
            artifact.unlink(missing_ok=True)
            baseline_artifact.unlink(missing_ok=True)
            raise
        return record

    def _save(self, obj: Any, name: str) -> Path:
        import skops.io as sio

        target = self.artifacts / name
        fd, tmp = tempfile.mkstemp(dir=self.artifacts, prefix=f".{name}.")
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(sio.dumps(obj))
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return target

    def get(self, version: str) -> ModelVersion:
        """The record of ``version`` (a name that could be a path trick is refused first)."""
        return ModelVersion.model_validate(self.store.get_model(check_version_name(version)))

    def versions(self) -> list[ModelVersion]:
        """Every version, oldest first."""
        return [ModelVersion.model_validate(body) for body in self.store.list_models()]

    def alias(self, name: str) -> ModelVersion | None:
        """The version an alias points to, if any."""
        version = self.store.get_alias(name)
        return None if version is None else self.get(version)

    def champion(self) -> ModelVersion:
        """The version serving traffic; a clear error when there is none yet."""
        record = self.alias("champion")
        if record is None:
            raise NotFoundError("no champion model yet; run 'leanloop build' or 'leanloop adopt' first")
        return record

    def promote(self, version: str) -> None:
        """Make ``version`` the champion and remember the old one as ``previous``; a
        version that was in shadow mode leaves it (it answers now: nothing to shadow)."""
        self.get(version)
        current = self.store.get_alias("champion")
        mapping = {"champion": version}
        if current and current != version:
            mapping["previous"] = current
        self.store.set_aliases(mapping, at=time.time())
        if self.store.get_alias("shadow") == version:
            self.store.clear_alias("shadow")

    def rollback(self) -> str:
        """Point ``champion`` back at ``previous`` (and ``previous`` at the version rolled
        back from, so a second rollback undoes the first); returns the new champion."""
        current = self.store.get_alias("champion")
        previous = self.store.get_alias("previous")
        if previous is None or current is None or previous == current:
            raise NotFoundError("no previous version to roll back to; 'leanloop history' shows the versions, "
                                "'leanloop promote VERSION' picks one")
        self.store.set_aliases({"champion": previous, "previous": current}, at=time.time())
        return previous

    def shadow(self, version: str) -> None:
        """Point ``shadow`` at ``version``: a running server also scores every request
        with it, logs that, and never returns it. Not the champion: it would shadow itself."""
        self.get(version)
        if version == self.store.get_alias("champion"):
            raise InputError(f"{version} is the champion; shadow another version to compare it with the champion")
        self.store.set_aliases({"shadow": version}, at=time.time())

    def stop_shadow(self) -> str:
        """Stop shadow scoring; returns the version that was shadowing."""
        version = self.store.clear_alias("shadow")
        if version is None:
            raise NotFoundError("no version is in shadow mode; 'leanloop shadow VERSION' starts one")
        return version

    def load(self, version: str, *, trust: bool = False) -> tuple[Any, Any]:
        """Load a version's model and baseline after checking their sha256.

        Names off the allow-list (:mod:`leanloop.model_files`) load only with ``trust``
        or when the user trusted the file explicitly when adopting the version.
        """
        record = self.get(version)
        trust = trust or record.trusted
        fetched = self.fetch(record, kinds=(FileKind.ARTIFACT,))
        model = self._load(self._confined(record.artifact), record.sha256, trust)
        baseline = self._load(self._confined(record.baseline_artifact), record.baseline_sha256, trust)
        if self.shared and not fetched:
            self.share(record)
        return model, baseline

    def fetch(self, record: ModelVersion, *, kinds: tuple[FileKind, ...] = tuple(FileKind)) -> list[Path]:
        """Fetch ``record``'s files of ``kinds`` that this host lacks from the store
        (verified, renamed into place: :func:`leanloop.store.blobs.fetch`); the paths written.

        A version registered on another host is served here without a shared disk.

        Examples
        --------
        >>> import tempfile, pathlib
        >>> from sklearn.dummy import DummyRegressor
        >>> from leanloop.store import SQLStore
        >>> folder = pathlib.Path(tempfile.mkdtemp())
        >>> store = SQLStore(f"sqlite:///{folder / 's.db'}")
        >>> here, there = (Registry(store, folder / host, datasets=folder / host / "data", shared=True)
        ...                for host in ("a", "b"))
        >>> model = DummyRegressor().fit([[0], [1]], [0.0, 1.0])
        >>> record = here.register(model, model, task="regression", schema={"features": []}, metrics={},
        ...     baseline_metrics={}, fingerprint="f", source="build")
        >>> [path.name for path in there.fetch(record)], there.fetch(record)
        (['v1-baseline.skops', 'v1.skops'], [])

        A file added to the version later (:meth:`attach`) is fetched too:

        >>> (folder / "a" / "data").mkdir()
        >>> (folder / "a" / "data" / record.out_of_fold_data).write_bytes(b"outputs")
        7
        >>> here.attach(record, folder / "a" / "data" / record.out_of_fold_data)
        >>> [path.read_bytes() for path in there.fetch(record)]
        [b'outputs']
        >>> store.close()
        """
        missing = []
        for file in self._stored(record.version):
            if file.kind in kinds and (path := self._path(file)) is not None and not path.is_file():
                missing.append((file, path))
        return [fetch(self.store.engine, file, path) for file, path in missing]

    def _stored(self, version: str) -> list[StoredFile]:
        with self.store.engine.connect() as conn:
            return files_of(conn, version)

    def _path(self, file: StoredFile) -> Path | None:
        """Where ``file`` lives on this host (None: a dataset where this registry keeps none)."""
        if file.kind is FileKind.ARTIFACT:
            return self._confined(file.name)
        return None if self.datasets is None else self._confined(file.name, self.datasets)

    def _local_files(self, record: ModelVersion) -> list[tuple[StoredFile, Path]]:
        """The files of ``record`` on this host: its two artifacts and, when kept, its data."""
        files = [(StoredFile.of(self._confined(record.artifact), FileKind.ARTIFACT, record.sha256),
                  self._confined(record.artifact)),
                 (StoredFile.of(self._confined(record.baseline_artifact), FileKind.ARTIFACT, record.baseline_sha256),
                  self._confined(record.baseline_artifact))]
        for name in dict.fromkeys(n for n in (record.train_data, record.test_data, record.out_of_fold_data) if n):
            path = None if self.datasets is None else self._confined(name, self.datasets)
            if path is not None and path.is_file():
                files.append((StoredFile.of(path, FileKind.DATASET), path))
        return files

    def attach(self, record: ModelVersion, path: Path) -> None:
        """Add ``path``, a file in the data folder, to ``record``'s files: stored so every
        host can fetch it with the version's others (:meth:`fetch`); a no-op on a
        registry that does not share files (:meth:`fetch`'s example shows both).
        """
        if not self.shared or self.datasets is None:
            return
        path = self._confined(Path(path).name, self.datasets)
        self.share(record)  # a version whose files were never stored: the others too (share's rule)
        with self.store.engine.begin() as conn:
            save_files(conn, record.version, [(StoredFile.of(path, FileKind.DATASET), path)])

    def share(self, record: ModelVersion) -> None:
        """Store the files of a version registered before the store kept them, so every
        host can fetch them (:meth:`load` does it on a shared registry: the first host that
        loads the version with its files at hand). A no-op when they are stored."""
        if self._stored(record.version):
            return
        with self.store.engine.begin() as conn:
            save_files(conn, record.version, self._local_files(record))

    def _confined(self, name: str, folder: Path | None = None) -> Path:
        """A file's path, refused unless it resolves inside ``folder`` (the artifacts folder)."""
        root = (self.artifacts if folder is None else folder).resolve()
        path = root if "\x00" in name else (root / name).resolve()
        if not path.is_relative_to(root) or path == root:
            what = "artifacts" if folder is None else "data"
            raise ArtifactError(f"artifact name {name!r} points outside the {what} folder {root}; refused")
        return path

    def _load(self, path: Path, expected: str, trust: bool) -> Any:
        if not path.is_file():
            raise ArtifactError(f"artifact {path} is missing; the registry cannot serve this version (the store "
                                "holds no copy of it either): copy the file from the host that built it")
        size = path.stat().st_size
        if size > self.max_artifact_bytes:
            raise ArtifactError(f"artifact {path.name} is {size} bytes, over the cap of {self.max_artifact_bytes}; "
                                "refused without reading it")
        data = path.read_bytes()
        actual = hashlib.sha256(data).hexdigest()
        if actual != expected:
            raise ArtifactError(
                f"artifact {path.name} fails its integrity check (sha256 {actual[:12]}..., "
                f"expected {expected[:12]}...): the file was changed or corrupted. Restore it "
                "from a backup or register the model again"
            )
        return load_model_bytes(data, path.name, trust, max_unpacked_bytes=self.max_unpacked_bytes)

