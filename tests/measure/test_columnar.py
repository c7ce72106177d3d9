"""The workspace cache of the champion's scored reference."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from leanloop.measure.columnar import cached_reference_scored, reference_key
from leanloop.scoring import Scored


def _counting(scored: Scored) -> tuple[list[int], object]:
    calls: list[int] = []

    def compute() -> Scored:
        calls.append(1)
        return scored

    return calls, compute


def test_labels_probabilities_and_classes_round_trip(tmp_path: Path) -> None:
    scored = Scored(labels=["no", "yes", "no"], probabilities=np.array([[0.7, 0.3], [0.1, 0.9], [0.6, 0.4]]),
                    classes=["no", "yes"])
    calls, compute = _counting(scored)
    key = reference_key("v1", "f" * 64, 1000, 0)
    first = cached_reference_scored(tmp_path, key, compute)  # type: ignore[arg-type]
    second = cached_reference_scored(tmp_path, key, compute)  # type: ignore[arg-type]
    assert len(calls) == 1
    assert (second.labels, second.classes) == (scored.labels, scored.classes) == (first.labels, first.classes)
    assert np.array_equal(second.probabilities, scored.probabilities)


def test_regression_values_and_a_new_version_miss(tmp_path: Path) -> None:
    scored = Scored(labels=[1.5, 2.25], probabilities=None, classes=None)
    calls, compute = _counting(scored)
    for version in ("v1", "v1", "v2"):
        again = cached_reference_scored(tmp_path, reference_key(version, "a" * 64, 10, 0), compute)  # type: ignore[arg-type]
        assert (again.labels, again.probabilities, again.classes) == ([1.5, 2.25], None, None)
    assert len(calls) == 2


def test_damaged_cache_is_recomputed(tmp_path: Path) -> None:
    scored = Scored(labels=[0, 1], probabilities=None, classes=None)
    calls, compute = _counting(scored)
    key = reference_key("v1", "b" * 64, 10, 0)
    cached_reference_scored(tmp_path, key, compute)  # type: ignore[arg-type]
    (tmp_path / f"reference-scored-{key}.parquet").write_bytes(b"not parquet")
    assert cached_reference_scored(tmp_path, key, compute).labels == [0, 1]  # type: ignore[arg-type]
    assert len(calls) == 2
