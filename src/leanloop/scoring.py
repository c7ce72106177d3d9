"""Scoring: one way to get labels, probabilities and values out of any fitted model.

Examples
--------
>>> import pandas as pd
>>> from sklearn.dummy import DummyClassifier
>>> model = DummyClassifier().fit(pd.DataFrame({"x": [0, 1, 1]}), [0, 1, 1])
>>> scored = score(model, pd.DataFrame({"x": [3]}), "classification")
>>> scored.labels, scored.probabilities.round(3).tolist(), scored.classes
([1], [[0.333, 0.667]], [0, 1])
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import TYPE_CHECKING, Any

from leanloop.errors import InputError
from leanloop.label_rule import ExpectedValueClassifier, LabelRule, serve_indices
from leanloop.schema import FeatureKind, Schema

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

    from leanloop.build.prepare_plan import PreparePlan

__all__ = ["Scored", "score", "to_python", "model_input", "rows_input", "rows_columns", "columns_frame",
           "prepare_plan", "InputFormat", "argmax_labels"]



class InputFormat(str, Enum):
    """How a version wants its features."""

    #: leanloop's pipeline: numbers as float, categories and booleans as text,
    #: date-times as epoch seconds (:meth:`Schema.model_frame`).
    ENCODED = "encoded"
    #: an adopted model: the schema's own types, booleans as bool, date-times as
    #: timestamps, as in the user's training frame (:meth:`Schema.coerce`).
    NATIVE = "native"


@dataclass(frozen=True)
class Scored:
    """A batch's outputs: labels (or values), class probabilities if any, class order."""

    labels: list[Any]
    probabilities: np.ndarray | None
    classes: list[Any] | None

    def probability_dicts(self) -> list[dict[str, float] | None]:
        """Per row ``{class: probability}`` with classes as text (JSON object keys)."""
        if self.probabilities is None or self.classes is None:
            return [None] * len(self.labels)
        names = [str(c) for c in self.classes]
        return [dict(zip(names, row, strict=True)) for row in self.probabilities.astype(float).tolist()]


def to_python(value: Any) -> Any:
    """A NumPy scalar as the plain Python value JSON needs."""
    return value.item() if hasattr(value, "item") else value


def model_input(schema: Schema, frame: pd.DataFrame, input_format: InputFormat, source: str) -> pd.DataFrame:
    """The features of ``frame`` in the form a version expects (see :data:`InputFormat`)."""
    if InputFormat(input_format) is InputFormat.NATIVE:
        coerced = schema.coerce(frame, source)
        for name in schema.of_kind(FeatureKind.BOOLEAN):
            if coerced[name].notna().all():
                coerced[name] = coerced[name].astype(bool)
        return coerced
    return schema.model_frame(frame, source)


def rows_input(schema: Schema, rows: list[dict[str, Any]], input_format: InputFormat) -> pd.DataFrame:
    """:func:`model_input` for rows a request model already validated (numbers are floats,
    categories text, booleans bools, missing values None), built column by column.

    The generic path re-checks every value with pandas, which costs milliseconds for a
    single served row; validated rows need only the encoding (:func:`rows_columns`).
    Text columns stay NumPy objects rather than pandas' Arrow-backed strings: the values
    the model sees are the same. Date-times and adopted models take the generic path.

    Examples
    --------
    >>> import pandas as pd
    >>> from leanloop.schema import Feature
    >>> s = Schema(features=[Feature(name="x", kind="numeric", nullable=True),
    ...                      Feature(name="ok", kind="boolean", nullable=True)])
    >>> rows = [{"x": 1.5, "ok": True}, {"x": None, "ok": None}]
    >>> fast = rows_input(s, rows, InputFormat.ENCODED)
    >>> fast.values.tolist()
    [[1.5, 'True'], [nan, nan]]
    >>> fast.astype(object).equals(model_input(s, pd.DataFrame(rows), "encoded", "t").astype(object))
    True
    """
    import pandas as pd

    columns = rows_columns(schema, rows, input_format)
    if columns is None:
        return model_input(schema, pd.DataFrame(rows, columns=schema.names), input_format, "request")
    return columns_frame(columns)


def rows_columns(schema: Schema, rows: list[dict[str, Any]], input_format: InputFormat) -> dict[str, Any] | None:
    """The encoded columns of :func:`rows_input` as NumPy arrays (float64 numbers, object
    text with NaN for missing), or None when only the generic path encodes these rows.

    :func:`score` takes them as they are: the compiled prepare step reads arrays, and a
    data frame (a millisecond of pandas for a 1,000-row batch) is built only if needed.

    >>> from leanloop.schema import Feature
    >>> s = Schema(features=[Feature(name="x", kind="numeric"), Feature(name="c", kind="categorical")])
    >>> rows_columns(s, [{"x": 1.0, "c": "a"}, {"x": 2.0, "c": None}], InputFormat.ENCODED)
    {'x': array([1., 2.]), 'c': array(['a', nan], dtype=object)}
    """
    import numpy as np

    kinds = [(f.name, f.kind) for f in schema.features]
    if InputFormat(input_format) is InputFormat.NATIVE or any(k is FeatureKind.DATETIME for _, k in kinds):
        return None
    names = [name for name, _ in kinds]
    out: dict[str, Any] = {}
    for (name, kind), values in zip(kinds, _columns(rows, names), strict=True):
        if kind is FeatureKind.NUMERIC:
            out[name] = np.array(values, dtype="float64")  # None becomes NaN
        elif kind is FeatureKind.BOOLEAN:
            out[name] = np.array([_BOOLEAN_TEXT.get(v, np.nan) for v in values], dtype=object)
        else:
            text = np.array(values, dtype=object)
            text[text == None] = np.nan  # noqa: E711 (element-wise: None, not the array, is compared)
            out[name] = text
    return out


def columns_frame(columns: dict[str, Any]) -> pd.DataFrame:
    """A data frame of :func:`rows_columns`' arrays, text kept as NumPy objects."""
    import pandas as pd

    return pd.DataFrame({name: pd.Series(values, dtype=values.dtype) for name, values in columns.items()})


#: A validated boolean as the pipeline's text category (missing stays missing).
_BOOLEAN_TEXT: dict[Any, str] = {True: "True", False: "False"}


def _columns(rows: list[dict[str, Any]], names: list[str]) -> list[Any]:
    """The rows' values column by column (one C-level pass when every row holds every name)."""
    from operator import itemgetter

    if len(names) == 1:
        return [[row.get(names[0]) for row in rows]]
    try:
        return list(zip(*map(itemgetter(*names), rows), strict=True)) or [[] for _ in names]
    except KeyError:
        return [[row.get(name) for row in rows] for name in names]


#: Classifiers whose ``predict`` is by definition the class of highest ``predict_proba``:
#: for them one call gives both (half the work for a served row).
_ARGMAX_CLASSIFIERS = frozenset({
    "sklearn.ensemble._hist_gradient_boosting.gradient_boosting.HistGradientBoostingClassifier",
    "sklearn.ensemble._forest.RandomForestClassifier", "sklearn.ensemble._forest.ExtraTreesClassifier",
    "sklearn.ensemble._gb.GradientBoostingClassifier", "sklearn.tree._classes.DecisionTreeClassifier",
})


def _plain(values: Any) -> list[Any]:
    """Model outputs as plain Python values (one ``tolist`` for an array)."""
    return values.tolist() if hasattr(values, "tolist") else [to_python(v) for v in values]


def _split_pipeline(model: Any, frame: pd.DataFrame | dict[str, Any]) -> tuple[Any, Any]:
    """``(final estimator, its input)``: a Pipeline's transforms run once, not once per method.

    A single row costs milliseconds in the column transformer and microseconds in the
    estimator, so scoring labels and probabilities through the whole pipeline twice
    would double the cost of a prediction.
    """
    from sklearn.pipeline import Pipeline

    if isinstance(model, Pipeline) and len(model.steps) > 1 and model.steps[-1][1] not in (None, "passthrough"):
        plan = prepare_plan(model)
        data = plan.transform(frame) if plan is not None else None
        if data is not None:
            return model.steps[-1][1], data
        return model.steps[-1][1], model[:-1].transform(_frame(frame))
    return model, _frame(frame)


def prepare_plan(model: Any) -> PreparePlan | None:
    """The compiled prepare step :func:`score` runs for ``model`` (leanloop's own
    two-step pipeline; :mod:`leanloop.build.prepare_plan`), or None when scikit-learn runs it.

    >>> from sklearn.dummy import DummyClassifier
    >>> prepare_plan(DummyClassifier()) is None
    True
    """
    from sklearn.pipeline import Pipeline

    from leanloop.build.prepare_plan import compile_prepare

    if isinstance(model, Pipeline) and len(model.steps) == 2:
        return compile_prepare(model.steps[0][1])
    return None


def _frame(data: pd.DataFrame | dict[str, Any]) -> pd.DataFrame:
    return columns_frame(data) if isinstance(data, dict) else data


def score(model: Any, frame: pd.DataFrame | dict[str, Any], task: str) -> Scored:
    """Score ``frame`` (already in model form, see :meth:`Schema.model_frame`), or the
    columns :func:`rows_columns` encoded.

    The one implementation of the served label: a version carrying the expected-value
    rule (:class:`~leanloop.label_rule.ExpectedValueClassifier`) answers the label of
    highest expected value under the probabilities of the same answer; any other
    classifier answers its own ``predict``. ``/predict``, batch scoring, measurement,
    the gate and the demo all come through here.

    >>> import numpy as np, pandas as pd
    >>> from sklearn.dummy import DummyClassifier
    >>> from leanloop.label_rule import ExpectedValueClassifier
    >>> inner = DummyClassifier().fit(pd.DataFrame({"x": [0] * 10}), [0] * 3 + [1] * 7)
    >>> served = ExpectedValueClassifier(inner, np.array([[0.0, -5000.0], [0.0, 1000.0]]))
    >>> score(inner, pd.DataFrame({"x": [1]}), "classification").labels
    [1]
    >>> score(served, pd.DataFrame({"x": [1]}), "classification").labels
    [0]
    """
    values = None
    if isinstance(model, ExpectedValueClassifier):
        model, values = model.estimator, model.values
    try:
        final, data = _split_pipeline(model, frame)
        if task != "regression" and hasattr(final, "predict_proba"):
            proba = final.predict_proba(data)
            classes = [to_python(c) for c in model.classes_]
            if values is not None:
                raw = final.classes_[serve_indices(proba, values, LabelRule.EXPECTED_VALUE)]
                return Scored(labels=_plain(raw), probabilities=proba, classes=classes)
            kind = f"{type(final).__module__}.{type(final).__qualname__}"
            raw = final.classes_[proba.argmax(axis=1)] if kind in _ARGMAX_CLASSIFIERS else final.predict(data)
            return Scored(labels=_plain(raw), probabilities=proba, classes=classes)
        raw = final.predict(data)
    except ValueError as exc:
        raise InputError(f"the model could not score these rows: {exc}") from exc
    labels = _plain(raw)
    if task == "regression":
        return Scored(labels=[float(v) for v in labels], probabilities=None, classes=None)
    return Scored(labels=labels, probabilities=None, classes=None)


def argmax_labels(scored: Scored) -> list[Any]:
    """The labels argmax would have served for the same answers (the most probable class):
    what the expected-value rule is compared with. None where no probabilities exist.

    >>> import numpy as np
    >>> argmax_labels(Scored(labels=[0, 0], probabilities=np.array([[0.3, 0.7], [0.9, 0.1]]), classes=[0, 1]))
    [1, 0]
    """
    if scored.probabilities is None or scored.classes is None:
        return list(scored.labels)
    import numpy as np

    picked = np.argmax(np.asarray(scored.probabilities, dtype=float), axis=1)
    return [scored.classes[i] for i in picked]
