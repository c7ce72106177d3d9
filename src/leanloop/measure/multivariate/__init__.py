"""Multivariate drift: has the joint distribution of the features moved?

Univariate tests look at one feature at a time and miss changes in how features move
together. Two complementary measures look at all of them at once:

- :func:`domain_classifier` — cross-validated ROC AUC of a model telling current rows
  from reference rows (0.5: indistinguishable), with the features that drive it;
- :class:`PcaDrift` — PCA reconstruction error against a band from reference chunks.

:func:`multivariate_drift` runs both into one :class:`MultivariateResult`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pydantic import BaseModel, ConfigDict

from leanloop.config import MultivariateConfig
from leanloop.measure.multivariate.domain import DomainClassifierResult, FeatureImportance, domain_classifier
from leanloop.measure.multivariate.pca import PcaDrift, PcaResult
from leanloop.schema import Schema

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["DomainClassifierResult", "FeatureImportance", "MultivariateResult", "PcaDrift", "PcaResult",
           "domain_classifier", "multivariate_drift"]


class MultivariateResult(BaseModel):
    """Both multivariate measures of one current sample (``None``: too few rows)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    domain_classifier: DomainClassifierResult | None
    pca: PcaResult | None
    drifted: bool = False  # either measure says drift


def multivariate_drift(reference: pd.DataFrame, current: pd.DataFrame, schema: Schema | None = None,
                       options: MultivariateConfig | None = None, pca: PcaDrift | None = None) -> MultivariateResult:
    """Domain classifier and PCA reconstruction error of ``current`` against ``reference``.

    Pass a fitted ``pca`` to reuse it across chunks. A measure is ``None`` when a side
    has too few rows for it (the domain classifier needs twice the folds a side).

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> rng = np.random.default_rng(1)
    >>> ref = pd.DataFrame({"x": rng.normal(size=400), "c": rng.choice(["a", "b"], 400)})
    >>> cur = pd.DataFrame({"x": rng.normal(size=400), "c": rng.choice(["a", "b"], 400)})
    >>> result = multivariate_drift(ref, cur, options=MultivariateConfig(folds=3))
    >>> result.drifted, result.domain_classifier.auc < 0.55, result.pca.drifted
    (False, True, False)
    """
    options = options or MultivariateConfig()
    if pca is None and len(reference) >= 2 * options.pca_chunks:
        pca = PcaDrift(options).fit(reference, schema)
    enough = min(len(reference), len(current)) >= 2 * options.folds
    domain = domain_classifier(reference, current, schema, options) if enough else None
    pca_result = pca.measure(current) if pca is not None and len(current) else None
    return MultivariateResult(domain_classifier=domain, pca=pca_result,
                              drifted=any(r is not None and r.drifted for r in (domain, pca_result)))
