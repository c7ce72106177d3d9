"""Per-row labels mapped once per distinct value, without a Python step per row.

A window's labels and served answers are Python objects (an int stays an int, as it was
logged). Mapping each row through a dict keyed by ``(type, value)`` (so ``True`` is not
``1``) cost about 0.3 s per pass over a 1M-row window, and a measurement made a dozen
passes. When every value has one plain type, ``(type, value)`` equality is value
equality, so pandas' hash factorisation (in C) finds the distinct values and their codes;
mixed types take the per-row dict, with the same result.

Examples
--------
>>> codes, uniques = factorized([3, 1, 3, 2])
>>> codes.tolist(), list(uniques)
([0, 1, 0, 2], [3, 1, 2])
>>> factorized([1, True]) is None  # two types: 1 == True, but they are different labels
True
>>> [type(u).__name__ for u in factorized([7, 2 ** 40, 7])[1]]  # Python ints, as logged
['int', 'int']
>>> by_distinct([1, 1.0, True, "a", 1], lambda v: type(v).__name__).tolist()
['int', 'float', 'bool', 'str', 'int']
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np

__all__ = ["factorized", "by_distinct"]

#: Types whose equality within the type is the identity of a label.
_PLAIN = (int, str, float, bool)


def factorized(values: Sequence[Any] | np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """``(codes, uniques)``: each value's index into its distinct values (first seen
    first), when all values share one plain type (or come as a numeric NumPy array);
    None when they do not (then map them row by row)."""
    import numpy as np
    import pandas as pd
    from pandas.api.types import infer_dtype

    if isinstance(values, np.ndarray) and values.dtype != object:
        codes, uniques = pd.factorize(values, use_na_sentinel=False)
        return np.asarray(codes), uniques
    if not isinstance(values, np.ndarray) and infer_dtype(values, skipna=False) == "integer":
        # Integers (the usual labels) factorised as int64, their uniques back as Python
        # ints: 0.04 s instead of 0.07 s per 1M labels, a few dozen times per measurement.
        try:
            codes, uniques = pd.factorize(np.asarray(values, dtype=np.int64))
        except OverflowError:  # beyond 64 bits
            return None
        found = np.empty(len(uniques), dtype=object)
        found[:] = uniques.tolist()
        return np.asarray(codes), found
    types = set(map(type, values))
    if len(types) != 1 or next(iter(types)) not in _PLAIN:
        return None
    codes, uniques = pd.factorize(np.asarray(values, dtype=object), use_na_sentinel=False)
    return np.asarray(codes), uniques


def by_distinct(values: Sequence[Any] | np.ndarray, fn: Callable[[Any], Any]) -> np.ndarray:
    """``fn`` of each value as an object array, ``fn`` called once per distinct value
    (by type and value)."""
    import numpy as np

    found = factorized(values)
    if found is not None:
        codes, uniques = found
        mapped = np.empty(len(uniques), dtype=object)
        mapped[:] = [fn(u) for u in uniques]
        return mapped[codes]
    seen: dict[tuple[type, Any], Any] = {}
    out = np.empty(len(values), dtype=object)
    for i, value in enumerate(values):
        key = (value.__class__, value)
        if key not in seen:
            seen[key] = fn(value)
        out[i] = seen[key]
    return out
