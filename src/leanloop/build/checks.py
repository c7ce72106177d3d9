"""What a new version is warned about, as typed records that travel with the version.

A version is registered even when something about it deserves a second look; the
warning is kept on its record (:class:`~leanloop.registry.ModelVersion`), so ``build``,
``adopt`` and ``models`` print it loudly and ``--json`` carries it:

- ``below_baseline``: the model does not beat the trivial baseline on the main metric
  (``[policy] main_metric``) of its test rows, so it predicts no better than a constant;
- ``optimistic_reference``: an adopted model was judged on the rows it learned from
  (no ``--holdout``), so its reference metrics, which every window is compared with,
  are too good and later windows look worse than they are;
- ``unweighted``: a retrained estimator whose ``fit`` takes no ``sample_weight`` learned
  from every row with the same weight (the ``[retrain]`` weights were not applied).

Examples
--------
>>> print(below_baseline("mae", model=0.869, baseline=0.783).message)  # doctest: +ELLIPSIS
the model does not beat the trivial baseline: mae 0.8690 against the baseline's 0.7830 on the test rows; ...
>>> below_baseline("roc_auc", model=0.71, baseline=0.5) is None
True
"""

from __future__ import annotations

from enum import Enum

from pydantic import BaseModel, ConfigDict

from leanloop.measure.performance import higher_is_better

__all__ = ["WarningKind", "VersionWarning", "below_baseline", "optimistic_reference", "unweighted"]


class WarningKind(str, Enum):
    """What a version is warned about (see the module's docstring)."""

    BELOW_BASELINE = "below_baseline"
    OPTIMISTIC_REFERENCE = "optimistic_reference"
    UNWEIGHTED = "unweighted"


class VersionWarning(BaseModel):
    """One warning: its kind (for scripts) and a message that says what to do."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: WarningKind
    message: str


def below_baseline(metric: str, *, model: float | None, baseline: float | None) -> VersionWarning | None:
    """A warning when ``model`` is not better than ``baseline`` on ``metric`` (a tie is
    not better: a constant would serve as well); None when it is, or either is unknown."""
    if model is None or baseline is None:
        return None
    beats = model > baseline if higher_is_better(metric) else model < baseline
    if beats:
        return None
    return VersionWarning(kind=WarningKind.BELOW_BASELINE, message=(
        f"the model does not beat the trivial baseline: {metric} {model:.4f} against the baseline's "
        f"{baseline:.4f} on the test rows; a constant prediction would serve as well. Check the features "
        "and the target (a leak removed, a column typed wrongly?) before serving it"))


def optimistic_reference(source: str) -> VersionWarning:
    """The warning for an adopted model measured on its own training rows ``source``."""
    return VersionWarning(kind=WarningKind.OPTIMISTIC_REFERENCE, message=(
        f"reference metrics were measured on {source}, the rows the model was trained on: they are optimistic, "
        "so production windows will look worse than they are. Pass --holdout FILE with labelled rows the "
        "model did not learn from"))


def unweighted(estimator: str) -> VersionWarning:
    """The warning for a refitted estimator that cannot take sample weights."""
    return VersionWarning(kind=WarningKind.UNWEIGHTED, message=(
        f"{estimator}.fit takes no sample_weight, so every training row weighed the same: the [retrain] "
        "weights of production rows were not applied"))
