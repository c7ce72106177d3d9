"""Commands of the running service: ``serve`` and its bearer ``token``."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from leanloop.cli._shared import DirOption, _fail, _open
from leanloop.cli.errors import handles_errors

__all__ = ["serve", "token"]


@handles_errors
def serve(
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535, help="TCP port.")] = 8000,
    quiet: Annotated[bool, typer.Option("--quiet", help="No access log lines (errors are still logged).")] = False,
    workers: Annotated[int, typer.Option(min=1, max=64, help="Worker processes (each switches models by itself).")] = 1,
    no_loop: Annotated[bool, typer.Option("--no-loop", help="Do not run cycles on the \\[loop] schedule.")] = False,
    directory: DirOption = Path("."),
) -> None:
    """Serve predictions over HTTP (POST /predict, POST /feedback, GET /predictions/ID, GET /metrics, ...).

    Logs one JSON line per request to stderr (leanloop.access) and errors with their id.
    Runs a cycle on the \\[loop] schedule (by default after every \\[measure] window_rows new
    predictions) in a low-priority process of its own, unless --no-loop.
    """
    import os

    from leanloop.cli.collector import long_running

    long_running()  # a server runs for days: full collections, as the interpreter runs them
    # One OpenMP thread per server process, set before scikit-learn loads OpenMP (which
    # reads it once): concurrency comes from micro-batching, and OpenMP threads
    # spin-waiting between model calls took the cores the event loop and the logger need
    # (a lone request cost 1.5x the CPU). An explicit OMP_NUM_THREADS is respected.
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    import uvicorn

    from leanloop.serve import create_app
    from leanloop.serve.factory import LOOP_ENV, PROJECT_ENV
    from leanloop.serve.lifecycle import exit_zero_after_sigterm
    from leanloop.serve.metrics import configure_logging
    from leanloop.serve.protocol import uvicorn_http

    project = _open(directory)
    project.registry.champion()
    configure_logging(quiet=quiet)
    exit_zero_after_sigterm()
    http = uvicorn_http(project.config.serve.read_timeout_s)
    if workers == 1:
        uvicorn.run(create_app(project, own_process=True, run_loop=not no_loop), host=host, port=port,
                    log_level="warning", http=http)
        return
    project.close()
    os.environ[PROJECT_ENV] = str(Path(directory).resolve())
    os.environ[LOOP_ENV] = "0" if no_loop else "1"
    uvicorn.run("leanloop.serve.factory:app_from_environment", factory=True, workers=workers,
                host=host, port=port, log_level="warning", http=http)


@handles_errors
def token(
    new: Annotated[bool, typer.Option(
        "--new", help="Make a new random token (replacing the old one; restart the server).")] = False,
    directory: DirOption = Path("."),
) -> None:
    """Print the project's bearer token (write endpoints need it: Authorization: Bearer TOKEN)."""
    from leanloop.serve.security import TOKEN_ENV, generate_token, resolve_token

    project = _open(directory)
    workspace = project.paths.workspace
    value = generate_token(workspace, replace=True) if new else resolve_token(workspace)
    if value is None:
        _fail(f"this project has no token; run 'leanloop token --new --dir {directory}' to make one "
              f"(or set {TOKEN_ENV})")
    sys.stdout.write(value + "\n")
