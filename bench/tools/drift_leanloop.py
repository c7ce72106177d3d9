"""leanloop's drift + data-quality measurement of two Parquet files (repo's .venv).

Uses ``drift_report`` and ``quality_report`` when this tree has them; otherwise falls
back to ``feature_drift`` per column and says so in ``mode``.
Usage: drift_leanloop.py MANIFEST.json
"""

from __future__ import annotations

import json
import sys
import time
from typing import Any

import pandas as pd


def full_report(reference: pd.DataFrame, current: pd.DataFrame) -> dict[str, Any]:
    from leanloop.measure.drift import drift_report  # type: ignore[attr-defined]

    drift = drift_report(reference, current)
    out: dict[str, Any] = {"mode": "drift_report", "drifted": sorted(drift.drifted)}
    try:
        from leanloop.measure.quality import quality_report  # type: ignore[import-not-found]
    except ImportError:
        out["mode"] += " (no quality_report in this tree)"
    else:
        quality_report(reference, current).to_json()
        out["mode"] += " + quality_report"
    drift.to_json()
    return out


def fallback(reference: pd.DataFrame, current: pd.DataFrame, manifest: dict[str, Any]) -> dict[str, Any]:
    from leanloop.measure.drift import DriftOptions, feature_drift
    from leanloop.schema import FeatureKind

    drifted = []
    options = DriftOptions()
    for name in manifest["numeric"] + manifest["categorical"]:
        kind = FeatureKind.NUMERIC if name in manifest["numeric"] else FeatureKind.CATEGORICAL
        results = feature_drift(reference[name], current[name], feature=name, kind=kind, options=options)
        if results[0].drifted:  # the primary test, as `leanloop measure` reports it
            drifted.append(name)
    return {"mode": "fallback: feature_drift per column (no drift_report in this tree)", "drifted": sorted(drifted)}


def main(manifest_path: str) -> None:
    import importlib.metadata

    manifest = json.loads(open(manifest_path, encoding="utf-8").read())
    started = time.perf_counter()
    reference, current = pd.read_parquet(manifest["reference"]), pd.read_parquet(manifest["current"])
    read_s = time.perf_counter() - started
    try:
        import leanloop.measure.drift as drift_module

        has_report = hasattr(drift_module, "drift_report")
    except ImportError:
        has_report = False
    out = full_report(reference, current) if has_report else fallback(reference, current, manifest)
    print(json.dumps({"tool": "leanloop", "version": importlib.metadata.version("leanloop"), **out,
                      "read_s": round(read_s, 3), "compute_s": round(time.perf_counter() - started - read_s, 3)}))


if __name__ == "__main__":
    main(sys.argv[1])
