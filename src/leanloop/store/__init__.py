"""The store: predictions, feedback, model versions, measurements and the cycle ledger.

One interface, :class:`SQLStore`, over SQLAlchemy Core; SQLite in WAL mode is the
embedded default and any SQLAlchemy URL (PostgreSQL) selects another database.
"""

from leanloop.store.feedback import FeedbackCounts
from leanloop.store.sql import SQLStore

__all__ = ["FeedbackCounts", "SQLStore"]
