"""Estimated performance while labels are missing.

Ground truth arrives late and partly, so a window's performance is also *estimated*
from what the model knows: :class:`CBPE` (confidence-based performance estimation)
for classifiers, from probabilities calibrated on labelled reference rows, and
:class:`DLE` (direct loss estimation) for regressors, from models of the loss
trained on reference rows. Each estimate carries a band; when labels arrive, the
measurement shows estimate, realized and the estimation error side by side.
"""

from leanloop.measure.estimation.cbpe import CBPE, ESTIMATED_CLASSIFICATION, Calibration
from leanloop.measure.estimation.dle import DLE
from leanloop.measure.estimation.result import Estimate, EstimatedPerformance

__all__ = ["CBPE", "DLE", "Calibration", "ESTIMATED_CLASSIFICATION", "Estimate", "EstimatedPerformance"]
