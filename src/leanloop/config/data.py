"""Sections about the data and the model: ``[data]``, ``[model]`` and ``[kpi]``.

Examples
--------
>>> DataConfig(path="d.csv", target="y", task="regression", id_column="id").excluded
['y', 'id']
"""

from __future__ import annotations

from pydantic import Field, field_validator

from leanloop.config._base import Section
from leanloop.config.enums import ErrorKind, IdType, Task
from leanloop.config.limits import MAX_ITER
from leanloop.label_rule import LabelRule

__all__ = ["Label", "DataConfig", "ModelConfig", "KpiOutcome", "KpiConfig"]

Label = bool | int | str


class DataConfig(Section):
    """The training table and how to read it. Paths are relative to this file."""

    path: str = Field(description="Training table, CSV or Parquet.")
    target: str = Field(description="Column the model predicts.")
    task: Task = Field(description="classification or regression.")
    time_column: str | None = Field(None, description=(
        "Column with event times (split and windows by time); /predict rows may carry it."))
    id_column: str | None = Field(None, description=(
        "Column with row ids (never a feature); /predict rows may carry it, feedback may join by it."))
    id_type: IdType | None = Field(None, description=(
        "What the id column holds, integer or text (inferred at init; none: either); another type is refused."))
    classes: list[Label] | None = Field(None, description="Class labels in order (binary: the second is positive).")
    coerce: list[str] = Field(default_factory=list, description=(
        "Columns of numbers or date-times whose few stray values in the training table are read as missing "
        "('leanloop init --coerce' writes it; a column mostly not numbers stays an error)."))

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
    calibration_size: float = Field(0.2, ge=0.0, lt=0.9, description=(
        "Share of the training rows held out to calibrate a classifier's probabilities under the expected-value "
        "rule (sigmoid, isotonic or none, by held-out log loss); 0 turns calibration off."))


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
    decision: LabelRule | None = Field(None, description=(
        "Classification: the label served, expected_value (worth the most under the outcome values and the "
        "probabilities) or argmax (most probable); default expected_value when outcomes are declared."))

    @field_validator("outcomes")
    @classmethod
    def _one_value_per_cell(cls, value: list[KpiOutcome]) -> list[KpiOutcome]:
        cells = [(str(o.actual), str(o.predicted)) for o in value]
        twice = sorted({c for c in cells if cells.count(c) > 1})
        if twice:
            raise ValueError(f"outcomes give (actual, predicted) cells {twice} more than one value; keep one each")
        return value

    @property
    def rule(self) -> LabelRule:
        """The label rule in force: ``decision``, else expected_value when outcomes are declared.

        >>> KpiConfig().rule.value, KpiConfig(outcomes=[KpiOutcome(actual=1, predicted=1, value=1.0)]).rule.value
        ('argmax', 'expected_value')
        """
        if self.decision is not None:
            return self.decision
        return LabelRule.EXPECTED_VALUE if self.outcomes else LabelRule.ARGMAX

    @property
    def quantile(self) -> float | None:
        """Regression: the quantile that costs least under asymmetric absolute costs,
        ``under / (under + over)``; None when the costs are symmetric or squared.

        >>> KpiConfig(over_cost_per_unit=1.0, under_cost_per_unit=4.0).quantile
        0.8
        """
        over, under = self.over_cost, self.under_cost
        if self.error is not ErrorKind.ABSOLUTE or over == under or over + under == 0:
            return None
        return under / (under + over)

    @property
    def over_cost(self) -> float:
        """Cost per unit of error when the prediction is above the truth."""
        return self.cost_per_unit_error if self.over_cost_per_unit is None else self.over_cost_per_unit

    @property
    def under_cost(self) -> float:
        """Cost per unit of error when the prediction is below the truth."""
        return self.cost_per_unit_error if self.under_cost_per_unit is None else self.under_cost_per_unit
