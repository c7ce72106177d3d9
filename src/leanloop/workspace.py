"""A project's workspace: its config, its paths, its store and its registry.

This is what the layers below the façade receive (``build/``, ``measure/``,
``learn/``, ``loop.py``): everything they read about a project, and nothing of the
verbs users call on :class:`~leanloop.project.Project`, which sits on top and holds
one. Pure computations take less still: only the config section they read.

Examples
--------
>>> import tempfile
>>> from pathlib import Path
>>> from leanloop.config import DataConfig, ProjectConfig
>>> from leanloop.schema import Feature, Schema
>>> root = Path(tempfile.mkdtemp())
>>> config = ProjectConfig(data=DataConfig(path="d.csv", target="y", task="regression"),
...                        schema=Schema(features=[Feature(name="x", kind="numeric")]))
>>> with Workspace(config, root) as ws:
...     ws.store.get_alias("champion") is None, ws.paths.workspace.name
(True, '.leanloop')
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from leanloop.archive.read import read_log
from leanloop.config import ProjectConfig, ProjectPaths, TimeBasis, load_config
from leanloop.registry import Registry
from leanloop.store import SQLStore
from leanloop.store.features import feature_types

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["Workspace"]


class Workspace:
    """Config, paths, store and registry of one project; the store opens on first use
    and :meth:`close` (or leaving a ``with`` block) closes it."""

    def __init__(self, config: ProjectConfig, root: str | Path) -> None:
        self.config = config
        self.paths = ProjectPaths(root=Path(root).resolve())
        self._store: SQLStore | None = None

    @classmethod
    def open(cls, root: str | Path = ".") -> Workspace:
        """The workspace of the project whose ``leanloop.toml`` is in ``root``."""
        root = Path(root).resolve()
        return cls(load_config(root), root)

    @property
    def store(self) -> SQLStore:
        """The project's store, opened on first use."""
        if self._store is None:
            self.paths.workspace.mkdir(exist_ok=True)
            self._store = SQLStore(self.paths.store_url(self.config.store),
                                   sqlite_synchronous=self.config.store.sqlite_synchronous)
        return self._store

    @property
    def registry(self) -> Registry:
        """Model versions and aliases, over the store."""
        return Registry(self.store, self.paths.artifacts, datasets=self.paths.datasets)

    def window(self, *, last: int | None = None, since: float | None = None, until: float | None = None,
               labelled_only: bool = False, proba_columns: bool = False) -> pd.DataFrame:
        """Logged predictions in a window, as :meth:`SQLStore.window` reads them with
        the features as typed columns (read them with
        :func:`leanloop.store.features.feature_frame`) and, with ``proba_columns``, the
        probabilities as a float column per ``[data] classes`` class
        (:func:`leanloop.store.predictions.probability_columns`), reaching into the Parquet archive
        for rows retention deleted from the store (:func:`leanloop.archive.read.read_log`),
        by the project's time basis (:attr:`by_event`)."""
        return read_log(self.store, self.paths.archive(self.config.store), last=last, since=since, until=until,
                        labelled_only=labelled_only, feature_types=feature_types(self.config.schema_),
                        by_event=self.by_event, classes=self.config.data.classes if proba_columns else None)

    def data_path(self) -> Path:
        """The training table named in the config."""
        return (self.paths.root / self.config.data.path).resolve()

    @property
    def by_event(self) -> bool:
        """Whether windows go by event time: ``[measure] time``, by default event when
        ``[data] time_column`` is set."""
        basis = self.config.measure.time
        if basis is None:
            return self.config.data.time_column is not None
        return basis is TimeBasis.EVENT

    def close(self) -> None:
        """Close the store (it reopens on next use)."""
        if self._store is not None:
            self._store.close()
            self._store = None

    def __enter__(self) -> Workspace:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()
