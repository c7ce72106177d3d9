"""Shared fixtures: real things, built small."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from hypothesis import settings

from leanloop.datasets import CarLoan, car_loan

# Property tests judge behaviour, not speed: a deadline only fails them on a loaded machine
# (two pytest workers beside servers and PostgreSQL), so none applies.
settings.register_profile("leanloop", deadline=None)
settings.load_profile("leanloop")


# --- how `make test` spreads the suite over its two workers (`-n 2 --dist loadfile`) ---

#: The longest files first (seconds from `pytest --durations=0` on two workers, December
#: 2026; roughly longest at the top, the order the README's figure was measured with): a
#: worker that picks one of them near the end of the run would leave the other idle for a
#: minute. A file missing here (renamed, new) only loses its place in the queue.
LONGEST_FIRST = (
    "tests/serve/test_faults.py",  # ~100 s
    "tests/report",  # ~65 s: one unit, the package's project is built once
    "tests/test_unattended.py",  # ~70 s
    "tests/test_scenarios.py",  # ~65 s
    "tests/test_scenario.py",  # ~60 s
    "tests/engines/test_dask_window.py",  # ~40 s
    "tests/serve/test_shadow.py",  # ~20 s
    "tests/engines/test_dask.py",
    "tests/learn/test_shadow_trial.py",
    "tests/serve/test_hosts.py",  # ~25 s
    "tests/test_e2e.py",
    "tests/test_loop.py",
    "tests/engines/test_dask_predict.py",
    "tests/engines/test_ranges.py",
    "tests/serve/test_switch.py",
    "tests/serve/test_shadow_counts.py",
)
#: Folders whose tests share a package-scoped fixture worth building once: one unit each.
ONE_UNIT = ("tests/report",)


def work_unit(nodeid: str) -> str:
    """The test's unit of work on the xdist workers: its file, or its folder when that
    is in :data:`ONE_UNIT`.

    >>> work_unit("tests/report/test_browser.py::test_x[phone]"), work_unit("tests/test_e2e.py::test_y")
    ('tests/report', 'tests/test_e2e.py')
    """
    path = nodeid.split("::", 1)[0]
    return next((folder for folder in ONE_UNIT if path.startswith(folder + "/")), path)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Queue the units of work longest first (:data:`LONGEST_FIRST`; the rest keep the
    collection order). The sort is stable, so each file's tests stay together, in order."""
    rank = {unit: i for i, unit in enumerate(LONGEST_FIRST)}
    items.sort(key=lambda item: rank.get(work_unit(item.nodeid), len(rank)))


def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    """``--dist loadfile`` with :func:`work_unit` as the unit: a whole file (or folder) to
    one worker, so its module- and package-scoped fixtures (trained projects, scenario
    replays, servers) are made once, and units handed out in the collection's order, the
    longest first (with ``--no-loadscope-reorder``). Under xdist's default ``load`` a file
    can be split between the workers, each making the same fixtures. (xdist's own
    ``loadgroup`` cannot group here: it renames test ids, which pytest 9 no longer allows.)"""
    if config.getvalue("dist") != "loadfile":
        return None
    from xdist.scheduler import LoadScopeScheduling

    class ByWorkUnit(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            return work_unit(nodeid)

    return ByWorkUnit(config, log)


@pytest.fixture(scope="session")
def car_loan_data() -> CarLoan:
    """The bundled car-loan data (loaded once per session)."""
    return car_loan()


@pytest.fixture(scope="session")
def zygote() -> Iterator[Any]:
    """Forks ``leanloop serve`` processes with the libraries already imported: a server
    start costs a fork instead of seconds of imports (:mod:`tests.serve.zygote`). For
    tests that need a real server process but do not time its start."""
    from tests.serve.faults import Zygote

    forker = Zygote()
    yield forker
    forker.close()


@pytest.fixture(scope="session")
def forked_server(zygote: Any) -> Any:
    """A server starter for :func:`leanloop.demo.run_demo` and the scenario bench's
    ``replay`` (their ``server``): ``leanloop serve`` for a project folder forked from
    ``zygote`` instead of a fresh interpreter. The server is the same code serving over
    the same loopback HTTP; only its start is a fork instead of seconds of imports.
    :func:`leanloop.demo.running_server` itself is run by ``tests/test_e2e.py`` and
    ``tests/serve/test_switch.py``."""

    def forked(root: Path, port: int) -> AbstractContextManager[str]:
        return zygote.serving(Path(root))  # on a free port of its own

    return forked


@pytest.fixture
def car_loan_csv(tmp_path: Path, car_loan_data: CarLoan) -> Path:
    """A 6,000-row sample of the car-loan reference period as CSV."""
    path = tmp_path / "loans.csv"
    car_loan_data.reference.head(6000).to_csv(path, index=False)
    return path


def small_built_project(root: Path, car_loan_data: CarLoan) -> Any:
    """A project built in ``root`` on the first 2,000 reference rows with a 10-iteration
    model (callers close it)."""
    from leanloop.config import render_config
    from leanloop.project import Project

    data = root / "loans.csv"
    car_loan_data.reference.head(2000).to_csv(data, index=False)
    created = Project.init(data, target="repaid", time_column="timestamp", id_column="id", root=root / "p")
    config = created.config.model_copy(update={"model": created.config.model.model_copy(update={"max_iter": 10})})
    created.paths.config.write_text(render_config(config), encoding="utf-8")
    created.close()
    built = Project(root / "p")
    built.build()
    return built


def log_labelled(project: Any, rows: pd.DataFrame, id_digits: int) -> None:
    """Score ``rows`` (car-loan rows with ``repaid``) with ``project``'s champion, log them
    as predictions ``p0000``... (``id_digits`` digits) one second apart, and label them."""
    from leanloop.scoring import model_input, score, to_python

    ws = project.workspace
    schema, champion = ws.config.schema_, ws.registry.champion()
    model, _ = ws.registry.load(champion.version)
    features = schema.coerce(rows[schema.names], "test rows")
    scored = score(model, model_input(schema, features, champion.input_format, "test"), "classification")
    records = [{name: to_python(value) for name, value in row.items()}
               for row in features.astype(object).where(features.notna(), None).to_dict("records")]
    ws.store.log_predictions([
        {"prediction_id": f"p{i:0{id_digits}d}", "created_at": 1_700_000_000.0 + i, "model_version": champion.version,
         "features": records[i], "prediction": to_python(scored.labels[i]), "probabilities": probabilities}
        for i, probabilities in enumerate(scored.probability_dicts())])
    ws.store.add_feedback([(f"p{i:0{id_digits}d}", int(y)) for i, y in enumerate(rows["repaid"])],
                          received_at=1_700_100_000.0)


@pytest.fixture
def analysis_with_truth(car_loan_data: CarLoan) -> pd.DataFrame:
    """The analysis period in time order, with its delivered targets joined."""
    frame = car_loan_data.analysis.merge(car_loan_data.analysis_targets, on="id")
    return frame.sort_values("timestamp", kind="stable").reset_index(drop=True)


# --- PostgreSQL: a real server from Debian's binaries, started by pytest-postgresql ---


def _pg_ctl() -> str | None:
    """The newest pg_ctl on the machine: on PATH, else Debian's versioned folders."""
    import glob
    import shutil

    found = shutil.which("pg_ctl")
    if found:
        return found
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"),
                        key=lambda p: int(Path(p).parts[-3]) if Path(p).parts[-3].isdigit() else 0)
    return candidates[-1] if candidates else None


@pytest.fixture(scope="session")
def postgresql_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """A PostgreSQL server for the session (pytest-postgresql's executor over pg_ctl).

    PostgreSQL refuses to run as root, and CI runs as root: then pg_ctl runs as the
    ``postgres`` user (created by Debian's package) through a small wrapper, in a
    folder outside pytest's root-only temp tree that this fixture hands to that user.
    """
    import os
    import pwd
    import shutil
    import tempfile

    from pytest_postgresql.executors import PostgreSQLExecutor

    from leanloop.demo import free_port

    pg_ctl = _pg_ctl()
    if pg_ctl is None:
        if os.environ.get("CI"):
            pytest.fail("pg_ctl not found; .ci/run installs Debian's 'postgresql' package")
        pytest.skip("PostgreSQL is not installed (apt-get install postgresql); postgres tests skipped")
    folder = Path(tempfile.mkdtemp(prefix="leanloop-pg-"))
    executable = pg_ctl
    if os.geteuid() == 0:
        owner = pwd.getpwnam("postgres")
        os.chown(folder, owner.pw_uid, owner.pw_gid)
        wrapper = folder / "pg_ctl"
        wrapper.write_text(f'#!/bin/sh\ncd "{folder}" && exec runuser -u postgres -- "{pg_ctl}" "$@"\n')
        wrapper.chmod(0o755)
        executable = str(wrapper)
    executor = PostgreSQLExecutor(
        executable=executable, host="127.0.0.1", port=free_port(), datadir=str(folder / "data"),
        unixsocketdir=str(folder), logfile=str(folder / "postgresql.log"), startparams="-w",
        dbname="leanloop", user="postgres", postgres_options="-c fsync=on -c synchronous_commit=on",
    )
    try:
        executor.start()
        yield executor
    finally:
        try:
            executor.stop()
        finally:
            shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture
def postgresql_url(postgresql_server: Any, request: pytest.FixtureRequest) -> Iterator[str]:
    """A fresh, empty database on the session's server, dropped after the test."""
    import itertools

    from pytest_postgresql.janitor import DatabaseJanitor

    counter = request.config.__dict__.setdefault("_leanloop_pg_counter", itertools.count())
    name = f"test_{next(counter)}"
    janitor = DatabaseJanitor(user="postgres", host=postgresql_server.host, port=postgresql_server.port,
                              dbname=name)
    janitor.init()
    try:
        yield f"postgresql+psycopg://postgres@{postgresql_server.host}:{postgresql_server.port}/{name}"
    finally:
        janitor.drop()
