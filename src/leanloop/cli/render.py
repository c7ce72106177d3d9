"""Tables and lines the commands print (``--json`` prints the records themselves)."""

from __future__ import annotations

from typing import Any

from rich.table import Table

from leanloop.cli._shared import _console, _print_json

__all__ = ["_version_row", "_serving", "_serving_line", "_metrics_table", "_drift_table", "_monitor_lines", "_segments_table", "_num",
           "_cycle_output", "_event_output"]


def _version_row(version: Any) -> dict[str, Any]:
    return {"version": version.version, "metrics": version.metrics, "baseline_metrics": version.baseline_metrics}


def _serving(version: Any) -> dict[str, Any]:
    """How a version serves: its label rule, regression quantile, calibration before/after."""
    calibration = version.calibration
    return {"decision": version.decision.value, "quantile": version.quantile,
            "calibration": None if calibration is None else calibration.model_dump(mode="json")}


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
    rows = list(measurement["drift"]) + ([measurement["prediction_drift"]] if measurement.get("prediction_drift") else [])
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
                     f"(drift above {d['threshold']:g}: {'yes' if d['drifted'] else 'no'}; driven by {top})")
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
