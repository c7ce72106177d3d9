"""The app factory for several worker processes.

``uvicorn`` starts each worker by importing an app factory by name, so the project
folder travels in the environment (``LEANLOOP_PROJECT``) rather than in a Python
argument. Each worker opens the project, builds its own app and model holder; all
share the store, so every worker switches to a new champion by itself, and each
request is answered (and logged) by exactly one version.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from fastapi import FastAPI

__all__ = ["PROJECT_ENV", "LOOP_ENV", "app_from_environment"]

PROJECT_ENV = "LEANLOOP_PROJECT"
#: ``"1"``: each worker runs the unattended loop (``leanloop serve`` without ``--no-loop``).
LOOP_ENV = "LEANLOOP_RUN_LOOP"


def app_from_environment() -> FastAPI:
    """Build the app for the project folder named by ``LEANLOOP_PROJECT``."""
    from leanloop.errors import ProjectError
    from leanloop.project import Project
    from leanloop.serve.app import create_app

    root = os.environ.get(PROJECT_ENV)
    if not root:
        raise ProjectError(f"{PROJECT_ENV} is not set; start the server with 'leanloop serve --dir PATH'")
    return create_app(Project(root), own_process=True, run_loop=os.environ.get(LOOP_ENV) == "1")
