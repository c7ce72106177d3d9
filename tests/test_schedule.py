"""The unattended schedule: durations, and when a cycle is due."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from leanloop.schedule import Schedule, Trigger, parse_duration


@pytest.mark.parametrize(("text", "seconds"), [("90s", 90), ("15m", 900), ("1h", 3600), ("1h30m", 5400),
                                               ("1d", 86400), ("0.5h", 1800), (" 2H ", 7200)])
def test_durations(text: str, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "1", "h", "1w", "-5m", "5 minutes", "0s", "1h-30m"])
def test_bad_durations_say_the_form(text: str) -> None:
    with pytest.raises(ValueError, match=r"duration"):
        parse_duration(text)


def test_rows_come_first_and_no_new_rows_is_never_due() -> None:
    both = Schedule(every_rows=100, every_seconds=60.0)
    assert both.due(rows_since=100, seconds_since=61) is Trigger.ROWS
    assert both.due(rows_since=99, seconds_since=61) is Trigger.TIME
    assert both.due(rows_since=0, seconds_since=1e9) is None
    assert Schedule(every_rows=0, every_seconds=None).due(rows_since=10**9, seconds_since=1e9) is None
    assert both.next_due(rows_since=30, seconds_since=50) == {"rows": 70, "seconds": 10.0}


@given(st.integers(1, 10**6), st.integers(0, 10**7), st.floats(0, 1e7))
def test_due_exactly_when_a_threshold_is_reached(every: int, rows: int, seconds: float) -> None:
    schedule = Schedule(every_rows=every)
    assert (schedule.due(rows_since=rows, seconds_since=seconds) is Trigger.ROWS) == (rows >= every and rows > 0)
