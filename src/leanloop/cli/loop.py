"""``leanloop loop``: where the unattended loop stands (what ``GET /loop`` shows)."""

from __future__ import annotations

from pathlib import Path

from leanloop.cli._shared import DirOption, JsonOption, _console, _open, _print_json
from leanloop.cli.errors import handles_errors

__all__ = ["loop"]


@handles_errors
def loop(directory: DirOption = Path("."), as_json: JsonOption = False) -> None:
    """The unattended loop: schedule, rows since the last cycle, running cycle, last decision, next due."""
    from leanloop.loop_state import loop_status

    with _open(directory) as project:
        config = project.config
        status = loop_status(project.workspace, config.loop.schedule(window_rows=config.measure.window_rows))
    if as_json:
        _print_json(status.to_json())
        return
    every = [f"{status.every_rows} rows"] if status.every_rows else []
    every += [f"{status.every_seconds:g} s"] if status.every_seconds is not None else []
    lines = [f"schedule: {'every ' + ' or '.join(every) if status.enabled else 'off'}",
             f"since the last cycle: {status.rows_since} rows, {status.seconds_since:.0f} s"]
    if status.running:
        lines.append(f"running: cycle {status.running['cycle']} ({status.running['trigger']}), "
                     f"{status.running['stage']}")
    if status.last:
        last = status.last
        outcome = "interrupted" if last["interrupted"] else ("failed" if last["error"] else last["action"])
        lines.append(f"last: cycle {last['cycle']} ({last['trigger'] or 'manual'}): {outcome}; "
                     f"champion {last['champion_after']}")
    due = status.next_due
    if status.enabled:
        parts = [f"{due['rows']} rows" for _ in [0] if due["rows"] is not None]
        parts += [f"{due['seconds']:.0f} s" for _ in [0] if due["seconds"] is not None]
        lines.append("next cycle due in: " + " or ".join(parts))
    _console().print("\n".join(lines), markup=False, highlight=False)
