"""Label coverage and label delay of a window: how much ground truth arrived, how late.

Coverage is the share of the window's predictions that have a label. Delay is, per
labelled prediction, the arrival time of the label in force minus the prediction's
time, in seconds; it is summarised by count, min, median, 90th percentile (numpy's
linear interpolation), max and mean. A label that arrived before its prediction was
logged (parked, then joined by a replay) can give a negative delay; it is reported
as is, not clipped.

Examples
--------
>>> import pandas as pd
>>> window = pd.DataFrame({"created_at": [0.0, 10.0, 20.0, 30.0],
...                        "label": [1, None, 0, 1], "received_at": [60.0, None, 80.0, 330.0]})
>>> label_coverage(window)
0.75
>>> label_delay(window)
LabelDelay(count=3, min=60.0, p50=60.0, p90=252.0, max=300.0, mean=140.0)
>>> label_delay(window.iloc[1:2]).count, label_coverage(window.iloc[:0])
(0, None)
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pydantic import BaseModel, ConfigDict

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["LabelDelay", "label_coverage", "label_delay"]


class LabelDelay(BaseModel):
    """Seconds from prediction to label over a window's labelled rows (None when none)."""

    model_config = ConfigDict(frozen=True)

    count: int = 0
    min: float | None = None
    p50: float | None = None
    p90: float | None = None
    max: float | None = None
    mean: float | None = None


def label_coverage(window: pd.DataFrame) -> float | None:
    """Labelled rows over rows; None for an empty window."""
    if window.empty:
        return None
    return float(window["label"].notna().mean())


def label_delay(window: pd.DataFrame) -> LabelDelay:
    """The delay distribution of the window's labelled rows."""
    import numpy as np

    labelled = window[window["label"].notna()]
    if labelled.empty:
        return LabelDelay()
    delays = (labelled["received_at"].astype(float) - labelled["created_at"].astype(float)).to_numpy()
    p50, p90 = np.quantile(delays, [0.5, 0.9])
    return LabelDelay(count=len(delays), min=float(delays.min()), p50=float(p50), p90=float(p90),
                      max=float(delays.max()), mean=float(delays.mean()))
