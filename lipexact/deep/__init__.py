"""Exact Lipschitz constants of deep ReLU networks (small ones), with certificates.

:class:`ReLUNetwork` holds ``f = L_k o relu o ... o relu o L_1``; :func:`lipschitz_deep` computes its exact
Lipschitz constant (global or on a box; norms 2, 1, inf) by a tree search over joint activation patterns
whose regions are decided in exact rational arithmetic (:mod:`lipexact.deep.enumerate`).
"""

from importlib import import_module
from typing import Any

_EXPORTS = {
    "ReLUNetwork": "lipexact.deep.network",
    "as_network": "lipexact.deep.network",
    "lipschitz_deep": "lipexact.deep.solve",
    "DEEP_METHODS": "lipexact.deep.solve",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'lipexact.deep' has no attribute {name!r}")


def __dir__() -> list[str]:
    return __all__
