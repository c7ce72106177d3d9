"""The report as Markdown (a pull-request comment) and as JSON (for scripts).

Same content as the HTML report, without the charts: the time series become tables.
"""

from __future__ import annotations

from typing import Any

from leanloop.report.html import _band, _num, _pct, _short
from leanloop.report.records import CycleView, ReportData

__all__ = ["render_markdown", "render_json"]


def render_json(data: ReportData) -> str:
    """The report's content as JSON text (times in ISO 8601, UTC)."""
    return data.model_dump_json(indent=2)


def _table(head: list[str], rows: list[list[Any]]) -> list[str]:
    def cell(v: Any) -> str:
        return str(v).replace("|", "\\|").replace("\n", " ")

    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    return [*lines, ""]


def _focus(c: CycleView, data: ReportData) -> list[str]:
    out = [f"## Verdict: **{c.action}** (cycle {c.cycle}, {_short(c.at)})", "",
           (f"Champion {c.champion_before} → {c.champion_after}; challenger {c.challenger or 'none'}; "
            f"trigger {c.trigger}; window {c.rows} rows, {c.labelled} labelled "
            f"({_short(c.window_start)} → {_short(c.window_end)})."), ""]
    if c.error:
        out += [f"Error: {c.error}", ""]
    out += _table(["rule", "fired", "value", "threshold", "what it saw"],
                  [[r.rule, "**yes**" if r.fired else "no", _num(r.value), _num(r.threshold), r.says] for r in c.rules])
    out += ["## Performance", ""]
    out += _table(["metric", "realized", "estimated", "estimation error", "baseline", "reference"],
                  [[n, _band(c.realized.get(n)), _band(c.estimated.get(n)), _num(c.estimation_error.get(n)),
                    _band(c.baseline.get(n)), _num(c.reference.get(n))] for n in c.realized or c.estimated])
    if c.kpis:
        out += ["## KPI", ""]
        out += _table(["KPI", "realized", "estimated", "baseline", "gain over baseline", "argmax on the same rows",
                       "reference"],
                      [[n, _band(b), _band(c.estimated_kpis.get(n)), _band(c.baseline_kpis.get(n)),
                        _band(c.kpi_gain.get(n)), _num(c.argmax_kpis.get(n)), _num(c.reference_kpis.get(n))]
                       for n, b in c.kpis.items()])
    out += ["## Drift", "", f"{len(c.drifted_features)} of {len(c.drift)} features drifted.", ""]
    out += _table(["feature", "method", "statistic", "p-value", "threshold", "drifted"],
                  [[r.feature, r.method, _num(r.statistic), _num(r.p_value), _num(r.threshold),
                    "**yes**" if r.drifted else "no"] for r in c.drift])
    m = c.multivariate
    extra = []
    if m and m.classifier_auc:
        extra.append(f"domain classifier AUC {_band(m.classifier_auc)} (threshold {_num(m.classifier_threshold)})")
    if c.prediction_drift:
        p = c.prediction_drift
        extra.append(f"prediction drift {p.method} {_num(p.statistic)} ({'drifted' if p.drifted else 'no drift'})")
    if extra:
        out += ["Multivariate and prediction drift: " + "; ".join(extra) + ".", ""]
    flagged = [q for q in c.quality if q.flagged]
    out += ["## Data quality", "", f"{len(flagged)} of {len(c.quality)} checks flagged.", ""]
    if flagged:
        out += _table(["feature", "check", "value", "reference", "threshold"],
                      [[q.feature, q.check, _num(q.value), _num(q.reference), _num(q.threshold)] for q in flagged])
    out += ["## Labels", "",
            f"Coverage {_pct(c.coverage)}; delay p50 {_num(c.delay_p50)} s, p90 {_num(c.delay_p90)} s.", ""]
    if c.gate:
        out += [(f"## Champion {c.champion_before} against challenger {c.challenger}: "
                 f"{'promote' if c.gate_promote else 'keep the champion'}"), ""]
        out += _table(["check", "champion", "challenger", "difference", "p-value", "passed"],
                      [[g.check, _num(g.champion), _num(g.challenger),
                        _num(g.difference) + (f" ({_num(g.lower)}..{_num(g.upper)})" if g.lower is not None else ""),
                        _num(g.p_value), "pass" if g.passed else "**fail**"] for g in c.gate])
    out += ["## Weak segments and hard cases", ""]
    if c.segments:
        out += _table(["segment", "rows", "metric", "value", "overall", "adjusted p"],
                      [[s.segment, s.rows, s.metric, _num(s.value), _num(s.overall), _num(s.adjusted_p_value)]
                       for s in c.segments])
    out += ["Hard cases in the window: " + (", ".join(f"{k} {v}" for k, v in c.hard_cases.items()) or "none")
            + f"; enriched test set: {data.hard_cases_total} rows.", ""]
    return out


def render_markdown(data: ReportData) -> str:
    """The report as Markdown: verdict, numbers, the cycle timeline and the lineage."""
    out = [f"# leanloop report: {data.project}", "",
           (f"Generated {_short(data.generated_at)}; champion {data.champion or 'none'}; {len(data.cycles)} cycles; "
            f"main metric {data.main_metric}."), ""]
    if data.focus is None:
        out += ["No finished cycle yet: run `leanloop cycle` once production has logged predictions.", ""]
    else:
        out += _focus(data.focus, data)
        kpi = data.main_kpi
        out += ["## Cycles", ""]
        out += _table(["cycle", "when", "action", "champion", "rows", f"{data.main_metric} realized",
                       f"{data.main_metric} estimated", "estimation error", kpi or "KPI", "drifted"],
                      [[c.cycle, _short(c.at), c.action + (" (promoted)" if c.promoted else "")
                        + (" (rolled back)" if c.rolled_back else ""),
                        c.champion_before + (f" → {c.champion_after}" if c.champion_after != c.champion_before else ""),
                        c.rows, _band(c.realized.get(data.main_metric)), _band(c.estimated.get(data.main_metric)),
                        _num(c.estimation_error.get(data.main_metric)),
                        _band(c.kpis.get(kpi)) if kpi else "", f"{len(c.drifted_features)}/{len(c.drift)}"]
                       for c in data.cycles])
    out += ["## Model lineage", ""]
    out += _table(["version", "aliases", "parent", "source", "train rows", "created", "cycle", "promoted"],
                  [[v.version, ", ".join(v.aliases), v.parent or "", v.source,
                    "" if v.train_rows is None else v.train_rows, _short(v.created_at),
                    "" if v.cycle is None else v.cycle,
                    "; ".join(f"{_short(a)} ({b})" for a, b in zip(v.promoted_at, v.promoted_by, strict=True))]
                   for v in data.versions])
    return "\n".join(out).rstrip() + "\n"
