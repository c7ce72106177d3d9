"""Tables and lines the commands print (``--json`` prints the records themselves)."""

from __future__ import annotations

from typing import Any

from rich.table import Table

from leanloop.cli._shared import _console, _print_json

__all__ = ["_version_row", "_serving", "_serving_line", "_lineage", "_print_warnings", "_metrics_table",
           "_drift_table", "_monitor_lines",
           "_segments_table", "_num",
           "_cycle_output", "_event_output", "_chunks_tables", "sparkline"]

_BARS = "▁▂▃▄▅▆▇█"


def sparkline(values: list[float | None]) -> str:
    """Values as a line of bars, lowest to highest (a gap where a value is missing).

    Examples
    --------
    >>> sparkline([0.0, 0.5, 1.0, None])
    '▁▅█ '
    """
    known = [v for v in values if v is not None]
    if not known:
        return " " * len(values)
    low, high = min(known), max(known)
    span = (high - low) or 1.0
    return "".join(" " if v is None else _BARS[round((v - low) / span * (len(_BARS) - 1))] for v in values)


def _chunks_tables(body: dict[str, Any], metric: str | None) -> list[Table]:
    """The chunks of ``measure --chunks/--period``: one row per chunk, then one sparkline
    of the drift statistic per feature across the chunks (drifted chunks marked ``!``)."""
    chunks = body.get("chunks") or []
    if not chunks:
        return []
    table = Table(title=f"{len(chunks)} chunks of the window")
    for column in ("chunk", "from", "to", "rows", "labelled", f"{metric or 'metric'}", "estimated", "drifted"):
        table.add_column(column, overflow="fold", justify="right" if column in ("rows", "labelled") else "left")
    for i, chunk in enumerate(chunks):
        perf = chunk.get("performance") or {}
        drifted = sorted({d["feature"] for d in chunk.get("drift", []) if d.get("drifted")})
        table.add_row(str(chunk.get("period") or i + 1), str(chunk.get("start") or ""), str(chunk.get("end") or ""),
                      str(chunk["rows"]), str(chunk["labelled"]), _num((perf.get("realized") or {}).get(metric)),
                      _num((perf.get("estimated") or {}).get(metric)), ", ".join(drifted) or "-")
    lines = Table(title="drift statistic per feature across the chunks (! = drifted)")
    for column in ("feature", "method", "chunks", "min", "max"):
        lines.add_column(column, overflow="fold")
    features = list(dict.fromkeys(d["feature"] for c in chunks for d in c.get("drift", [])))
    for feature in features:
        # The first result per feature and chunk is its primary test (a PSI may follow).
        rows = [next((d for d in c.get("drift", []) if d["feature"] == feature), None) for c in chunks]
        values = [None if r is None else r["statistic"] for r in rows]
        marks = "".join("!" if r is not None and r.get("drifted") else " " for r in rows)
        known = [v for v in values if v is not None]
        method = next((r["method"] for r in rows if r is not None), "")
        lines.add_row(feature, method, sparkline(values) + ("\n" + marks if marks.strip() else ""),
                      _num(min(known)) if known else "", _num(max(known)) if known else "")
    return [table, lines]


def _version_row(version: Any) -> dict[str, Any]:
    return {"version": version.version, "metrics": version.metrics, "baseline_metrics": version.baseline_metrics}


def _serving(version: Any) -> dict[str, Any]:
    """How a version serves: its label rule, regression quantile, calibration before/after."""
    calibration = version.calibration
    return {"decision": version.decision.value, "quantile": version.quantile,
            "calibration": None if calibration is None else calibration.model_dump(mode="json")}


def _lineage(version: Any) -> dict[str, Any]:
    """Whose estimator a version is, which one, and what it is warned about."""
    return {"model_kind": version.model_kind.value, "estimator": version.estimator,
            "warnings": [w.model_dump(mode="json") for w in version.warnings]}


def _print_warnings(warnings: list[Any]) -> None:
    """Each warning loudly, on stderr (stdout keeps the table or JSON a script reads)."""
    from rich.console import Console
    from rich.text import Text

    console = Console(stderr=True)
    for warning in warnings:
        console.print(Text.assemble(("WARNING: ", "bold red"), (warning.message, "bold")))


def _serving_line(version: Any) -> str:
    """:func:`_serving` in one line of text."""
    parts = [f"label rule: {version.decision.value}"]
    if version.quantile is not None:
        parts.append(f"regression targets the {version.quantile:.2f} quantile (asymmetric [kpi] costs)")
    c = version.calibration
    if c is not None:
        parts.append(f"calibration: {c.method.value} on {c.rows} held-out rows, ECE {c.ece_before:.4f} -> "
                     f"{c.ece_after:.4f}, log loss {c.log_loss_before:.4f} -> {c.log_loss_after:.4f}")
    return "; ".join(parts)


def _metrics_table(title: str, metrics: dict[str, float], baseline: dict[str, float]) -> None:
    table = Table(title=title)
    table.add_column("metric")
    table.add_column("model", justify="right")
    table.add_column("trivial baseline", justify="right")
    for name, value in metrics.items():
        base = baseline.get(name)
        table.add_row(name, f"{value:.4f}", "" if base is None else f"{base:.4f}")
    _console().print(table)


def _drift_table(measurement: dict[str, Any]) -> Table:
    window = measurement["window"]
    table = Table(title=f"window {window['start']} .. {window['end']}: {window['rows']} rows, "
                        f"{window['labelled']} labelled")
    for column in ("feature", "method", "statistic", "p-value", "threshold", "drifted", "n ref", "n cur"):
        table.add_column(column)
    rows = list(measurement["drift"])
    if measurement.get("prediction_drift"):
        rows.append(measurement["prediction_drift"])
    for r in rows:
        table.add_row(r["feature"], r["method"], f"{r['statistic']:.4f}",
                      "" if r["p_value"] is None else f"{r['p_value']:.3g}", f"{r['threshold']:g}",
                      "[red]yes[/]" if r["drifted"] else "no", str(r["n_reference"]), str(r["n_current"]))
    return table


def _monitor_lines(body: dict[str, Any]) -> list[str]:
    """One line each for data quality, multivariate drift and stream changes."""
    lines = []
    if body.get("quality"):
        flagged = [f"{r['feature'] or 'rows'}:{r['check']}" for r in body["quality"]["results"] if r["flagged"]]
        lines.append(f"data quality: {', '.join(flagged) or 'nothing flagged'}")
    multivariate = body.get("multivariate") or {}
    if multivariate.get("domain_classifier"):
        d = multivariate["domain_classifier"]
        top = ", ".join(f["feature"] for f in d["top_features"][:3])
        lines.append(f"domain classifier AUC {d['auc']:.3f} [{d['auc_low']:.3f}, {d['auc_high']:.3f}] "
                     f"(drift above {d['threshold']:g}: {'yes' if d['drifted'] else 'no'}"
                     + (f"; driven by {top})" if top else ")"))
    if multivariate.get("pca"):
        p = multivariate["pca"]
        lines.append(f"PCA reconstruction error {p['error']:.4f}, band [{p['lower_threshold']:.4f}, "
                     f"{p['upper_threshold']:.4f}] (drift: {'yes' if p['drifted'] else 'no'})")
    for s in body.get("stream") or []:
        if s["changes"]:
            rows = ", ".join(str(c["row"]) for c in s["changes"][:5])
            lines.append(f"{s['detector']} on {s['signal']}: change at row {rows}")
    return lines


def _segments_table(segments: list[dict[str, Any]]) -> Table:
    table = Table(title="weak segments (worst impact first)")
    for column in ("segment", "rows", "metric", "value", "overall", "gap", "adj. p", "impact"):
        table.add_column(column)
    for g in segments:
        table.add_row(g["segment"], str(g["rows"]), g["metric"], f"{g['value']:.4g}", f"{g['overall']:.4g}",
                      f"{g['gap']:.4g}", f"{g['adjusted_p_value']:.3g}", f"{g['impact']:.4g}")
    return table


def _num(value: float | None) -> str:
    return "" if value is None else f"{value:.4f}"


def _cycle_output(cycle: Any, as_json: bool) -> None:
    body = cycle.to_json()
    if as_json:
        _print_json(body)
        return
    table = Table(title=f"cycle {body['cycle']}: {body['decision']['action'].upper()}")
    for column in ("rule", "value", "threshold", "fired", "says"):
        table.add_column(column)
    for r in body["decision"]["reasons"]:
        value = "" if r["value"] is None else f"{r['value']:.4g}"
        threshold = "" if r["threshold"] is None else f"{r['threshold']:g}"
        table.add_row(r["rule"], value, threshold, "[red]yes[/]" if r["fired"] else "no", r["says"])
    console = _console()
    console.print(table)
    if body.get("comparison"):
        check_table = Table(title=f"{body['comparison']['challenger']} vs {body['comparison']['champion']}")
        for column in ("check", "champion", "challenger", "difference (CI)", "threshold", "passed"):
            check_table.add_column(column)
        for c in body["comparison"]["checks"]:
            band = ("" if c.get("difference") is None
                    else f"{c['difference']:+.4g} ({c['lower']:+.4g}..{c['upper']:+.4g})")
            verdict = "[green]yes[/]" if c["passed"] else "[red]no[/]"
            if c.get("skipped"):
                verdict = f"skipped: {c['skipped']}"
            elif c.get("p_value") is not None:
                verdict += f" (p={c['p_value']:.3g}, {c['rows']} rows)"
            check_table.add_row(c["check"], _num(c["champion"]), _num(c["challenger"]), band, f"{c['threshold']:g}",
                                verdict)
        console.print(check_table)
    if body.get("testset"):
        added = body["testset"]
        console.print(f"enriched test set: +{sum(added['added'].values())} hard cases {added['added']}, "
                      f"{added['duplicates']} already in, {added['capped']} dropped by the cap; {added['size']} rows")
    console.print(f"champion: {body['champion_before']} -> {body['champion_after']}")


def _event_output(event: Any, as_json: bool) -> None:
    if as_json:
        _print_json(event.to_json())
        return
    if event.kind == "shadow":
        _console().print(f"shadow: {event.evidence['shadow']} scores every request beside champion "
                         f"{event.champion_after} (ledger entry {event.cycle})")
    elif event.kind == "shadow_stop":
        _console().print(f"shadow mode ended for {event.evidence['shadow']} after {event.evidence['rows_scored']} "
                         f"rows (ledger entry {event.cycle})")
    else:
        _console().print(f"champion: {event.champion_before} -> {event.champion_after} (ledger entry {event.cycle})")
