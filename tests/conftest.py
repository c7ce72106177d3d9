"""Shared fixtures: real things, built small."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from leanloop.datasets import CarLoan, car_loan


@pytest.fixture(scope="session")
def car_loan_data() -> CarLoan:
    """The bundled car-loan data (loaded once per session)."""
    return car_loan()


@pytest.fixture
def car_loan_csv(tmp_path: Path, car_loan_data: CarLoan) -> Path:
    """A 6,000-row sample of the car-loan reference period as CSV."""
    path = tmp_path / "loans.csv"
    car_loan_data.reference.head(6000).to_csv(path, index=False)
    return path


@pytest.fixture
def analysis_with_truth(car_loan_data: CarLoan) -> pd.DataFrame:
    """The analysis period in time order, with its delivered targets joined."""
    frame = car_loan_data.analysis.merge(car_loan_data.analysis_targets, on="id")
    return frame.sort_values("timestamp", kind="stable").reset_index(drop=True)
