"""A project: ``leanloop.toml`` plus its workspace, and the loop's verbs on it.

The CLI and the server are thin shells over this object; a notebook can use it
directly::

    project = Project.init("loans.csv", target="repaid", root="loans")
    project.build()
    project.cycle()
"""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from leanloop.build.split import check_splittable
from leanloop.config import CONFIG_FILE, DataConfig, KpiConfig, KpiOutcome, ProjectConfig, ProjectPaths, render_config
from leanloop.config.engine import EngineConfig, EngineKind
from leanloop.config.enums import Task
from leanloop.data import read_table, require_columns
from leanloop.errors import DataError, InputError, NotFoundError, ProjectError
from leanloop.frames import FrameList
from leanloop.row_keys import RowId, RowKeys, file_key, infer_id_type
from leanloop.schema import infer_schema
from leanloop.strays import StrayColumn, coerce_strays, find_strays, strays_error
from leanloop.target import check_label, csv_labels, infer_task, normalize_target
from leanloop.workspace import Workspace

# The verbs' collaborators (build, batch, serve, learn, the loop, MLflow) are imported in
# the methods that use them, so a verb loads only its own: `leanloop measure` imports no
# training, batch-scoring, serving or MLflow module.
if TYPE_CHECKING:
    from collections.abc import Callable, Iterable

    import pandas as pd

    from leanloop.archive.archiving import Archived
    from leanloop.batch import BatchOptions, BatchResult
    from leanloop.learn.ledger import Cycle, LedgerEvent
    from leanloop.learn.shadow import ShadowReport
    from leanloop.learn.testset import TestsetRow
    from leanloop.measure.hard_cases import Reason
    from leanloop.measure.measurement import Measurement
    from leanloop.registry import ModelVersion, Registry
    from leanloop.store import SQLStore
    from leanloop.store.feedback import FeedbackCounts

__all__ = ["Project", "adopt_model", "init_config"]


def init_config(frame: pd.DataFrame, *, path: str, target: str, task: Task | None = None,
                time_column: str | None = None, id_column: str | None = None,
                source: str = "the data", coerce: bool = False) -> ProjectConfig:
    """Infer a project's config from its training frame, refusing unusable data.

    A column of numbers or date-times but for a few stray values stops it, naming them
    (:mod:`leanloop.strays`); with ``coerce`` they are read as missing values and the
    column is listed in ``[data] coerce``.

    Examples
    --------
    >>> import pandas as pd
    >>> frame = pd.DataFrame({"x": range(40), "c": ["a", "b"] * 20, "y": [0, 1] * 20})
    >>> cfg = init_config(frame, path="d.csv", target="y")
    >>> cfg.data.task.value, cfg.data.classes, cfg.schema_.names
    ('classification', [0, 1], ['x', 'c'])
    >>> init_config(frame, path="d.csv", target="churn")
    Traceback (most recent call last):
    ...
    leanloop.errors.DataError: target column 'churn' not found in the data; columns are: ['x', 'c', 'y']
    """
    require_columns(frame, [target], source, "target column")
    for column, role in ((time_column, "time column"), (id_column, "id column")):
        if column:
            require_columns(frame, [column], source, role)
    task = task or infer_task(frame[target])
    labels = normalize_target(frame[target], task)
    check_splittable(frame.assign(**{target: labels}), target, task.value)
    excluded = [c for c in (target, time_column, id_column) if c]
    strays = find_strays(frame, exclude=excluded, time_column=time_column)
    if strays and not coerce:
        raise DataError(strays_error(strays, source))
    coerced = [s.column for s in strays]
    schema = infer_schema(coerce_strays(frame, coerced, time_column), exclude=excluded)
    classes = None
    kpi = KpiConfig()
    if task is Task.CLASSIFICATION:
        classes = sorted(labels.unique().tolist())
        kpi = KpiConfig(outcomes=[KpiOutcome(actual=c, predicted=c, value=1.0) for c in classes])
    data = DataConfig(path=path, target=target, task=task, time_column=time_column, id_column=id_column,
                      id_type=infer_id_type(frame[id_column]) if id_column else None, classes=classes,
                      coerce=coerced)
    return ProjectConfig(data=data, schema_=schema, kpi=kpi)


class Project:
    """An initialised project folder: the verbs users call, over its :class:`Workspace`
    (config, paths, store, registry), whose store opens lazily and closes on exit."""

    def __init__(self, root: str | Path = ".") -> None:
        self.workspace = Workspace.open(root)
        #: the columns whose stray values ``init(coerce=True)`` read as missing (none when opened)
        self.coerced: list[StrayColumn] = []

    @classmethod
    def open(cls, root: str | Path = ".") -> Project:
        """The project whose ``leanloop.toml`` is in ``root`` (for a notebook: ``Project.open("loans")``)."""
        return cls(root)

    @classmethod
    def init(cls, data: str | Path, *, target: str, task: Task | None = None,
             time_column: str | None = None, id_column: str | None = None,
             root: str | Path = ".", coerce: bool = False) -> Project:
        """Create ``leanloop.toml`` and the workspace in ``root`` from a data file; a column
        of numbers or date-times but for a few stray values stops it unless ``coerce``
        (see :func:`init_config`), and the columns coerced are in ``coerced``."""
        from leanloop.serve.security import TOKEN_FILE, generate_token
        root = Path(root).resolve()
        if (root / CONFIG_FILE).exists():
            raise ProjectError(
                f"{root / CONFIG_FILE} already exists; a project lives there. Use another --dir, "
                "or delete leanloop.toml and .leanloop/ to start over"
            )
        data = Path(data).resolve()
        frame = read_table(data)
        try:
            relative = os.path.relpath(data, root)
        except ValueError:
            relative = str(data)
        config = init_config(frame, path=relative, target=target, task=task,
                             time_column=time_column, id_column=id_column, source=data.name, coerce=coerce)
        root.mkdir(parents=True, exist_ok=True)
        paths = ProjectPaths(root=root)
        paths.workspace.mkdir(exist_ok=True)
        if not (paths.workspace / TOKEN_FILE).exists():
            generate_token(paths.workspace)
        tmp = paths.config.with_suffix(".toml.tmp")
        tmp.write_text(render_config(config), encoding="utf-8")
        os.replace(tmp, paths.config)
        project = cls(root)
        project.coerced = find_strays(frame[config.data.coerce], time_column=config.data.time_column)
        return project

    # -- shared parts: the workspace's ------------------------------------------------
    @property
    def config(self) -> ProjectConfig:
        """The project's configuration (``leanloop.toml``)."""
        return self.workspace.config

    @config.setter
    def config(self, value: ProjectConfig) -> None:
        self.workspace.config = value

    @property
    def paths(self) -> ProjectPaths:
        """Where the project's files live."""
        return self.workspace.paths

    @property
    def store(self) -> SQLStore:
        """The project's store, opened on first use."""
        return self.workspace.store

    @property
    def registry(self) -> Registry:
        """Model versions and aliases."""
        return self.workspace.registry

    def close(self) -> None:
        """Close the store."""
        self.workspace.close()

    def __enter__(self) -> Project:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def data_path(self) -> Path:
        """The training table named in the config."""
        return self.workspace.data_path()

    @property
    def by_event(self) -> bool:
        """Whether windows go by event time (``[measure] time``)."""
        return self.workspace.by_event

    # -- the loop's verbs -----------------------------------------------------------
    def build(self) -> ModelVersion:
        """Split, fit the pipeline and the baseline, register ``v1`` (or the next) as champion."""
        from leanloop.build.split import split
        from leanloop.build.train import train_version
        from leanloop.integrations.mlflow_tracking import log_pending
        frame = coerce_strays(read_table(self.data_path()), self.config.data.coerce, self.config.data.time_column)
        columns = self.config.schema_.names + self.config.data.excluded
        require_columns(frame, columns, self.data_path().name)
        train, test = split(frame, target=self.config.data.target, task=self.config.data.task.value,
                            test_size=self.config.model.test_size, time_column=self.config.data.time_column,
                            seed=self.config.model.seed)
        current = self.store.get_alias("champion")
        version = train_version(self.workspace, train=train, test=test, source="build", parent=current, alias=None)
        self.registry.promote(version.version)
        log_pending(self.workspace)
        return version

    def adopt(self, model_path: str | Path, *, reference: str | Path, trust: bool = False,
              calibrate_on: str | Path | None = None, holdout: str | Path | None = None) -> ModelVersion:
        """Register a user's fitted model as champion, evaluated on the labelled ``reference``
        table, which becomes its drift reference (see :mod:`leanloop.build.adopt`);
        ``calibrate_on``: labelled rows it did not learn from, to calibrate it on;
        ``holdout``: labelled rows it did not learn from, its reference metrics are measured on."""
        from leanloop.build.adopt import load_user_model, register_adopted
        from leanloop.integrations.mlflow_tracking import log_pending
        model = load_user_model(Path(model_path), trust=trust)
        version = register_adopted(self.workspace, model, Path(reference), trust=trust, name=Path(model_path).name,
                                   calibrate_on=None if calibrate_on is None else Path(calibrate_on),
                                   holdout=None if holdout is None else Path(holdout))
        log_pending(self.workspace)
        return version

    def predict(self, frame: pd.DataFrame, *, log: bool = True, version: str | None = None) -> pd.DataFrame:
        """Score a data frame with the champion (or ``version``): ``prediction_id``,
        ``prediction`` and ``probability_<class>`` per class, indexed like ``frame``.

        The rows are judged as ``POST /predict`` judges them (a bad one raises
        :class:`~leanloop.errors.InputError` naming its position and column) and, with
        ``log``, logged as predictions (``source = "python"``) so labels can join them.
        """
        from leanloop.batch import predict_frame
        return predict_frame(self.workspace, frame, log=log, version=version)

    def predict_file(self, path: str | Path, options: BatchOptions | None = None, *,
                     progress: Callable[[int], None] | None = None, engine: EngineConfig | None = None) -> BatchResult:
        """Score a CSV or Parquet file in chunks (``leanloop predict``; see :mod:`leanloop.batch.run`),
        or a Parquet file or folder on a Dask cluster when ``engine`` (default: ``[engine]``) says
        so (:mod:`leanloop.engines.dask_batch`)."""
        from leanloop.batch import predict_file
        chosen = engine or self.workspace.config.engine
        if chosen.kind is EngineKind.DASK:
            from leanloop.engines import dask_client
            from leanloop.engines.dask_batch import predict_dask

            with dask_client(chosen) as client:
                return predict_dask(self.workspace, path, options, client=client, progress=progress)
        return predict_file(self.workspace, path, options, progress=progress)

    def feedback(self, items: Iterable[tuple[Any, Any]], *, source: str = "python",
                 by_id: bool = False) -> FeedbackCounts:
        """Record ground-truth labels by prediction id (``by_id``: by the project's id
        column, or per item with a :class:`~leanloop.row_keys.RowId` key); all or nothing.

        Every label is checked against the target first: one of the wrong type raises
        :class:`~leanloop.errors.InputError` naming its row, and nothing is written.
        Duplicates change nothing, a conflicting label replaces the one in force (kept
        in the history), and a label for an id not logged yet is parked until its
        prediction arrives (see :mod:`leanloop.store.feedback`; by id, the newest
        prediction with the id wins: :mod:`leanloop.store.parked`).
        """
        keys = RowKeys.of(self.config.data)
        task, classes = self.config.data.task, self.config.data.classes
        seen: dict[tuple[type, Any] | None, Any] = {}  # labels repeat: check each distinct one once
        checked = []
        for row, (pid, label) in enumerate(items):
            key = (type(label), label) if isinstance(label, (bool, int, float, str)) else None
            if key is None or key not in seen:
                seen[key] = check_label(label, task, classes, row)
            checked.append((RowId(keys.id_text(pid, row)) if by_id else pid if isinstance(pid, str) else str(pid),
                            seen[key]))
        return self.store.add_feedback(checked, received_at=time.time(), source=source)

    def feedback_file(self, path: str | Path, *, id_column: str | None = None, label_column: str,
                      row_id_column: str | None = None) -> FeedbackCounts:
        """Labels from a CSV or Parquet file; a bad row is named and nothing is recorded.

        ``id_column`` holds prediction ids; ``row_id_column`` the project's own ids
        (joined by :mod:`leanloop.store.parked`'s rule); neither: ``prediction_id`` if the
        file has it, else the project's id column."""
        name = Path(path).name
        frame = read_table(path, text_columns=[c for c in (id_column, row_id_column, self.config.data.id_column) if c])
        if id_column is None and row_id_column is None:
            key = file_key(frame, self.config.data.id_column, name)
            id_column, row_id_column = (key, None) if key == "prediction_id" else (None, key)
        id_column = row_id_column or id_column or "prediction_id"
        require_columns(frame, [id_column, label_column], name)
        if frame[id_column].isna().any():
            row = int(frame[id_column].isna().to_numpy().nonzero()[0][0])
            raise DataError(f"{name}: id column {id_column!r} is empty at row {row}")
        labels = frame[label_column].tolist()
        if Path(path).suffix.lower() == ".csv":
            labels = csv_labels(labels)
        if row_id_column:
            keys: list[str] = RowKeys.of(self.config.data).file_ids(frame[id_column].tolist(), source=name)
        else:
            keys = frame[id_column].astype(str).tolist()
        items = zip(keys, labels, strict=True)
        try:
            return self.feedback(items, source=f"file:{name}")
        except InputError as exc:
            raise InputError(f"{name}: {exc} (column {label_column!r}; rows count from 0 after the header)") from exc

    def measure(self, *, last: int | None = None, since: float | None = None, chunks: int = 0,
                period: str | None = None, save: bool = True, window: pd.DataFrame | None = None,
                loaded: tuple[Any, Any] | None = None, until: float | None = None,
                engine: EngineConfig | None = None) -> Measurement:
        """Measure a window of production against the champion's reference data
        (``window`` and ``loaded``: see :func:`~leanloop.measure.measurement.measure_window`),
        on ``engine`` (default ``[engine]``; :mod:`leanloop.engines.dask_window`)."""
        from leanloop.engines.dask_window import window_engine
        from leanloop.measure.measurement import measure_window
        with window_engine(self.workspace, engine) as columns:
            result = measure_window(self.workspace, last=last, since=since, chunks=chunks, period=period,
                                    window=window, loaded=loaded, until=until, columns=columns)
        if save:  # as leanloop.loop.save_measurement does, without importing the loop's modules
            self.store.add_measurement(result.to_json(), at=time.time())
        return result

    def cycle(self, *, last: int | None = None, since: float | None = None, act: bool = True,
              on_wait: Callable[[], None] | None = None, engine: EngineConfig | None = None) -> Cycle:
        """One turn of the loop: measure (on ``engine``, default ``[engine]``), decide, and act
        on the decision. Waits while another cycle runs (``on_wait`` is called first, to say so)."""
        from leanloop.loop import run_cycle
        return run_cycle(self.workspace, last=last, since=since, act=act, on_wait=on_wait, engine=engine)

    def learn(self, *, act: bool = True) -> Cycle:
        """Decide on the latest stored measurement (and act on it), without measuring again."""
        from leanloop.loop import run_cycle
        from leanloop.measure.measurement import Measurement
        body = self.store.latest_measurement()
        if body is None:
            raise NotFoundError("no measurement yet; run 'leanloop measure' first (or 'leanloop cycle')")
        return run_cycle(self.workspace, act=act, measurement=Measurement.model_validate(body))

    def explain(self, cycle_id: int) -> Cycle | LedgerEvent:
        """The ledger entry ``cycle_id``: a cycle (its decision's rules, its gate) or a
        manual promotion or rollback."""
        from leanloop.learn import ledger
        return ledger.entry(self.store, cycle_id)

    def promote(self, version: str, *, reason: str = "manual") -> LedgerEvent:
        """Make ``version`` the champion and write it to the ledger."""
        from leanloop.learn import promotion
        return promotion.promote(self.workspace, version, reason=reason)

    def rollback(self, *, reason: str = "manual") -> LedgerEvent:
        """Make the previous champion the champion again and write it to the ledger."""
        from leanloop.learn import promotion
        return promotion.rollback(self.workspace, reason=reason)

    def shadow(self, version: str, *, reason: str = "manual") -> LedgerEvent:
        """Put ``version`` in shadow mode (scored on live traffic, never returned) and log it."""
        from leanloop.learn import promotion
        return promotion.start_shadow(self.workspace, version, reason=reason)

    def stop_shadow(self, *, reason: str = "manual") -> LedgerEvent:
        """End shadow mode and log it."""
        from leanloop.learn import promotion
        return promotion.stop_shadow(self.workspace, reason=reason)

    def shadow_report(self, version: str | None = None) -> ShadowReport:
        """The shadow version (default: the current one) against the champion that answered,
        on the live rows both scored."""
        from leanloop.learn.shadow import shadow_report
        return shadow_report(self.workspace, version)

    def ledger(self) -> FrameList:
        """The ledger as typed entries, oldest first (cycles that never finished left out);
        a list, and ``.to_frame()`` gives one row per entry."""
        from leanloop.learn import ledger
        return FrameList(ledger.entries(self.store), row=lambda e: ledger.entry_row(e.to_json()), title="ledger")

    def history(self) -> FrameList:
        """The ledger as JSON, oldest first: what ``leanloop history --json`` prints; a
        list, and ``.to_frame()`` gives one row per entry."""
        from leanloop.learn import ledger
        return FrameList([entry.to_json() for entry in self.ledger()], row=ledger.entry_row, title="history")

    def window(self, *, last: int | None = None, since: float | None = None, until: float | None = None,
               labelled_only: bool = False) -> pd.DataFrame:
        """Logged predictions in a window, from the store and the archive (:meth:`Workspace.window`)."""
        return self.workspace.window(last=last, since=since, until=until, labelled_only=labelled_only)

    def export(self, *, to: str | Path | None = None, since: float | None = None) -> Archived:
        """Export the log's new rows (and late labels) to the Parquet archive at ``to``
        (default ``[store] archive_dir``), then apply ``[store] retention_days``."""
        from leanloop.archive.archiving import archive_log
        return archive_log(self.workspace, to=None if to is None else Path(to), since=since, now=time.time())

    # -- the enriched test set ------------------------------------------------------
    def testset(self, *, reason: Reason | str | None = None) -> FrameList:
        """The enriched test set of hard cases, newest first (optionally one reason): a list
        of :class:`~leanloop.learn.testset.TestsetRow`, and ``.to_frame()`` flat, a feature per column."""
        from leanloop.learn import testset
        found: list[TestsetRow] = testset.rows(self.store, reason=reason)
        return FrameList(found, row=lambda r: r.frame_row(), title="enriched test set")

    def export_testset(self, path: str | Path) -> int:
        """Write the enriched test set to CSV or Parquet; returns the rows written."""
        from leanloop.learn import testset
        return testset.export(self.store, path, target=self.config.data.target)

    def prune_testset(self, *, older_than: float | None = None, reason: Reason | str | None = None,
                      keep: int | None = None) -> int:
        """Remove test-set rows older than ``older_than`` seconds and/or of ``reason``,
        keeping the newest ``keep`` of them; returns how many were removed."""
        from leanloop.learn import testset
        return testset.prune(self.store, older_than=older_than, reason=reason, keep=keep)


def adopt_model(model_path: str | Path, *, reference: str | Path, target: str, root: str | Path,
                trust: bool = False, task: Task | None = None, time_column: str | None = None,
                id_column: str | None = None, calibrate_on: str | Path | None = None,
                holdout: str | Path | None = None, coerce: bool = False) -> ModelVersion:
    """Register a user's model in the project at ``root``, created from ``reference`` if
    absent (``leanloop adopt``; ``coerce`` as :meth:`Project.init`); a project created here
    is removed again if adopting fails. ``holdout``: labelled rows the model did not learn
    from, its reference metrics are measured on (see :func:`register_adopted`)."""
    from leanloop.build.adopt import load_user_model, register_adopted, require_predict
    from leanloop.integrations.mlflow_tracking import log_pending
    model_path, reference, root = Path(model_path), Path(reference), Path(root)
    model = load_user_model(model_path, trust=trust)
    require_predict(model, model_path.name)
    created = not (root / CONFIG_FILE).exists()
    project = Project.init(reference, target=target, task=task, time_column=time_column,
                           id_column=id_column, root=root, coerce=coerce) if created else Project(root)
    try:
        if project.config.data.target != target:
            raise DataError(f"the project at {root} predicts {project.config.data.target!r}, not {target!r}")
        version = register_adopted(project.workspace, model, reference, trust=trust, name=model_path.name,
                                   calibrate_on=None if calibrate_on is None else Path(calibrate_on),
                                   holdout=None if holdout is None else Path(holdout))
    except BaseException:
        if created:  # leave no half-made project behind: the user can simply retry
            project.close()
            project.paths.config.unlink(missing_ok=True)
            shutil.rmtree(project.paths.workspace, ignore_errors=True)
        raise
    finally:
        project.close()
    try:  # the version is in: MLflow can only add to it, never undo it
        log_pending(project.workspace)
    finally:
        project.close()
    return version
