"""What kind of layer a module is, for reading a network as a chain (leaf module of :mod:`lipexact.bounds`).

A chain (:mod:`lipexact.bounds.layers`) alternates affine layers (:func:`is_chain_affine`) and coordinatewise
activations, described by the range of their derivative (:func:`describe_activation`); max-poolings
(:func:`is_maxpool`) split it into segments. Dropout (:func:`is_dropout`) is the identity in eval mode.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch.nn as nn

from reductions.validation import require

__all__ = ["Activation", "describe_activation", "is_chain_affine", "is_dropout", "is_maxpool"]

_SELU_SCALE = 1.0507009873554804934193349852946
_SELU_ALPHA = 1.6732632423543772848170429916717


@dataclass(frozen=True)
class Activation:
    """A coordinatewise activation (or several composed), described by its derivative range.

    Attributes
    ----------
    name : str
        Human-readable, e.g. ``"ReLU"`` or ``"ReLU*Tanh"`` for a composition.
    slope_low, slope_high : float
        Every (Clarke generalized) derivative of the activation lies in ``[slope_low, slope_high]``.
    kinks : tuple of float
        Pre-activation values where the activation is not differentiable (empty when smooth). A
        composition has none listed: :attr:`LayerChain.sequence` keeps every member with its own kinks.
    piecewise_linear : bool
        True when the activation is piecewise linear (its derivative is piecewise constant).
    """

    name: str
    slope_low: float
    slope_high: float
    kinks: tuple[float, ...] = ()
    piecewise_linear: bool = False

    @property
    def lipschitz(self) -> float:
        """The Lipschitz constant ``max(|slope_low|, |slope_high|)``."""
        return max(abs(self.slope_low), abs(self.slope_high))

    def then(self, other: "Activation") -> "Activation":
        """The activation ``other(self(z))`` (derivative range: products of the two ranges)."""
        products = [a * b for a in (self.slope_low, self.slope_high) for b in (other.slope_low, other.slope_high)]
        return Activation(f"{other.name}*{self.name}", min(products), max(products),
                          piecewise_linear=self.piecewise_linear and other.piecewise_linear)


def is_dropout(module) -> bool:
    return isinstance(module, (nn.Dropout, nn.Dropout1d, nn.Dropout2d, nn.Dropout3d, nn.AlphaDropout,
                               nn.FeatureAlphaDropout))


def describe_activation(module) -> Activation | None:
    """The derivative range and kinks of a supported coordinatewise activation; None otherwise.

    Examples
    --------
    >>> describe_activation(nn.ReLU())
    Activation(name='ReLU', slope_low=0.0, slope_high=1.0, kinks=(0.0,), piecewise_linear=True)
    >>> describe_activation(nn.Linear(2, 2)) is None
    True
    """
    name = type(module).__name__
    if isinstance(module, (nn.ReLU,)):
        return Activation(name, 0.0, 1.0, (0.0,), True)
    if isinstance(module, nn.ReLU6):
        return Activation(name, 0.0, 1.0, (0.0, 6.0), True)
    if isinstance(module, nn.LeakyReLU):
        a = float(module.negative_slope)
        return Activation(name, min(a, 1.0), max(a, 1.0), (0.0,) if a != 1.0 else (), True)
    if isinstance(module, nn.PReLU):
        a = module.weight.detach().double()
        return Activation(name, min(float(a.min()), 1.0), max(float(a.max()), 1.0), (0.0,), True)
    if isinstance(module, nn.Hardtanh):  # also covers ReLU6 subclasses handled above
        return Activation(name, 0.0, 1.0, (float(module.min_val), float(module.max_val)), True)
    if isinstance(module, nn.Tanh) or isinstance(module, nn.Softsign):
        return Activation(name, 0.0, 1.0)
    if isinstance(module, nn.Sigmoid):
        return Activation(name, 0.0, 0.25)
    if isinstance(module, nn.Hardsigmoid):
        return Activation(name, 0.0, 1.0 / 6.0, (-3.0, 3.0), True)
    if isinstance(module, (nn.Softplus, nn.LogSigmoid, nn.Tanhshrink)):
        return Activation(name, 0.0, 1.0)
    if isinstance(module, nn.ELU):
        alpha = float(module.alpha)
        return Activation(name, min(0.0, alpha), max(1.0, alpha), (0.0,) if alpha != 1.0 else ())
    if isinstance(module, nn.CELU):
        require(float(module.alpha) > 0, "model", "CELU with alpha > 0", repr(module))
        return Activation(name, 0.0, 1.0)
    if isinstance(module, nn.SELU):
        return Activation(name, 0.0, _SELU_SCALE * _SELU_ALPHA, (0.0,))
    if isinstance(module, (nn.Softshrink, nn.Hardshrink)):
        lam = float(module.lambd)
        return Activation(name, 0.0, 1.0, (-lam, lam), True)
    return None


def is_chain_affine(module) -> bool:
    return isinstance(module, (nn.Linear, nn.Conv1d, nn.Conv2d, nn.Conv3d, nn.ConvTranspose1d,
                               nn.ConvTranspose2d, nn.ConvTranspose3d, nn.AvgPool1d, nn.AvgPool2d,
                               nn.AvgPool3d, nn.AdaptiveAvgPool1d, nn.AdaptiveAvgPool2d, nn.AdaptiveAvgPool3d,
                               nn.Flatten, nn.Unflatten, nn.Identity,
                               nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d)) or is_dropout(module)


def is_maxpool(module) -> bool:
    return isinstance(module, (nn.MaxPool1d, nn.MaxPool2d, nn.MaxPool3d, nn.AdaptiveMaxPool1d,
                               nn.AdaptiveMaxPool2d, nn.AdaptiveMaxPool3d))
