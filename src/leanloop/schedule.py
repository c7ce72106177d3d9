"""When the unattended loop runs a cycle: after N new predictions, after a duration, or both.

``[loop] every_rows`` counts predictions logged since the last cycle started;
``[loop] every`` is a duration such as ``"90s"``, ``"15m"``, ``"1h"``, ``"1h30m"`` or
``"1d"``. A cycle is due as soon as either is reached (rows first when both are), and
its ledger entry records which (:class:`Trigger`); a cycle a person starts is ``manual``.

Examples
--------
>>> parse_duration("1h30m"), parse_duration("45s"), parse_duration("2d")
(5400.0, 45.0, 172800.0)
>>> Schedule(every_rows=5000, every_seconds=3600.0).due(rows_since=5200, seconds_since=10.0)
<Trigger.ROWS: 'rows'>
>>> Schedule(every_rows=5000, every_seconds=3600.0).due(rows_since=10, seconds_since=3600.0)
<Trigger.TIME: 'time'>
>>> Schedule(every_rows=0, every_seconds=None).enabled
False
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import Enum

__all__ = ["Trigger", "Schedule", "parse_duration"]

_UNITS = {"s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}
_DURATION = re.compile(r"(?:(\d+(?:\.\d+)?)([smhd]))+")
_PART = re.compile(r"(\d+(?:\.\d+)?)([smhd])")


class Trigger(str, Enum):
    """What started a cycle."""

    ROWS = "rows"
    TIME = "time"
    MANUAL = "manual"


def parse_duration(text: str) -> float:
    """Seconds in a duration like ``"1h30m"`` (units s, m, h, d); a ``ValueError`` that
    shows the accepted form otherwise (also for zero)."""
    cleaned = str(text).strip().lower().replace(" ", "")
    if not _DURATION.fullmatch(cleaned):
        raise ValueError(f"{text!r} is not a duration: use a number and a unit, s, m, h or d, e.g. '90s', "
                         "'15m', '1h30m' or '1d'")
    seconds = sum(float(amount) * _UNITS[unit] for amount, unit in _PART.findall(cleaned))
    if seconds <= 0:
        raise ValueError(f"{text!r} is not a duration above zero; remove the key to run on rows only")
    return seconds


@dataclass(frozen=True)
class Schedule:
    """Rows and/or seconds between unattended cycles (``0`` rows and no seconds: off)."""

    every_rows: int = 0
    every_seconds: float | None = None

    @property
    def enabled(self) -> bool:
        """Whether the loop runs by itself at all."""
        return self.every_rows > 0 or self.every_seconds is not None

    def due(self, *, rows_since: int, seconds_since: float) -> Trigger | None:
        """The trigger of a cycle due now, or ``None``; nothing is due with no new rows
        (a cycle over the same rows would add no evidence)."""
        if rows_since <= 0:
            return None
        if self.every_rows > 0 and rows_since >= self.every_rows:
            return Trigger.ROWS
        if self.every_seconds is not None and seconds_since >= self.every_seconds:
            return Trigger.TIME
        return None

    def next_due(self, *, rows_since: int, seconds_since: float) -> dict[str, float | int | None]:
        """Rows and seconds still to go before a cycle is due (``None``: not scheduled)."""
        return {
            "rows": max(self.every_rows - rows_since, 0) if self.every_rows > 0 else None,
            "seconds": max(self.every_seconds - seconds_since, 0.0) if self.every_seconds is not None else None,
        }
