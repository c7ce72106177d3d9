"""The one adapter between the store and the report: every read of store data is here.

It reads the ledger (:meth:`SQLStore.cycles`), the model versions and aliases, the
enriched test set, the reference data of the focus cycle's champion and that cycle's
window of logged predictions, and turns their JSON shapes (dicts) into the report's
own records (:mod:`leanloop.report.records`). When the store's records change type,
only this module changes.
"""

from __future__ import annotations

import itertools
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from leanloop.errors import InputError, NotFoundError
from leanloop.learn.ledger import entries as ledger_entries
from leanloop.report.records import (
    Band,
    ChunkView,
    CycleView,
    Distribution,
    DriftRow,
    EventView,
    GateCheck,
    HardCaseRow,
    Multivariate,
    QualityRow,
    ReportData,
    Rule,
    SegmentRow,
    VersionView,
)
from leanloop.store.features import feature_frame

if TYPE_CHECKING:
    import pandas as pd

    from leanloop.workspace import Workspace

__all__ = ["load_report", "iso"]

#: Bins of a numeric feature's distribution; categories shown before the rest are pooled.
NUMERIC_BINS = 30
TOP_CATEGORIES = 20
#: Newest rows of the enriched test set listed.
HARD_CASES_SHOWN = 20


def iso(seconds: float | None) -> str | None:
    """Epoch seconds as ISO 8601 in UTC (None stays None).

    Examples
    --------
    >>> iso(0)
    '1970-01-01T00:00:00+00:00'
    """
    if seconds is None:
        return None
    return datetime.fromtimestamp(float(seconds), UTC).isoformat(timespec="seconds")


def _epoch(text: str | None) -> float | None:
    return None if text is None else datetime.fromisoformat(text).timestamp()


def _band(body: dict[str, Any] | None, value: float | None = None) -> Band:
    body = body or {}
    return Band(value=body.get("value", value), lower=body.get("lower"), upper=body.get("upper"))


def _bands(values: dict[str, float], intervals: dict[str, Any]) -> dict[str, Band]:
    return {k: _band(intervals.get(k), v) for k, v in values.items()}


def _drift(body: dict[str, Any]) -> DriftRow:
    return DriftRow(**{k: body[k] for k in DriftRow.model_fields})


def _primary(results: list[dict[str, Any]]) -> list[DriftRow]:
    """The first result per feature: the primary test (a PSI may follow it)."""
    seen: dict[str, DriftRow] = {}
    for body in results:
        seen.setdefault(body["feature"], _drift(body))
    return list(seen.values())


def _multivariate(body: dict[str, Any] | None) -> Multivariate | None:
    if not body:
        return None
    dc, pca = body.get("domain_classifier") or {}, body.get("pca") or {}
    return Multivariate(
        drifted=bool(body.get("drifted")),
        classifier_auc=Band(value=dc["auc"], lower=dc.get("auc_low"), upper=dc.get("auc_high")) if dc else None,
        classifier_threshold=dc.get("threshold"), classifier_drifted=dc.get("drifted"),
        top_features=[t["feature"] for t in dc.get("top_features", [])],
        pca_error=pca.get("error"), pca_lower=pca.get("lower_threshold"), pca_upper=pca.get("upper_threshold"),
        pca_drifted=pca.get("drifted"),
    )


def _chunks(measurement: dict[str, Any], metric: str) -> list[ChunkView]:
    out = []
    for i, chunk in enumerate(measurement.get("chunks") or []):
        perf = chunk.get("performance") or {}
        realized = perf.get("realized", {}).get(metric)
        estimated = perf.get("estimated", {}).get(metric)
        out.append(ChunkView(
            label=chunk.get("period") or f"chunk {i + 1}", start=chunk.get("start"), end=chunk.get("end"),
            rows=chunk["rows"], labelled=chunk["labelled"], drift=_primary(chunk.get("drift", [])),
            realized=None if realized is None else _band(perf.get("intervals", {}).get(metric), realized),
            estimated=None if estimated is None else _band(perf.get("estimated_intervals", {}).get(metric), estimated),
        ))
    return out


def _cycle(body: dict[str, Any], metric: str) -> CycleView:
    m = body.get("measurement") or {}
    window, perf = m.get("window") or {}, m.get("performance") or {}
    delay = window.get("label_delay") or {}
    comparison = body.get("comparison") or {}
    return CycleView(
        cycle=body["cycle"], at=iso(body["created_at"]) or "",
        trigger=str(body.get("trigger") or "not recorded"),
        action=body["decision"]["action"],
        rules=[Rule(**{k: r.get(k) for k in Rule.model_fields}) for r in body["decision"].get("reasons", [])],
        champion_before=body["champion_before"], champion_after=body["champion_after"],
        challenger=body.get("challenger"), promoted=bool(body.get("promoted")),
        rolled_back=bool(body.get("rolled_back")), shadowed=body.get("shadowed"), error=body.get("error"),
        window_start=window.get("start"), window_end=window.get("end"), rows=window.get("rows", 0),
        labelled=window.get("labelled", 0), coverage=window.get("coverage"),
        delay_p50=delay.get("p50"), delay_p90=delay.get("p90"),
        realized=_bands(perf.get("realized", {}), perf.get("intervals", {})),
        estimated=_bands(perf.get("estimated", {}), perf.get("estimated_intervals", {})),
        baseline=_bands(perf.get("baseline", {}), perf.get("baseline_intervals", {})),
        reference=perf.get("reference", {}), estimation_error=perf.get("estimation_error", {}),
        estimation_method=perf.get("estimation_method"),
        kpis=_bands(m.get("kpis", {}), m.get("kpi_intervals", {})),
        estimated_kpis=_bands(m.get("estimated_kpis", {}), m.get("estimated_kpi_intervals", {})),
        baseline_kpis=_bands(m.get("baseline_kpis", {}), m.get("baseline_kpi_intervals", {})),
        reference_kpis=m.get("reference_kpis", {}),
        kpi_gain={k: _band(v) for k, v in m.get("kpi_gain", {}).items()},
        argmax_kpis=m.get("argmax_kpis", {}),
        drift=_primary(m.get("drift", [])), drifted_features=m.get("drifted_features", []),
        prediction_drift=_drift(m["prediction_drift"]) if m.get("prediction_drift") else None,
        output_drift=[_drift(d) for o in m.get("prediction_outputs") or [] for d in o.get("drift", [])[:1]],
        multivariate=_multivariate(m.get("multivariate")),
        quality=[QualityRow(**{k: q.get(k) for k in QualityRow.model_fields}
                            | {"feature": q.get("feature") or "(all rows)"})
                 for q in (m.get("quality") or {}).get("results", [])],
        gate=[GateCheck(**{k: c.get(k) for k in GateCheck.model_fields} | {"says": c.get("says") or ""})
              for c in comparison.get("checks", [])],
        gate_promote=comparison.get("promote") if comparison else None,
        segments=[SegmentRow(**{k: s.get(k) for k in SegmentRow.model_fields}) for s in m.get("segments", [])],
        hard_cases=m.get("hard_cases", {}), chunks=_chunks(m, metric),
    )


def _distributions(project: Workspace, focus: CycleView, models: dict[str, dict[str, Any]]) -> list[Distribution]:
    """Each feature's shares per bin in the champion's reference data and in the window."""
    import pandas as pd

    train_data = models.get(focus.champion_before, {}).get("train_data")
    path = project.paths.datasets / train_data if train_data else None
    if path is None or not path.is_file() or focus.window_start is None:
        return []
    reference = pd.read_parquet(path)
    start, end = _epoch(focus.window_start), _epoch(focus.window_end)
    # The window's bounds are rounded to microseconds: widen by one so its edges stay in.
    logged = project.window(since=start - 1e-3, until=end + 1e-3) if start and end else None
    if logged is None or logged.empty:
        return []
    logged = logged.tail(focus.rows)
    current = feature_frame(logged)
    kinds = {row.feature: row.kind for row in focus.drift}
    return [_distribution(name, kinds.get(name, "numeric"), reference[name], current[name])
            for name in project.config.schema_.names if name in reference and name in current]


def _distribution(name: str, kind: str, ref: pd.Series, cur: pd.Series) -> Distribution:
    import numpy as np
    import pandas as pd

    ref, cur = ref.dropna(), cur.dropna()
    if kind in ("numeric", "datetime"):
        if kind == "datetime":
            ref = pd.to_datetime(ref, utc=True, errors="coerce").dropna().astype("int64") / 1e9
            cur = pd.to_datetime(cur, utc=True, errors="coerce").dropna().astype("int64") / 1e9
        both = np.concatenate([ref.to_numpy(dtype=float), cur.to_numpy(dtype=float)])
        low, high = (np.nanquantile(both, [0.005, 0.995]) if len(both) else (0.0, 1.0))
        edges = np.linspace(low, high if high > low else low + 1.0, NUMERIC_BINS + 1)
        # Values beyond the 0.5-99.5% range fall in the end bins rather than vanish.
        r = np.histogram(np.clip(ref.to_numpy(dtype=float), edges[0], edges[-1]), edges)[0]
        c = np.histogram(np.clip(cur.to_numpy(dtype=float), edges[0], edges[-1]), edges)[0]
        bins = [f"{(a + b) / 2:.8g}" for a, b in itertools.pairwise(edges)]
    else:
        ref, cur = ref.astype(str), cur.astype(str)
        counts = pd.concat([ref, cur]).value_counts()
        top = counts.index[:TOP_CATEGORIES].tolist()
        other = len(counts) > len(top)
        r = np.array([(ref == v).sum() for v in top] + ([int((~ref.isin(top)).sum())] if other else []))
        c = np.array([(cur == v).sum() for v in top] + ([int((~cur.isin(top)).sum())] if other else []))
        bins = top + (["(other)"] if len(counts) > len(top) else [])
    return Distribution(feature=name, kind=kind, bins=bins,
                        reference=(r / max(r.sum(), 1)).round(5).tolist(),
                        current=(c / max(c.sum(), 1)).round(5).tolist(),
                        n_reference=len(ref), n_current=len(cur))


def _versions(models: list[dict[str, Any]], aliases: dict[str, str], cycles: list[dict[str, Any]]) -> list[VersionView]:
    promoted: dict[str, list[tuple[str, str]]] = {}
    for entry in cycles:
        before, after = entry.get("champion_before"), entry.get("champion_after")
        if after and after != before:
            kind = entry.get("kind", "cycle")
            by = (f"cycle {entry['cycle']}" if kind == "cycle"
                  else f"{kind} (entry {entry['cycle']}, {entry.get('reason', '')})")
            # A cycle's time is when it started; its promotion happened when it ended.
            done = entry["created_at"] + float((entry.get("durations") or {}).get("total", 0.0))
            promoted.setdefault(after, []).append((iso(done) or "", by))
    out = []
    for body in models:
        name = body["version"]
        rows = body.get("rows") or {}
        steps = promoted.get(name, [])
        if body.get("parent") is None and not steps and body.get("source") in ("build", "adopt"):
            steps = [(iso(body["created_at"]) or "", body["source"])]
        out.append(VersionView(
            version=name, parent=body.get("parent"), source=body.get("source", ""),
            model_kind=body.get("model_kind") or ("own" if body.get("input_format") == "native" else "leanloop"),
            estimator=body.get("estimator"),
            created_at=iso(body["created_at"]) or "", cycle=body.get("cycle"), train_data=body.get("train_data"),
            train_rows=rows.get("train"), fingerprint=body.get("fingerprint", ""), metrics=body.get("metrics", {}),
            aliases=sorted(a for a, v in aliases.items() if v == name),
            promoted_at=[s[0] for s in steps], promoted_by=[s[1] for s in steps],
            label_rule=body.get("decision") or "argmax",
        ))
    return out


def _hard_cases(rows: list[dict[str, Any]]) -> list[HardCaseRow]:
    def text(v: Any) -> str | None:
        return None if v is None else str(v)

    return [HardCaseRow(prediction_id=str(r["prediction_id"]), added_at=iso(r.get("added_at")) or "",
                        cycle=r.get("cycle"), reason=str(r.get("reason", "")), detail=text(r.get("detail")),
                        model_version=text(r.get("model_version")), label=text(r.get("label")),
                        prediction=text(r.get("prediction")))
            for r in rows[:HARD_CASES_SHOWN]]


def load_report(project: Workspace, *, cycle: int | None = None, last: int | None = None,
                distributions: bool = True) -> ReportData:
    """Read a project's ledger, versions and test set into :class:`ReportData`.

    ``cycle`` picks the focus cycle (default: the newest finished one) and ends the
    timeline there; ``last`` keeps only the newest ``last`` cycles on the timeline.
    ``distributions`` reads the focus cycle's window and reference data for the
    per-feature distributions (the heaviest part on a large window).
    """
    config = project.config
    metric = config.policy.main_metric_for(config.data)
    ledger = [e.to_json() for e in ledger_entries(project.store)]
    finished = [c for c in ledger if c.get("kind", "cycle") == "cycle" and c.get("decision")]
    if cycle is not None:
        known = [c["cycle"] for c in finished]
        if cycle not in known:
            raise NotFoundError(f"cycle {cycle} is not a finished cycle of the ledger; finished cycles: {known}")
        finished = [c for c in finished if c["cycle"] <= cycle]
        ledger = [c for c in ledger if c["cycle"] <= cycle]
    if last is not None:
        if last < 1:
            raise InputError(f"last must be at least 1 (the number of newest cycles to report), got {last}")
        finished = finished[-last:]
    cycles = [_cycle(c, metric) for c in finished]
    first = cycles[0].cycle if cycles else 0
    events = [EventView(entry=e["cycle"], kind=e["kind"], at=iso(e["created_at"]) or "",
                        champion_before=e["champion_before"], champion_after=e["champion_after"],
                        reason=str(e.get("reason", "")))
              for e in ledger if e.get("kind", "cycle") != "cycle" and e["cycle"] >= first]
    models = project.store.list_models()
    by_name = {m["version"]: m for m in models}
    focus = cycles[-1] if cycles else None
    testset = project.store.testset_rows()
    kpi_names = list(focus.kpis) if focus else []
    return ReportData(
        project=project.paths.root.name, generated_at=iso(datetime.now(UTC).timestamp()) or "",
        task=config.data.task.value, main_metric=metric, main_kpi=kpi_names[0] if kpi_names else None,
        champion=project.store.get_alias("champion"), focus=focus, cycles=cycles, events=events,
        versions=_versions(models, project.store.aliases(), ledger),
        distributions=_distributions(project, focus, by_name) if focus and distributions else [],
        hard_cases=_hard_cases(testset), hard_cases_total=len(testset),
    )
