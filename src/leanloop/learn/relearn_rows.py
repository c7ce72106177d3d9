"""The rows a challenger that relearns a changed relation learns from.

Two ways, chosen by the model (see :mod:`leanloop.learn.retrain`, "Relearning after
model harm"): leanloop's pipeline learns from every older row and the rows logged since
the change, marked as such (:func:`since_change_rows`, for
:class:`~leanloop.build.since_change.SinceChange`); a model that cannot take the mark
(the user's own, or one trained on Dask) learns from the rows since the change with the
older rows as a light prior (:func:`relearn_rows`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

    from leanloop.config import ProjectConfig

__all__ = ["relearn_rows", "since_change_rows", "RELEARN_PRIOR_ROWS", "RELEARN_PRIOR_SHARE"]


#: Relearning after model harm with a model that cannot take the mark (the user's own, or
#: trained on Dask): the older rows (reference and production before the
#: harm) form a prior of at most this many times the focus rows' count, carrying
#: ``RELEARN_PRIOR_SHARE`` of the training weight (the focus rows carry the rest).
#: Measured on the scenario bench's concept change (the first model's calibration and
#: expected-value rule, trained on the first 700 to 4,500 post-change rows, profit per
#: loan on the later ones; frozen 282-294): 1x rows at 0.3 earned 311, 316, 321, 319,
#: 322, the best or near it at every size; 0.5x at 0.2 earned 293-330, 2x at 0.3 299-344
#: (worst with few rows), 0.25x at 0.1 279-331 (below frozen with 1,050 rows: the
#: calibration then sees almost only the new rows), the post-change rows alone 278-331,
#: and the reference with the new rows at half the weight (the strategy of the other
#: retrains) 301-327.
RELEARN_PRIOR_ROWS = 1.0
RELEARN_PRIOR_SHARE = 0.3


def relearn_rows(config: ProjectConfig, production: pd.DataFrame, reference: pd.DataFrame, focus: np.ndarray,
                 ) -> tuple[pd.DataFrame, np.ndarray, dict[str, int]]:
    """The training rows of a challenger that relearns a changed relation without the mark
    (the user's own model, or the Dask engine; module docstring).

    ``production`` holds the labelled production rows it may learn from (oldest first),
    ``focus`` marks those logged since the harm began. The newest ``[retrain] max_rows``
    focus rows are kept (``capped`` counts those dropped); the prior is a seeded sample
    of the reference and the other production rows (``prior`` counts it). Returns the
    rows (prior first), their weights and row counts, as :func:`~leanloop.learn.retrain.training_rows` does.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> from leanloop.config import ProjectConfig
    >>> config = ProjectConfig.model_validate({"data": {"path": "x.csv", "target": "y", "task": "classification"},
    ...     "schema": {"features": [{"name": "a", "kind": "numeric"}]}})
    >>> production = pd.DataFrame({"a": np.arange(100.0), "y": [0, 1] * 50})
    >>> reference = pd.DataFrame({"a": -np.arange(1000.0) - 1, "y": [1, 0] * 500})
    >>> rows, weights, counts = relearn_rows(config, production, reference, np.arange(100) >= 20)
    >>> counts
    {'reference': 76, 'production': 84, 'duplicates_dropped': 0, 'capped': 0, 'prior': 80}
    >>> round(float(weights[:80].sum() / weights.sum()), 3)
    0.3
    """
    import numpy as np
    import pandas as pd

    columns = [*config.schema_.names, config.data.target]
    new = production[focus][columns]
    new = new.iloc[max(len(new) - config.retrain.max_rows, 0):]
    older = pd.concat([reference[columns].assign(_reference=True),
                       production[~focus][columns].assign(_reference=False)], ignore_index=True)
    size = min(len(older), int(len(new) * RELEARN_PRIOR_ROWS))
    prior = older.sample(n=size, random_state=config.model.seed) if size < len(older) else older
    combined = pd.concat([prior.drop(columns="_reference"), new], ignore_index=True)
    before = len(combined)
    keep = ~combined.duplicated(subset=columns, keep="last").to_numpy()
    weights = np.ones(len(combined))
    prior_mask = np.arange(len(combined)) < len(prior)
    if 0 < prior_mask.sum() < len(combined):
        share = RELEARN_PRIOR_SHARE
        weights[prior_mask] = share / (1 - share) * (~prior_mask).sum() / prior_mask.sum()
    combined, weights = combined[keep].reset_index(drop=True), weights[keep]
    counts = {"reference": int(prior["_reference"].sum()), "production": len(new) + int((~prior["_reference"]).sum()),
              "duplicates_dropped": before - len(combined), "capped": int(focus.sum()) - len(new),
              "prior": len(prior)}
    return combined, weights, counts


def since_change_rows(config: ProjectConfig, production: pd.DataFrame, reference: pd.DataFrame,
                      focus: np.ndarray) -> tuple[pd.DataFrame, np.ndarray, dict[str, int]]:
    """The training rows of a challenger of leanloop's pipeline that relearns a changed
    relation (module docstring), and which were logged since the change.

    Every row, each with the weight of one, under the cap ``[retrain] max_rows``: the
    newest focus rows first (``capped`` counts those dropped), then the newest older
    production rows, then a seeded sample of the reference. The focus rows are marked
    (:class:`~leanloop.build.since_change.SinceChange`): the model learns which of the
    old relation still holds from the rows instead of a prior weight chosen for it.
    A row logged twice is kept once, as its newest copy (a focus row stays marked).

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> from leanloop.config import ProjectConfig
    >>> config = ProjectConfig.model_validate({"data": {"path": "x.csv", "target": "y", "task": "classification"},
    ...     "schema": {"features": [{"name": "a", "kind": "numeric"}]}, "retrain": {"max_rows": 500}})
    >>> production = pd.DataFrame({"a": np.arange(100.0), "y": [0, 1] * 50})
    >>> reference = pd.DataFrame({"a": -np.arange(1000.0) - 1, "y": [1, 0] * 500})
    >>> rows, since_change, counts = since_change_rows(config, production, reference, np.arange(100) >= 20)
    >>> counts, int(since_change.sum()), len(rows)
    ({'reference': 400, 'production': 100, 'duplicates_dropped': 0, 'capped': 0, 'since_change': 80}, 80, 500)
    """
    import numpy as np
    import pandas as pd

    columns = [*config.schema_.names, config.data.target]
    cap = config.retrain.max_rows
    new = production[focus][columns]
    new = new.iloc[max(len(new) - cap, 0):]
    older = production[~focus][columns]
    older = older.iloc[max(len(older) - (cap - len(new)), 0):]
    room = cap - len(new) - len(older)
    kept = reference[columns] if len(reference) <= room else reference[columns].sample(n=room,
                                                                                        random_state=config.model.seed)
    combined = pd.concat([kept, older, new], ignore_index=True)
    since_change = np.arange(len(combined)) >= len(kept) + len(older)
    keep = ~combined.duplicated(subset=columns, keep="last").to_numpy()
    combined, since_change = combined[keep].reset_index(drop=True), since_change[keep]
    counts = {"reference": len(kept), "production": len(older) + len(new),
              "duplicates_dropped": int((~keep).sum()), "capped": int(focus.sum()) - len(new),
              "since_change": int(since_change.sum())}
    return combined, since_change, counts
