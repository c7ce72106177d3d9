"""Learn: turn a measurement into a decision, retrain, compare, promote.

The policy (:mod:`leanloop.learn.policy`) argues every decision in numbers;
retraining (:mod:`leanloop.learn.retrain`) builds a challenger from reference plus
labelled production rows; the gate (:mod:`leanloop.learn.compare`) promotes it only
when it wins on the same rows. Every cycle and every change of champion is a typed
entry of the ledger (:mod:`leanloop.learn.ledger`, which alone reads and writes it).
"""

from leanloop.learn.compare import Check, Comparison, compare
from leanloop.learn.policy import Action, Decision, Rule, decide
from leanloop.learn.retrain import Retrained, retrain

__all__ = ["Action", "Check", "Comparison", "Decision", "Retrained", "Rule", "compare", "decide", "retrain"]
