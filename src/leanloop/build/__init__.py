"""Build: from a table and a target to a registered model version.

A minimal pipeline (imputation, scaling, one-hot encoding, gradient boosting) and a
trivial baseline, split by time or stratified, evaluated on the holdout with the
project's metrics and KPIs, saved with skops and registered with its lineage.
"""

from leanloop.build.pipeline import make_baseline, make_pipeline
from leanloop.build.split import split
from leanloop.build.train import fit_pipeline, train_version

# evaluation lives with the measurement (build reads it, measure never imports build)
from leanloop.measure.evaluation import Evaluation, evaluate

__all__ = ["Evaluation", "evaluate", "fit_pipeline", "make_baseline", "make_pipeline", "split", "train_version"]
