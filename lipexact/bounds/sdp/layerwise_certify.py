"""Prove the LipSDP-neuron LMI one layer at a time: a certificate whose cost grows linearly with depth.

:func:`lipexact.bounds.sdp.certify.certified_rho` proves ``M(T, rho) <= 0`` on the whole matrix (side
``n_0 + n_1 + ... + n_{k-1}``): dense memory and a dense Cholesky, out of reach for 100 layers of width 100
(side 10^4). ``-M`` is block tridiagonal, so the same statement splits into one small check per layer:
:func:`prove_lmi_layerwise` and :func:`certified_rho_layerwise` below, the certifier of the layer-wise
bounds (:mod:`lipexact.bounds.sdp.eclipse`) on large networks. Tests check it against the full-matrix
certifier on small ones.

The decomposition
-----------------
Let ``P = -M(T, rho)``: diagonal blocks ``P_0 = rho I``, ``P_i = 2 T_i`` (``0 < i < k-1``),
``P_{k-1} = 2 T_{k-1} - W_k^T W_k``; off-diagonal blocks ``P_{i,i-1} = -T_i W_i`` (shapes ``n_i x n_{i-1}``).
For any symmetric ``C_1, ..., C_{k-2}`` put ``A_0 = P_0``, ``A_i = P_i - C_i`` (``0 < i < k-1``),
``C_{k-1} = P_{k-1}`` and::

    Q_i = [[A_{i-1},   P_{i,i-1}^T],
           [P_{i,i-1}, C_i        ]]        (i = 1, ..., k-1; side n_{i-1} + n_i)

Embedded in the rows and columns of layers ``i-1`` and ``i``, the ``Q_i`` add up to ``P`` exactly (each
diagonal block ``P_i = C_i + A_i`` is split between ``Q_i`` and ``Q_{i+1}``). So if every ``Q_i`` is positive
semidefinite, so is ``P``: ``M(T, rho) <= 0`` and ``L2(f) <= sqrt(rho)``. The ``C_i`` are ours to choose;
the choice only decides whether the checks pass, never what they prove. We take the Schur complement of
the exact block LDL^T factorization with a small reserve ``theta``::

    C_i = B_i (A_{i-1} - theta Diag(A_{i-1}))^{-1} B_i^T + theta Diag(P_i),     B_i = P_{i,i-1}

computed in floating point (a Cholesky factor and a triangular solve), so that ``Q_i`` is at least
``diag(theta Diag(A_{i-1}), theta Diag(P_i))`` above a singular positive semidefinite matrix: each ``Q_i``
keeps a margin of relative size ``theta`` for the rounding errors below. ``A_i`` is then ``P_i - C_i``: the
Schur complement that ECLipsE calls ``X_i`` (times the scale of ``rho``), a little smaller.

What is proven, in floating point
---------------------------------
``u = 2^-53``, ``eta = 2^-1074``, ``gamma_j = j u / (1 - j u)``. Every ``Q_i`` is checked as the exact
symmetric matrix ``Q_i`` within an entrywise radius ``R_i`` of its floating-point evaluation ``Q~_i``:

1. Radii. ``rho`` and ``2 t`` are exact, ``C_i`` is exact by definition (a matrix of floats we chose), so
   only three things are rounded: ``fl(t w)`` (``u |fl(t w)| + eta`` per entry, ``eta`` for an underflow),
   the diagonal of ``fl(P_i - C_i)`` (one subtraction: ``2u |result|``; the off-diagonal entries are exact
   negations), and ``fl(2 T_{k-1} - W_k^T W_k)`` (an inner product of length ``m``, any order, fused
   multiply-adds included, one subtraction and the average of the two triangles that makes it exactly
   symmetric: at most ``gamma_{m+4} (|W_k|^T |W_k| + 2 T)`` plus ``(m + 4) eta``, with ``|W_k|^T |W_k|`` itself
   evaluated in floats and inflated by a relative ``4 (m + 8) u``).
2. Balancing. A diagonal power-of-two congruence ``S Q S`` brings every diagonal entry into ``[1/4, 4)``
   (definiteness is preserved; the scaling is exact except for subnormal results, ``eta`` per entry); the
   radii scale the same way. Rows whose diagonal entry and radius are zero must vanish (a positive
   semidefinite matrix with a zero diagonal entry has a zero row): they are checked to be exactly zero
   and dropped; a negative diagonal entry fails the check.
3. Rump's test (Rump 2006, from the backward error of Cholesky, Higham 2002 Thm 10.3), as implemented by
   :func:`lipexact.bounds.sdp.psd.certified_min_eigenvalue`: a completed floating-point Cholesky of
   ``fl(S Q~ S - c I)`` proves ``lambda_min(S Q~ S) >= c - gamma_{n+1} / (1 - gamma_{n+1}) tr(...) - ...``;
   it is handed ``e``, the largest row sum of the scaled radius (a bound on the spectral norm of the difference
   between ``S Q S`` and ``S Q~ S``, inflated by a relative ``4 (n + 8) u`` for its own evaluation), so that
   the bound holds for the exact ``S Q S``, and the block passes when that bound is positive.

The argument assumes IEEE-754 binary64, rounding to nearest, no overflow (entries are checked finite),
and ``n u`` far below 1 (checked).

Smallest ``rho`` for given multipliers
--------------------------------------
``-M(T, rho) >= 0`` exactly when ``rho >= lambda_max(B_1^T Y_1^{-1} B_1)`` with ``Y_{k-1} = P_{k-1}``,
``Y_{i} = P_i - B_{i+1}^T Y_{i+1}^{-1} B_{i+1}`` (the Schur complements eliminating from the output side,
each positive definite). :func:`certified_rho_layerwise` computes that candidate in floating point (it is
not trusted) and raises it geometrically until :func:`prove_lmi_layerwise` succeeds, exactly as the
full-matrix certifier does; ``theta`` is raised when an inner check fails for lack of margin. While it
searches, a pass tests only the last block (the inner blocks are the same floats whatever the outcome of the
last test); the value it reports has passed a full pass that tests every block.

References
----------
S. M. Rump. Verification of positive definiteness. BIT Numerical Mathematics 46 (2006) 433-452.
N. J. Higham. Accuracy and Stability of Numerical Algorithms, 2nd ed., SIAM 2002, Theorem 10.3.
M. Fazlyab et al. Efficient and accurate estimation of Lipschitz constants for deep neural networks.
NeurIPS 2019.
Y. Xu and S. Sivaranjani. ECLipsE: Efficient compositional Lipschitz constant estimation for deep neural
networks. NeurIPS 2024 (the sequential Schur complements).

Examples
--------
>>> W = [[[1.0, 0.0], [0.0, 1.0]], [[1.0, 0.0], [0.0, 1.0]], [[1.0, 1.0]]]   # relu(relu(x1)) + relu(relu(x2))
>>> cert = certified_rho_layerwise(W, [[2.0, 2.0], [2.0, 2.0]])
>>> cert.proven, 2.0 <= cert.value < 2.0 * (1 + 1e-9)
(True, True)
>>> prove_lmi_layerwise(W, [[2.0, 2.0], [2.0, 2.0]], 1.99)[0]    # below the constant: never proven
False
"""

from __future__ import annotations

import math
from typing import Any, Sequence

import numpy as np
import scipy.linalg

from lipexact.bounds.sdp.certify import CertifiedRho
from lipexact.bounds.sdp.lmi import check_multipliers, check_weights
from lipexact.bounds.sdp.psd import SMALLEST_SUBNORMAL, UNIT_ROUNDOFF, certified_min_eigenvalue, gamma, inflate
from reductions.validation import require

__all__ = ["prove_lmi_layerwise", "certified_rho_layerwise", "schur_candidate_layerwise", "block_is_psd",
           "default_theta"]

_U = UNIT_ROUNDOFF
_ETA = SMALLEST_SUBNORMAL
#: Relative reserve ``theta`` left in each block ``Q_i`` by default, before any raise: ``DEFAULT_THETA_FACTOR
#: (n + 2)^2 u`` for blocks of side at most ``n`` (the size of the rounding bounds of Rump's test, balanced).
DEFAULT_THETA_FACTOR = 16.0


_gamma = gamma


def _up(x: float, operations: int) -> float:
    """Upper bound on the exact value of a nonnegative float result of ``operations`` rounded operations."""
    return inflate(x, operations + 2)


def default_theta(weights: Sequence[np.ndarray]) -> float:
    """The first block reserve ``theta`` for these weights: ``16 (n + 2)^2 u`` with ``n`` the largest block side.

    Examples
    --------
    >>> default_theta([np.ones((3, 2)), np.ones((1, 3))]) < 1e-12
    True
    """
    sides = [int(weights[0].shape[1]) + int(weights[0].shape[0])]
    sides += [int(a.shape[0]) + int(b.shape[0]) for a, b in zip(weights[:-2], weights[1:-1])]
    n = max(sides)
    return min(DEFAULT_THETA_FACTOR * (n + 2) ** 2 * _U, 2.0 ** -12)


def block_is_psd(Q: np.ndarray, radius: np.ndarray) -> tuple[bool, float]:
    """Whether every symmetric matrix within ``radius`` (entrywise) of ``Q`` is PROVEN positive semidefinite.

    Steps 2 and 3 of the module docstring. Returns ``(proven, margin)`` with ``margin`` the proven lower
    bound on the smallest eigenvalue of the balanced matrix (NaN when the test failed).

    Examples
    --------
    >>> block_is_psd(np.array([[2.0, 1.0], [1.0, 2.0]]), np.zeros((2, 2)))[0]
    True
    >>> block_is_psd(np.array([[1.0, 1.0], [1.0, 1.0]]), np.zeros((2, 2)))[0]   # singular: no margin to prove
    False
    >>> block_is_psd(np.array([[1.0, 0.0], [0.0, 0.0]]), np.zeros((2, 2)))[0]   # an exactly zero row is fine
    True
    """
    Q = np.asarray(Q, dtype=np.float64)
    radius = np.asarray(radius, dtype=np.float64)
    if not (np.isfinite(Q).all() and np.isfinite(radius).all()) or (radius < 0).any():
        return False, math.nan
    if not np.array_equal(Q, Q.T):
        return False, math.nan
    diag = np.diag(Q)
    if (diag < 0).any():
        return False, math.nan
    zero = diag == 0
    if zero.any():
        # a PSD matrix with a zero diagonal entry has a zero row: proven only if that row is exactly zero
        if Q[zero].any() or radius[zero].any() or radius[:, zero].any():
            return False, math.nan
        keep = ~zero
        Q, radius = Q[np.ix_(keep, keep)], radius[np.ix_(keep, keep)]
        if Q.shape[0] == 0:
            return True, 0.0
    n = Q.shape[0]
    require(n * _U < 1e-6, "weights", "layers small enough for the rounding analysis", f"a block of side {n}")
    _, exponents = np.frexp(np.diag(Q))
    s = np.ldexp(1.0, -(exponents // 2))  # powers of two: s_j^2 Q_jj in [1/4, 4)
    F = s[:, None] * Q * s[None, :]
    E = s[:, None] * radius * s[None, :]
    e = _up(float(E.sum(axis=1).max()), n + 4) + 2 * n * _ETA
    bound = certified_min_eigenvalue(F, error=e)
    return (True, bound) if bound > 0 else (False, math.nan)


def _product_radius(T: np.ndarray, W: np.ndarray, B: np.ndarray) -> np.ndarray:
    """Entrywise bound on ``|fl(t_j w_jk) - t_j w_jk|`` for ``B = fl(T W)``."""
    underflow = (B == 0) & (T[:, None] != 0) & (W != 0)
    return _U * np.abs(B) + _ETA * underflow


def _last_block(T: np.ndarray, W: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``fl(2 T - W^T W)`` and its entrywise rounding radius (step 1 of the module docstring)."""
    m = W.shape[0]
    D = -(W.T @ W)
    D[np.diag_indices_from(D)] += 2.0 * T
    D = (D + D.T) / 2  # the product is symmetric in exact arithmetic; averaging two floats adds one rounding
    absW = np.abs(W)
    radius = _up(1.0, m + 4) * _gamma(m + 4) * (absW.T @ absW) + (m + 4) * _ETA
    radius[np.diag_indices_from(radius)] += _gamma(m + 4) * 2.0 * T
    return D, radius


def prove_lmi_layerwise(weights: Sequence[Any], multipliers: Sequence[Any], rho: float,
                        theta: float | None = None) -> tuple[bool, dict]:
    """Whether ``M(T, rho) <= 0`` is PROVEN block by block (module docstring), for these float64 values.

    Parameters
    ----------
    weights, multipliers
        As for :func:`lipexact.bounds.sdp.lmi.lipsdp_matrix`; negative multipliers are refused.
    rho : float
        The squared Lipschitz candidate.
    theta : float, optional
        Relative reserve in each block (in ``(0, 1/2)``; default :func:`default_theta`); it changes what
        passes, not what is proven.

    Returns
    -------
    (bool, dict)
        ``facts``: ``failed_block`` (``None`` when proven; ``i`` for ``Q_i``, 1-based; ``0`` when ``A`` lost
        definiteness before ``Q_i`` could be formed, with ``failed_at``), ``min_margin`` (the smallest proven
        eigenvalue bound over the balanced blocks) and ``blocks``.

    Examples
    --------
    >>> prove_lmi_layerwise([[[3.0]], [[4.0]]], [[16.0]], 144.001)[0]   # f(x) = 4 relu(3 x): L = 12
    True
    >>> prove_lmi_layerwise([[[3.0]], [[4.0]]], [[16.0]], 143.999)[0]
    False
    """
    W = check_weights(weights)
    T = check_multipliers(W, multipliers)
    theta = default_theta(W) if theta is None else theta
    require(isinstance(theta, float) and 0 < theta < 0.5, "theta", "a float in (0, 1/2)", repr(theta))
    return _layerwise_pass(W, T, float(rho), theta, inner=True)


def _layerwise_pass(W: list, T: list, rho: float, theta: float, inner: bool) -> tuple[bool, dict]:
    """The pass of :func:`prove_lmi_layerwise`; with ``inner`` False only the last block is tested (a cheap
    search for ``rho``: the inner blocks are the same floats in the full pass, which tests them all)."""
    k = len(W)
    facts: dict = {"failed_block": None, "min_margin": math.inf, "blocks": k - 1, "theta": theta}
    if not math.isfinite(rho) or rho <= 0 or any((t < 0).any() for t in T):
        facts["failed_block"] = 0
        facts["reason"] = "rho not positive and finite, or a negative multiplier"
        return False, facts
    A = rho * np.eye(W[0].shape[1])
    radius_A = np.zeros_like(A)
    for i in range(1, k):
        t, w = T[i - 1], W[i - 1]
        B = -(t[:, None] * w)
        radius_B = _product_radius(t, w, B)
        if i < k - 1:
            C = _schur_choice(A, B, theta)
            if C is None:
                facts.update(failed_block=0, failed_at=i, reason=f"A_{i - 1} is not positive definite in floats")
                return False, facts
            C[np.diag_indices_from(C)] += theta * 2.0 * t
            radius_C = np.zeros_like(C)
        else:
            C, radius_C = _last_block(t, W[-1])
        if inner or i == k - 1:
            Q = np.block([[A, B.T], [B, C]])
            radius = np.block([[radius_A, radius_B.T], [radius_B, radius_C]])
            ok, margin = block_is_psd(Q, radius)
            if not ok:
                facts.update(failed_block=i, reason=f"Q_{i} was not proven positive semidefinite")
                return False, facts
            facts["min_margin"] = min(facts["min_margin"], margin)
        if i < k - 1:
            A = -C
            A[np.diag_indices_from(A)] += 2.0 * t  # exact negation off the diagonal; one rounding on it
            radius_A = np.diag(2.0 * _U * np.abs(np.diag(A)) + _ETA)
    return True, facts


def _schur_choice(A: np.ndarray, B: np.ndarray, theta: float) -> np.ndarray | None:
    """``B (A - theta Diag(A))^{-1} B^T`` in floats (symmetric), None when the shifted ``A`` fails Cholesky."""
    shifted = A.copy()
    shifted[np.diag_indices_from(shifted)] *= 1.0 - theta
    try:
        L = np.linalg.cholesky(shifted)
    except np.linalg.LinAlgError:
        return None
    G = scipy.linalg.solve_triangular(L, B.T, lower=True, check_finite=False)  # L^{-1} B^T
    C = G.T @ G
    C = (C + C.T) / 2
    return C if np.isfinite(C).all() else None


def schur_candidate_layerwise(weights: Sequence[Any], multipliers: Sequence[Any]) -> float:
    """Floating-point smallest ``rho`` with ``M(T, rho) <= 0`` (eliminating from the output side); NaN
    when a Schur complement is not positive definite in floats. Not a proof.

    Examples
    --------
    >>> round(schur_candidate_layerwise([[[3.0]], [[4.0]]], [[16.0]]), 9)
    144.0
    """
    W = check_weights(weights)
    T = check_multipliers(W, multipliers)
    k = len(W)
    Y = -(W[-1].T @ W[-1])
    Y[np.diag_indices_from(Y)] += 2.0 * T[-1]
    for i in range(k - 1, 0, -1):
        B = T[i - 1][:, None] * W[i - 1]  # sign irrelevant in B^T Y^{-1} B
        try:
            L = np.linalg.cholesky((Y + Y.T) / 2)
        except np.linalg.LinAlgError:
            return math.nan
        G = scipy.linalg.solve_triangular(L, B, lower=True, check_finite=False)
        S = G.T @ G
        if i > 1:
            Y = -S
            Y[np.diag_indices_from(Y)] += 2.0 * T[i - 2]
        else:
            value = float(np.linalg.eigvalsh((S + S.T) / 2)[-1])
            return max(value, 0.0) if math.isfinite(value) else math.nan
    return math.nan  # pragma: no cover - the loop always returns


def certified_rho_layerwise(weights: Sequence[Any], multipliers: Sequence[Any], *, max_raises: int = 80,
                            theta: float | None = None, max_theta: float = 2.0 ** -10) -> CertifiedRho:
    """The smallest ``rho`` (up to a small relative raise) PROVEN layer by layer to satisfy ``M(T, rho) <= 0``.

    Same contract as :func:`lipexact.bounds.sdp.certify.certified_rho` (whose result type it returns) at a
    cost linear in depth; the multipliers are used as given (no uniform rescaling; negative ones are set to
    zero and counted in ``clipped``). ``sigma`` in the result is the smallest proven eigenvalue bound over the
    balanced blocks; ``scale`` is 1; ``rounding`` is NaN (each block has its own rounding bound).

    Parameters
    ----------
    weights, multipliers
        As for :func:`prove_lmi_layerwise`.
    max_raises : int
        Geometric raises of ``rho`` (factor 2 on the relative step) before giving up.
    theta, max_theta : float
        First (default :func:`default_theta`) and largest block reserve; ``theta`` grows 16-fold when an
        inner block fails.

    Examples
    --------
    >>> cert = certified_rho_layerwise([[[3.0]], [[4.0]]], [[16.0]])
    >>> cert.proven, 144.0 <= cert.value < 144.0 * (1 + 1e-9)
    (True, True)
    >>> certified_rho_layerwise([[[3.0]], [[4.0]]], [[4.0]]).proven   # 2 t < 16: no rho works
    False
    """
    W = check_weights(weights)
    T = check_multipliers(W, multipliers)
    require(isinstance(max_raises, int) and not isinstance(max_raises, bool) and max_raises >= 1, "max_raises",
            "a positive integer", repr(max_raises))
    clipped = int(sum(int((t < 0).sum()) for t in T))
    T = [np.maximum(t, 0.0) for t in T]
    multipliers_used = tuple(t.copy() for t in T)
    candidate = schur_candidate_layerwise(W, T)
    if not math.isfinite(candidate):
        return CertifiedRho(math.inf, False, math.nan, 1.0, math.nan, math.nan, clipped, 0,
                            "a Schur complement of the hidden blocks is not positive definite at these multipliers",
                            multipliers_used)
    theta = default_theta(W) if theta is None else theta
    require(isinstance(theta, float) and 0 < theta < 0.5, "theta", "a float in (0, 1/2)", repr(theta))
    step = max(candidate, 1e-300) * theta * len(W)
    attempts = 0
    facts: dict = {}
    for _ in range(max_raises):
        rho = candidate + step
        while True:
            attempts += 1
            ok, facts = _layerwise_pass(W, T, rho, theta, inner=False)  # the last block only: finds rho cheaply
            if ok:
                ok, facts = _layerwise_pass(W, T, rho, theta, inner=True)  # the proof: every block
            if ok:
                how = (f"layer-wise block decomposition, Rump's Cholesky test on {len(W) - 1} blocks (reserve "
                       f"theta {theta:.3g}), rho raised by {step / max(candidate, 1e-300):.3g} relative from the "
                       f"Schur candidate")
                return CertifiedRho(rho, True, candidate, 1.0, facts["min_margin"], math.nan, clipped, attempts,
                                    how, multipliers_used)
            inner = facts["failed_block"] not in (0, len(W) - 1)
            if inner and theta * 16 <= max_theta:
                theta *= 16  # an inner block lacked margin: reserve more, same rho
                continue
            break
        step *= 2.0
    reason = (f"no rho up to {candidate + step / 2:.6g} proven (candidate {candidate:.6g}; last failure: "
              f"{facts.get('reason', '?')})")
    return CertifiedRho(math.inf, False, candidate, 1.0, math.nan, math.nan, clipped, attempts, reason,
                        multipliers_used)
