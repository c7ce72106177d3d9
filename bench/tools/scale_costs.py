"""The Dask engine's per-partition costs, one core, for the cost model (repo's .venv).

Usage: scale_costs.py MANIFEST.json. Times, on the first 2M rows of each side (the
first two row groups), what a worker does per partition and what the client does per
column, in seconds per million values (best of three, so a busy machine's pauses
count less): reading one column of a row group (numeric; categorical as text),
summarising it (:func:`~leanloop.engines.parts.column_part`: sort + quality tally, or
the frequency table), hashing rows of all 25 columns (read included), pickling a
numeric part (what goes over the wire), merging sorted parts on the client
(:func:`~leanloop.engines.parts.merge_parts`) and judging the merged column
(:func:`~leanloop.measure.drift.report.judge_feature`: KS and the quality checks), and
the value-range rounds that keep the values on the workers (:mod:`~leanloop.engines.ranges`:
a partition's brief and split, and a range's merge of both sides' runs into the
statistics, per million values of one side, or without the KS statistic its integral
over the quantiles). Prints JSON.
"""

from __future__ import annotations

import json
import pickle
import sys
import time
from collections.abc import Callable
from typing import Any

ROWS = 1_000_000


def best(fn: Callable[[], Any], repeat: int = 3) -> float:
    """The fastest of ``repeat`` runs of ``fn``, in seconds."""
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return min(times)


def main(manifest_path: str) -> None:
    import pyarrow.parquet as pq

    from leanloop.engines.parts import column_part, merge_parts
    from leanloop.measure.drift.report import judge_feature, plan_features
    from leanloop.measure.drift.result import DriftOptions
    from leanloop.measure.duplicates import row_hashes
    from leanloop.schema import FeatureKind

    with open(manifest_path, encoding="utf-8") as handle:
        manifest = json.load(handle)
    files = {side: pq.ParquetFile(manifest[side]) for side in ("reference", "current")}
    num, cat = manifest["numeric"][3], manifest["categorical"][4]

    def read(side: str, group: int, name: str) -> Any:
        return files[side].read_row_group(group, columns=[name]).column(0).to_pandas()

    costs: dict[str, float] = {
        "read_numeric": best(lambda: read("reference", 0, num)),
        "read_categorical": best(lambda: read("reference", 0, cat)),
    }
    column = read("reference", 0, num)
    costs["part_numeric"] = best(lambda: column_part(column, FeatureKind.NUMERIC, name=num, drift=True,
                                                     quality=True))
    text = read("reference", 0, cat)
    costs["part_categorical"] = best(lambda: column_part(text, FeatureKind.CATEGORICAL, name=cat, drift=True,
                                                         quality=True))
    costs["hash_rows_25_columns"] = best(lambda: row_hashes(files["reference"].read_row_group(0).to_pandas()),
                                         repeat=2)
    part = column_part(column, FeatureKind.NUMERIC, name=num, drift=True, quality=True)
    costs["pickle_numeric_part"] = best(lambda: pickle.dumps(part, protocol=5))
    parts = {side: [column_part(read(side, g, num), FeatureKind.NUMERIC, name=num, drift=True, quality=True)
                    for g in (0, 1)] for side in files}
    costs["merge_numeric"] = best(lambda: merge_parts(parts["reference"])) / 2
    merged = {side: merge_parts(p) for side, p in parts.items()}
    options = DriftOptions()
    sample = files["reference"].read_row_group(0, columns=[num]).to_pandas().head(10_000)
    features, chosen, _ = plan_features([num], [num], lambda names: sample[names], schema=None, methods=None,
                                        options=options, chunks=0)
    n = merged["current"].sample.n  # type: ignore[union-attr]
    costs["judge_numeric_both_sides"] = best(lambda: judge_feature(
        features[0], merged["reference"].sample, merged["current"].sample, method=chosen.get(num),
        options=options, bounds=[(0, n)], chunks=0)) / 2
    # The range rounds that replaced the client's merge (leanloop.engines.ranges): per
    # partition the brief and the split, per range the merge of both sides' runs.
    from leanloop.engines.ranges import brief, bucket_stats, split, splitters, take

    briefs = [brief(p) for side in parts for p in parts[side]]
    costs["brief_numeric"] = best(lambda: brief(part))
    cuts = splitters(briefs, 2)
    costs["split_numeric"] = best(lambda: split(part, cuts))
    runs = {side: [take(p, 0, int(split(p, cuts[:0])[0][-1])) for p in parts[side]] for side in parts}
    n_ref, n_cur = (sum(r.size for r in runs[side]) for side in ("reference", "current"))
    costs["range_stats_numeric_per_side"] = best(lambda: bucket_stats(
        runs["reference"], runs["current"], before=(0, 0), sizes=(n_ref, n_cur), low=None, high=None)) / 4
    # Without the KS statistic, sides of one size: the range's integral over the quantiles.
    costs["range_stats_quantiles_per_side"] = best(lambda: bucket_stats(
        runs["reference"], runs["current"], before=(0, 0), sizes=(n_ref, n_cur), low=None, high=None,
        gap=False)) / 4
    print(json.dumps({"tool": "per-partition costs", "unit": "seconds per million values (rows for hashing)",
                      "costs": {k: round(v, 4) for k, v in costs.items()}}))


if __name__ == "__main__":
    main(sys.argv[1])
