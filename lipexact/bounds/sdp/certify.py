"""Certify a LipSDP-neuron bound in floating point: the smallest ``rho`` PROVEN to satisfy ``M(T, rho) <= 0``.

Every SDP-class value this project reports (interior point, first order, layer-wise) passes through
:func:`certified_rho`: a solver only proposes multipliers ``T``; the number reported is what this module
proves for them. The matrix ``M`` is that of :mod:`lipexact.bounds.sdp.lmi`.

How ``rho`` is found
--------------------
Write ``-M = [[rho I, -C], [-C^T, -N]]`` with ``N`` the hidden-layer part (it depends on ``T`` only) and
``C = [W_1^T T_1, 0, ..., 0]``. When ``-N`` is positive definite, ``-M >= 0`` exactly when
``rho >= lambda_max(C (-N)^{-1} C^T)`` (Schur complement). That candidate is computed in floating point
(Cholesky of ``-N``, a triangular solve, the largest eigenvalue of a Gram matrix) and is NOT trusted: it is
raised geometrically (relative steps, so scale-free) until the proof below succeeds. When ``-N`` is not
(numerically) positive definite at ``T`` (a solver's ``T`` may be slightly infeasible) the multipliers are
scaled uniformly up (``T -> s T`` for ``s`` in ``scales``): any ``T >= 0`` gives a valid bound, so this
costs tightness only. Negative multipliers are set to zero first (the proof needs ``T >= 0``).

The proof (for the float64 ``rho`` and the float64 ``T`` actually used)
-----------------------------------------------------------------------
Let ``u = 2^-53`` (unit roundoff), ``eta = 2^-1074`` (smallest subnormal), ``gamma_k = k u / (1 - k u)``.

1. Forming ``F = fl(-M)``. Entries ``rho`` and ``2 t`` are exact; ``W_i^T T_i`` takes one product per
   entry (error ``<= u |w t| + eta``); the last block ``2 T - W_k^T W_k`` is a dot product of length ``m``
   plus one addition (error ``<= gamma_{m+2} (|W_k|^T |W_k| + 2 T) + (m + 2) eta``, whatever the summation
   order, fused multiply-adds included). With ``E`` these entrywise bounds, ``||(-M) - F||_2 <= rho(E) <=
   max_r sum_c E_rc =: e_M`` (a symmetric nonnegative matrix's spectral radius is at most its largest row
   sum); ``e_M`` is evaluated and then inflated by a relative ``4 (n + m + 4) u`` that covers the rounding of
   its own evaluation.
2. Balancing. ``F`` is replaced by ``D F D`` with ``D = diag(2^-e_i)`` chosen so that every diagonal entry
   lies in ``[1/4, 4)``: a congruence (it preserves definiteness), exact in binary floating point except
   for subnormal results (``eta`` per entry, ``n eta`` per row), and it makes the test below invariant to
   the scaling of each layer. ``E`` becomes ``D E D``; from here on ``F`` and ``e_M`` denote the balanced ones.
3. Rump's test (Rump 2006, building on the backward error of Cholesky, Higham 2002 Thm 10.3). Let
   ``B = fl(F - sigma I)``. If floating-point Cholesky of ``B`` runs to completion (every pivot positive),
   the computed factor satisfies ``R^T R = B + dB`` with ``|dB| <= gamma_{n+1} |R^T| |R|`` (any order of the
   inner products, hence also LAPACK's blocked ``potrf``). Then ``||dB||_2 <= gamma_{n+1} ||R||_F^2`` and
   ``||R||_F^2 = tr(B + dB) <= tr(B) + gamma_{n+1} ||R||_F^2``, so ``||dB||_2 <= c_B := gamma_{n+1} /
   (1 - gamma_{n+1}) tr(B)``; we use ``gamma_{n+2}`` and add Rump's allowance for underflow
   ``8 (2 n + max_i B_ii) eta``. As ``R^T R >= 0``, ``B >= -c_B I``.
4. ``F = B + G`` with ``G`` diagonal, ``G_ii >= sigma - u (|F_ii| + sigma)`` (one rounded subtraction).
   So ``D (-M) D >= F - e_M I >= (sigma (1 - u) - u max|F_ii| - c_B - e_M) I``, and the bracket is checked
   positive (with its terms inflated by 1%). Hence ``-M`` is positive definite and ``M(T, rho) <= 0``.

Floating-point arithmetic is assumed IEEE-754 binary64 with rounding to nearest, no overflow (entries are
checked finite) and ``n u`` far below 1 (checked).

References
----------
S. M. Rump. Verification of positive definiteness. BIT Numerical Mathematics 46 (2006) 433-452.
N. J. Higham. Accuracy and Stability of Numerical Algorithms, 2nd ed., SIAM 2002, Theorem 10.3.
M. Fazlyab et al. Efficient and accurate estimation of Lipschitz constants for deep neural networks.
NeurIPS 2019.

Examples
--------
>>> cert = certified_rho([[[3.0]], [[4.0]]], [[16.0]])  # f(x) = 4 relu(3 x): L = 12, optimal t = 16
>>> cert.proven, 144.0 <= cert.value < 144.0 * (1 + 1e-9)
(True, True)
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np

from lipexact.bounds.sdp.lmi import check_multipliers, check_weights, hidden_widths, lipsdp_matrix
from lipexact.bounds.sdp.psd import SMALLEST_SUBNORMAL, UNIT_ROUNDOFF, gamma, inflate
from reductions.validation import require

__all__ = ["CertifiedRho", "certified_rho", "prove_lmi", "schur_candidate", "raise_until_proven", "DEFAULT_SCALES",
           "UNIT_ROUNDOFF"]

_ETA = SMALLEST_SUBNORMAL

#: First relative raise of the Schur candidate (a bound looser by 2^-30, about 1e-9, relative is immaterial;
#: a smaller first raise often costs extra Cholesky tests on large LMIs).
INITIAL_RAISE = 2.0 ** -30

#: Uniform scales tried for ``T`` when ``-N(T)`` is not positive definite at scale 1 (in this order).
DEFAULT_SCALES = (1.0, 1.0 + 2.0 ** -30, 1.0 + 2.0 ** -20, 1.0 + 2.0 ** -10, 1.0625, 1.25, 2.0, 4.0, 16.0, 256.0,
                  65536.0)


_gamma = gamma
_up = inflate


@dataclass(frozen=True)
class CertifiedRho:
    """What :func:`certified_rho` proved.

    Attributes
    ----------
    value : float
        The proven ``rho`` (``M(T', rho) <= 0`` for the multipliers ``T'`` below), ``inf`` when nothing was
        proven. ``sqrt(value)`` bounds the l2 Lipschitz constant (:attr:`lipschitz`, rounded up).
    proven : bool
        Whether the verified test succeeded.
    candidate : float
        The floating-point Schur-complement value at ``T'`` before the raise (NaN when ``-N`` failed).
    scale : float
        The uniform factor applied to the (clipped) multipliers (``T' = scale * max(T, 0)``).
    sigma : float
        The diagonal shift of the Cholesky test.
    rounding : float
        The bound ``c_B + e_M`` on the rounding errors (formation of ``M`` and the Cholesky).
    clipped : int
        How many negative multipliers were set to zero.
    attempts : int
        Cholesky tests run (over all scales).
    reason : str
        How it was proven, or why not.
    multipliers : tuple of ndarray
        ``T'``: the multipliers the proof is about.
    """

    value: float
    proven: bool
    candidate: float
    scale: float
    sigma: float
    rounding: float
    clipped: int
    attempts: int
    reason: str
    multipliers: tuple = field(repr=False, default=())

    @property
    def lipschitz(self) -> float:
        """``sqrt(value)`` rounded up (``inf`` when not proven)."""
        if not self.proven or math.isinf(self.value):
            return math.inf
        return float(np.nextafter(math.sqrt(self.value), np.inf))

    def as_dict(self) -> dict:
        """The facts as JSON-ready scalars (no multipliers)."""
        return {"rho": self.value, "proven": self.proven, "candidate_rho": self.candidate, "scale": self.scale,
                "sigma": self.sigma, "rounding_bound": self.rounding, "clipped_multipliers": self.clipped,
                "cholesky_tests": self.attempts, "reason": self.reason}


def _formation_error(W: list[np.ndarray], T: list[np.ndarray]) -> np.ndarray:
    """``E``: entrywise bounds on ``|(-M) - fl(-M)|`` (step 1 of the module docstring), a dense matrix."""
    sizes = [W[0].shape[1]] + hidden_widths(W)
    offsets = np.concatenate([[0], np.cumsum(sizes)]).astype(int)
    n = int(offsets[-1])
    m = W[-1].shape[0]
    E = np.zeros((n, n))
    for i in range(1, len(sizes)):
        block = np.abs(W[i - 1].T) * T[i - 1][None, :] * UNIT_ROUNDOFF + _ETA  # error of W_i^T T_i
        E[offsets[i - 1]:offsets[i], offsets[i]:offsets[i + 1]] = block
        E[offsets[i]:offsets[i + 1], offsets[i - 1]:offsets[i]] = block.T
    A = np.abs(W[-1])
    last = _gamma(m + 2) * (A.T @ A) + (m + 2) * _ETA
    last[np.diag_indices_from(last)] += _gamma(m + 2) * 2.0 * T[-1]
    E[offsets[-2]:, offsets[-2]:] = _up(1.0, m + 2) * last
    return E


def _power_of_two_scaling(F: np.ndarray) -> np.ndarray:
    """``d`` with ``d_i = 2^-e_i`` and ``d_i^2 F_ii`` in ``[1/4, 4)`` (exact scaling: powers of two)."""
    _, exponents = np.frexp(np.diag(F))
    return np.ldexp(1.0, -(exponents // 2))


def _cholesky_ok(B: np.ndarray) -> bool:
    try:
        np.linalg.cholesky(B)
    except np.linalg.LinAlgError:
        return False
    return True


def _verify(F: np.ndarray, E: Any) -> tuple[bool, float, float]:
    """Rump's test that every symmetric matrix within ``E`` (entrywise; a scalar: a spectral bound) of ``F``
    is positive definite, after an exact power-of-two diagonal congruence: (ok, sigma, rounding bound)."""
    n = F.shape[0]
    require(n * UNIT_ROUNDOFF < 1e-6, "weights", "matrices small enough for the rounding analysis", f"size {n}")
    diag = np.diag(F)
    if not np.isfinite(F).all() or diag.min() <= 0:
        return False, math.nan, math.nan
    d = _power_of_two_scaling(F)
    F = d[:, None] * F * d[None, :]  # exact but for subnormal results (n eta per row below)
    if np.isscalar(E):
        e_M = _up(float(E) * float(d.max()) ** 2, 2) + n * _ETA
    else:
        e_M = _up(float((d[:, None] * E * d[None, :]).sum(axis=1).max()), n + 2) + n * _ETA
    diag = np.diag(F)
    big = float(np.abs(diag).max())
    gamma = _gamma(n + 2)
    c_F = _up(gamma / (1.0 - gamma) * float(diag.sum()), n + 4) + 8 * (2 * n + big) * _ETA
    sigma = 1.05 * (c_F + e_M) + 4.0 * UNIT_ROUNDOFF * big
    c_B = c_F
    for _ in range(4):
        B = F - sigma * np.eye(n)
        bdiag = np.diag(B)
        if bdiag.min() <= 0 or not _cholesky_ok(B):
            return False, sigma, c_B + e_M
        c_B = _up(gamma / (1.0 - gamma) * float(bdiag.sum()), n + 4) + 8 * (2 * n + float(bdiag.max())) * _ETA
        margin = sigma * (1 - UNIT_ROUNDOFF) - 1.01 * (UNIT_ROUNDOFF * (big + sigma) + c_B + e_M)
        if margin > 0:
            return True, sigma, c_B + e_M
        sigma *= 1.5
    return False, sigma, c_B + e_M


def prove_lmi(weights: Sequence[Any], multipliers: Sequence[Any], rho: float) -> tuple[bool, dict]:
    """Whether ``M(T, rho) <= 0`` is PROVEN for these exact float64 values (``T >= 0`` required).

    Returns ``(proven, facts)`` with ``facts`` holding ``sigma`` and ``rounding_bound`` (see the module
    docstring). Negative multipliers are refused (``proven`` False), not clipped.

    Examples
    --------
    >>> prove_lmi([[[3.0]], [[4.0]]], [[16.0]], 144.001)[0], prove_lmi([[[3.0]], [[4.0]]], [[16.0]], 143.999)[0]
    (True, False)
    """
    W = check_weights(weights)
    T = check_multipliers(W, multipliers)
    rho = float(rho)
    if not math.isfinite(rho) or any((t < 0).any() for t in T):
        return False, {"reason": "rho not finite or a negative multiplier"}
    F = -lipsdp_matrix(W, T, rho)
    ok, sigma, bound = _verify(F, _formation_error(W, T))
    return ok, {"sigma": sigma, "rounding_bound": bound}


def schur_candidate(S0: np.ndarray, n0: int) -> float:
    """Float ``lambda_max(C (-N)^{-1} C^T)`` for ``S0 = -M(T, 0) = [[0, -C], [-C^T, -N]]`` (``n0`` input
    coordinates first; any coupling of the input to the hidden coordinates), NaN when ``-N`` fails a float
    Cholesky (not a proof)."""
    import scipy.linalg

    try:
        L = np.linalg.cholesky(S0[n0:, n0:])
    except np.linalg.LinAlgError:
        return math.nan
    Y = scipy.linalg.solve_triangular(L, S0[n0:, :n0], lower=True, check_finite=False)
    gram = Y @ Y.T if Y.shape[0] <= Y.shape[1] else Y.T @ Y
    value = float(np.linalg.eigvalsh(gram)[-1])
    return max(value, 0.0) if math.isfinite(value) else math.nan


def _schur_candidate(W: list[np.ndarray], T: list[np.ndarray]) -> float:
    """:func:`schur_candidate` of the chain's matrix."""
    return schur_candidate(-lipsdp_matrix(W, T, 0.0), W[0].shape[1])


def raise_until_proven(matrix, E: np.ndarray, candidate: float, n0: int,
                       max_raises: int) -> tuple[bool, float, float, float, int]:
    """``(proven, rho, sigma, rounding, tests)``: ``rho`` raised from the float Schur ``candidate`` (a first step
    relative to it, or, when it is 0, to the rounding errors of the input rows, which live in the input block's
    scale; then fourfold) until :func:`_verify` proves ``matrix(rho)`` (the float ``-M(T, rho)``, entrywise within
    ``E`` of the exact one) positive definite, at most ``max_raises`` tests. Not proven: ``rho`` is the next
    value that would have been tried."""
    n = E.shape[0]
    step = max(candidate * max(64 * n * UNIT_ROUNDOFF, INITIAL_RAISE), 4 * float(E[:n0].sum(axis=1).max()),
               2.0 ** -1000)
    rho, sigma, bound = candidate + step, math.nan, math.nan
    for test in range(1, max_raises + 1):
        ok, sigma, bound = _verify(matrix(rho), E)
        if ok:
            return True, rho, sigma, bound, test
        step *= 4.0
        rho = candidate + step
    return False, rho, sigma, bound, max_raises


def certified_rho(weights: Sequence[Any], multipliers: Sequence[Any], *, scales: Sequence[float] = DEFAULT_SCALES,
                  max_raises: int = 60) -> CertifiedRho:
    """The smallest ``rho`` (up to a tiny relative raise) PROVEN to satisfy ``M(T, rho) <= 0``.

    Parameters
    ----------
    weights : sequence of matrices
        ``W_1..W_k`` of the ReLU MLP (see :func:`lipexact.bounds.sdp.lmi.mlp_weights`).
    multipliers : sequence of vectors
        One per hidden layer (any sign; negative entries are set to zero, counted in ``clipped``).
    scales : sequence of float
        Uniform factors tried for ``T`` in order until ``-N(sT)`` passes a float Cholesky and the proof
        succeeds (see the module docstring). Each must be positive and finite.
    max_raises : int
        Raises of the candidate ``rho`` per scale before giving up on that scale.

    Returns
    -------
    CertifiedRho
        ``value = inf`` and ``proven = False`` when no scale gives a proof.

    Examples
    --------
    >>> W = [[[1.0, 0.0], [0.0, 1.0]], [[1.0, 1.0]]]     # f(x) = relu(x1) + relu(x2): L = sqrt(2)
    >>> cert = certified_rho(W, [[2.0, 2.0]])        # the optimal multipliers
    >>> cert.proven, round(cert.value, 6)
    (True, 2.0)
    >>> certified_rho(W, [[0.0, 0.0]]).reason     # T = 0: the last block W^T W is not negative definite
    'the hidden blocks are not negative definite at any tried scale of T'
    """
    W = check_weights(weights)
    T = check_multipliers(W, multipliers)
    require(isinstance(max_raises, int) and not isinstance(max_raises, bool) and max_raises >= 1, "max_raises",
            "a positive integer", repr(max_raises))
    scales = [float(s) for s in scales]
    require(len(scales) >= 1 and all(math.isfinite(s) and s > 0 for s in scales), "scales",
            "a non-empty sequence of positive finite numbers", repr(scales))
    clipped = int(sum(int((t < 0).sum()) for t in T))
    T = [np.maximum(t, 0.0) for t in T]
    attempts = 0
    last_reason = "the hidden blocks are not negative definite at any tried scale of T"
    for scale in scales:
        Ts = [t * scale for t in T]
        if not all(np.isfinite(t).all() for t in Ts):
            continue
        candidate = _schur_candidate(W, Ts)
        if math.isnan(candidate):
            continue
        E = _formation_error(W, Ts)
        ok, rho, sigma, bound, tests = raise_until_proven(lambda r: -lipsdp_matrix(W, Ts, r), E, candidate,
                                                          W[0].shape[1], max_raises)
        attempts += tests
        if ok:
            how = (f"Rump's Cholesky test on -M(T, rho) - {sigma:.3g} I (rounding bound {bound:.3g}) at scale "
                   f"{scale:g} of T, rho raised by {(rho - candidate) / max(candidate, 1e-300):.3g} relative "
                   f"from the Schur candidate")
            return CertifiedRho(rho, True, candidate, scale, sigma, bound, clipped, attempts, how,
                                tuple(t.copy() for t in Ts))
        last_reason = f"no rho up to {rho:.6g} was proven at scale {scale:g} of T (candidate {candidate:.6g})"
    return CertifiedRho(math.inf, False, math.nan, math.nan, math.nan, math.nan, clipped, attempts, last_reason,
                        tuple(t.copy() for t in T))
