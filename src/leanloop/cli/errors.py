"""The one handler that turns any failure of a command into one paragraph on stderr
and an exit code: the error tree's own code for a :class:`LeanloopError`, 2 for
everything else (memory, files, and bugs alike), and never a traceback.

Examples
--------
>>> failure(MemoryError("Unable to allocate 35.5 PiB for an array"))[1]
2
>>> print(failure(FileNotFoundError(2, "No such file or directory", "/nowhere/t.csv"))[0])
/nowhere/t.csv: No such file or directory; check that the folder exists and that you may read and write there
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

import click
import typer
from rich.console import Console
from rich.markup import escape

from leanloop.errors import LeanloopError

__all__ = ["failure", "handles_errors"]

F = TypeVar("F", bound=Callable[..., Any])

#: The settings whose size decides how much memory a command takes.
_MEMORY_SETTINGS = ("[measure] window_rows and reference_max_rows", "[performance] bootstrap_resamples",
                    "[gate] resamples", "[segments] max_rows", "[retrain] max_rows")


def failure(exc: BaseException) -> tuple[str, int]:
    """The paragraph and exit code for ``exc`` leaving a command."""
    if isinstance(exc, LeanloopError):
        return str(exc), exc.exit_code
    if isinstance(exc, MemoryError):
        return (f"out of memory ({exc or 'no detail'}): the data or a setting asks for more than this machine has; "
                f"lower the sizes in leanloop.toml ({', '.join(_MEMORY_SETTINGS)}) or measure fewer rows "
                "(--last N)"), 2
    if isinstance(exc, OSError):
        where = exc.filename if exc.filename is not None else "a file"
        reason = exc.strerror or str(exc) or type(exc).__name__
        return f"{where}: {reason}; check that the folder exists and that you may read and write there", 2
    return (f"unexpected {type(exc).__name__}: {exc}; this is a bug in leanloop, please report it with the "
            "command you ran"), 2


class _Notes(logging.Handler):
    """Notes the library logs for the user (a config migrated) as one line on stderr."""

    def emit(self, record: logging.LogRecord) -> None:
        Console(stderr=True).print(f"note: {escape(record.getMessage())}", highlight=False, soft_wrap=True)


def handles_errors(func: F) -> F:
    """Run a command; any failure becomes one paragraph on stderr and its exit code,
    and the config loader's notes (keys moved by the migration) are printed on stderr."""

    @wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        notes, handler = logging.getLogger("leanloop.config"), _Notes(logging.WARNING)
        notes.addHandler(handler)
        try:
            return func(*args, **kwargs)
        except (typer.Exit, click.exceptions.Exit, click.ClickException, click.exceptions.Abort):
            raise  # click's own exits and usage errors already speak for themselves
        except Exception as exc:  # the one place every failure is turned into a paragraph
            message, code = failure(exc)
            # Escaped: messages name config sections like "[gate]", which are not markup.
            Console(stderr=True).print(f"[bold red]error:[/] {escape(message)}", highlight=False, soft_wrap=True)
            raise typer.Exit(code=code) from exc
        finally:
            notes.removeHandler(handler)

    return wrapper  # type: ignore[return-value]
