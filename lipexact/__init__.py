"""lipexact: the Lipschitz constant of neural networks, exact where possible, bounded everywhere else.

Public names are imported lazily, so ``import lipexact`` stays cheap (torch and the MILP stack load
only when a method that needs them is used).
"""

from importlib import import_module
from typing import Any

__version__ = "0.1.0"

#: public name -> module defining it, or (module, name there).
_EXPORTS: dict[str, str | tuple[str, str]] = {
    "TwoLayerReLU": "lipexact.network",
    "LipschitzResult": "lipexact.result",
    "Status": "lipexact.result",
    "InvalidInputError": "reductions.validation",
    "Box": "lipexact.domain",
    "ReLUNetwork": "lipexact.deep.network",
    "lipschitz": "lipexact.entry",
    "EXACT_METHODS": ("lipexact.exact", "METHODS"),
    "upper_bound": "lipexact.bounds",
    "lower_bound": "lipexact.bounds",
    "UPPER_METHODS": "lipexact.bounds",
    "LOWER_METHODS": "lipexact.bounds",
    "load": "lipexact.io",
    "save": "lipexact.io",
}

__all__ = sorted(_EXPORTS) + ["__version__"]


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        target = _EXPORTS[name]
        module, attribute = target if isinstance(target, tuple) else (target, name)
        return getattr(import_module(module), attribute)
    raise AttributeError(f"module 'lipexact' has no attribute {name!r}")


def __dir__() -> list[str]:
    return __all__
