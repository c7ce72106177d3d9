"""The label a classifier serves: the most probable one, or the one worth the most.

``argmax`` serves the class of highest probability. ``expected_value`` serves the class
whose expected value is highest under the probabilities answered in the same response:

    EV(predict j) = sum_i p_i * value(actual = i, predicted = j)

with ``value`` the ``[kpi]`` outcome table (``(k, k)``, rows actual, columns predicted).
On the car-loan data a true "repaid" is worth +1,000 and a false one -5,000, so
"repaid" pays only above p = 5/6, not above 1/2. The rule is hand-written because it is
one matrix product and an argmax; scikit-learn's ``TunedThresholdClassifierCV`` tunes a
binary threshold by cross-validation, and the tests check that both agree.

Ties (two labels worth exactly the same) go to the class listed first in the model's
``classes_`` order, as ``numpy.argmax`` breaks them: deterministic and documented.

Examples
--------
>>> import numpy as np
>>> values = np.array([[0.0, -5000.0],   # actual 0 (default): predicting 1 loses 5,000
...                    [0.0, 1000.0]])   # actual 1 (repaid): predicting 1 earns 1,000
>>> proba = np.array([[0.2, 0.8], [0.1, 0.9], [0.6, 0.4]])
>>> serve_indices(proba, values, LabelRule.ARGMAX).tolist()
[1, 1, 0]
>>> serve_indices(proba, values, LabelRule.EXPECTED_VALUE).tolist()
[0, 1, 0]
>>> round(break_even(values), 6)
0.833333
"""

from __future__ import annotations

from enum import Enum
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Sequence

    import numpy as np

__all__ = ["LabelRule", "expected_values", "serve_indices", "break_even", "check_value_table", "value_table",
           "label_key", "argmax_equivalent", "ExpectedValueClassifier"]


class LabelRule(str, Enum):
    """How a classifier turns probabilities into the label it serves."""

    #: the class of highest probability
    ARGMAX = "argmax"
    #: the class of highest expected value under the ``[kpi]`` outcome values
    EXPECTED_VALUE = "expected_value"


def expected_values(probabilities: np.ndarray, values: np.ndarray) -> np.ndarray:
    """``(n, k)``: the expected value of serving each class, for each row.

    >>> import numpy as np
    >>> expected_values(np.array([[0.5, 0.5]]), np.array([[1.0, -1.0], [0.0, 2.0]])).tolist()
    [[0.5, 0.5]]
    """
    import numpy as np

    return np.asarray(probabilities, dtype=float) @ np.asarray(values, dtype=float)


def serve_indices(probabilities: np.ndarray, values: np.ndarray | None, rule: LabelRule) -> np.ndarray:
    """The index (in class order) of the label served for each row under ``rule``."""
    import numpy as np

    probabilities = np.asarray(probabilities, dtype=float)
    if rule is LabelRule.ARGMAX or values is None:
        return np.argmax(probabilities, axis=1)
    return np.argmax(expected_values(probabilities, values), axis=1)


def break_even(values: np.ndarray) -> float | None:
    """For two classes, the probability of class 1 above which serving class 1 pays
    (``None`` when one label is always worth at least as much as the other).

    >>> import numpy as np
    >>> break_even(np.array([[1.0, 0.0], [0.0, 1.0]]))
    0.5
    """
    import numpy as np

    values = np.asarray(values, dtype=float)
    # EV(1) - EV(0) = (1 - p) * (v01 - v00) + p * (v11 - v10), linear in p
    gain_if_0, gain_if_1 = values[0, 1] - values[0, 0], values[1, 1] - values[1, 0]
    if gain_if_1 == gain_if_0:
        return None
    p = -gain_if_0 / (gain_if_1 - gain_if_0)
    return float(p) if 0.0 <= p <= 1.0 else None


def check_value_table(values: np.ndarray, classes: Sequence[object]) -> None:
    """Refuse a table under which every label is always worth the same (the rule could
    not choose): a clear ``ValueError`` naming the fix.

    >>> import numpy as np
    >>> check_value_table(np.zeros((2, 2)), [0, 1])  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: the [kpi] outcome values make every prediction worth the same ... or set [kpi] decision = "argmax"
    """
    import numpy as np

    values = np.asarray(values, dtype=float)
    if np.all(values == values[:, :1]):
        raise ValueError(f"the [kpi] outcome values make every prediction worth the same for every actual class "
                         f"({classes}), so the expected-value rule cannot choose a label: declare values that "
                         'differ by predicted class, or set [kpi] decision = "argmax"')



def argmax_equivalent(values: np.ndarray) -> bool:
    """True when the table serves what argmax serves: every right answer worth the same
    ``a > 0`` more than a wrong one, up to a constant per actual class (an accuracy
    table, as ``leanloop init`` writes). Such a version needs no probabilities.

    >>> import numpy as np
    >>> argmax_equivalent(np.eye(3)), argmax_equivalent(np.array([[3.0, 1.0], [-1.0, 1.0]]))
    (True, True)
    >>> argmax_equivalent(np.array([[0.0, -5000.0], [0.0, 1000.0]]))
    False
    """
    import numpy as np

    values = np.asarray(values, dtype=float)
    k = len(values)
    if k < 2:
        return True  # one class: nothing to choose
    off = values[~np.eye(k, dtype=bool)].reshape(k, k - 1)
    if not np.all(off == off[:, :1]):
        return False
    gain = np.diag(values) - off[:, 0]
    return bool(np.all(gain == gain[0]) and gain[0] > 0)


def label_key(label: Any) -> str:
    """Labels compare as text, with 1.0 read as 1 (a label column with gaps turns ints into floats).

    >>> label_key(1.0), label_key("yes"), label_key(True)
    ('1', 'yes', 'True')
    """
    if isinstance(label, float) and label.is_integer():
        label = int(label)
    return str(label)


def value_table(config: Any, classes: list[Any]) -> np.ndarray:
    """``(k, k)`` values of the ``[kpi]`` cells (``config`` a ``KpiConfig``: typed loosely
    because the config package imports this module) [actual, predicted] in ``classes`` order;
    undeclared cells are worth ``default_value``.

    >>> from leanloop.config import KpiConfig, KpiOutcome
    >>> cfg = KpiConfig(outcomes=[KpiOutcome(actual=1, predicted=1, value=1000.0),
    ...                           KpiOutcome(actual=0, predicted=1, value=-5000.0)])
    >>> value_table(cfg, [0, 1]).tolist()
    [[0.0, -5000.0], [0.0, 1000.0]]
    """
    import numpy as np

    table = np.full((len(classes), len(classes)), float(config.default_value))
    index = {label_key(c): i for i, c in enumerate(classes)}
    for o in config.outcomes:
        if label_key(o.actual) in index and label_key(o.predicted) in index:
            table[index[label_key(o.actual)], index[label_key(o.predicted)]] = o.value
    return table


class ExpectedValueClassifier:
    """A fitted classifier that serves the label of highest expected value.

    The value table travels with the model version (the rule is part of it), in the
    order of the wrapped model's ``classes_``. :func:`leanloop.scoring.score` unwraps it
    and applies :func:`serve_indices` itself: one implementation of the served label.

    >>> import numpy as np
    >>> from sklearn.dummy import DummyClassifier
    >>> inner = DummyClassifier().fit([[0]] * 10, [0] * 3 + [1] * 7)   # p(1) = 0.7 < 5/6
    >>> model = ExpectedValueClassifier(inner, np.array([[0.0, -5000.0], [0.0, 1000.0]]))
    >>> inner.predict([[0]]).tolist(), model.predict([[0]]).tolist()
    ([1], [0])
    """

    def __init__(self, estimator: Any, values: Any) -> None:
        self.estimator = estimator
        self.values = values

    @property
    def classes_(self) -> Any:
        return self.estimator.classes_

    def predict_proba(self, X: Any) -> np.ndarray:
        """The wrapped model's probabilities."""
        return self.estimator.predict_proba(X)

    def predict(self, X: Any) -> np.ndarray:
        """The label of highest expected value for each row."""
        return self.classes_[serve_indices(self.predict_proba(X), self.values, LabelRule.EXPECTED_VALUE)]
