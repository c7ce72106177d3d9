"""Types every drift method shares: options, result, and the spec the engine runs.

A method returns a :class:`DriftResult`; :class:`DriftOptions` holds the thresholds
once, validated, so callers pass one object instead of a dozen keyword arguments;
each method file declares a :class:`MethodSpec` the engine runs.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from pydantic import BaseModel, ConfigDict, Field

from leanloop.config import DriftMethod, DriftSettings, MeasureConfig, ThresholdMode

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["DriftMethod", "DriftOptions", "DriftResult", "MethodSpec", "Outcome", "ThresholdMode", "drift_frame"]


class DriftOptions(DriftSettings):
    """Thresholds and choices for the drift methods, validated once: the fields and
    bounds of :class:`leanloop.config.DriftSettings` (declared once, ``[measure]`` extends
    it too) plus a seed.

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

    seed: int = Field(0, description="Seed of the calibration's reference chunks.")

    @classmethod
    def from_config(cls, measure: MeasureConfig, *, seed: int = 0) -> DriftOptions:
        """The options a project's ``[measure]`` section sets (same field names).

        Examples
        --------
        >>> DriftOptions.from_config(MeasureConfig(alpha=0.01)).alpha
        0.01
        """
        fields = measure.model_dump()
        return cls(**{k: fields[k] for k in DriftSettings.model_fields}, seed=seed)

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


def drift_frame(results: list[DriftResult]) -> pd.DataFrame:
    """One row per result: feature, kind, method, statistic, p-value, threshold, drifted, sizes."""
    import pandas as pd

    columns = ["feature", "kind", "method", "statistic", "p_value", "threshold", "drifted", "n_reference", "n_current"]
    return pd.DataFrame([r.model_dump(mode="json", include=set(columns)) for r in results], columns=columns)


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
