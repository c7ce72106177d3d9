"""The unattended loop: ``[loop]``, when ``leanloop serve`` runs cycles by itself.

A cycle is due after ``every_rows`` new predictions (default: ``[measure]
window_rows``, so each cycle sees a fresh window) and/or after the duration ``every``;
``every_rows = 0`` with no ``every`` turns the loop off. Values are checked when the
config loads, so a wrong one stops ``serve`` at start, naming the key.

Examples
--------
>>> LoopConfig(every="1h30m").schedule(window_rows=5000)
Schedule(every_rows=5000, every_seconds=5400.0)
>>> LoopConfig(every_rows=0).schedule(window_rows=5000).enabled
False
>>> from pydantic import ValidationError
>>> try:
...     LoopConfig(every="soon")
... except ValidationError as exc:
...     print(exc.errors()[0]["loc"], exc.errors()[0]["msg"].split(":")[0])
('every',) Value error, 'soon' is not a duration
"""

from __future__ import annotations

from pydantic import Field, field_validator

from leanloop.alerts import check_webhook_url
from leanloop.config._base import Section
from leanloop.config.limits import MAX_ROWS
from leanloop.schedule import Schedule, parse_duration

__all__ = ["LoopConfig"]


class LoopConfig(Section):
    """The unattended loop: 'leanloop serve' runs a cycle after every_rows new predictions and/or
    every duration (one cycle at a time across workers and servers), in a process of its own at
    low priority, and posts decisions other than continue (and failed cycles) to webhook_url.
    Of several servers sharing a store, the one holding the loop lock runs it; the others take
    over when it dies. 'leanloop serve --no-loop' turns it off for one server."""

    every_rows: int | None = Field(
        None, ge=0, le=MAX_ROWS,
        description="New predictions between cycles (default: [measure] window_rows; 0: not by rows).")
    every: str | None = Field(
        None, description="Time between cycles, e.g. '15m', '1h', '1h30m', '1d' (default: not by time); "
                          "a cycle needs new predictions either way.")
    webhook_url: str | None = Field(
        None, description="http(s) URL that gets each decision other than continue, and each failed cycle, "
                          "as JSON (retried with backoff; the outcome is in the ledger).")
    poll_seconds: float = Field(1.0, gt=0.0, le=3600.0,
                                description="How often the loop process checks whether a cycle is due, and a "
                                            "server without the loop lock tries to take it.")

    @field_validator("every")
    @classmethod
    def _duration(cls, value: str | None) -> str | None:
        if value is not None:
            parse_duration(value)
        return value

    @field_validator("webhook_url")
    @classmethod
    def _webhook(cls, value: str | None) -> str | None:
        return None if value is None else check_webhook_url(value)

    def schedule(self, *, window_rows: int) -> Schedule:
        """The schedule these settings describe (``every_rows`` unset: ``window_rows``)."""
        rows = window_rows if self.every_rows is None else self.every_rows
        return Schedule(every_rows=rows, every_seconds=None if self.every is None else parse_duration(self.every))
