"""Independent re-evaluation of a lower certificate (a witness input).

A solver claims "the constant is at least v, attained at x". This module checks the claim without
trusting the solver: the gradient is taken by torch autograd (float64) on ``net.to_torch()``, not from the
pattern formula, and ``x`` must sit strictly inside its region (no pre-activation equal to zero), so that
the Jacobian is constant on a neighbourhood of ``x`` and its norm really is a lower bound on the
Lipschitz constant.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from lipexact.domain import Box
from lipexact.network import TwoLayerReLU
from lipexact.norms import jacobian_norms, parse_norm

__all__ = ["VerifiedWitness", "CertificateError", "verify_witness"]


class CertificateError(ValueError):
    """A witness does not certify what it should."""


@dataclass(frozen=True)
class VerifiedWitness:
    value: float
    """Norm of the autograd Jacobian at the witness."""
    pattern: np.ndarray
    margin: float
    """Smallest ``|pre-activation|`` over live units: the witness's distance from a region boundary (scaled)."""


def verify_witness(net: TwoLayerReLU, x: Any, norm: Any = "2", domain: Box | None = None) -> VerifiedWitness:
    """Re-evaluate ``||J(x)||`` with torch autograd and check that ``x`` is an interior point of its region.

    Examples
    --------
    >>> net = TwoLayerReLU([[1, 0], [0, 1]], [[3, 4]])
    >>> verify_witness(net, [1.0, 1.0]).value
    5.0
    >>> verify_witness(net, [1.0, 0.0])
    Traceback (most recent call last):
    ...
    lipexact.exact.certificate.CertificateError: witness lies on the boundary of a region (pre-activation 0 at units [1])
    """
    import torch

    x = np.asarray(x, dtype=np.float64).reshape(net.n_inputs)
    if not np.all(np.isfinite(x)):
        raise CertificateError("witness has NaN or infinite coordinates")
    if domain is not None and not domain.contains_interior(x):
        raise CertificateError("witness lies outside the interior of the domain")
    pre = net.preactivation(x)
    live = np.any(net.W1 != 0, axis=1)
    on_boundary = np.flatnonzero(live & (pre == 0))
    if on_boundary.size:
        raise CertificateError(f"witness lies on the boundary of a region (pre-activation 0 at units {on_boundary.tolist()})")
    module = net.to_torch(dtype=torch.float64)
    J = torch.autograd.functional.jacobian(module, torch.tensor(x, dtype=torch.float64)).numpy()
    value = float(jacobian_norms(J, parse_norm(norm)))
    margin = float(np.min(np.abs(pre[live]))) if live.any() else float("inf")
    return VerifiedWitness(value=value, pattern=pre > 0, margin=margin)
