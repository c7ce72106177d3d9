"""HTML pages of the report: fragments that fit in a page shell, and the one-file report.

The fragments are the dashboard's pages too: :func:`cycle_fragment` is a cycle's page
(the report's body), :func:`feature_fragment` a feature's, :func:`overview_fragment`
the overview; :func:`page_shell` wraps any of them in a document with the style, the
script and plotly.js. Links between pages come from ``cycle_url`` and ``feature_url``
(the one-file report links features to anchors in itself and cycles nowhere).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import Any

from leanloop.report import figures
from leanloop.report.assets import SCRIPT, STYLE, PlotlyMode, plotly_script
from leanloop.report.records import ReportData

__all__ = ["page_shell", "cycle_fragment", "overview_fragment", "feature_fragment", "render_html", "slug"]


def slug(name: str) -> str:
    """A feature name as an HTML id and URL part.

    Examples
    --------
    >>> slug("debt to income (%)")
    'debt-to-income'
    """
    return re.sub(r"[^A-Za-z0-9_]+", "-", name).strip("-") or "feature"


def _num(value: Any, digits: int = 4) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return str(value)
    value = float(value)
    if value != value:  # NaN
        return "n/a"
    if value != 0 and (abs(value) >= 1e6 or abs(value) < 1e-3):
        return f"{value:.3g}"
    return f"{value:.{digits}g}" if abs(value) >= 1 else f"{value:.{digits}f}".rstrip("0").rstrip(".") or "0"


def _band(b: Any) -> str:
    if b is None or b.value is None:
        return ""
    if b.lower is None or b.upper is None:
        return _num(b.value)
    return f"{_num(b.value)} ({_num(b.lower)}..{_num(b.upper)})"


def _pct(value: float | None) -> str:
    return "" if value is None else f"{100 * value:.1f}%"


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "n/a"
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if seconds >= size:
            return f"{seconds / size:.1f} {unit}"
    return f"{seconds:.2f} s"


def _short(text: str | None) -> str:
    """ISO 8601 shortened for tables: ``2026-12-06 14:31:53 UTC``."""
    if not text:
        return ""
    return text[:19].replace("T", " ") + (" UTC" if text.endswith("+00:00") else "")


def _figure_json(figure: dict[str, Any]) -> Any:
    import orjson
    from markupsafe import Markup

    # Inside <script>, "<" would let a value such as "</script>" end the element.
    text = orjson.dumps(figure, option=orjson.OPT_SERIALIZE_NUMPY).decode("utf-8")
    return Markup(text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026"))


def _environment() -> Any:
    import jinja2

    env = jinja2.Environment(loader=jinja2.PackageLoader("leanloop.report", "templates"),
                             autoescape=True, trim_blocks=True, lstrip_blocks=True,
                             undefined=jinja2.StrictUndefined)
    env.filters.update(num=_num, band=_band, pct=_pct, duration=_duration, short=_short,
                       figure_json=_figure_json, slug=slug)
    return env


def _feature_items(data: ReportData, only: str | None = None) -> list[dict[str, Any]]:
    focus = data.focus
    rows = {r.feature: r for r in focus.drift} if focus else {}
    dists = {d.feature: d for d in data.distributions}
    names = list(dict.fromkeys([*rows, *dists]))
    items = []
    for i, name in enumerate(names):
        if only is not None and name != only:
            continue
        dist = dists.get(name)
        items.append({
            "name": name, "row": rows.get(name), "dist": dist,
            "dchart": figures.distribution_chart(dist, i) if dist else None,
            "fchart": figures.feature_drift_chart(data.cycles, data.events, name, i, focus) if data.cycles else None,
        })
    return items


def _charts(data: ReportData, *, with_features: bool = True) -> dict[str, Any]:
    if not data.cycles:
        return {"features": []}
    focus = data.focus
    charts: dict[str, Any] = {
        "performance": figures.performance_chart(data.cycles, data.events, data.main_metric),
        "kpi": figures.kpi_chart(data.cycles, data.events, data.main_kpi) if data.main_kpi else None,
        "drift": figures.drift_heatmap(data.cycles),
        "labels": figures.labels_chart(data.cycles, data.events),
        "multivariate": figures.multivariate_chart(data.cycles, data.events),
        "chunks": figures.chunks_chart(focus, data.main_metric) if focus and focus.chunks else None,
        "features": _feature_items(data) if with_features else [],
    }
    return charts


def _anchor(name: str) -> str:
    return f"#feature-{slug(name)}"


def cycle_fragment(data: ReportData, *, feature_url: Callable[[str], str] | None = _anchor,
                   cycle_url: Callable[[int], str] | None = None, full: bool = False) -> str:
    """The report's body for ``data.focus`` (a cycle's page); ``full`` adds the cycle
    timeline and the model lineage (the one-file report)."""
    return _environment().get_template("report.html.j2").render(
        data=data, charts=_charts(data), link_features=feature_url, link_cycle=cycle_url, full=full)


def overview_fragment(data: ReportData, *, cycle_url: Callable[[int], str] | None = None) -> str:
    """Champion, latest decision, performance, KPI, drift and labels over time, the
    cycle timeline and the lineage."""
    return _environment().get_template("overview.html.j2").render(
        data=data, charts=_charts(data, with_features=False), link_cycle=cycle_url)


def feature_fragment(data: ReportData, feature: str) -> str:
    """One feature: its drift test in the focus cycle, reference against current, and
    its drift statistic over time."""
    from leanloop.errors import NotFoundError

    items = _feature_items(data, only=feature)
    if not items:
        known = [i["name"] for i in _feature_items(data)]
        raise NotFoundError(f"feature {feature!r} is not in the report; features: {known}")
    return _environment().get_template("feature.html.j2").render(item=items[0])


def page_shell(title: str, body: str, *, generated_at: str = "", nav: Sequence[tuple[str, str]] = (),
               plotly: PlotlyMode = PlotlyMode.GZIP, plotly_url: str | None = None) -> str:
    """A whole HTML document around a fragment: style, script, plotly.js, navigation.

    Examples
    --------
    >>> page = page_shell("t", "<p>hi</p>", plotly=PlotlyMode.URL, plotly_url="/ui/plotly.js")
    >>> page.startswith("<!DOCTYPE html>") and "<p>hi</p>" in page
    True
    """
    return _environment().get_template("shell.html.j2").render(
        title=title, body=body, generated_at=generated_at, nav=list(nav), style=STYLE, script=SCRIPT,
        plotly=plotly_script(plotly, plotly_url))


_NAV = [("verdict", "#verdict"), ("performance", "#performance"), ("KPI", "#kpi"), ("drift", "#drift"),
        ("quality", "#quality"), ("labels", "#labels"), ("gate", "#gate"), ("segments", "#weak"),
        ("cycles", "#timeline"), ("lineage", "#lineage")]


def render_html(data: ReportData, *, plotly: PlotlyMode = PlotlyMode.GZIP) -> str:
    """The one-file report: every section, plotly.js inlined, nothing fetched at view time."""
    title = f"leanloop report · {data.project}" + (f" · cycle {data.focus.cycle}" if data.focus else "")
    return page_shell(title, cycle_fragment(data, full=True), generated_at=data.generated_at,
                      nav=_NAV if data.focus else [], plotly=plotly)
