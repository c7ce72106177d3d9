"""Smoke test of the benchmark harness (``bench/``; the benchmarks themselves run in ``make bench``)."""

from __future__ import annotations

import doctest
import sys
from pathlib import Path

import pandas as pd
import pytest

from bench import data, options, report, runner  # the repo root is on pytest's pythonpath


def test_drift_data_is_deterministic_and_shifts_only_the_declared_features(tmp_path: Path) -> None:
    first = data.generate(3000, tmp_path / "a", seed=7)
    second = data.generate(3000, tmp_path / "b", seed=7)
    reference, current = pd.read_parquet(first.reference), pd.read_parquet(first.current)
    pd.testing.assert_frame_equal(reference, pd.read_parquet(second.reference))
    pd.testing.assert_frame_equal(current, pd.read_parquet(second.current))
    assert reference.shape == current.shape == (3000, 25)
    assert first.shifted == ["num_00", "num_01", "num_02", "num_03", "num_04", "cat_0"]
    moved = {c for c in data.NUMERIC
             if abs(current[c].mean() - reference[c].mean()) > 0.3 * reference[c].std()}
    assert moved == set(data.NUMERIC[:5])
    assert reference["cat_0"].value_counts().idxmax() == "c00"
    assert current["cat_0"].value_counts().idxmax() == "c03"
    assert not pd.read_parquet(data.generate(3000, tmp_path / "c", seed=8).reference).equals(reference)


def test_table_prints_markdown_with_notes() -> None:
    table = report.Table("Serve", ["server", "req/s", "p99 ms"], notes=["noisy"])
    table.add("bare", 140.0, None)
    table.add("leanloop", 1234.5678, 42.0)
    assert table.markdown().splitlines() == [
        "### Serve", "", "| server | req/s | p99 ms |", "| --- | --- | --- |",
        "| bare | 140.00 | - |", "| leanloop | 1,234.57 | 42.00 |", "", "- noisy"]
    with pytest.raises(ValueError, match="2 cells"):
        table.add("x", 1.0)


def test_measured_run_reads_the_last_json_line_and_the_childs_peak_memory() -> None:
    # The child holds its block two seconds: under a parent whose own peak is larger (a
    # pytest worker), the child's peak is sampled from /proc every 0.5 s, and a child that
    # exits at once can end between two samples (bench children run for seconds).
    code = ("import json, time; block = bytearray(80 * 2**20); time.sleep(2); print('log'); "
            "print(json.dumps({'n': len(block)}))")
    run = runner.run_measured("child", [sys.executable, "-c", code], timeout=60)
    assert run.ok and run.result == {"n": 80 * 2**20}
    assert run.peak_rss_mb >= 80
    slow = runner.run_measured("sleeper", [sys.executable, "-c", "import time; time.sleep(30)"], timeout=0.5)
    assert slow.timed_out and not slow.ok and slow.wall_s < 10
    # 200 MB/s: the sampler stops it well under 1 GB even when a busy machine delays it seconds.
    grow = "import time\nblocks = []\nfor _ in range(200):\n    blocks.append(bytearray(10 * 2**20)); time.sleep(0.05)"
    hog = runner.run_measured("hog", [sys.executable, "-c", grow], timeout=60, max_rss_mb=150)
    assert hog.over_memory and hog.failure == "stopped at the memory cap"
    assert 150 <= hog.peak_rss_mb < 1000


@pytest.mark.parametrize("module", [data, options, report, runner])
def test_bench_doctests(module: object) -> None:
    failures, _ = doctest.testmod(module, optionflags=doctest.NORMALIZE_WHITESPACE)  # type: ignore[arg-type]
    assert failures == 0


def test_the_batch_file_is_seeded_written_in_groups_and_ids_are_unique(tmp_path: Path) -> None:
    from bench.suites import batch

    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    first = pd.read_parquet(batch.generate(2500, tmp_path / "a", group=1000))
    again = pd.read_parquet(batch.generate(2500, tmp_path / "b", group=1000))
    pd.testing.assert_frame_equal(first, again)
    assert first["id"].tolist() == list(range(2500)) and "repaid" not in first.columns
    assert first["car_value"].nunique() > 1000  # drawn across the analysis period, not one row repeated
