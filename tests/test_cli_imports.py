"""What a command loads: the CLI's start-up stays light, and ``measure`` loads the
measurement only (issue 17: a 10k-row window's time was mostly start-up).

Each check runs the command in a fresh interpreter and reads back the modules it had
loaded when it exited; no time is asserted.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

#: Libraries ``import leanloop.cli`` must not load: ``--help`` answers without them.
NOT_AT_START = ("numpy", "pandas", "pyarrow", "sqlalchemy", "scipy", "sklearn", "river", "skops")
#: What ``leanloop measure`` has no use for: training, serving, the loop, reports, MLflow, Dask.
NOT_IN_MEASURE = ("skops", "fastapi", "uvicorn", "jinja2", "plotly", "mlflow", "dask", "distributed",
                  "leanloop.build.train", "leanloop.build.pipeline", "leanloop.serve", "leanloop.learn",
                  "leanloop.loop", "leanloop.batch", "leanloop.report", "leanloop.engines.dask_files")

_PROBE = """
import atexit, gc, json, sys
atexit.register(lambda: print(json.dumps({"modules": sorted(sys.modules), "threshold": gc.get_threshold()})))
from leanloop.cli import main
sys.argv = ["leanloop", *sys.argv[1:]]
main()
"""


def _loaded(*args: str) -> dict[str, Any]:
    """The modules loaded and the collector's threshold at exit of ``leanloop ARGS``
    (``import leanloop.cli`` alone without args; the command's own output is dropped)."""
    code = "import json, sys; import leanloop.cli; print(json.dumps({'modules': sorted(sys.modules)}))" if not args \
        else _PROBE
    done = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


def _under(modules: list[str], names: tuple[str, ...]) -> list[str]:
    return sorted(m for m in modules if any(m == n or m.startswith(n + ".") for n in names))


def test_the_cli_starts_without_the_heavy_libraries() -> None:
    assert _under(_loaded()["modules"], NOT_AT_START) == []


@pytest.fixture(scope="module")
def logged_project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small built project with 300 logged, labelled predictions."""
    from leanloop.datasets import car_loan
    from tests.conftest import log_labelled, small_built_project

    data = car_loan()
    root = tmp_path_factory.mktemp("imports")
    rows = data.analysis.merge(data.analysis_targets, on="id").head(300)
    with small_built_project(root, data) as project:
        log_labelled(project, rows, 4)
    return root / "p"


def test_measure_loads_the_measurement_only(logged_project: Path) -> None:
    # The first window of a version scores the reference with the model (skops loads it,
    # and walks scikit-learn's modules as it does) and caches the scores; any later one:
    _loaded("measure", "--last", "300", "--json", "--dir", str(logged_project))
    found = _loaded("measure", "--last", "300", "--json", "--dir", str(logged_project))
    modules = found["modules"]
    assert "leanloop.measure.measurement" in modules and "sklearn.ensemble" in modules  # it did measure
    assert _under(modules, NOT_IN_MEASURE) == []


def test_a_command_runs_without_full_collections() -> None:
    from leanloop.cli.collector import NO_FULL_COLLECTION

    probe = ("import gc, sys; from leanloop.cli.collector import one_shot\n"
             "def grow():\n    n = gc.get_stats()[2]['collections']; kept = [dict(a=[i]) for i in range(1_000_000)]\n"
             "    return gc.get_stats()[2]['collections'] - n\n"
             "print(grow())\n"
             "with one_shot():\n    print(grow(), gc.get_threshold()[2])\n"
             "print(*gc.get_threshold())")
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    default, within, after = done.stdout.splitlines()
    assert int(default) > 0  # a million long-lived objects: the interpreter would collect them all
    assert within.split() == ["0", str(NO_FULL_COLLECTION)]
    assert after.split() == ["700", "10", "10"]  # the settings in force before, back
    # The CLI's entry point runs its command so.
    assert _loaded("--version")["threshold"] == [700, 10, 10]
