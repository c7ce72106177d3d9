"""What an estimator returns: each metric's estimate with its band."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from leanloop.measure.bootstrap import Interval

__all__ = ["Estimate", "EstimatedPerformance"]


class Estimate(Interval):
    """An estimated metric: ``value`` and the band ``[lower, upper]`` where the realized
    metric is expected to fall at the configured confidence."""


class EstimatedPerformance(BaseModel):
    """Estimated metrics and KPIs of a batch of rows whose labels are not (all) known."""

    model_config = ConfigDict(frozen=True)

    method: str
    rows: int
    metrics: dict[str, Estimate] = Field(default_factory=dict)
    kpis: dict[str, Estimate] = Field(default_factory=dict)
    #: rows the bands' simulations read when they subsampled (``max_rows``), else None
    simulated_rows: int | None = None
    #: Classification only: the expected confusion matrix [actual][predicted], in class order.
    confusion: list[list[float]] | None = None

    @property
    def values(self) -> dict[str, float]:
        """The estimates without their bands."""
        return {name: e.value for name, e in self.metrics.items()}
