"""leanloop's drift + data-quality measurement of two Parquet files (repo's .venv).

:func:`leanloop.measure.files.measure_files` reads the files one column at a time, so
reading and computing interleave: ``read_s`` is null and ``compute_s`` covers both.
Usage: drift_leanloop.py MANIFEST.json
"""

from __future__ import annotations

import importlib.metadata
import json
import sys
import time
from pathlib import Path


def main(manifest_path: str) -> None:
    from leanloop.measure.files import measure_files

    manifest = json.loads(Path(manifest_path).read_text(encoding="utf-8"))
    started = time.perf_counter()
    result = measure_files(manifest["reference"], manifest["current"])
    result.to_json()
    print(json.dumps({"tool": "leanloop", "version": importlib.metadata.version("leanloop"),
                      "mode": "measure_files (drift + quality, column by column)",
                      "drifted": sorted(result.drift.drifted),
                      "quality_flagged": result.quality.flagged_features,
                      "read_s": None, "compute_s": round(time.perf_counter() - started, 3)}))


if __name__ == "__main__":
    main(sys.argv[1])
