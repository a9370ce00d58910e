"""Convex quadratic maximization on the hypercube -> LIP-CST (a bias-free two-layer ReLU network).

Factor ``H = F F^T`` (``F``: n x k). Then

- on {0,1}^n: ``f(x) = 1^T relu(F x)`` has gradient ``F^T s`` on the region of pattern ``s``, so
  ``L(f)^2 = max over s in {0,1}^n of s^T H s`` (:class:`Quadratic01ToLipCst`);
- on {-1,1}^n: ``f(x) = sum_i |F_i x| = sum_i relu(F_i x) + relu(-F_i x)`` (2n hidden units, output
  weights 1) has gradient ``F^T s`` with ``s = sign(F x)``, so ``L(f)^2 = max over s in {-1,1}^n of
  s^T H s`` (:class:`QuadraticPM1ToLipCst`).

The optimum is realized (DESIGN.md section 3): a maximizer ``s`` cannot gain from flipping one
coordinate, which for ``H_ii > 0`` forces ``(H s)_i > 0`` exactly where ``s_i = 1`` (``s_i (H s)_i >=
H_ii > 0`` on {-1,1}^n). So ``x = F^T s``, where ``F x = H s``, lies in the open region of ``s``, and
``||grad f(x)||^2 = s^T H s``. Rows with ``H_ii = 0`` are zero rows of ``F``: dead units that never
switch on and change no gradient.

The factor: when ``H`` is diagonally dominant (graph Laplacians, and ``L + c I`` with the Gershgorin
shift) it is the signed incidence factor, columns ``r (e_i - sign(H_ij) e_j)`` per non-zero
off-diagonal pair and ``r e_i`` per positive residual ``H_ii - sum_j |H_ij|``; for integer ``H`` the
roots ``r`` come from a four-square decomposition of each weight, so ``F`` is an exact integer matrix
(the plain signed incidence matrix for unit weights) and ``L(f)^2`` is an exact integer. Otherwise
``F`` comes from the eigendecomposition with tiny negative eigenvalues clipped (``H`` is PSD-checked
first).

References
----------
Scaman, K. and Virmaux, A., "Lipschitz regularity of deep neural networks: analysis and efficient
estimation", NeurIPS 2018, arXiv:1805.10965 (Theorem 2: LIP-CST is NP-hard).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from reductions.base import InverseData, Reduction, Solution
from reductions.instances import ConvexQuadratic01, ConvexQuadraticPM1, LipCst
from reductions.validation import PSD_TOLERANCE, check_psd, require

__all__ = [
    "Quadratic01ToLipCst",
    "QuadraticPM1ToLipCst",
    "psd_factor",
    "incidence_factor",
    "eigen_factor",
    "four_squares",
]


def four_squares(value: int) -> list[int]:
    """Positive integers whose squares sum to ``value >= 0`` (at most four: Lagrange's theorem).

    Examples
    --------
    >>> four_squares(9), four_squares(7), four_squares(0)
    ([3], [2, 1, 1, 1], [])
    """
    value = int(value)
    require(value >= 0, "value", "a non-negative integer", str(value))
    for a in range(math.isqrt(value), -1, -1):
        rest_a = value - a * a
        for b in range(min(a, math.isqrt(rest_a)), -1, -1):
            rest_b = rest_a - b * b
            for c in range(min(b, math.isqrt(rest_b)), -1, -1):
                rest_c = rest_b - c * c
                d = math.isqrt(rest_c)
                if d * d == rest_c and d <= c:
                    return [v for v in (a, b, c, d) if v > 0]
    raise AssertionError("unreachable: every non-negative integer is a sum of four squares")


def _roots(value: Any, integer: bool) -> list[int] | list[float]:
    """Numbers whose squares sum to ``value``: integers (four squares) for integer data."""
    if integer:
        return four_squares(int(value))
    return [math.sqrt(float(value))] if value > 0 else []


def incidence_factor(H: np.ndarray) -> np.ndarray | None:
    """The signed incidence factor of a diagonally dominant ``H`` (``F F^T = H``), else None.

    One column ``r (e_i - sign(H_ij) e_j)`` per pair ``i < j`` with ``H_ij != 0`` and one column ``r e_i``
    per positive residual ``H_ii - sum_{j != i} |H_ij|``, where ``r^2`` is the weight. For integer
    ``H`` the factor is an exact integer matrix: a weight that is not a perfect square gets up to four
    columns ``a, b, c, d`` with ``a^2 + b^2 + c^2 + d^2`` equal to it (Lagrange's four-square theorem),
    so unit-weight graphs give their plain signed incidence matrix. Float ``H`` uses ``sqrt``.

    Examples
    --------
    >>> L = np.array([[1, -1, 0], [-1, 2, -1], [0, -1, 1]])   # the path 0 - 1 - 2
    >>> F = incidence_factor(L)
    >>> F.tolist(), np.array_equal(F @ F.T, L)
    ([[1, 0], [-1, 1], [0, -1]], True)
    >>> F = incidence_factor(np.array([[2, 2], [2, 5]]))        # weight 2 = 1 + 1, residual 3 = 1 + 1 + 1
    >>> F.dtype, F.shape, np.array_equal(F @ F.T, [[2, 2], [2, 5]])
    (dtype('int64'), (2, 5), True)
    >>> incidence_factor(np.array([[1, 2], [2, 5]])) is None
    True
    """
    H = np.asarray(H)
    n = H.shape[0]
    integer = H.dtype.kind in "iu"
    off = H - np.diag(np.diag(H))
    residual = np.diag(H) - np.abs(off).sum(axis=1)
    if integer:
        if np.any(residual < 0):
            return None
    else:
        scale = max(1.0, float(np.abs(H).max(initial=0.0)))
        if np.any(residual < -1e-12 * scale * n):
            return None
        residual = np.maximum(residual, 0.0)
    columns = []
    for i, j in zip(*np.nonzero(np.triu(off, 1))):
        sign = -1 if H[i, j] < 0 else 1
        for root in _roots(abs(H[i, j]), integer):
            column = [0] * n
            column[i], column[j] = root, sign * root
            columns.append(column)
    for i in np.flatnonzero(residual > 0):
        for root in _roots(residual[i], integer):
            column = [0] * n
            column[i] = root
            columns.append(column)
    dtype = np.int64 if integer else np.float64
    if not columns:
        return np.zeros((n, 1), dtype=dtype)
    return np.array(columns, dtype=dtype).T


def eigen_factor(H: np.ndarray) -> np.ndarray:
    """``F = V diag(sqrt(lambda))`` over the eigenvalues above ``PSD_TOLERANCE`` x scale (``H`` PSD).

    Examples
    --------
    >>> F = eigen_factor(np.array([[2.0, 1.0], [1.0, 2.0]]))
    >>> F.shape, np.allclose(F @ F.T, [[2, 1], [1, 2]])
    ((2, 2), True)
    """
    values, vectors = np.linalg.eigh(np.asarray(H, dtype=np.float64))
    scale = max(1.0, float(np.abs(values).max(initial=0.0)))
    keep = values > PSD_TOLERANCE * scale
    if not np.any(keep):
        return np.zeros((H.shape[0], 1))
    F = vectors[:, keep] * np.sqrt(values[keep])
    F[np.all(np.asarray(H) == 0, axis=1)] = 0.0  # zero rows of H are exactly dead units
    _tie_equal_rows(np.asarray(H), F)
    return F


def _tie_equal_rows(H: np.ndarray, F: np.ndarray) -> None:
    """Make ``F_j = F_i`` (``-F_i``) where ``H_ii = H_jj = H_ij`` (``= -H_ij``), as every exact factor has.

    ``||F_i - F_j||^2 = H_ii - 2 H_ij + H_jj = 0`` there; a float factor misses it by rounding, and the two
    units would then be two distinct hyperplanes 1e-16 apart instead of one.

    Examples
    --------
    >>> H = np.array([[1.0, 1.0, -1.0], [1.0, 1.0, -1.0], [-1.0, -1.0, 1.0]])
    >>> F = np.array([[1.0], [1.0 + 2e-16], [-1.0 + 1e-16]])
    >>> _tie_equal_rows(H, F); F.ravel().tolist()
    [1.0, 1.0, -1.0]
    """
    diagonal = np.diag(H)
    same_size = (diagonal[:, None] == diagonal[None, :]) & (diagonal[:, None] != 0)
    for j in range(1, H.shape[0]):
        for sign in (1, -1):
            partners = np.flatnonzero(same_size[:j, j] & (H[:j, j] == sign * diagonal[j]))
            if partners.size:
                F[j] = sign * F[partners[0]]
                break


def psd_factor(H: np.ndarray) -> tuple[np.ndarray, str]:
    """A factor ``F`` with ``F F^T = H`` and how it was found (``"incidence"`` or ``"eigen"``).

    ``H`` is checked PSD first; the eigen factor's reconstruction error is checked as well.

    Examples
    --------
    >>> psd_factor(np.array([[4, -4], [-4, 4]]))
    (array([[ 2],
           [-2]]), 'incidence')
    >>> psd_factor(np.array([[1, 2], [2, 5]]))[1]
    'eigen'
    """
    check_psd(H, "H")
    F = incidence_factor(H)
    if F is not None:
        return F, "incidence"
    F = eigen_factor(H)
    error = float(np.abs(F @ F.T - H).max(initial=0.0))
    scale = max(1.0, float(np.abs(H).max(initial=0.0)))
    require(error <= 1e-8 * scale, "H", "a matrix with a numerically sound factor F F^T = H",
            f"reconstruction error {error:.3g}")
    return F, "eigen"


def _witness(target: LipCst, pattern: np.ndarray, candidate: np.ndarray) -> np.ndarray | None:
    """``candidate`` when its pattern is ``pattern`` (on live units, strictly); else the LP's point."""
    live = target.live
    if not target.on_boundary(candidate) and np.array_equal(target.pattern_at(candidate)[live], pattern[live]):
        return candidate
    return target.realize(pattern)


class _QuadraticToLipCst(Reduction):
    requirement = "a positive semi-definite H"

    def _network(self, F: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        raise NotImplementedError

    def _pattern(self, s: np.ndarray, live_variables: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def _target(self, inverse: InverseData) -> LipCst:
        return LipCst(*self._network(inverse.arrays["factor"]))

    def _apply(self, problem):
        F, how = psd_factor(problem.H)
        target = LipCst(*self._network(F))
        return target, InverseData(self.name, problem, arrays={"factor": F})

    def _forward(self, solution, inverse):
        F = inverse.arrays["factor"]
        target = self._target(inverse)
        s = inverse.source.certificate(solution.certificate)
        pattern = self._pattern(s, np.any(F != 0, axis=1))
        witness = _witness(target, pattern, F.T @ s)
        return Solution(target.value(pattern), pattern, witness, pattern)

    def _target_pattern(self, solution, inverse) -> np.ndarray:
        target = self._target(inverse)
        if solution.witness is not None:
            return target.pattern_at(solution.witness)
        return target.certificate(solution.pattern if solution.pattern is not None else solution.certificate)


class Quadratic01ToLipCst(_QuadraticToLipCst):
    """:class:`ConvexQuadratic01` -> :class:`LipCst` with ``f(x) = 1^T relu(F x)``, ``F F^T = H``.

    ``L(f)^2 = max over {0,1}^n of s^T H s``; hidden unit ``i`` is variable ``i``. Certificates:
    ``s`` -> pattern ``s`` (dead units off) with witness ``x = F^T s``; a witness or pattern -> ``s``.

    Examples
    --------
    >>> problem = ConvexQuadratic01([[1, -1, 0], [-1, 2, -1], [0, -1, 1]])
    >>> lipcst, inverse = Quadratic01ToLipCst().apply(problem)
    >>> lipcst.M1.tolist(), lipcst.M2.tolist()
    ([[1, 0], [-1, 1], [0, -1]], [[1, 1, 1]])
    >>> best = Quadratic01ToLipCst().forward(Solution.of(problem, [0, 1, 0]), inverse)
    >>> best.value, best.witness.tolist(), lipcst.value_at(best.witness)
    (2, [-1, 1], 2)
    """

    name = "01_to_lipcst"
    source_type = ConvexQuadratic01
    target_type = LipCst

    def _network(self, F):
        return F, np.ones((1, F.shape[0]), dtype=np.int64)

    def _pattern(self, s, live_variables):
        return (s == 1) & live_variables

    def _invert_certificate(self, solution, inverse):
        return self._target_pattern(solution, inverse).astype(np.int64)


class QuadraticPM1ToLipCst(_QuadraticToLipCst):
    """:class:`ConvexQuadraticPM1` -> :class:`LipCst` with ``f(x) = sum_i |F_i x|``, ``F F^T = H``.

    Hidden units ``i`` and ``n + i`` compute ``relu(F_i x)`` and ``relu(-F_i x)``; output weights 1.
    ``L(f)^2 = max over {-1,1}^n of s^T H s``. Certificates: ``s`` -> units ``i`` on where ``s_i = 1``
    and ``n + i`` on where ``s_i = -1`` (dead units off), witness ``x = F^T s``; a witness or pattern ->
    ``s_i = 1`` exactly when unit ``i`` is on and unit ``n + i`` is off.

    Examples
    --------
    >>> problem = ConvexQuadraticPM1([[1, -1], [-1, 1]])
    >>> lipcst, inverse = QuadraticPM1ToLipCst().apply(problem)
    >>> lipcst.M1.tolist()
    [[1], [-1], [-1], [1]]
    >>> best = QuadraticPM1ToLipCst().forward(Solution.of(problem, [1, -1]), inverse)
    >>> best.value, best.pattern.tolist(), best.witness.tolist()
    (4, [True, False, False, True], [2])
    """

    name = "pm1_to_lipcst"
    source_type = ConvexQuadraticPM1
    target_type = LipCst

    def _network(self, F):
        n = F.shape[0]
        return np.vstack([F, -F]), np.ones((1, 2 * n), dtype=np.int64)

    def _pattern(self, s, live_variables):
        return np.concatenate([(s == 1) & live_variables, (s == -1) & live_variables])

    def _invert_certificate(self, solution, inverse):
        pattern = self._target_pattern(solution, inverse)
        n = inverse.source.n
        return np.where(pattern[:n] & ~pattern[n:], 1, -1).astype(np.int64)
