"""Generated drift data: 20 numeric and 5 categorical features, 5 + 1 of them shifted.

Reference and current have equal size. Current moves ``num_00``..``num_04`` (by half a
standard deviation of their reference distribution) and ``cat_0`` (its category
shares reversed); the other 19 features keep their distribution. Each (side, column)
has its own generator seeded from ``(seed, side, column)``, filled block by block, so
the same seed and size always give the same files and 10M rows never sit in memory
whole. Written as Parquet (one row group per block).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

__all__ = ["DriftData", "generate", "parse_size", "NUMERIC", "CATEGORICAL", "SHIFTED"]

NUMERIC = [f"num_{i:02d}" for i in range(20)]
CATEGORICAL = [f"cat_{i}" for i in range(5)]
SHIFTED = NUMERIC[:5] + CATEGORICAL[:1]
_LEVELS = [4, 6, 8, 12, 20]  # categories per categorical feature
_BLOCK = 1_000_000


@dataclass(frozen=True)
class DriftData:
    """Paths of the two Parquet files and what is in them."""

    reference: str
    current: str
    rows: int
    seed: int
    numeric: list[str]
    categorical: list[str]
    shifted: list[str]


def parse_size(text: str) -> int:
    """Rows from ``1M``, ``10M``, ``200k`` or a plain number.

    >>> parse_size("1M"), parse_size("200k"), parse_size("5000")
    (1000000, 200000, 5000)
    """
    text = text.strip().lower()
    factor = {"k": 1_000, "m": 1_000_000}.get(text[-1:], 1)
    return int(float(text[:-1] if factor > 1 else text) * factor)


def _numeric_block(rng: np.random.Generator, column: int, size: int, shifted: bool) -> np.ndarray:
    """Five families of distribution in turn; a shift moves the location by 0.5 sd."""
    family = column % 5
    if family == 0:
        values, sd = rng.normal(10.0 * column, 2.0 + column, size), 2.0 + column
    elif family == 1:
        values, sd = rng.lognormal(1.0, 0.5, size), float(np.sqrt((np.exp(0.25) - 1) * np.exp(2.25)))
    elif family == 2:
        values, sd = rng.uniform(0.0, 100.0, size), 100.0 / np.sqrt(12.0)
    elif family == 3:
        values, sd = rng.exponential(3.0, size), 3.0
    else:
        values, sd = rng.gamma(2.0, 2.0, size), 2.0 * np.sqrt(2.0)
    return values + 0.5 * sd if shifted else values


def _category_block(rng: np.random.Generator, levels: int, size: int, shifted: bool) -> np.ndarray:
    weights = np.arange(levels, 0, -1, dtype=float)  # shares levels:...:1
    if shifted:
        weights = weights[::-1]
    names = np.array([f"c{k:02d}" for k in range(levels)], dtype=object)
    return names[rng.choice(levels, size=size, p=weights / weights.sum())]


def _write_side(path: Path, rows: int, seed: int, side: int) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    columns = NUMERIC + CATEGORICAL
    rngs = [np.random.default_rng([seed, side, c]) for c in range(len(columns))]
    writer: pq.ParquetWriter | None = None
    try:
        for start in range(0, rows, _BLOCK):
            size = min(_BLOCK, rows - start)
            arrays = [_numeric_block(rngs[c], c, size, side == 1 and name in SHIFTED)
                      for c, name in enumerate(NUMERIC)]
            arrays += [_category_block(rngs[len(NUMERIC) + k], _LEVELS[k], size, side == 1 and name in SHIFTED)
                       for k, name in enumerate(CATEGORICAL)]
            table = pa.table({name: pa.array(a, type=pa.float64() if name in NUMERIC else pa.string())
                              for name, a in zip(columns, arrays, strict=True)})
            if writer is None:
                writer = pq.ParquetWriter(path, table.schema)
            writer.write_table(table)
    finally:
        if writer is not None:
            writer.close()


def generate(rows: int, folder: Path, seed: int = 20261128) -> DriftData:
    """Write (or reuse) ``reference.parquet`` and ``current.parquet`` of ``rows`` rows each."""
    folder = Path(folder) / f"drift-{rows}-{seed}"
    data = DriftData(reference=str(folder / "reference.parquet"), current=str(folder / "current.parquet"),
                     rows=rows, seed=seed, numeric=NUMERIC, categorical=CATEGORICAL, shifted=SHIFTED)
    manifest = folder / "manifest.json"
    if manifest.exists() and json.loads(manifest.read_text(encoding="utf-8")) == asdict(data):
        return data
    folder.mkdir(parents=True, exist_ok=True)
    _write_side(Path(data.reference), rows, seed, side=0)
    _write_side(Path(data.current), rows, seed, side=1)
    manifest.write_text(json.dumps(asdict(data), indent=2), encoding="utf-8")
    return data
