"""The store's tables, as SQLAlchemy Core metadata shared by every SQL backend."""

from __future__ import annotations

import sqlalchemy as sa

__all__ = ["metadata", "models", "aliases", "predictions", "feedback", "feedback_history", "parked_labels",
           "measurements", "cycles", "testset", "shadow_predictions", "schema_version", "event_time", "blobs",
           "model_files"]

metadata = sa.MetaData()

models = sa.Table(
    "models", metadata,
    sa.Column("version", sa.String(64), primary_key=True),
    sa.Column("created_at", sa.Float, nullable=False),
    sa.Column("body", sa.JSON, nullable=False),
)

aliases = sa.Table(
    "aliases", metadata,
    sa.Column("alias", sa.String(32), primary_key=True),
    sa.Column("version", sa.String(64), sa.ForeignKey("models.version"), nullable=False),
    sa.Column("updated_at", sa.Float, nullable=False),
)

predictions = sa.Table(
    "predictions", metadata,
    sa.Column("seq", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("prediction_id", sa.String(64), nullable=False, unique=True),
    sa.Column("created_at", sa.Float, nullable=False, index=True),
    sa.Column("model_version", sa.String(64), nullable=False, index=True),
    sa.Column("features", sa.JSON, nullable=False),
    sa.Column("prediction", sa.JSON, nullable=False),
    sa.Column("probabilities", sa.JSON, nullable=True),
    # The caller's own id of the row (the project's id column, as text) and its event
    # time (epoch seconds), when the row carried them; ``source``: online or batch.
    sa.Column("row_id", sa.String(255), nullable=True, index=True),
    sa.Column("event_at", sa.Float, nullable=True),
    sa.Column("source", sa.String(16), nullable=False, server_default="online"),
)


def event_time(table: sa.Table = predictions) -> sa.ColumnElement[float]:
    """A row's time when windows go by event time: its event time, else its arrival."""
    return sa.func.coalesce(table.c.event_at, table.c.created_at)


# ``event_at`` is indexed through the expression the event-time windows sort and filter
# by (a plain index on it could serve neither their ORDER BY nor their range).
sa.Index("ix_predictions_event_time", event_time())

# The label in force per prediction id. No foreign key on purpose: a label may arrive
# before its prediction is logged (it is parked) and joins when the prediction does.
feedback = sa.Table(
    "feedback", metadata,
    sa.Column("prediction_id", sa.String(64), primary_key=True),
    sa.Column("label", sa.JSON, nullable=False),
    sa.Column("received_at", sa.Float, nullable=False),
)

# Every label that took effect, in arrival order: the first, and each conflicting one
# that replaced the label in force (duplicates change nothing and are not repeated).
feedback_history = sa.Table(
    "feedback_history", metadata,
    sa.Column("seq", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("prediction_id", sa.String(64), nullable=False, index=True),
    sa.Column("label", sa.JSON, nullable=False),
    sa.Column("received_at", sa.Float, nullable=False),
    sa.Column("source", sa.String(255), nullable=False),
)

#: Labels sent by the project's id column whose prediction is not logged yet: each joins
#: the first prediction logged with its id (:mod:`leanloop.store.parked`).
parked_labels = sa.Table(
    "parked_labels", metadata,
    sa.Column("row_id", sa.String(255), primary_key=True),
    sa.Column("label", sa.JSON, nullable=False),
    sa.Column("received_at", sa.Float, nullable=False),
    sa.Column("source", sa.String(255), nullable=False),
)

measurements = sa.Table(
    "measurements", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("created_at", sa.Float, nullable=False),
    sa.Column("body", sa.JSON, nullable=False),
)

cycles = sa.Table(
    "cycles", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("created_at", sa.Float, nullable=False),
    sa.Column("body", sa.JSON, nullable=False),
)

#: The enriched test set: hard cases copied from the log with their provenance.
testset = sa.Table(
    "testset", metadata,
    sa.Column("prediction_id", sa.String(64), primary_key=True),
    sa.Column("added_at", sa.Float, nullable=False, index=True),
    sa.Column("cycle", sa.Integer, nullable=True),
    sa.Column("reason", sa.String(32), nullable=False, index=True),
    sa.Column("detail", sa.Text, nullable=False),
    sa.Column("model_version", sa.String(64), nullable=False),
    sa.Column("features", sa.JSON, nullable=False),
    sa.Column("label", sa.JSON, nullable=False),
    sa.Column("prediction", sa.JSON, nullable=False),
)

#: What the ``shadow`` version answered for a logged prediction (never returned to the
#: caller). No foreign key: the shadow row may be written before its prediction's group
#: commit; readers join on the prediction, so a prediction never committed is ignored.
shadow_predictions = sa.Table(
    "shadow_predictions", metadata,
    sa.Column("prediction_id", sa.String(64), primary_key=True),
    sa.Column("model_version", sa.String(64), primary_key=True),
    sa.Column("created_at", sa.Float, nullable=False),
    sa.Column("prediction", sa.JSON, nullable=False),
    sa.Column("probabilities", sa.JSON, nullable=True),
)

#: The contents of model versions' files, by sha256, in parts (:mod:`leanloop.store.blobs`).
blobs = sa.Table(
    "blobs", metadata,
    sa.Column("sha256", sa.String(64), primary_key=True),
    sa.Column("part", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("data", sa.LargeBinary, nullable=False),
)

#: Which files a model version has (skops artifacts, reference and test data), by content:
#: what a host without them fetches from ``blobs``.
model_files = sa.Table(
    "model_files", metadata,
    sa.Column("version", sa.String(64), sa.ForeignKey("models.version"), primary_key=True),
    sa.Column("name", sa.String(255), primary_key=True),
    sa.Column("kind", sa.String(16), nullable=False),
    sa.Column("sha256", sa.String(64), nullable=False),
    sa.Column("size", sa.BigInteger, nullable=False),
)

schema_version = sa.Table(
    "schema_version", metadata,
    sa.Column("version", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("description", sa.String(200), nullable=False),
    sa.Column("applied_at", sa.Float, nullable=False),
)
