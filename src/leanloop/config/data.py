"""Sections about the data and the model: ``[data]``, ``[model]`` and ``[kpi]``.

Examples
--------
>>> DataConfig(path="d.csv", target="y", task="regression", id_column="id").excluded
['y', 'id']
"""

from __future__ import annotations

from pydantic import Field, field_validator

from leanloop.config._base import Section
from leanloop.config.enums import ErrorKind, Task
from leanloop.config.limits import MAX_ITER

__all__ = ["Label", "DataConfig", "ModelConfig", "KpiOutcome", "KpiConfig"]

Label = bool | int | str


class DataConfig(Section):
    """The training table and how to read it. Paths are relative to this file."""

    path: str = Field(description="Training table, CSV or Parquet.")
    target: str = Field(description="Column the model predicts.")
    task: Task = Field(description="classification or regression.")
    time_column: str | None = Field(None, description="Column with event times (split and windows by time).")
    id_column: str | None = Field(None, description="Column with row ids (never a feature).")
    classes: list[Label] | None = Field(None, description="Class labels in order (binary: the second is positive).")

    @property
    def excluded(self) -> list[str]:
        """Columns that are never features: target, time and id."""
        return [c for c in (self.target, self.time_column, self.id_column) if c]


class ModelConfig(Section):
    """The minimal pipeline: imputation, scaling, one-hot encoding, gradient boosting."""

    test_size: float = Field(0.2, gt=0.0, lt=0.9, description="Share of rows held out to evaluate the model.")
    seed: int = Field(0, description="Seed of the split, the model and every resampling.")
    max_iter: int = Field(200, ge=1, le=MAX_ITER, description="Boosting iterations.")
    learning_rate: float = Field(0.1, gt=0.0, le=1.0, description="Boosting learning rate.")


class KpiOutcome(Section):
    """The value of one confusion-matrix cell: a prediction of ``predicted`` when the
    truth was ``actual``."""

    actual: Label = Field(description="The true label of the cell.")
    predicted: Label = Field(description="The predicted label of the cell.")
    value: float = Field(description="What one row in this cell is worth (negative: a cost).")


class KpiConfig(Section):
    """Business value of model outcomes, as data (never code).

    Classification: [[kpi.outcomes]] value each confusion cell (actual, predicted);
    undeclared cells are worth default_value. Regression: each unit of error costs
    cost_per_unit_error, or over/under_cost_per_unit when the prediction is above/below.
    """

    name: str = Field("net_value", description="Name of the KPI in reports and the ledger.")
    outcomes: list[KpiOutcome] = Field(default_factory=list,
                                       description="Value of each (actual, predicted) cell, per class for multiclass.")
    default_value: float = Field(0.0, description="Value of a cell no outcome declares.")
    cost_per_unit_error: float = Field(1.0, ge=0.0, description="Regression: cost of one unit of error.")
    error: ErrorKind = Field(ErrorKind.ABSOLUTE, description="Regression: the error charged, absolute or squared.")
    over_cost_per_unit: float | None = Field(None, ge=0.0,
                                             description="Regression: cost per unit when the prediction is too high.")
    under_cost_per_unit: float | None = Field(None, ge=0.0,
                                              description="Regression: cost per unit when the prediction is too low.")
    weight_column: str | None = Field(None,
                                      description="A feature multiplying each row's value (e.g. the loan amount).")

    @field_validator("outcomes")
    @classmethod
    def _one_value_per_cell(cls, value: list[KpiOutcome]) -> list[KpiOutcome]:
        cells = [(str(o.actual), str(o.predicted)) for o in value]
        twice = sorted({c for c in cells if cells.count(c) > 1})
        if twice:
            raise ValueError(f"outcomes give (actual, predicted) cells {twice} more than one value; keep one each")
        return value

    @property
    def over_cost(self) -> float:
        """Cost per unit of error when the prediction is above the truth."""
        return self.cost_per_unit_error if self.over_cost_per_unit is None else self.over_cost_per_unit

    @property
    def under_cost(self) -> float:
        """Cost per unit of error when the prediction is below the truth."""
        return self.cost_per_unit_error if self.under_cost_per_unit is None else self.under_cost_per_unit
