"""Errors of the meta-learning math.

:class:`MetaInputError` means "the inputs are wrong" (a task sent a NaN variance, gradients with
missing keys or the wrong shapes, a non-positive temperature). It subclasses ``ValueError`` so
callers that only know the standard library still catch it; the gRPC service maps it to
``INVALID_ARGUMENT``.
"""

from __future__ import annotations

__all__ = ["MetaInputError"]


class MetaInputError(ValueError):
    """Invalid input to a meta-learning function (bad variances, weights, gradients or config)."""
