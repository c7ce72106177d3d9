"""Types every drift test shares, and the one rule for the samples they read.

A test returns a :class:`DriftResult`; :class:`DriftOptions` holds the thresholds
once, validated, so callers pass one object instead of three keyword arguments.
Every test drops missing values first (data quality counts them elsewhere) and
refuses a side left with nothing to compare.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field

from leanloop.config import DriftMethod, MeasureConfig, ThresholdMode
from leanloop.errors import InputError

__all__ = ["DriftMethod", "DriftOptions", "DriftResult", "MethodSpec", "Outcome", "ThresholdMode"]


class DriftOptions(BaseModel):
    """Thresholds and choices for the drift methods, validated once.

    Fixed thresholds: ``alpha`` for every hypothesis test (drift when p < alpha),
    one threshold per distance (drift when the distance is above it). Samples of at
    least ``large_sample`` values on both sides get distances by default, because a
    test on a million rows flags moves too small to matter. ``threshold_mode``
    "calibrated" replaces each fixed threshold by one learned from reference chunks
    (see :mod:`leanloop.measure.drift.calibrate`), keeping the false-alarm rate near
    ``false_alarm_rate`` on data without drift; ``seed`` makes it repeatable.

    Examples
    --------
    >>> DriftOptions(alpha=0.01).psi_bins
    10
    >>> DriftOptions().threshold_for(DriftMethod.WASSERSTEIN)
    0.1
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    alpha: float = Field(0.05, gt=0, lt=1, description="p-value threshold for the hypothesis tests")
    psi_threshold: float = Field(0.2, gt=0, description="PSI above this is drift")
    psi_bins: int = Field(10, ge=2, description="quantile bins of the reference for numeric PSI, JS, Hellinger")
    wasserstein_threshold: float = Field(0.1, gt=0, description="Wasserstein / reference std above this is drift")
    jensen_shannon_threshold: float = Field(0.1, gt=0, le=1, description="JS distance (base 2) above this is drift")
    hellinger_threshold: float = Field(0.1, gt=0, le=1, description="Hellinger distance above this is drift")
    l_infinity_threshold: float = Field(0.1, gt=0, le=1, description="largest category share change above this")
    large_sample: int = Field(1000, ge=2, description="from this many values on both sides, distances by default")
    threshold_mode: ThresholdMode = ThresholdMode.FIXED
    false_alarm_rate: float = Field(0.05, gt=0, lt=0.5, description="target alarm rate without drift (calibrated)")
    calibration_rounds: int = Field(30, ge=5, description="reference chunks drawn to calibrate a threshold")
    seed: int = Field(0, description="seed of the calibration's reference chunks")

    @classmethod
    def from_config(cls, measure: MeasureConfig, *, seed: int = 0) -> DriftOptions:
        """The options a project's ``[measure]`` section sets (same field names).

        Examples
        --------
        >>> DriftOptions.from_config(MeasureConfig(alpha=0.01)).alpha
        0.01
        """
        fields = measure.model_dump()
        return cls(**{k: fields[k] for k in cls.model_fields if k in fields}, seed=seed)

    def threshold_for(self, method: DriftMethod) -> float:
        """The fixed threshold of ``method``: ``alpha`` for tests, else its distance's."""
        return {
            DriftMethod.PSI: self.psi_threshold,
            DriftMethod.WASSERSTEIN: self.wasserstein_threshold,
            DriftMethod.JENSEN_SHANNON: self.jensen_shannon_threshold,
            DriftMethod.HELLINGER: self.hellinger_threshold,
            DriftMethod.L_INFINITY: self.l_infinity_threshold,
        }.get(DriftMethod(method), self.alpha)


class DriftResult(BaseModel):
    """The outcome of one drift method on one feature; serialises to a stable JSON shape.

    ``statistic`` is the test statistic or the distance; ``p_value`` is ``None`` for
    distances. ``drifted`` is ``p_value < threshold`` for a test with a fixed
    threshold, else ``statistic > threshold`` (distances, and every method when
    ``threshold_mode`` is "calibrated"). ``n_reference`` and ``n_current`` count the
    values left after dropping missing ones. For categorical and boolean features
    ``unseen`` lists categories only in the current sample and ``vanished`` those only
    in the reference (``None`` for numeric features).
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
    threshold_mode: ThresholdMode = ThresholdMode.FIXED
    unseen: list[str] | None = None
    vanished: list[str] | None = None


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


#: What a method computes from two summaries: (statistic, p-value or None).
Outcome = tuple[float, float | None]


@dataclass(frozen=True)
class MethodSpec:
    """How the engine runs one method (each method file declares its own).

    ``noise_power`` says how the statistic's spread without drift scales with the
    sample sizes: proportional to ``(1/n_reference + 1/n_current) ** (noise_power / 2)``
    (1 for distances like KS's D or Wasserstein, 2 for PSI, 0 for chi-square-like
    statistics whose null law does not depend on n). Calibration uses it when the
    reference is too small to cut chunks as large as the current sample. ``root`` says
    the statistic behaves like the square root of a chi-square-like quantity (D,
    distances, |z|), so calibration fits its law on the squared statistic.
    """

    method: DriftMethod
    test: bool
    noise_power: float
    root: bool
    numeric: Callable[..., Outcome] | None = None
    categorical: Callable[..., Outcome] | None = None
