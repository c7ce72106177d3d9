"""Data sets shipped in the wheel, so the demo and the tests need no network.

NannyML's synthetic car-loan data (Apache-2.0; see ``data/NOTICE``): a reference
period of 50,000 labelled loans and an analysis period of 50,000 loans whose
targets arrive separately, with a known covariate shift from the middle of the
analysis period (higher car values, fewer high salaries).

Examples
--------
>>> data = car_loan()
>>> len(data.reference), len(data.analysis), len(data.analysis_targets)
(50000, 50000, 50000)
>>> data.reference.columns.tolist()[:3]
['id', 'car_value', 'salary_range']
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["CarLoan", "car_loan", "SHIFT_ROW"]

#: Row of the time-ordered analysis period where the car-loan data's shift starts.
SHIFT_ROW = 25_000


@dataclass(frozen=True)
class CarLoan:
    """Reference (with target ``repaid``), analysis (no target) and analysis targets by ``id``."""

    reference: pd.DataFrame
    analysis: pd.DataFrame
    analysis_targets: pd.DataFrame


def car_loan() -> CarLoan:
    """Load the bundled car-loan data."""
    import pandas as pd

    folder = resources.files("leanloop.datasets") / "data"

    def read(name: str) -> pd.DataFrame:
        with resources.as_file(folder / name) as path:
            return pd.read_parquet(path)

    return CarLoan(read("car_loan_reference.parquet"), read("car_loan_analysis.parquet"),
                   read("car_loan_analysis_target.parquet"))
