"""The HTTP routes, one module per concern, each a ``router(runtime, auth)`` factory.

- :mod:`~leanloop.serve.routes.predict`: ``POST /predict``.
- :mod:`~leanloop.serve.routes.feedback`: ``POST /feedback``, ``GET /predictions/{id}``.
- :mod:`~leanloop.serve.routes.admin`: promote, rollback, shadow, reload (token).
- :mod:`~leanloop.serve.routes.operations`: health, readiness, metrics, models.
- :mod:`~leanloop.serve.routes.ui`: the read-only dashboard at ``/ui``.
"""

from leanloop.serve.routes import admin, feedback, operations, predict, ui

__all__ = ["admin", "feedback", "operations", "predict", "ui", "ROUTERS"]

#: The routers in the order the app includes them.
ROUTERS = (predict.router, feedback.router, operations.router, admin.router, ui.router)
