"""Chunking by count and by calendar period."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from leanloop.errors import InputError
from leanloop.measure.chunking import chunk_by_count, chunk_by_period


def epoch(text: str) -> float:
    return datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp()


def test_count_chunks_cover_every_row_once_in_order() -> None:
    parts = chunk_by_count(103, 10)
    assert [len(p.positions) for p in parts] == [11, 11, 11] + [10] * 7
    assert [i for p in parts for i in p.positions.tolist()] == list(range(103))
    assert len(chunk_by_count(3, 10)) == 3


def test_day_chunks_start_at_midnight_utc_and_a_boundary_row_opens_the_next_day() -> None:
    times = [epoch("2024-05-01T23:59:59"), epoch("2024-05-02T00:00:00"), epoch("2024-05-02T12:00:00"),
             epoch("2024-05-04T08:00:00")]
    parts = chunk_by_period(times, "1D")
    assert [(p.label, p.positions.tolist()) for p in parts] == [
        ("2024-05-01T00:00:00+00:00", [0]), ("2024-05-02T00:00:00+00:00", [1, 2]),
        ("2024-05-04T00:00:00+00:00", [3])]  # the empty 3 May is skipped
    assert parts[1].bin_start == epoch("2024-05-02T00:00:00") and parts[1].bin_end == epoch("2024-05-03T00:00:00")


def test_hour_chunks_keep_row_order_within_a_bin() -> None:
    times = [epoch("2024-05-01T10:30:00"), epoch("2024-05-01T10:05:00"), epoch("2024-05-01T11:00:00")]
    assert [p.positions.tolist() for p in chunk_by_period(times, "1h")] == [[0, 1], [2]]


def test_bad_period_and_count_are_refused() -> None:
    with pytest.raises(InputError, match="not a time period"):
        chunk_by_period([0.0], "fortnightly")
    with pytest.raises(InputError, match="at least 1"):
        chunk_by_count(10, 0)
