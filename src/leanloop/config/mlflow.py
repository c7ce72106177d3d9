"""``[mlflow]``: where a team's MLflow tracking server is, if it has one.

With ``tracking_uri`` set, every model version and every cycle is logged there as an
MLflow run (:mod:`leanloop.integrations.mlflow_tracking`). The URI is checked when the
config loads, so a typo stops the command that reads it, naming the key; a server that
cannot be reached later never stops a build or a cycle.

Examples
--------
>>> MlflowConfig(tracking_uri="http://127.0.0.1:5000/").tracking_uri
'http://127.0.0.1:5000'
>>> MlflowConfig().enabled
False
>>> from pydantic import ValidationError
>>> try:
...     MlflowConfig(tracking_uri="ftp://mlflow.example.com")
... except ValidationError as exc:
...     print(exc.errors()[0]["msg"].split(",")[1])
 mlflow.tracking_uri must be an http(s) URL with a host
"""

from __future__ import annotations

from urllib.parse import urlsplit

from pydantic import Field, field_validator

from leanloop.config._base import Section

__all__ = ["MlflowConfig", "check_tracking_uri", "shown_uri"]

#: Tracking URI schemes MLflow's client reads (``postgresql+psycopg`` and the like count as their base).
_SCHEMES = ("http", "https", "file", "sqlite", "postgresql", "mysql", "mssql", "databricks")


def check_tracking_uri(uri: str) -> str:
    """``uri`` (without a trailing ``/``) if MLflow's client can use it; a ``ValueError``
    naming the key otherwise."""
    uri = uri.strip().rstrip("/")
    parts = urlsplit(uri)
    scheme = parts.scheme.split("+")[0].lower()
    if uri == "databricks" or (scheme in _SCHEMES and (scheme not in ("http", "https") or parts.hostname)):
        return uri
    raise ValueError(
        "mlflow.tracking_uri must be an http(s) URL with a host, a file: path or a database URL (sqlite, "
        f"postgresql, mysql, mssql), or databricks; got {shown_uri(uri)!r}. Use the URI you give "
        "MLFLOW_TRACKING_URI, e.g. http://mlflow.internal:5000")


def shown_uri(uri: str) -> str:
    """``uri`` with any password replaced by ``***``: safe for messages and records.

    >>> shown_uri("https://me:secret@mlflow.example.com/")
    'https://me:***@mlflow.example.com/'
    """
    parts = urlsplit(uri)
    if parts.password is None:
        return uri
    return uri.replace(f":{parts.password}@", ":***@", 1)


class MlflowConfig(Section):
    """MLflow, for teams that already run it: with tracking_uri set, each model version (parameters,
    metrics, the skops artifact) and each cycle (metrics, decision) is logged as a run of the
    experiment, after each build, adopt and cycle. An MLflow server that cannot be reached never stops
    them: it is warned about, recorded in .leanloop/mlflow.json, and what waits is logged next time
    ('leanloop mlflow' logs it now). Needs pip install 'leanloop[mlflow]'."""

    tracking_uri: str | None = Field(
        None, description="MLflow tracking URI, e.g. http://mlflow.internal:5000 (default: none, nothing is "
                          "logged). Credentials: MLflow's own environment variables (MLFLOW_TRACKING_TOKEN, ...).")
    experiment: str | None = Field(
        None, min_length=1, max_length=500,
        description="The MLflow experiment the runs go to, created if absent (default: the project folder's name).")
    timeout_seconds: int = Field(
        10, ge=1, le=600,
        description="Longest one request to MLflow may take; a slower or unreachable server is skipped until "
                    "the next build or cycle.")

    @field_validator("tracking_uri")
    @classmethod
    def _uri(cls, value: str | None) -> str | None:
        return None if value is None else check_tracking_uri(value)

    @property
    def enabled(self) -> bool:
        """Whether anything is logged to MLflow."""
        return self.tracking_uri is not None
