"""Markdown tables on stdout and JSON files in ``bench/results/``."""

from __future__ import annotations

import json
import math
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

__all__ = ["Table", "fmt", "ratio", "write_json"]

RESULTS = Path(__file__).resolve().parent / "results"


def fmt(value: Any, digits: int = 2) -> str:
    """A cell: numbers rounded, missing values as ``-``.

    >>> [fmt(None), fmt(3.14159), fmt(1234567.0, 0), fmt(42), fmt(True), fmt("x"), fmt(float("nan"))]
    ['-', '3.14', '1,234,567', '42', 'yes', 'x', '-']
    """
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        return f"{value:,.{digits}f}"
    return str(value)


def ratio(numerator: float | None, denominator: float | None) -> float | None:
    """``numerator / denominator``, or None when either is missing or the denominator is 0.

    >>> ratio(10, 4), ratio(None, 1), ratio(1, 0)
    (2.5, None, None)
    """
    if numerator is None or denominator is None or denominator == 0:
        return None
    return numerator / denominator


class Table:
    """A markdown table built row by row.

    >>> table = Table("Drift", ["tool", "wall s"])
    >>> table.add("numpy", 1.234)
    >>> print(table.markdown())
    ### Drift
    <BLANKLINE>
    | tool | wall s |
    | --- | --- |
    | numpy | 1.23 |
    """

    def __init__(self, title: str, headers: Sequence[str], notes: Sequence[str] = (), digits: int = 2) -> None:
        self.title = title
        self.digits = digits
        self.headers = list(headers)
        self.rows: list[list[Any]] = []
        self.notes = list(notes)

    def add(self, *cells: Any) -> None:
        if len(cells) != len(self.headers):
            raise ValueError(f"row has {len(cells)} cells, table {self.title!r} has {len(self.headers)} columns")
        self.rows.append(list(cells))

    def markdown(self) -> str:
        lines = [f"### {self.title}", "", "| " + " | ".join(self.headers) + " |",
                 "| " + " | ".join("---" for _ in self.headers) + " |"]
        lines += ["| " + " | ".join(fmt(c, self.digits) for c in row) + " |" for row in self.rows]
        if self.notes:
            lines += [""] + [f"- {note}" for note in self.notes]
        return "\n".join(lines)


def write_json(suite: str, body: dict[str, Any], folder: Path = RESULTS) -> Path:
    """Write ``body`` to ``folder/<suite>.json`` (with the time it was measured)."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{suite}.json"
    path.write_text(json.dumps({"suite": suite, "measured_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                                **body}, indent=2, default=str), encoding="utf-8")
    return path
