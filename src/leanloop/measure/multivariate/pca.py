"""PCA reconstruction error: has the joint structure of the features changed?

Fitted on the reference (categoricals frequency-encoded, every column standardised,
missing values imputed with the reference mean), PCA keeps the components that
explain ``pca_variance`` of the variance. Data from the same distribution is
reconstructed from them about as well as the reference; when correlations change —
even with every marginal unchanged, where univariate tests see nothing — the mean
reconstruction error (Euclidean distance per row) rises.

The alarm band comes from the reference itself, as NannyML does: the reference is
cut into ``pca_chunks`` chunks in order, the mean error of each gives a mean and a
standard deviation, and a current sample is drifted outside mean ± ``pca_sigmas`` std.
A current sample smaller than a reference chunk has a noisier mean, so the std is
scaled by sqrt(chunk rows / current rows) there (never narrowed for larger samples).

Examples
--------
>>> import numpy as np, pandas as pd
>>> rng = np.random.default_rng(0)
>>> def frame(rho, n):
...     x = rng.normal(size=n)
...     return pd.DataFrame({"a": x, "b": rho * x + np.sqrt(1 - rho ** 2) * rng.normal(size=n)})
>>> pca = PcaDrift(MultivariateConfig(pca_variance=0.5)).fit(frame(0.9, 5000))
>>> pca.measure(frame(0.9, 1000)).drifted, pca.measure(frame(-0.9, 1000)).drifted
(False, True)
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict

from leanloop.config import MultivariateConfig
from leanloop.errors import InputError
from leanloop.measure.multivariate.encode import frequency_column, numeric_column
from leanloop.measure.quality import frame_features
from leanloop.schema import Feature, FeatureKind, Schema

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

__all__ = ["PcaResult", "PcaDrift"]


class PcaResult(BaseModel):
    """Mean reconstruction error of a current sample against the reference band."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    method: str = "pca_reconstruction"
    error: float
    reference_mean: float
    reference_std: float
    lower_threshold: float
    upper_threshold: float
    drifted: bool
    components: int
    variance: float
    n_reference: int
    n_current: int


#: Rows whose reconstruction errors are computed at once.
_STEP = 100_000


class PcaDrift:
    """PCA reconstruction-error drift, fitted on a reference frame.

    ``fit(reference, schema=None)`` learns the encoding, the scaler, the PCA and the
    reference band; ``measure(current)`` returns a :class:`PcaResult`.
    """

    def __init__(self, options: MultivariateConfig | None = None) -> None:
        self.options = options or MultivariateConfig()

    def _matrix(self, frame: pd.DataFrame) -> np.ndarray:
        import numpy as np

        columns = []
        for feature in self.features_:
            column = frame[feature.name]
            if feature.kind is FeatureKind.CATEGORICAL:
                columns.append(frequency_column(column, self.frequencies_[feature.name]))
            else:
                columns.append(numeric_column(column, feature))
        X = (np.column_stack(columns) - self.mean_) / self.scale_
        X[np.isnan(X)] = 0.0  # mean imputation, after standardising
        return X

    def _errors(self, X: np.ndarray) -> np.ndarray:
        import numpy as np

        restored = self.pca_.inverse_transform(self.pca_.transform(X))
        return np.sqrt(((X - restored) ** 2).sum(axis=1))

    def fit(self, reference: pd.DataFrame, schema: Schema | None = None) -> PcaDrift:
        """Learn encoding, scaling, components and the reference band from ``reference``."""
        import numpy as np
        from sklearn.decomposition import PCA

        chunks = self.options.pca_chunks
        if len(reference) < 2 * chunks:
            raise InputError(f"PCA drift needs at least {2 * chunks} reference rows ({chunks} chunks), "
                             f"got {len(reference)}")
        self.features_: list[Feature] = frame_features(reference, schema)
        self.frequencies_: dict[str, Any] = {}
        columns = []
        for feature in self.features_:
            column = reference[feature.name]
            if feature.kind is FeatureKind.CATEGORICAL:
                text = column.dropna().astype(str)
                self.frequencies_[feature.name] = text.value_counts(normalize=True)
                columns.append(frequency_column(column, self.frequencies_[feature.name]))
            else:
                columns.append(numeric_column(column, feature))
        raw = np.column_stack(columns)
        self.mean_ = np.nan_to_num(np.nanmean(raw, axis=0))
        scale = np.nan_to_num(np.nanstd(raw, axis=0))
        self.scale_ = np.where(scale > 0, scale, 1.0)
        X = self._matrix(reference)
        self.pca_ = PCA(n_components=self.options.pca_variance, svd_solver="full").fit(X)
        errors = self._errors(X)
        parts = np.array_split(errors, chunks)
        means = np.array([p.mean() for p in parts])
        self.chunk_rows_ = len(reference) // chunks
        self.reference_mean_ = float(means.mean())
        self.reference_std_ = float(means.std(ddof=1))
        self.n_reference_ = len(reference)
        return self

    def measure(self, current: pd.DataFrame) -> PcaResult:
        """Mean reconstruction error of ``current`` and whether it leaves the reference band."""
        import numpy as np

        if not hasattr(self, "pca_"):
            raise InputError("PcaDrift is not fitted; call fit(reference) first")
        if len(current) == 0:
            raise InputError("PCA drift needs at least one current row")
        # in steps of rows: each row's error is its own, and the (rows, features) matrices
        # of a 1M-row window (five of them at once, 80 MB each) are never whole
        errors = np.concatenate([self._errors(self._matrix(current.iloc[start:start + _STEP]))
                                 for start in range(0, len(current), _STEP)])
        error = float(errors.mean())
        std = self.reference_std_ * np.sqrt(max(self.chunk_rows_ / len(current), 1.0))
        lower = max(self.reference_mean_ - self.options.pca_sigmas * std, 0.0)
        upper = self.reference_mean_ + self.options.pca_sigmas * std
        return PcaResult(
            error=error, reference_mean=self.reference_mean_, reference_std=self.reference_std_,
            lower_threshold=lower, upper_threshold=upper, drifted=not lower <= error <= upper,
            components=int(self.pca_.n_components_), variance=float(self.pca_.explained_variance_ratio_.sum()),
            n_reference=self.n_reference_, n_current=len(current),
        )
