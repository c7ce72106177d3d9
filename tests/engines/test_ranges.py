"""The range statistics of the Dask engine (values kept on the workers) against the local
engine's code and scipy: the rounds of leanloop.engines.ranges run here in-process on
random partitions (ties, missing values, constant columns, one-value ranges, tiny and
empty partitions), then the same rounds on a real cluster through measure_parquet."""

from __future__ import annotations

from itertools import pairwise
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from leanloop.engines.dask_duplicates import count_duplicates, count_here, hash_cuts, repeats
from leanloop.engines.dask_files import measure_parquet
from leanloop.engines.parts import ColumnPart, column_part
from leanloop.engines.pieces import plan
from leanloop.engines.ranges import (
    Moments,
    brief,
    bucket_stats,
    edge_counts,
    merge_moments,
    quantile_ranks,
    quantiles_of,
    split,
    splitters,
    take,
)
from leanloop.measure.drift import DriftMethod, DriftOptions
from leanloop.measure.drift.binned import numeric_counts
from leanloop.measure.drift.ks import ks_p_value
from leanloop.measure.drift.samples import NumericSample
from leanloop.measure.drift.wasserstein import wasserstein_statistic
from leanloop.measure.duplicates import DuplicateRows
from leanloop.measure.files import measure_files
from leanloop.schema import FeatureKind

from .test_dask import _assert_same, _write_parts


def _parts(values: np.ndarray, cuts: list[int]) -> list[ColumnPart]:
    bounds = [0, *sorted(cuts), values.size]
    return [column_part(pd.Series(values[a:b], dtype=float), FeatureKind.NUMERIC, name="x", drift=True,
                        quality=True) for a, b in pairwise(bounds)]


def _by_ranges(ref: list[ColumnPart], cur: list[ColumnPart], buckets: int, bins: int,
               gap: bool = True) -> dict[str, Any]:
    """The rounds dask_numeric runs on the cluster, run here on the parts (``gap=False``:
    the ranges' integral taken over the quantiles, as when no KS statistic is wanted)."""
    briefs = {"r": [brief(p, samples=5) for p in ref], "c": [brief(p, samples=5) for p in cur]}
    cuts = splitters(briefs["r"] + briefs["c"], buckets)
    offsets = {"r": [split(p, cuts)[0] for p in ref], "c": [split(p, cuts)[0] for p in cur]}
    parts = {"r": ref, "c": cur}
    sizes = {s: [sum(int(o[g + 1] - o[g]) for o in offsets[s]) for g in range(cuts.size + 1)] for s in parts}
    n, m = sum(sizes["r"]), sum(sizes["c"])
    ranks = np.unique(np.concatenate(quantile_ranks(n, bins)[:2]))
    stats = []
    for g in range(cuts.size + 1):
        runs = {s: [take(p, int(o[g]), int(o[g + 1])) for p, o in zip(parts[s], offsets[s], strict=True)]
                for s in parts}
        start = {s: sum(sizes[s][:g]) for s in parts}
        stats.append(bucket_stats(runs["r"], runs["c"], before=(start["r"], start["c"]), sizes=(n, m),
                                  low=float(cuts[g - 1]) if g else None,
                                  high=float(cuts[g]) if g < cuts.size else None,
                                  ranks=tuple(int(r) for r in ranks if start["r"] <= r < start["r"] + sizes["r"][g]),
                                  gap=gap))
    edges = quantiles_of(n, bins, {k: v for s in stats for k, v in s.picked.items()})
    return {"area": sum(s.area for s in stats), "gap": max(s.gap for s in stats), "edges": edges,
            "counts": [np.sum([edge_counts(p, edges) for p in parts[s]], axis=0) for s in parts],
            "std": merge_moments([b.moments for b in briefs["r"]]).std}


_value = st.one_of(st.sampled_from([0.0, 1.0, 1.5, -2.0, np.nan]),
                   st.floats(min_value=-1e3, max_value=1e3, allow_nan=False, width=32))


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ref=st.lists(_value, min_size=1, max_size=60), cur=st.lists(_value, min_size=1, max_size=60),
       ref_cuts=st.lists(st.integers(0, 60), max_size=4), cur_cuts=st.lists(st.integers(0, 60), max_size=4),
       buckets=st.integers(1, 9), bins=st.integers(2, 12))
def test_the_range_rounds_equal_the_local_statistics(ref: list[float], cur: list[float], ref_cuts: list[int],
                                                     cur_cuts: list[int], buckets: int, bins: int) -> None:
    r, c = np.array(ref), np.array(cur)
    local_r, local_c = NumericSample.of(r), NumericSample.of(c)
    if local_r.n == 0 or local_c.n == 0:
        return
    got = _by_ranges(_parts(r, [min(x, r.size) for x in ref_cuts]), _parts(c, [min(x, c.size) for x in cur_cuts]),
                     buckets, bins)

    from scipy.stats import ks_2samp, wasserstein_distance

    spread = float(np.std(local_r.values))
    assert got["std"] == pytest.approx(spread, rel=1e-9, abs=1e-12)
    assert got["area"] == pytest.approx(wasserstein_distance(local_r.values, local_c.values), rel=1e-9, abs=1e-9)
    assert got["area"] / (spread if spread > 0 else 1.0) == pytest.approx(
        wasserstein_statistic(local_r, local_c)[0], rel=1e-9, abs=1e-9)
    assert got["gap"] == pytest.approx(ks_2samp(local_r.values, local_c.values).statistic, rel=1e-12)
    assert got["edges"].tolist() == local_r.quantile_edges(bins).tolist()
    assert [x.tolist() for x in got["counts"]] == numeric_counts(local_r, local_c, bins).tolist()


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data(), size=st.integers(1, 60), buckets=st.integers(1, 9), bins=st.integers(2, 12))
def test_without_the_ks_statistic_the_quantile_integral_equals_scipy(data: st.DataObject, size: int, buckets: int,
                                                                     bins: int) -> None:
    # Sides of one size and no KS wanted: each range's integral is taken over the quantiles.
    finite = st.one_of(st.sampled_from([0.0, 1.0, 1.5, -2.0]),
                       st.floats(min_value=-1e3, max_value=1e3, allow_nan=False, width=32))
    r = np.array(data.draw(st.lists(finite, min_size=size, max_size=size)))
    c = np.array(data.draw(st.lists(finite, min_size=size, max_size=size)))
    ref_cuts, cur_cuts = (data.draw(st.lists(st.integers(0, size), max_size=4)) for _ in range(2))
    got = _by_ranges(_parts(r, ref_cuts), _parts(c, cur_cuts), buckets, bins, gap=False)

    from scipy.stats import wasserstein_distance

    local_r, local_c = NumericSample.of(r), NumericSample.of(c)
    assert got["area"] == pytest.approx(wasserstein_distance(r, c), rel=1e-9, abs=1e-9)
    assert got["area"] / (got["std"] if got["std"] > 0 else 1.0) == pytest.approx(
        wasserstein_statistic(local_r, local_c)[0], rel=1e-9, abs=1e-9)
    assert got["edges"].tolist() == local_r.quantile_edges(bins).tolist()


@pytest.mark.parametrize("buckets", [1, 3])
def test_the_quantile_integral_over_ranges_longer_than_a_block_equals_scipy(buckets: int) -> None:
    # Ranges of more ranks than _quantile_area takes at a time (65,536): the blocks' sums add up.
    from scipy.stats import wasserstein_distance

    rng = np.random.default_rng(3)
    r, c = np.round(rng.normal(0, 1, 150_000), 2), rng.normal(0.1, 1.2, 150_000)
    got = _by_ranges(_parts(r, [70_000]), _parts(c, [20_000, 90_000]), buckets, 10, gap=False)
    assert got["area"] == pytest.approx(wasserstein_distance(r, c), rel=1e-9)


@settings(max_examples=50, deadline=None)
@given(st.lists(st.lists(st.floats(-1e6, 1e6), max_size=20), min_size=1, max_size=5))
def test_moments_merge_to_numpy_std(chunks: list[list[float]]) -> None:
    whole = merge_moments([Moments.of(np.array(chunk)) for chunk in chunks])
    values = np.concatenate([np.array(chunk) for chunk in chunks])
    assert whole.n == values.size
    if values.size:
        assert whole.std == pytest.approx(float(np.std(values)), rel=1e-9, abs=1e-6)


def test_the_ks_p_value_is_scipys_asymptotic_one() -> None:
    from scipy.stats import ks_2samp

    rng = np.random.default_rng(0)
    a, b = rng.normal(0, 1, 3_000), rng.normal(0.05, 1, 4_000)
    expected = ks_2samp(a, b, method="asymp")
    assert ks_p_value(float(expected.statistic), a.size, b.size) == pytest.approx(expected.pvalue, rel=1e-12)


@settings(max_examples=50, deadline=None)
@given(st.lists(st.lists(st.integers(0, 2**64 - 1) | st.sampled_from([0, 7, 2**63]), max_size=15), max_size=4),
       st.integers(1, 6))
def test_repeated_hashes_add_up_over_hash_ranges(parts: list[list[int]], ranges: int) -> None:
    hashed = [np.sort(np.array(p, dtype=np.uint64)) for p in parts]
    cuts = hash_cuts(ranges)
    bounds = [np.concatenate([[0], np.searchsorted(h, cuts, side="right"), [h.size]]) for h in hashed]
    got = sum(repeats([h[b[g]:b[g + 1]] for h, b in zip(hashed, bounds, strict=True)]) for g in range(ranges))
    whole = np.concatenate(hashed) if hashed else np.zeros(0, dtype=np.uint64)
    assert got == DuplicateRows.of_hashes(whole).count


def _frame(rng: np.random.Generator, rows: int, shift: float) -> pd.DataFrame:
    frame = pd.DataFrame({
        "wide": rng.normal(shift, 1, rows),
        "ties": np.round(rng.normal(shift, 1, rows), 1),
        "same": np.full(rows, 3.0),
        "small": rng.integers(0, 4, rows).astype("int64"),
        "when": pd.Timestamp("2026-01-01") + pd.to_timedelta(rng.integers(0, 10**6, rows), unit="s"),
        "city": rng.choice(["a", "b", "c"], rows),
    })
    frame.loc[rng.random(rows) < 0.1, "wide"] = np.nan
    frame.iloc[: rows // 20] = frame.iloc[[0] * (rows // 20)].to_numpy()  # duplicate rows
    return frame


@pytest.mark.dask
@pytest.mark.parametrize("methods", [None, {"wide": DriftMethod.PSI, "ties": DriftMethod.JENSEN_SHANNON,
                                            "small": DriftMethod.HELLINGER, "same": DriftMethod.KS,
                                            "when": DriftMethod.ANDERSON_DARLING}], ids=["default", "chosen"])
@pytest.mark.parametrize("large_sample", [1_000, 100_000], ids=["distances", "tests"])
@pytest.mark.parametrize("whole_columns", [True, False], ids=["a-column-a-task", "spread"])
def test_measured_by_ranges_on_the_cluster_equals_the_local_engine(tmp_path: Path, dask_client: Any,
                                                                   methods: Any, large_sample: int,
                                                                   whole_columns: bool) -> None:
    rng = np.random.default_rng(11)
    reference, current = _frame(rng, 12_000, 0.0), _frame(rng, 16_000, 0.5)
    reference.to_parquet(tmp_path / "reference.parquet", index=False)
    current.to_parquet(tmp_path / "current.parquet", index=False)
    folder = _write_parts(current, tmp_path / "current", parts=5)
    options = DriftOptions(large_sample=large_sample)

    local = measure_files(tmp_path / "reference.parquet", tmp_path / "current.parquet", options=options,
                          methods=methods).to_json()
    dask = measure_parquet(tmp_path / "reference.parquet", folder, client=dask_client, options=options,
                           methods=methods, summarised_from=0, whole_columns=whole_columns).to_json()

    _assert_same(local, dask)
    assert dask["drift"]["drifted"] and dask["quality"]["results"][-1]["count"] > 0  # drift and duplicates seen


@pytest.mark.dask
@pytest.mark.parametrize("whole_columns", [True, False], ids=["a-column-a-task", "spread"])
def test_sides_of_one_size_measured_over_the_quantiles_equal_the_local_engine(tmp_path: Path, dask_client: Any,
                                                                            whole_columns: bool) -> None:
    # As many values a side and no KS wanted: the ranges' integral over the quantiles ("ties" by
    # PSI and "when" by Wasserstein have no missing values; "wide", 10 % missing, takes the merge).
    rng = np.random.default_rng(12)
    reference, current = _frame(rng, 12_000, 0.0), _frame(rng, 12_000, 0.5)
    reference.to_parquet(tmp_path / "reference.parquet", index=False)
    folder = _write_parts(current, tmp_path / "current", parts=5)
    current.to_parquet(tmp_path / "current.parquet", index=False)
    options, methods = DriftOptions(large_sample=1_000), {"ties": DriftMethod.PSI}

    local = measure_files(tmp_path / "reference.parquet", tmp_path / "current.parquet", options=options,
                          methods=methods).to_json()
    dask = measure_parquet(tmp_path / "reference.parquet", folder, client=dask_client, options=options,
                           methods=methods, summarised_from=0, whole_columns=whole_columns).to_json()

    _assert_same(local, dask)
    assert "wide" in dask["drift"]["drifted"]


@pytest.mark.dask
def test_duplicates_counted_on_the_cluster_equal_the_local_count(dask_client: Any) -> None:
    import dask.dataframe as dd

    frame = pd.DataFrame({"x": [1.0, 2.0, 1.0, 3.0, 2.0, 1.0] * 50, "y": list("abcabc") * 50})
    rows = DuplicateRows(len(frame))
    for name in frame.columns:
        rows.add(frame[name])
    parts = dd.from_pandas(frame, npartitions=4).to_delayed()
    counted = count_duplicates(dask_client, parts, "the duplicates of a test frame")
    assert (counted.rows, counted.count) == (len(frame), rows.count) == (300, 296)


@pytest.mark.parametrize("files", [1, 3])
def test_duplicates_counted_in_one_task_equal_the_local_count(tmp_path: Path, files: int) -> None:
    rng = np.random.default_rng(5)
    frame = pd.DataFrame({"x": np.round(rng.normal(0, 1, 3_000), 1), "c": rng.choice(["a", "b"], 3_000)})
    rows = DuplicateRows(len(frame))
    for name in frame.columns:
        rows.add(frame[name])
    folder = _write_parts(frame, tmp_path / "t", parts=files)
    pieces = plan(str(folder)).pieces(["x", "c"], piece_bytes=1)

    assert count_here(pieces, [["x"], ["x", "c"]]) == rows.count > 0
    assert count_here(pieces, [["x"]]) > rows.count  # the first column alone ties more rows
