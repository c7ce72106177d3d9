"""Plotly figures of the report, as plain figure specs (``{"data": [...], "layout": {...}}``).

Specs are written as dicts rather than through ``plotly.graph_objects``: the objects
validate every property on construction, which the report does not need (its traces
are fixed here), and plotly.js reads the same JSON. Each :class:`Chart` carries the
number of points of its main trace, which the browser tests compare with the store.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from leanloop.report.records import CycleView, Distribution, EventView

__all__ = ["Chart", "performance_chart", "kpi_chart", "drift_heatmap", "labels_chart", "multivariate_chart",
           "distribution_chart", "feature_drift_chart", "chunks_chart"]

BLUE, ORANGE, GREY, GREEN, RED = "#1f77b4", "#ff7f0e", "#7f7f7f", "#2ca02c", "#d62728"


@dataclass(frozen=True)
class Chart:
    """A figure spec with its element id, title and the point count of its main trace."""

    id: str
    title: str
    figure: dict[str, Any]
    points: int


def _layout(title: str, y: str, **extra: Any) -> dict[str, Any]:
    return {"title": {"text": title, "font": {"size": 15}}, "margin": {"l": 55, "r": 15, "t": 40, "b": 40},
            "height": 320, "legend": {"orientation": "h", "y": -0.2}, "yaxis": {"title": {"text": y}},
            "hovermode": "x unified", "plot_bgcolor": "#fff",
            "xaxis": {"gridcolor": "#eee"}, **extra}


def _marks(cycles: list[CycleView], events: list[EventView]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Vertical lines and labels at every promotion and rollback (cycles' and manual ones)."""
    marks = [(c.at, f"{c.champion_after} promoted" if c.promoted else f"rolled back to {c.champion_after}",
              GREEN if c.promoted else RED) for c in cycles if c.promoted or c.rolled_back]
    marks += [(e.at, f"{e.champion_after} {e.kind}", GREEN if e.kind == "promote" else RED)
              for e in events if e.kind in ("promote", "rollback")]
    shapes = [{"type": "line", "xref": "x", "yref": "paper", "x0": at, "x1": at, "y0": 0, "y1": 1,
               "line": {"color": color, "dash": "dot", "width": 1.5}} for at, _, color in marks]
    notes = [{"x": at, "y": 1, "xref": "x", "yref": "paper", "text": text, "showarrow": False,
              "font": {"size": 10, "color": color}, "yanchor": "bottom", "textangle": 0} for at, text, color in marks]
    return shapes, notes


def _band_traces(x: list[str], bands: list[Any], name: str, color: str,
                 dash: str | None = None) -> list[dict[str, Any]]:
    """A line with its interval as a filled band (upper then lower, filled between)."""
    lower = [b.lower if b is not None else None for b in bands]
    upper = [b.upper if b is not None else None for b in bands]
    line: dict[str, Any] = {"type": "scatter", "mode": "lines+markers", "name": name, "x": x,
            "y": [b.value if b is not None else None for b in bands], "line": {"color": color}}
    if dash:
        line["line"]["dash"] = dash
    band: list[dict[str, Any]] = [
        {"type": "scatter", "mode": "lines", "x": x, "y": upper, "line": {"width": 0}, "showlegend": False,
         "hoverinfo": "skip", "name": f"{name} upper"},
        {"type": "scatter", "mode": "lines", "x": x, "y": lower, "line": {"width": 0}, "fill": "tonexty",
         "fillcolor": _alpha(color), "name": f"{name} interval", "hoverinfo": "skip"}]
    return [*band, line] if any(v is not None for v in lower) else [line]


def _alpha(color: str) -> str:
    r, g, b = (int(color[i:i + 2], 16) for i in (1, 3, 5))
    return f"rgba({r},{g},{b},0.18)"


def performance_chart(cycles: list[CycleView], events: list[EventView], metric: str) -> Chart:
    """Realized and estimated ``metric`` per cycle with their bands, the baseline and the reference."""
    return _over_time(
        cycles, events, chart_id="chart-performance", title=f"{metric} over time",
        heading=f"{metric}: realized and estimated", unit=metric,
        lines=([c.realized.get(metric) for c in cycles], [c.estimated.get(metric) for c in cycles],
               [c.reference.get(metric) for c in cycles]),
        names=(f"realized {metric}", f"estimated {metric}", "reference (champion's test set)"),
        baseline=[c.baseline[metric].value if metric in c.baseline else None for c in cycles])


def _over_time(cycles: list[CycleView], events: list[EventView], *, chart_id: str, title: str, heading: str,
               unit: str, lines: tuple[list[Any], list[Any], list[float | None]],
               names: tuple[str, str, str], baseline: list[float | None]) -> Chart:
    """A value over the cycles: realized and estimated (with bands), the reference, the
    trivial baseline (noted off the axis when drawing it would flatten the rest), and the
    promotions and rollbacks marked."""
    x = [c.at for c in cycles]
    realized, estimated, reference = lines  # the first two are intervals (value, lower, upper)
    traces = _band_traces(x, realized, names[0], BLUE)
    traces += _band_traces(x, estimated, names[1], ORANGE, "dash")
    traces.append({"type": "scatter", "mode": "lines", "name": names[2], "x": x, "y": reference,
                   "line": {"color": GREEN, "dash": "dashdot"}})
    axis = _focus_range(traces, baseline)
    traces.append(_baseline_trace(x, baseline, axis))
    shapes, notes = _marks(cycles, events)
    return Chart(chart_id, title, {
        "data": traces, "layout": _layout(heading, unit, shapes=shapes, annotations=notes,
                                          yaxis={"title": {"text": unit}, **axis}),
    }, len(cycles))


def _focus_range(traces: list[dict[str, Any]], baseline: list[float | None]) -> dict[str, Any]:
    """A y range around the model's lines when the trivial baseline lies far from them:
    drawn to scale, a baseline at 0.5 flattens a model moving between 0.95 and 0.96."""
    values = [v for t in traces for v in t["y"] if v is not None]
    marks = [v for v in baseline if v is not None]
    if not values or not marks:
        return {}
    low, high = min(values), max(values)
    pad = max(0.15 * (high - low), 0.005 * max(abs(high), 1e-9), 1e-6)
    if all(low - 4 * pad <= v <= high + 4 * pad for v in marks):
        return {}
    return {"range": [low - pad, high + pad]}


def _baseline_trace(x: list[str], baseline: list[float | None], axis: dict[str, Any]) -> dict[str, Any]:
    shown = [v for v in baseline if v is not None]
    name = "trivial baseline"
    if axis and shown:
        name += f" ({shown[-1]:.4g}, off the axis)"
    return {"type": "scatter", "mode": "lines", "name": name, "x": x, "y": baseline,
            "line": {"color": GREY, "dash": "dot"}}


def kpi_chart(cycles: list[CycleView], events: list[EventView], kpi: str) -> Chart:
    """The KPI per prediction, realized and estimated, with intervals, baseline and reference."""
    return _over_time(
        cycles, events, chart_id="chart-kpi", title=f"{kpi} over time", heading=f"KPI: {kpi} per prediction",
        unit=kpi,
        lines=([c.kpis.get(kpi) for c in cycles], [c.estimated_kpis.get(kpi) for c in cycles],
               [c.reference_kpis.get(kpi) for c in cycles]),
        names=(f"{kpi} (realized)", f"{kpi} (estimated)", "reference"),
        baseline=[c.baseline_kpis[kpi].value if kpi in c.baseline_kpis else None for c in cycles])


def drift_heatmap(cycles: list[CycleView]) -> Chart:
    """Features by cycle: statistic over threshold (above 1 = past the threshold), drifted in the hover."""
    features = list(dict.fromkeys(r.feature for c in cycles for r in c.drift))
    z, text, stats = [], [], []
    for name in features:
        row, labels, numbers = [], [], []
        for c in cycles:
            found = next((r for r in c.drift if r.feature == name), None)
            row.append(None if found is None else (1.0 if found.drifted else 0.0))
            numbers.append("" if found is None else f"{found.statistic:.3g}")
            labels.append("" if found is None else f"{found.method} {found.statistic:.4g} "
                          f"(threshold {found.threshold:.4g}){' DRIFT' if found.drifted else ''}")
        z.append(row)
        text.append(labels)
        stats.append(numbers)
    figure = {"data": [{"type": "heatmap", "x": [f"cycle {c.cycle}" for c in cycles], "y": features, "z": z,
                        "customdata": text, "hovertemplate": "%{y} · %{x}<br>%{customdata}<extra></extra>",
                        "zmin": 0, "zmax": 1,
                        "colorscale": [[0, "#e8f1fa"], [1, RED]], "showscale": False, "xgap": 2, "ygap": 2,
                        "text": stats, "texttemplate": "%{text}", "textfont": {"size": 11}}],
              "layout": _layout("Drift by feature and cycle (red: drifted)", "", hovermode="closest",
                                height=max(220, 40 + 28 * len(features)),
                                yaxis={"autorange": "reversed", "automargin": True},
                                margin={"l": 160, "r": 15, "t": 40, "b": 40})}
    return Chart("chart-drift", "Drift over time", figure, len(cycles))


def labels_chart(cycles: list[CycleView], events: list[EventView]) -> Chart:
    """Label coverage per cycle (bars) and the median and 90th-percentile label delay (lines)."""
    x = [c.at for c in cycles]
    shapes, notes = _marks(cycles, events)
    figure = {"data": [
        {"type": "bar", "name": "label coverage", "x": x, "y": [c.coverage for c in cycles],
         "marker": {"color": "#9ecae1"}},
        {"type": "scatter", "mode": "lines+markers", "name": "delay p50 (s)", "x": x, "yaxis": "y2",
         "y": [c.delay_p50 for c in cycles], "line": {"color": ORANGE}},
        {"type": "scatter", "mode": "lines+markers", "name": "delay p90 (s)", "x": x, "yaxis": "y2",
         "y": [c.delay_p90 for c in cycles], "line": {"color": RED, "dash": "dash"}},
    ], "layout": _layout("Label coverage and delay", "coverage", shapes=shapes, annotations=notes,
                         margin={"l": 55, "r": 55, "t": 40, "b": 40},
                         yaxis={"title": {"text": "coverage"}, "range": [0, 1.05], "tickformat": ".0%"},
                         yaxis2={"title": {"text": "delay (s)"}, "overlaying": "y", "side": "right"})}
    return Chart("chart-labels", "Label coverage and delay", figure, len(cycles))


def multivariate_chart(cycles: list[CycleView], events: list[EventView]) -> Chart:
    """The domain classifier's AUC per cycle with its interval and threshold."""
    x = [c.at for c in cycles]
    bands = [c.multivariate.classifier_auc if c.multivariate else None for c in cycles]
    traces = _band_traces(x, bands, "domain classifier AUC", BLUE)
    traces.append({"type": "scatter", "mode": "lines", "name": "threshold", "x": x,
                   "y": [c.multivariate.classifier_threshold if c.multivariate else None for c in cycles],
                   "line": {"color": RED, "dash": "dot"}})
    traces.append({"type": "scatter", "mode": "lines+markers", "name": "prediction drift statistic", "x": x,
                   "y": [c.prediction_drift.statistic if c.prediction_drift else None for c in cycles],
                   "line": {"color": ORANGE}})
    shapes, notes = _marks(cycles, events)
    return Chart("chart-multivariate", "Multivariate and prediction drift", {
        "data": traces, "layout": _layout("Multivariate and prediction drift", "AUC / statistic",
                                          shapes=shapes, annotations=notes)}, len(cycles))


def distribution_chart(dist: Distribution, index: int) -> Chart:
    """Reference against current shares per bin, overlaid."""
    numeric = dist.kind in ("numeric", "datetime")
    # Numeric bins are their centres on a linear axis (readable ticks); categories stay labels.
    x: list[Any] = [float(b) for b in dist.bins] if numeric else dist.bins
    axis = {"type": "date" if dist.kind == "datetime" else "linear"} if numeric else {"type": "category"}
    if dist.kind == "datetime":
        x = [v * 1000 for v in x]  # plotly reads numbers on a date axis as milliseconds
    figure = {"data": [
        {"type": "bar", "name": f"reference (n={dist.n_reference})", "x": x, "y": dist.reference,
         "marker": {"color": GREY}, "opacity": 0.6},
        {"type": "bar", "name": f"current (n={dist.n_current})", "x": x, "y": dist.current,
         "marker": {"color": BLUE}, "opacity": 0.6},
    ], "layout": _layout(dist.feature, "share of rows", barmode="overlay" if numeric else "group", bargap=0.05,
                         hovermode="x unified", xaxis={**axis, "gridcolor": "#eee"},
                         yaxis={"tickformat": ".0%", "title": {"text": "share of rows"}})}
    return Chart(f"chart-dist-{index}", f"{dist.feature}: reference vs current", figure, len(dist.bins))


def feature_drift_chart(cycles: list[CycleView], events: list[EventView], feature: str, index: int,
                        focus: CycleView | None = None) -> Chart:
    """One feature's drift statistic and threshold per cycle, then per chunk of the focus cycle."""
    x, stat, thresh, labels = [], [], [], []
    for c in cycles:
        found = next((r for r in c.drift if r.feature == feature), None)
        x.append(c.at)
        stat.append(found.statistic if found else None)
        thresh.append(found.threshold if found else None)
        labels.append(found.method if found else "")
    shapes, notes = _marks(cycles, events)
    traces = [{"type": "scatter", "mode": "lines+markers", "name": "statistic per cycle", "x": x, "y": stat,
               "text": labels, "line": {"color": BLUE}},
              {"type": "scatter", "mode": "lines", "name": "threshold", "x": x, "y": thresh,
               "line": {"color": RED, "dash": "dot"}}]
    if focus is not None and focus.chunks:
        cx = [ch.end or ch.label for ch in focus.chunks]
        cs = [next((r.statistic for r in ch.drift if r.feature == feature), None) for ch in focus.chunks]
        traces.append({"type": "scatter", "mode": "markers", "name": f"per chunk of cycle {focus.cycle}",
                       "x": cx, "y": cs, "marker": {"color": ORANGE, "symbol": "diamond"}})
    return Chart(f"chart-fdrift-{index}", f"{feature}: drift over time", {
        "data": traces, "layout": _layout(f"{feature}: drift statistic over time", "statistic",
                                          shapes=shapes, annotations=notes)}, len(cycles))


def chunks_chart(focus: CycleView, metric: str) -> Chart:
    """The focus cycle's chunks (``--chunks`` / ``--period``): realized and estimated metric."""
    x = [ch.label for ch in focus.chunks]
    traces = _band_traces(x, [ch.realized for ch in focus.chunks], f"realized {metric}", BLUE)
    traces += _band_traces(x, [ch.estimated for ch in focus.chunks], f"estimated {metric}", ORANGE, "dash")
    return Chart("chart-chunks", f"cycle {focus.cycle} by chunk", {
        "data": traces, "layout": _layout(f"Cycle {focus.cycle} by chunk: {metric}", metric,
                                          xaxis={"type": "category"})}, len(x))
