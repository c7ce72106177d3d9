"""Reports of the loop: one self-contained HTML file, Markdown and JSON, and the pages
the dashboard reuses.

The report reads a project's ledger, model versions and enriched test set (through
:mod:`leanloop.report.source`, the one place that reads the store) and shows what was
served, what drifted, how the model and the KPI did (realized and estimated), what was
decided and why, and where each version came from. The HTML file inlines plotly.js, so
it opens offline, on a laptop or a phone.

Examples
--------
>>> from leanloop.report import ReportFormat
>>> [f.value for f in ReportFormat]
['html', 'md', 'json']
"""

from __future__ import annotations

import os
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING

from leanloop.report.assets import PlotlyMode
from leanloop.report.html import cycle_fragment, feature_fragment, overview_fragment, page_shell, render_html
from leanloop.report.records import ReportData
from leanloop.report.source import load_report
from leanloop.report.text import render_json, render_markdown

if TYPE_CHECKING:
    from leanloop.workspace import Workspace

__all__ = [
    "PlotlyMode", "ReportData", "ReportFormat", "load_report", "render", "write_report",
    "render_html", "render_markdown", "render_json",
    "page_shell", "cycle_fragment", "overview_fragment", "feature_fragment",
]


class ReportFormat(str, Enum):
    """What ``leanloop report --format`` writes."""

    HTML = "html"
    MD = "md"
    JSON = "json"


def render(data: ReportData, fmt: ReportFormat = ReportFormat.HTML) -> str:
    """``data`` as HTML, Markdown or JSON text."""
    if fmt is ReportFormat.MD:
        return render_markdown(data)
    if fmt is ReportFormat.JSON:
        return render_json(data)
    return render_html(data)


def write_report(project: Workspace, path: str | Path, *, fmt: ReportFormat = ReportFormat.HTML,
                 cycle: int | None = None, last: int | None = None) -> ReportData:
    """Write the report of ``project`` to ``path`` (atomically) and return its content.

    ``cycle`` reports that cycle (and the timeline up to it), ``last`` the newest
    ``last`` cycles; see :func:`~leanloop.report.source.load_report`.
    """
    data = load_report(project, cycle=cycle, last=last)
    text = render(data, fmt)
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)
    return data
