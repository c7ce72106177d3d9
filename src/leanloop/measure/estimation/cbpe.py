"""Confidence-based performance estimation (CBPE) for classifiers without labels.

1. Calibrate: on reference rows with known labels, fit scikit-learn's
   ``IsotonicRegression`` from each class's score to "the row is that class" (binary:
   the positive class only; multiclass: one-vs-rest, rows renormalised to sum to 1).
2. Expect: on new rows, the calibrated probability ``p[i, a]`` is the chance that row
   ``i`` is of class ``a``, so the expected confusion matrix is
   ``E[C[a, p]] = sum_i p[i, a] [pred_i = p]``. Accuracy and precision follow exactly
   (their denominators are fixed by the predictions); recall and F1 are ratios of
   expected counts (as NannyML). ROC AUC is the AUC with each row counted as positive
   with weight ``p[i, 1]`` and negative with weight ``1 - p[i, 1]`` (NannyML's expected
   ROC curve, ties counted one half; multiclass: one-vs-rest macro). Each KPI cell value
   is weighted by its expected count.
3. Band: labels are drawn from the calibrated probabilities ``simulations`` times
   (seeded) and the realized metric computed for each draw; the band is the central
   ``confidence`` share of those draws. It is where the realized metric falls if the
   calibration holds; it leaves out the calibration's own error, which shrinks with
   the reference size (use thousands of reference rows).

Labels are matched as text, so string classes work for binary and multiclass alike
(NannyML's issue #346 fails there).

Examples
--------
>>> import numpy as np
>>> rng = np.random.default_rng(0)
>>> p = rng.uniform(size=2000)
>>> ref = np.c_[1 - p, p]
>>> labels = np.where(rng.uniform(size=2000) < p, "yes", "no")
>>> cbpe = CBPE(classes=["no", "yes"], seed=0).fit(ref, labels)
>>> est = cbpe.estimate(np.c_[[0.9, 0.2, 0.7, 0.4], [0.1, 0.8, 0.3, 0.6]])
>>> sorted(est.metrics)
['accuracy', 'f1', 'precision', 'recall', 'roc_auc']
>>> est.metrics["accuracy"].lower <= est.metrics["accuracy"].value <= est.metrics["accuracy"].upper
True
"""

from __future__ import annotations

from enum import Enum
from typing import TYPE_CHECKING, Any

from leanloop.measure.bootstrap import BootstrapOptions, percentile_interval, subsample_rows
from leanloop.measure.estimation.result import Estimate, EstimatedPerformance
from leanloop.measure.performance import ClassRows, class_rows, classification_table, confusion_table
from leanloop.measure.weighted import weighted_auc

if TYPE_CHECKING:
    from collections.abc import Sequence

    import numpy as np

    from leanloop.config import KpiConfig

__all__ = ["CBPE", "Calibration", "ESTIMATED_CLASSIFICATION"]

#: Metrics CBPE estimates, named as the realized ones.
ESTIMATED_CLASSIFICATION = ("accuracy", "precision", "recall", "f1", "roc_auc")
_BLOCK_CELLS = 4_000_000


class Calibration(str, Enum):
    """How reference scores become probabilities."""

    ISOTONIC = "isotonic"
    #: trust the model's scores as they are (already calibrated, or for tests).
    NONE = "none"


class CBPE:
    """Estimate classification metrics and KPIs from calibrated probabilities.

    Parameters
    ----------
    classes : the class labels in the order of the probability columns.
    seed : seeds the simulated labels behind the bands.
    confidence : share of simulated realized values inside the band.
    simulations : simulated label draws per estimate.
    kpi : the KPI to estimate too (its outcome values per confusion cell).
    calibration : isotonic (default) or none.
    max_rows : beyond this many rows the bands are simulated on a seeded subsample of
        ``max_rows`` rows and rescaled to all rows around the estimate on all rows
        (:func:`leanloop.measure.bootstrap.rescaled`); the result's ``simulated_rows`` says so.
    """

    def __init__(self, *, classes: Sequence[Any], seed: int = 0, confidence: float = 0.95,
                 simulations: int = 500, kpi: KpiConfig | None = None,
                 calibration: Calibration = Calibration.ISOTONIC, max_rows: int | None = None) -> None:
        self.classes = list(classes)
        self.max_rows = max_rows
        self.seed = seed
        self.confidence = confidence
        self.simulations = simulations
        self.kpi = kpi
        self.calibration = Calibration(calibration)

    def fit(self, reference_probabilities: np.ndarray, reference_labels: Sequence[Any]) -> CBPE:
        """Fit one isotonic calibrator per class (binary: one) on labelled reference rows."""
        import numpy as np
        from sklearn.isotonic import IsotonicRegression

        from leanloop.errors import DataError

        proba = self._check(reference_probabilities, "reference_probabilities")
        if len(proba) != len(reference_labels):
            raise DataError(f"reference_probabilities has {len(proba)} rows but reference_labels "
                            f"{len(reference_labels)}; pass one label per row")
        truth = class_rows(list(reference_labels), list(reference_labels), None, self.classes).truth
        self.calibrators_: list[Any] = []
        if self.calibration is Calibration.ISOTONIC:
            for c in [1] if len(self.classes) == 2 else range(len(self.classes)):
                iso = IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip")
                self.calibrators_.append(iso.fit(proba[:, c], (truth == c).astype(float)))
        self.reference_rows_ = len(proba)
        self.reference_accuracy_ = float(np.mean(proba.argmax(axis=1) == truth))
        return self

    def calibrated(self, probabilities: np.ndarray) -> np.ndarray:
        """Calibrated probabilities ``(n, k)`` of each class."""
        import numpy as np

        self._fitted()
        proba = self._check(probabilities, "probabilities")
        if self.calibration is Calibration.NONE:
            return proba
        if len(self.classes) == 2:
            positive = self.calibrators_[0].predict(proba[:, 1])
            return np.c_[1 - positive, positive]
        out = np.column_stack([iso.predict(proba[:, c]) for c, iso in enumerate(self.calibrators_)])
        sums = out.sum(axis=1, keepdims=True)
        # a row every calibrator put at 0 keeps the model's own probabilities
        return np.where(sums > 0, out / np.where(sums > 0, sums, 1.0), proba)

    def estimate(self, probabilities: np.ndarray, predictions: Sequence[Any] | None = None,
                 weights: np.ndarray | None = None) -> EstimatedPerformance:
        """Estimated metrics (and KPIs, if configured) of rows scored ``probabilities``.

        ``predictions`` are the labels the model gave (default: the most probable class);
        ``weights`` multiply each row's KPI value (``kpi.weight_column``).
        """
        import numpy as np

        from leanloop.measure.kpi import outcome_table

        proba = self._check(probabilities, "probabilities")
        n, k = proba.shape
        if n == 0:
            return EstimatedPerformance(method="cbpe", rows=0)
        calibrated = self.calibrated(proba)
        if predictions is None:
            predicted = proba.argmax(axis=1)
        else:
            predicted = class_rows(list(predictions), list(predictions), None, self.classes).truth
        # The expected confusion matrix, E[C[a, b]] = sum of p[i, a] over the rows
        # predicted b, and the metrics, on the n rows themselves: the simulation below
        # expands each row into k weighted rows, one per possible actual class.
        matrix = np.stack([np.bincount(predicted, weights=calibrated[:, a], minlength=k) for a in range(k)])
        table = self._point(matrix, calibrated, proba)
        # each row's KPI value were it of each class (the KPI's cell [actual, predicted])
        kpi_cells = None
        if self.kpi is not None:
            kpi_cells = outcome_table(self.kpi, self.classes)[:, predicted].T
            if weights is not None:
                kpi_cells = kpi_cells * np.asarray(weights, dtype=float)[:, None]
            table[self.kpi.name] = np.array([float((calibrated * kpi_cells).sum()) / n])
        sample = subsample_rows(n, BootstrapOptions(max_rows=self.max_rows, seed=self.seed))
        if sample is None:
            draws = self._simulate(calibrated, _expanded(predicted, k), proba,
                                   None if kpi_cells is None else kpi_cells.ravel())
        else:
            # Simulate on the sample; move each draw's distance from the sample's own
            # estimate, shrunk by sqrt(m / n), to the estimate on all rows.
            sub_rows = _expanded(predicted[sample], k)
            sub_kpi = None if kpi_cells is None else kpi_cells[sample].ravel()
            sub_table = self._metrics(calibrated[sample].reshape(1, -1), sub_rows, proba[sample])
            if sub_kpi is not None and self.kpi is not None:
                sub_table[self.kpi.name] = calibrated[sample].reshape(1, -1) @ sub_kpi / len(sample)
            scale = (len(sample) / n) ** 0.5
            draws = {name: table[name][0] + scale * (values - sub_table[name][0]) for name, values in
                     self._simulate(calibrated[sample], sub_rows, proba[sample], sub_kpi).items()}
        estimates = {name: Estimate(**percentile_interval(float(value[0]), draws[name], self.confidence).model_dump())
                     for name, value in table.items() if np.isfinite(value[0])}
        kpis: dict[str, Estimate] = {}
        if self.kpi is not None and self.kpi.name in estimates:
            mean = estimates.pop(self.kpi.name)
            kpis = {self.kpi.name: mean, f"{self.kpi.name}_total": Estimate(
                value=mean.value * n, lower=mean.lower * n, upper=mean.upper * n)}
        return EstimatedPerformance(method="cbpe", rows=n, metrics=estimates, kpis=kpis, confusion=matrix.tolist(),
                                    simulated_rows=None if sample is None else len(sample))

    def _point(self, matrix: np.ndarray, calibrated: np.ndarray, scores: np.ndarray) -> dict[str, np.ndarray]:
        """The metrics of the expected confusion ``matrix`` (and the expected ROC AUC),
        as :meth:`_metrics` gives them for the calibrated weights of the expanded rows."""
        import numpy as np

        table = confusion_table(matrix[None], np.array([matrix.sum()]))
        table["roc_auc"] = _expected_auc(calibrated[None], scores)
        return {name: table[name] for name in ESTIMATED_CLASSIFICATION}

    def _metrics(self, W: np.ndarray, rows: ClassRows, scores: np.ndarray) -> dict[str, np.ndarray]:
        """Metrics of each weighting of the expanded rows (``W``: ``(B, n * k)``)."""
        table = classification_table(W, rows)
        n, k = scores.shape
        table["roc_auc"] = _expected_auc(W.reshape(len(W), n, k), scores)
        return {name: table[name] for name in ESTIMATED_CLASSIFICATION}

    def _simulate(self, calibrated: np.ndarray, rows: ClassRows, scores: np.ndarray,
                  kpi_values: np.ndarray | None) -> dict[str, np.ndarray]:
        """Realized metrics under ``simulations`` label draws from the calibrated probabilities."""
        import numpy as np

        n, k = calibrated.shape
        rng = np.random.default_rng(self.seed)
        cumulative = np.cumsum(calibrated, axis=1)
        block = max(1, _BLOCK_CELLS // (n * k))
        binary = _BinaryDraws(rows.predicted[::k], scores[:, 1], kpi_values) if k == 2 else None
        out: dict[str, list[np.ndarray]] = {}
        done = 0
        while done < self.simulations:
            size = min(block, self.simulations - done)
            uniform = rng.uniform(size=(size, n, 1))
            if binary is not None:
                # a draw is the positive class where the uniform passes the negative's
                # probability (the cumulative's last column is 1, give or take rounding)
                table = binary.metrics(uniform[:, :, 0] > cumulative[:, 0])
            else:
                drawn = np.minimum((uniform > cumulative[None]).sum(axis=2), k - 1)
                W = (drawn[:, :, None] == np.arange(k)).reshape(size, n * k).astype(float)
                table = self._metrics(W, rows, scores)
                if kpi_values is not None:
                    table["kpi"] = W @ kpi_values / n
            if "kpi" in table and self.kpi is not None:
                table[self.kpi.name] = table.pop("kpi")
            for name, values in table.items():
                out.setdefault(name, []).append(values)
            done += size
        return {name: np.concatenate(parts) for name, parts in out.items()}

    def _check(self, probabilities: np.ndarray, what: str) -> np.ndarray:
        import numpy as np

        from leanloop.errors import DataError

        proba = np.asarray(probabilities, dtype=float)
        if proba.ndim != 2 or proba.shape[1] != len(self.classes):
            raise DataError(f"{what} must have one column per class ({len(self.classes)}: {self.classes}), "
                            f"got shape {proba.shape}")
        if not np.isfinite(proba).all() or (proba < 0).any() or (proba > 1).any():
            raise DataError(f"{what} must hold probabilities in [0, 1]; found values outside or NaN")
        return proba

    def _fitted(self) -> None:
        from leanloop.errors import NotFittedError

        if not hasattr(self, "calibrators_"):
            raise NotFittedError("this CBPE is not fitted yet; "
                                 "call fit(reference_probabilities, reference_labels) first")


class _BinaryDraws:
    """The metrics of binary label draws, from counts and ranks instead of a weight
    matrix over every (row, class) pair: the same numbers (every count and rank sum is
    an exact multiple of 1/2), about ten times faster on a 10k-row window.

    >>> import numpy as np
    >>> draws = _BinaryDraws(np.array([0, 1, 1, 0]), np.array([0.1, 0.8, 0.6, 0.6]), None)
    >>> table = draws.metrics(np.array([[False, True, False, True], [True, True, False, False]]))
    >>> table["accuracy"].tolist(), table["roc_auc"].tolist()
    ([0.5, 0.5], [0.875, 0.5])
    """

    def __init__(self, predicted: np.ndarray, scores: np.ndarray, kpi_values: np.ndarray | None) -> None:
        import numpy as np

        self.predicted = (np.asarray(predicted) == 1).astype(float)
        order = np.argsort(scores, kind="stable")
        ranked = scores[order]
        starts = np.flatnonzero(np.r_[True, ranked[1:] != ranked[:-1]])
        ends = np.r_[starts[1:], len(ranked)]
        # 1-based mid-ranks: tied scores share the mean of their ranks (a tie counts 1/2)
        mid = np.empty(len(ranked))
        mid[order] = np.repeat((starts + ends + 1) / 2.0, ends - starts)
        self.ranks = mid
        # kpi_values holds each row's value for actual class 0, then 1
        self.kpi = None if kpi_values is None else np.asarray(kpi_values, dtype=float).reshape(-1, 2)

    def metrics(self, positive: np.ndarray) -> dict[str, np.ndarray]:
        """Accuracy, precision, recall, F1 and ROC AUC of each draw (a row of ``positive``),
        and the KPI's mean as ``kpi`` when the rows carry KPI values."""
        import numpy as np

        from leanloop.measure.weighted import ratio

        D = positive.astype(float)
        n = D.shape[1]
        hits = D @ self.predicted  # actual 1, predicted 1
        actual = D.sum(axis=1)
        predicted = float(self.predicted.sum())
        negatives_hit = (n - predicted) - (actual - hits)  # actual 0, predicted 0
        rank_sum = D @ self.ranks
        pairs = actual * (n - actual)
        with np.errstate(invalid="ignore", divide="ignore"):
            auc = np.where(pairs > 0, (rank_sum - actual * (actual + 1) / 2) / np.where(pairs > 0, pairs, 1.0), np.nan)
        out = {"accuracy": (negatives_hit + hits) / n, "precision": ratio(hits, np.full_like(hits, predicted)),
               "recall": ratio(hits, actual), "f1": ratio(2 * hits, predicted + actual), "roc_auc": auc}
        if self.kpi is not None:
            out["kpi"] = (self.kpi[:, 0].sum() + D @ (self.kpi[:, 1] - self.kpi[:, 0])) / n
        return out


def _expanded(predicted: np.ndarray, k: int) -> ClassRows:
    """Each row ``k`` times, once per possible actual class, with its prediction.

    >>> import numpy as np
    >>> rows = _expanded(np.array([1, 0]), 2)
    >>> rows.truth.tolist(), rows.predicted.tolist()
    ([0, 1, 0, 1], [1, 1, 0, 0])
    """
    import numpy as np

    return ClassRows(truth=np.tile(np.arange(k), len(predicted)), predicted=np.repeat(predicted, k), proba=None, k=k)


def _expected_auc(per_class: np.ndarray, scores: np.ndarray) -> np.ndarray:
    """ROC AUC of each weighting ``per_class`` ``(B, n, k)`` (how much each row counts as
    each class) of rows scored ``scores`` ``(n, k)``; multiclass: one-vs-rest, macro."""
    import numpy as np

    k = scores.shape[1]
    if k == 2:
        return weighted_auc(scores[:, 1], per_class[:, :, 1], per_class[:, :, 0])
    total = per_class.sum(axis=2)
    return np.mean([weighted_auc(scores[:, c], per_class[:, :, c], total - per_class[:, :, c]) for c in range(k)],
                   axis=0)
