"""One time format for people: ISO 8601 in UTC.

Stores and the ledger keep epoch seconds (cheap to compare and index); everything shown
to people — tables, ``--json``, HTTP answers, exports — carries ISO 8601 UTC, and epoch
seconds only under a name that says so (``..._seconds``, ``..._epoch``). Fields named
``..._at`` hold a moment; :func:`for_people` turns those that still hold epoch seconds
into ISO 8601 on the way out.

Examples
--------
>>> iso(0)
'1970-01-01T00:00:00+00:00'
>>> for_people({"created_at": 86400.5, "rows": 3, "events": [{"added_at": 0}], "at": "x"})
{'created_at': '1970-01-02T00:00:00+00:00', 'rows': 3, 'events': [{'added_at': '1970-01-01T00:00:00+00:00'}], 'at': 'x'}
"""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Any

__all__ = ["iso", "for_people"]


def iso(seconds: float | None) -> str | None:
    """Epoch seconds as ISO 8601 in UTC, to the second (None and NaN stay None).

    Examples
    --------
    >>> iso(1_700_000_000.7), iso(None)
    ('2023-11-14T22:13:20+00:00', None)
    """
    if seconds is None or (isinstance(seconds, float) and math.isnan(seconds)):
        return None
    return datetime.fromtimestamp(float(seconds), UTC).isoformat(timespec="seconds")


def _is_moment(key: Any, value: Any) -> bool:
    return (isinstance(key, str) and key.endswith("_at") and isinstance(value, int | float)
            and not isinstance(value, bool))


def for_people(body: Any) -> Any:
    """``body`` (JSON-like) with every epoch value under a ``..._at`` key as ISO 8601 UTC."""
    if isinstance(body, dict):
        return {k: iso(v) if _is_moment(k, v) else for_people(v) for k, v in body.items()}
    if isinstance(body, list | tuple):
        return [for_people(v) for v in body]
    return body
