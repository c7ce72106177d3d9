"""Issue 3: drift + quality on two generated Parquet files, leanloop beside its peers.

Evidently (DataDriftPreset) and NannyML (univariate drift) run in their own venvs;
the numpy floor and leanloop in the repo's. Each tool reads the files itself, so its
wall time includes reading and importing, as a user would see it.
"""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import Any

from bench.data import generate
from bench.envs import peer_python, repo_python
from bench.options import Options
from bench.report import Table, ratio, write_json
from bench.runner import Run, run_measured

__all__ = ["run"]

TOOLS = Path(__file__).resolve().parent.parent / "tools"


def _tools() -> list[tuple[str, list[str], dict[str, str]]]:
    """(name, command without the manifest, extra env) per tool, peers last (slowest)."""
    return [
        ("numpy floor", [repo_python(), str(TOOLS / "drift_floor.py")], {}),
        ("leanloop", [repo_python(), str(TOOLS / "drift_leanloop.py")], {}),
        ("nannyml", [peer_python("nannyml"), str(TOOLS / "drift_nannyml.py")], {"NML_DISABLE_USAGE_LOGGING": "1"}),
        ("evidently", [peer_python("evidently"), str(TOOLS / "drift_evidently.py")], {"DO_NOT_TRACK": "1"}),
    ]


def _found(run: Run, shifted: list[str]) -> str:
    if not run.ok:
        return run.failure
    drifted = set(run.result.get("drifted", []))
    missed, extra = set(shifted) - drifted, drifted - set(shifted)
    text = f"{len(drifted & set(shifted))}/{len(shifted)}"
    if missed:
        text += f", missed {','.join(sorted(missed))}"
    if extra:
        text += f", false {','.join(sorted(extra))}"
    return text


def run(options: Options) -> list[Table]:
    rows = options.drift_rows
    print(f"[bench] drift: generating {rows:,} + {rows:,} rows (cached in {options.data})", flush=True)
    data = generate(rows, options.data)
    manifest = str(Path(data.reference).parent / "manifest.json")
    runs: dict[str, Run] = {}
    for name, command, env in _tools():
        print(f"[bench] drift: {name} ...", flush=True)
        runs[name] = run_measured(name, [*command, manifest], env=env, timeout=options.timeout,
                                  max_rss_mb=options.max_memory_gb * 1024)
        print(f"[bench] drift: {name} {runs[name].wall_s:.1f} s, {runs[name].peak_rss_mb:.0f} MB, "
              f"{'ok' if runs[name].ok else runs[name].stderr_tail[-400:]}", flush=True)
    ok = {n: r for n, r in runs.items() if r.ok}

    def wall(name: str) -> float | None:
        return ok[name].wall_s if name in ok else None

    def rss(name: str) -> float | None:
        return ok[name].peak_rss_mb if name in ok else None

    table = Table(f"Drift + quality, {rows:,} + {rows:,} rows, 20 numeric + 5 categorical, 6 shifted",
                  ["tool", "version", "wall s", "CPU s", "read s", "compute s", "peak MB", "shifted found",
                   "Evidently wall / tool", "NannyML wall / tool", "tool wall / floor", "tool MB / Evidently MB"])
    for name, r in runs.items():
        table.add(name, r.result.get("version"), r.wall_s if r.ok else None, r.cpu_s if r.ok else None,
                  r.result.get("read_s"),
                  r.result.get("compute_s"), r.peak_rss_mb if r.ok else None, _found(r, data.shifted),
                  ratio(wall("evidently"), wall(name)), ratio(wall("nannyml"), wall(name)),
                  ratio(wall(name), wall("numpy floor")), ratio(rss(name), rss("evidently")))
    table.notes.append(f"leanloop: {runs['leanloop'].result.get('mode')}; it reads while it computes, so its "
                       "read s is blank and compute s covers both")
    table.notes.append("targets (issue 3): Evidently/leanloop >= 40, NannyML/leanloop >= 10 (wall time; CPU ratios "
                       "in the JSON), leanloop MB / Evidently MB <= 0.33")
    table.notes.append("wall includes interpreter start, imports and reading Parquet; CPU is user + system time, "
                       f"steadier on a shared machine; a tool is stopped after {options.timeout:.0f} s or at "
                       f"{options.max_memory_gb:g} GB")
    for name, r in runs.items():
        if not r.ok:
            table.notes.append(f"{name}: {r.failure} after {r.wall_s:.0f} s, peak {r.peak_rss_mb:.0f} MB: "
                               f"{r.stderr_tail[-300:]!r}")
    write_json(f"drift-{rows}", {"data": asdict(data), "runs": {n: r.to_json() for n, r in runs.items()},
                                 "summary": _summary(runs)})
    return [table]


def _summary(runs: dict[str, Run]) -> dict[str, Any]:
    lean = runs["leanloop"]
    out: dict[str, Any] = {}
    for peer in ("evidently", "nannyml", "numpy floor"):
        if lean.ok and runs[peer].ok:
            out[f"{peer}_wall_over_leanloop"] = round(runs[peer].wall_s / lean.wall_s, 2)
            out[f"{peer}_cpu_over_leanloop"] = round(runs[peer].cpu_s / lean.cpu_s, 2)
            out[f"leanloop_rss_over_{peer}"] = round(lean.peak_rss_mb / runs[peer].peak_rss_mb, 3)
    return out
