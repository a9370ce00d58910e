"""Errors of the bounds beyond bad input (leaf module of :mod:`lipexact.bounds`).

:class:`NotApplicableError` separates "this method does not apply to this model" (SeqLip on a residual
network, the power method on a network with activations, a grid search in 784 dimensions) from a
malformed request (an unknown method, an unreadable file, a shape the model does not accept). Both are
:class:`~reductions.validation.InvalidInputError`, so code that catches bad input keeps working; the
command line (``python -m lipexact.bound``) turns the first into a "not applicable" row, with the
reason, while the other methods run, and stops with exit code 2 on the second.
"""

from __future__ import annotations

from reductions.validation import InvalidInputError

__all__ = ["NotApplicableError", "UnsupportedOperationError"]


class NotApplicableError(InvalidInputError):
    """A well-formed request for a method that does not apply to this model; ``field`` says where.

    Examples
    --------
    >>> error = NotApplicableError("model.add", "a chain of layers (no residual connection)", "add")
    >>> isinstance(error, InvalidInputError), str(error)
    (True, 'model.add: expected a chain of layers (no residual connection), got add')
    """


class UnsupportedOperationError(NotApplicableError):
    """An operation of the traced graph whose Lipschitz constant the method does not know.

    ``field`` is the fx node name; the message also names the operation.
    """
