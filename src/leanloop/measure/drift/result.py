"""Types every drift test shares, and the one rule for the samples they read.

A test returns a :class:`DriftResult`; :class:`DriftOptions` holds the thresholds
once, validated, so callers pass one object instead of three keyword arguments.
Every test drops missing values first (data quality counts them elsewhere) and
refuses a side left with nothing to compare.
"""

from __future__ import annotations

from enum import Enum
from typing import Any

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field

from leanloop.errors import InputError

__all__ = ["DriftMethod", "DriftOptions", "DriftResult"]


class DriftMethod(str, Enum):
    """The statistical test behind a :class:`DriftResult`."""

    KS = "ks"
    CHI_SQUARE = "chi_square"
    PSI = "psi"


class DriftOptions(BaseModel):
    """Thresholds for the drift tests, validated once.

    Examples
    --------
    >>> DriftOptions(alpha=0.01).psi_bins
    10
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    alpha: float = Field(0.05, gt=0, lt=1, description="p-value threshold for KS and chi-square")
    psi_threshold: float = Field(0.2, gt=0, description="PSI above this is drift")
    psi_bins: int = Field(10, ge=2, description="quantile bins from the reference for numeric PSI")


class DriftResult(BaseModel):
    """The outcome of one drift test on one feature; serialises to a stable JSON shape.

    ``p_value`` is ``None`` for PSI, which is a distance, not a hypothesis test.
    ``n_reference`` and ``n_current`` count the values left after dropping missing ones.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    feature: str
    kind: str
    method: DriftMethod
    statistic: float
    p_value: float | None
    threshold: float
    drifted: bool
    n_reference: int
    n_current: int


def _present(values: Any, *, feature: str, side: str) -> pd.Series:
    """Return ``values`` without missing entries; refuse a side with none left."""
    sample = pd.Series(values)
    kept = sample.dropna()
    if kept.empty:
        raise InputError(
            f"feature {feature!r}: the {side} sample has no non-missing values "
            f"({len(sample)} rows, all missing); drift needs at least one value on each "
            f"side: check that {feature!r} is recorded, or choose a window that has data"
        )
    return kept.reset_index(drop=True)


def _labels(sample: pd.Series) -> pd.Series:
    """Category labels as strings, so both samples compare alike."""
    if pd.api.types.is_float_dtype(sample) and bool((sample % 1 == 0).all()):
        # A missing value turns an integer column into floats; "1.0" must still match "1".
        sample = sample.astype("int64")
    return sample.astype(str)


def _numbers(values: Any, *, feature: str, side: str) -> np.ndarray:
    """Like :func:`_present`, as floats; refuse values that are not numbers."""
    sample = _present(values, feature=feature, side=side)
    try:
        return sample.to_numpy(dtype=float)
    except (TypeError, ValueError) as err:
        raise InputError(
            f"feature {feature!r}: the {side} sample must hold numbers for a numeric drift "
            f"test, got {sample.iloc[0]!r}; declare the feature categorical or fix its values"
        ) from err
