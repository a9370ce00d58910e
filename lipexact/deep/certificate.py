"""Independent re-evaluation of a deep network's witness, and the certified result built from it.

A search claims "the constant is at least v, attained at x". The claim is checked without trusting the
search: ``x`` must lie strictly inside the open box, and every pre-activation of every layer must have an
exact non-zero sign at ``x`` (exact dyadic forward evaluation, :mod:`lipexact.deep.exact`), except units that
are constant near ``x`` (their exact affine map has a zero ``x`` part; they follow their offset and do not
change the Jacobian). Then the joint pattern is constant on a neighbourhood of ``x`` and the norm of the
Jacobian there is a lower bound on the Lipschitz constant. The Jacobian is taken by torch autograd (float64)
on ``net.to_torch()``, unless the float forward pass puts a unit on the wrong side of a hyperplane ``x`` lies
very close to: then it is the product of the exactly verified pattern (``evaluation`` says which).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Mapping

import numpy as np

from lipexact.deep.exact import ExactNetwork
from lipexact.deep.network import ReLUNetwork
from lipexact.domain import Box
from lipexact.exact.certificate import CertificateError
from lipexact.exact.problem import Clock, judged_result
from lipexact.norms import jacobian_norms, parse_norm
from lipexact.result import LipschitzResult, Status

__all__ = ["DeepWitness", "CertificateError", "verify_deep_witness", "certified_deep_result"]


@dataclass(frozen=True)
class DeepWitness:
    value: float
    """Norm of the Jacobian at the witness (autograd unless ``evaluation`` says otherwise)."""
    patterns: list
    """The exact pattern of every ReLU layer at the witness (bool arrays)."""
    margin: float
    """Smallest ``|pre-activation|`` (float) over the non-constant units."""
    evaluation: str = "autograd"

    @property
    def pattern(self) -> np.ndarray:
        """The concatenated pattern."""
        return np.concatenate(self.patterns)


def verify_deep_witness(net: ReLUNetwork, x: Any, norm: Any = "2", domain: Box | None = None,
                        exact: ExactNetwork | None = None) -> DeepWitness:
    """Check that ``x`` is an interior point of its joint region and re-evaluate ``||J(x)||``.

    Examples
    --------
    >>> net = ReLUNetwork([([[1, 0], [0, 1]], None), ([[1, 1]], [-1]), ([[3]], None)])
    >>> verify_deep_witness(net, [1.0, 2.0]).value
    4.242640687119285
    >>> verify_deep_witness(net, [0.5, 0.5])
    Traceback (most recent call last):
    ...
    lipexact.exact.certificate.CertificateError: witness lies on the boundary of a region (pre-activation 0 at layer 1, units [0])
    """
    import torch

    x = np.asarray(x, dtype=np.float64)
    if x.shape != (net.n_inputs,):
        raise CertificateError(f"witness of shape {x.shape}, expected ({net.n_inputs},)")
    if not np.all(np.isfinite(x)):
        raise CertificateError("witness has NaN or infinite coordinates")
    if domain is not None and not domain.contains_interior(x):
        raise CertificateError("witness lies outside the interior of the domain")
    exact = exact if exact is not None else ExactNetwork(net)
    current = exact.first()
    patterns, constant = [], []
    for layer in range(len(net.hidden_sizes)):
        if layer:
            current = exact.compose(layer, current, patterns[-1])
        signs = current.signs(x)
        fixed = np.array([current.zero_row(i) for i in range(current.width)], dtype=bool)
        kinks = np.flatnonzero((signs == 0) & ~fixed)
        if kinks.size:
            raise CertificateError(f"witness lies on the boundary of a region (pre-activation 0 at layer {layer}, "
                                   f"units {kinks.tolist()})")
        patterns.append(signs > 0)
        constant.append(fixed)
    parsed = parse_norm(norm)
    floats = net.preactivations(x)
    live_agree = all(np.array_equal((z > 0)[~c], p[~c]) for z, p, c in zip(floats, patterns, constant))
    if live_agree:
        module = net.to_torch(dtype=torch.float64)
        J = torch.autograd.functional.jacobian(module, torch.tensor(x, dtype=torch.float64)).numpy()
        J = J.reshape(net.n_outputs, net.n_inputs)
        evaluation = "autograd"
    else:  # floating point puts the witness on the wrong side of a hyperplane it lies very close to
        J = net.jacobian_of_patterns(patterns)
        evaluation = "exact pattern"
    value = float(jacobian_norms(J, parsed))
    if not math.isfinite(value):
        raise CertificateError(f"the gradient norm at the witness is not finite ({value})")
    live = [np.abs(z)[~c] for z, c in zip(floats, constant)]
    margin = min((float(v.min()) for v in live if v.size), default=math.inf)
    return DeepWitness(value=value, patterns=patterns, margin=margin, evaluation=evaluation)


def certified_deep_result(net: ReLUNetwork, norm: str, domain: Box | None, method: str, clock: Clock, *,
                          status: Status, witness: Any, upper: float | None, upper_proof: str, message: str = "",
                          stats: Mapping[str, Any] | None = None) -> LipschitzResult:
    """The result of a deep search after re-checking its witness (the rules of
    :func:`lipexact.exact.problem.certified_result`).

    The lower bound is the re-evaluated norm at ``witness``. ``OPTIMAL`` needs a witness, a finite upper
    bound and agreement within :data:`~lipexact.exact.problem.RELATIVE_TOLERANCE` (relative), else the
    result is an ``ERROR``; a witness above the upper bound or a NaN upper bound is an ``ERROR`` whatever the
    status. ``pattern`` is the concatenated per-layer pattern; ``certificate["layer_sizes"]`` splits it.
    """
    scope = "global" if domain is None else "local (box)"
    return judged_result(lambda x: verify_deep_witness(net, x, norm, domain), norm, method, clock, status=status,
                         witness=witness, upper=upper, message=message, stats=stats,
                         certificate={"upper_proof": upper_proof, "scope": scope, "layer_sizes": list(net.hidden_sizes)})
