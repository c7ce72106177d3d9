"""One module per suite; each has ``run(options) -> list[Table]`` and writes its JSON."""

from __future__ import annotations

__all__ = ["SUITES"]

SUITES = ["drift", "cbpe", "serve", "feedback", "cycle", "scenarios", "batch", "window", "scale", "scale_peers"]
