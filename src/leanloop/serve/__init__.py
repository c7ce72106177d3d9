"""Serve: the HTTP service that validates input, answers predictions and logs each
one durably before answering, and joins ground-truth feedback to its prediction.
"""

from leanloop.serve.app import create_app

__all__ = ["create_app"]
