"""Per-partition summaries merge into the whole column's: the property the Dask engine rests on."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from leanloop.config import QualityConfig
from leanloop.engines.parts import column_part, merge_parts
from leanloop.measure.quality import tally_checks
from leanloop.schema import Feature, FeatureKind

COLUMNS = {
    FeatureKind.NUMERIC: st.one_of(st.none(), st.floats(-1e6, 1e6), st.sampled_from(["7", "seven"])),
    FeatureKind.CATEGORICAL: st.one_of(st.none(), st.sampled_from(["a", "b", "c", 1, 2.0])),
    FeatureKind.BOOLEAN: st.one_of(st.none(), st.sampled_from([True, False, "true", "maybe"])),
}


@pytest.mark.parametrize("kind", list(COLUMNS))
@settings(max_examples=40, deadline=None)
@given(data=st.data())
def test_parts_merged_in_order_equal_the_whole_column(kind: FeatureKind, data: st.DataObject) -> None:
    values = data.draw(st.lists(COLUMNS[kind], min_size=1, max_size=40))
    cuts = sorted(data.draw(st.lists(st.integers(0, len(values)), max_size=4)))
    column = pd.Series(values, dtype=object)
    drift = kind is not FeatureKind.NUMERIC or all(not isinstance(v, str) for v in values)
    bounds = [0, *cuts, len(values)]
    parts = [column_part(column.iloc[a:b], kind, name="x", drift=drift, quality=True)
             for a, b in itertools.pairwise(bounds)]

    whole, merged = column_part(column, kind, name="x", drift=drift, quality=True), merge_parts(parts)

    feature = Feature(name="x", kind=kind)
    assert whole.tally is not None and merged.tally is not None
    options = QualityConfig()
    expected = tally_checks(feature, whole.tally, whole.tally, options)
    assert tally_checks(feature, whole.tally, merged.tally, options) == expected
    assert tally_checks(feature, merged.tally, whole.tally, options) == expected
    w, m = whole.tally, merged.tally
    assert (w.rows, w.missing, w.bad, w.examples) == (m.rows, m.missing, m.bad, m.examples)
    if drift:
        assert whole.sample is not None and merged.sample is not None
        if kind is FeatureKind.NUMERIC:
            np.testing.assert_array_equal(whole.sample.values, merged.sample.values)
        else:
            assert (whole.sample.labels, whole.sample.counts.tolist()) == (merged.sample.labels,
                                                                            merged.sample.counts.tolist())
