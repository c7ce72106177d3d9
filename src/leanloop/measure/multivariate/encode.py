"""Turn mixed-kind feature frames into numeric matrices for multivariate drift.

Numeric features stay numbers, booleans become 0/1, date-times seconds since the
epoch; categorical features become integer codes (for the domain classifier's native
categorical support) or their reference frequency (for PCA, as NannyML does), so a
feature is always one column. Missing values stay NaN; each method imputes its way.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from leanloop.schema import Feature, FeatureKind

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

__all__ = ["numeric_column", "category_codes", "frequency_column", "MAX_CODES"]

#: Most distinct codes a categorical feature gets; rarer categories share the last one
#: (scikit-learn's histogram gradient boosting accepts at most 255 categories).
MAX_CODES = 250


def numeric_column(column: pd.Series, feature: Feature) -> np.ndarray:
    """A numeric, boolean or date-time column as float64 (NaN where missing or unreadable).

    >>> import pandas as pd
    >>> numeric_column(pd.Series([True, None, False]), Feature(name="b", kind="boolean")).tolist()
    [1.0, nan, 0.0]
    """
    import numpy as np
    import pandas as pd

    if feature.kind is FeatureKind.DATETIME:
        stamps = pd.to_datetime(column, errors="coerce", utc=True, format="mixed")
        return ((stamps - pd.Timestamp(0, tz="UTC")) / pd.Timedelta(seconds=1)).to_numpy(dtype=float)
    if feature.kind is FeatureKind.BOOLEAN:
        # True and False also match the numbers 1 and 0 (they hash alike)
        mapped = column.map({True: 1.0, False: 0.0, "true": 1.0, "false": 0.0, "True": 1.0, "False": 0.0,
                             "1": 1.0, "0": 0.0})
        return mapped.to_numpy(dtype=float, na_value=np.nan, copy=True)
    return pd.to_numeric(column, errors="coerce").to_numpy(dtype=float, na_value=np.nan, copy=True)


def _text(column: pd.Series) -> pd.Series:
    return column.where(column.isna(), column.astype(str))


def category_codes(reference: pd.Series, current: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """Integer codes (as floats, NaN for missing) shared by both sides: the
    :data:`MAX_CODES` - 1 most frequent categories of both samples get their own code,
    the rest share one.

    >>> import pandas as pd
    >>> ref, cur = category_codes(pd.Series(["a", "b", None]), pd.Series(["b", "c"]))
    >>> ref.tolist(), cur.tolist()
    ([0.0, 1.0, nan], [1.0, 2.0])
    """
    import numpy as np
    import pandas as pd

    ref, cur = _text(reference), _text(current)
    counts = pd.concat([ref, cur], ignore_index=True).value_counts()
    kept = sorted(counts.index[: MAX_CODES - 1].tolist())
    lookup = {c: float(i) for i, c in enumerate(kept)}

    def encode(side: pd.Series) -> np.ndarray:
        codes = side.map(lookup).to_numpy(dtype=float, na_value=np.nan, copy=True)
        codes[np.isnan(codes) & side.notna().to_numpy()] = float(len(kept))
        return codes

    return encode(ref), encode(cur)


def frequency_column(column: pd.Series, frequencies: pd.Series) -> np.ndarray:
    """Each value's share in the reference (``frequencies``, indexed by text label);
    unseen categories get 0, missing values NaN.

    >>> import pandas as pd
    >>> freq = pd.Series({"a": 0.75, "b": 0.25})
    >>> frequency_column(pd.Series(["a", "c", None]), freq).tolist()
    [0.75, 0.0, nan]
    """
    import numpy as np
    import pandas as pd

    if pd.api.types.infer_dtype(column, skipna=True) in ("string", "empty"):
        # text already: looked up once per distinct value and gathered by code (a text
        # copy and a lookup per row cost 0.5 s per 1M-row column)
        codes, uniques = pd.factorize(column, use_na_sentinel=True)
        found = pd.Series(np.asarray(uniques, dtype=object)).map(frequencies)
        table = np.append(found.to_numpy(dtype=float, na_value=np.nan), np.nan)  # code -1: missing
        table[:-1][np.isnan(table[:-1])] = 0.0  # present, never seen on reference
        return table[codes]
    text = _text(column)
    values = text.map(frequencies).to_numpy(dtype=float, na_value=np.nan, copy=True)
    values[np.isnan(values) & text.notna().to_numpy()] = 0.0
    return values
