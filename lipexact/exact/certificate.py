"""Independent re-evaluation of a lower certificate (a witness input).

A solver claims "the constant is at least v, attained at x". This module checks the claim without
trusting the solver: ``x`` must sit strictly inside its region, every live pre-activation's sign verified in
exact rational arithmetic (and strictly inside the box), so that the Jacobian is constant on a
neighbourhood of ``x`` and its norm really is a lower bound on the Lipschitz constant; the gradient is
taken by torch autograd (float64) on ``net.to_torch()``, not from the pattern formula, unless the float
forward pass would put ``x`` on the wrong side of a hyperplane it lies very close to (then the Jacobian of
the exactly verified pattern is used, and ``evaluation`` says so).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from lipexact.domain import Box
from lipexact.network import TwoLayerReLU
from lipexact.norms import jacobian_norms, parse_norm
from reductions.realizability import exact_signs

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
    evaluation: str = "autograd"
    """``"autograd"``, or ``"exact pattern"`` when the float forward pass disagrees with the exact signs."""


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
    live = np.flatnonzero(np.any(net.W1 != 0, axis=1))
    signs = exact_signs(np.asarray(net.W1, dtype=np.float64)[live], np.asarray(net.hidden_bias, dtype=np.float64)[live], x)
    on_boundary = live[signs == 0]
    if on_boundary.size:
        raise CertificateError(f"witness lies on the boundary of a region (pre-activation 0 at units {on_boundary.tolist()})")
    pattern = np.asarray(net.hidden_bias, dtype=np.float64) > 0  # dead units: the sign of their bias
    pattern[live] = signs > 0
    pre = net.preactivation(x)
    parsed = parse_norm(norm)
    if np.array_equal(pre[live] > 0, pattern[live]):
        module = net.to_torch(dtype=torch.float64)
        J = torch.autograd.functional.jacobian(module, torch.tensor(x, dtype=torch.float64)).numpy()
        evaluation = "autograd"
    else:  # floating point puts the witness on the wrong side of a hyperplane it lies very close to
        J = net.jacobian_of_pattern(pattern)
        evaluation = "exact pattern"
    value = float(jacobian_norms(J, parsed))
    if not np.isfinite(value):
        raise CertificateError(f"the gradient norm at the witness is not finite ({value})")
    margin = float(np.min(np.abs(pre[live]))) if live.size else float("inf")
    return VerifiedWitness(value=value, pattern=pattern, margin=margin, evaluation=evaluation)
