"""One error tree for the whole library.

Every error knows the HTTP status the server answers with and the exit code the
CLI returns, so each shell maps errors with a single handler.

Examples
--------
>>> err = InputError("feature 'age' must be a number, got 'forty' (row 3)")
>>> err.http_status, err.exit_code
(422, 2)
"""

from __future__ import annotations

__all__ = [
    "LeanloopError",
    "InputError",
    "DataError",
    "ProjectError",
    "NotFoundError",
    "ArtifactError",
    "NotFittedError",
    "StoreError",
    "StorageFullError",
    "EngineError",
]


class LeanloopError(Exception):
    """Base of every error leanloop raises on purpose."""

    http_status: int = 400
    exit_code: int = 2


class InputError(LeanloopError):
    """A request, a row or an argument is malformed; the message names the field."""

    http_status = 422


class DataError(LeanloopError):
    """A user's data file is missing, unreadable or unusable for the task."""

    http_status = 422


class ProjectError(LeanloopError):
    """The project folder or its config is missing, invalid or already there."""

    http_status = 409


class NotFoundError(LeanloopError):
    """A model version, prediction or cycle that does not exist."""

    http_status = 404


class ArtifactError(LeanloopError):
    """A model artifact failed its integrity check or cannot be loaded safely."""

    http_status = 500


class NotFittedError(LeanloopError):
    """An object's learned state was used before ``fit``."""

    http_status = 500


class StoreError(LeanloopError):
    """The store could not commit or read; the message says what to check."""

    http_status = 503


class StorageFullError(StoreError):
    """Neither the store nor the local spool could take a record: the disk is full.

    The server answers ``507 Insufficient Storage`` rather than serve a prediction it
    could not log; it recovers by itself once space returns.
    """

    http_status = 507


class EngineError(LeanloopError):
    """The Dask engine is not installed, its cluster cannot be reached, or a job on it failed."""

    http_status = 503
