"""The ``leanloop`` command: a thin shell over :class:`leanloop.project.Project`.

Each command parses its options, calls one library function and prints a table (or
JSON with ``--json``). Every failure goes to stderr as one paragraph with exit code 2
(:mod:`leanloop.cli.errors`, the one handler), never a traceback. Heavy libraries are
imported inside the commands so ``--help`` is instant.

Modules by concern: ``_shared`` (the app, common options), ``errors`` (the handler),
``render`` (tables), and the commands: ``build`` (init, build, adopt), ``serve``
(serve, token), ``measure`` (feedback, measure, drift), ``learn`` (learn, cycle,
history), ``loop``, ``predict`` (batch scoring), ``testset``, ``ledger`` (explain, promote, rollback,
shadow), ``models``, ``report``, ``archive`` (export), ``demo`` and ``tracking`` (mlflow).
They are registered here, in the order ``--help`` lists them.
"""

from __future__ import annotations

from leanloop.cli import archive, build, demo, learn, ledger, loop, measure, models, predict, report, serve, tracking
from leanloop.cli._shared import app
from leanloop.cli.collector import one_shot
from leanloop.cli.errors import handles_errors
from leanloop.cli.render import _monitor_lines
from leanloop.cli.testset import _REASONS, testset_app

__all__ = ["app", "main", "handles_errors", "testset_app", "_REASONS", "_monitor_lines"]

for _command in (build.init, build.build, build.adopt, serve.serve, serve.token, predict.predict, measure.feedback,
                 measure.measure,
                 measure.drift, learn.learn, learn.cycle, loop.loop, learn.history, ledger.explain, ledger.promote,
                 ledger.rollback, ledger.shadow, models.models, report.report, archive.export, demo.demo,
                 tracking.mlflow):
    app.command()(_command)
app.add_typer(testset_app, name="testset")


def main() -> None:
    """Console-script entry point: one command, with the collector set for a process that
    runs once (:mod:`leanloop.cli.collector`)."""
    with one_shot():
        app()
