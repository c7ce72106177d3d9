"""What a bench run was asked for, shared by every suite."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

__all__ = ["Options", "DATA"]

DATA = Path(__file__).resolve().parent / "data"


@dataclass(frozen=True)
class Options:
    """Sizes and limits; ``quick`` shrinks every suite to a smoke-sized run.

    >>> Options(quick=True).drift_rows, Options().drift_rows, Options(drift_size="10M").drift_rows
    (100000, 1000000, 10000000)
    """

    drift_size: str | None = None
    rows: int | None = None
    seconds: float | None = None
    timeout: float = 1800.0
    max_memory_gb: float = 16.0
    quick: bool = False
    data: Path = DATA

    @property
    def drift_rows(self) -> int:
        from bench.data import parse_size

        return parse_size(self.drift_size or ("100k" if self.quick else "1M"))

    @property
    def logged_rows(self) -> int:
        """Rows logged for the feedback and cycle suites (issues 4, 5: 100k)."""
        return self.rows or (20_000 if self.quick else 100_000)

    @property
    def load_seconds(self) -> float:
        """Seconds of load per serve measurement."""
        return self.seconds or (3.0 if self.quick else 10.0)
