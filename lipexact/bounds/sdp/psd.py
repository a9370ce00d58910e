"""A proven lower bound on the smallest eigenvalue of a symmetric matrix, from a floating-point Cholesky test.

The test (Demmel 1989; Higham 2002, Theorem 10.3; the trace form is Rump 2006): if the floating-point
Cholesky factorization of a symmetric ``n x n`` matrix ``B`` (IEEE binary64, rounding to nearest, any order
of the inner products, no underflow) runs to completion with a computed factor ``R``, then
``R^T R = B + E`` with ``|E| <= gamma_{n+1} |R^T| |R|`` entrywise, and ``||r_j||^2 <= b_jj / (1 - gamma_{n+1})``
for every column ``r_j`` of ``R``. So ``||E||_2 <= gamma_{n+1} ||R||_F^2 <= alpha tr(B)`` with
``alpha = gamma_{n+1} / (1 - gamma_{n+1})``, and since ``B + E = R^T R`` is positive semidefinite,

    ``lambda_min(B) >= -alpha tr(B)``.

:func:`certified_min_eigenvalue` applies this to ``B = fl(A - c I)`` for a shift ``c`` just below the
estimated smallest eigenvalue of ``A``: a successful factorization proves

    ``lambda_min(A) >= c - alpha tr(B) - u max_i |b_ii| - guard``

(``u max |b_ii|`` covers the rounding of the shifted diagonal, ``guard`` a generous allowance for underflow
after scaling ``A`` by a power of two to unit size). Every term is evaluated with upward rounding
(:func:`upper`). A caller whose matrix ``A`` is itself a floating-point evaluation of the matrix ``T`` it
cares about passes ``error >= ||T - A||_2``; the result then holds for ``T``: ``lambda_min(T) >= result``.
If no shift factorizes, the answer is ``-inf`` (nothing proven), never a guess.

References
----------
Demmel, J. On floating point errors in Cholesky. LAPACK Working Note 14 (1989).
Higham, N. J. Accuracy and Stability of Numerical Algorithms, 2nd ed., SIAM (2002), Section 10.1.
Rump, S. M. Verification of positive definiteness. BIT Numerical Mathematics 46 (2006), 433-452.
"""

from __future__ import annotations

import math

import numpy as np

from reductions.validation import InvalidInputError, require

__all__ = ["UNIT_ROUNDOFF", "SMALLEST_SUBNORMAL", "gamma", "upper", "inflate", "cholesky_completes",
           "certified_min_eigenvalue", "gram_error_norm"]

#: Unit roundoff of IEEE binary64 with rounding to nearest.
UNIT_ROUNDOFF = 2.0 ** -53
#: The smallest positive (subnormal) binary64 number: the absolute error of an underflowing product.
SMALLEST_SUBNORMAL = 2.0 ** -1074
#: Allowance for underflow (absolute, after scaling the matrix to unit size): far above any accumulated
#: underflow error of the operations here for matrices of fewer than 2^20 rows.
UNDERFLOW_GUARD = 2.0 ** -1000


def gamma(k: int) -> float:
    """``gamma_k = k u / (1 - k u)``, rounded up: the relative error bound of ``k`` floating-point operations.

    Examples
    --------
    >>> gamma(1) > 2.0 ** -53, gamma(10) < 1e-14
    (True, True)
    """
    require(0 <= k < 2 ** 40, "k", "an operation count below 2^40", repr(k))
    ku = k * UNIT_ROUNDOFF
    return float(np.nextafter(ku / (1.0 - ku), math.inf))


def upper(value: float, operations: int) -> float:
    """An upper bound on the exact value of a non-negative quantity that ``value`` approximates after at
    most ``operations`` rounded operations on exact non-negative data (relative error ``gamma``).

    Examples
    --------
    >>> upper(1.0, 3) > 1.0
    True
    """
    bound = value * (1.0 + 2.0 * gamma(operations + 2))
    return float(np.nextafter(bound, math.inf)) if bound > 0 else 0.0


def inflate(value: float, operations: int) -> float:
    """``value (1 + 4 (operations + 2) u)`` rounded up: a generous upper bound on the exact value of a
    non-negative float result of ``operations`` rounded operations (the certifiers' margin for their own
    bookkeeping arithmetic).

    Examples
    --------
    >>> inflate(1.0, 3) > upper(1.0, 3) > 1.0
    True
    """
    return float(np.nextafter(value * (1.0 + 4.0 * (operations + 2) * UNIT_ROUNDOFF), math.inf))


def cholesky_completes(B: np.ndarray) -> bool:
    """Whether the right-looking floating-point Cholesky factorization of the symmetric ``B`` runs to completion
    (every pivot positive). Each entry of the factor is ``b_ij`` minus a recursively summed inner product, as
    in the analysis of the module docstring.

    Examples
    --------
    >>> cholesky_completes(np.array([[2.0, 1.0], [1.0, 2.0]])), cholesky_completes(np.array([[1.0, 2.0], [2.0, 1.0]]))
    (True, False)
    """
    work = np.array(B, dtype=np.float64, copy=True)
    n = work.shape[0]
    for k in range(n):
        pivot = work[k, k]
        if not pivot > 0:
            return False
        root = math.sqrt(pivot)
        row = work[k, k + 1:] / root
        if k + 1 < n:
            work[k + 1:, k + 1:] -= np.outer(row, row)
    return True


def _check_symmetric(A: np.ndarray) -> np.ndarray:
    A = np.asarray(A, dtype=np.float64)
    if A.ndim != 2 or A.shape[0] != A.shape[1]:
        raise InvalidInputError("matrix", "a square matrix", f"shape {A.shape}")
    if not np.all(np.isfinite(A)):
        raise InvalidInputError("matrix", "finite entries", "NaN or infinity")
    if not np.array_equal(A, A.T):
        raise InvalidInputError("matrix", "an exactly symmetric matrix", "an asymmetric one")
    return A


def certified_min_eigenvalue(A: np.ndarray, error: float = 0.0, attempts: int = 8) -> float:
    """A proven lower bound on ``lambda_min(T)`` for every symmetric ``T`` with ``||T - A||_2 <= error``.

    Parameters
    ----------
    A : ndarray, shape (n, n)
        Exactly symmetric, finite (else :class:`~reductions.validation.InvalidInputError` naming ``matrix``).
    error : float
        Upper bound on the spectral norm of the difference between ``A`` and the matrix of interest.
    attempts : int
        Shifts tried (each 16 times further below the estimated smallest eigenvalue) before giving up.

    Returns
    -------
    float
        The bound (see the module docstring), or ``-inf`` when no shift factorizes.

    Examples
    --------
    >>> A = np.array([[2.0, 1.0], [1.0, 2.0]])            # eigenvalues 1 and 3
    >>> bound = certified_min_eigenvalue(A)
    >>> 1.0 - 1e-12 < bound <= 1.0
    True
    >>> certified_min_eigenvalue(A, error=0.5) <= 0.5
    True
    """
    A = _check_symmetric(A)
    require(isinstance(error, (int, float)) and math.isfinite(error) and error >= 0, "error",
            "a finite number >= 0", repr(error))
    n = A.shape[0]
    if n == 0:
        return math.inf
    largest = float(np.max(np.abs(A)))
    if largest == 0.0:
        return -float(np.nextafter(error, math.inf)) if error > 0 else 0.0
    exponent = math.frexp(largest)[1]
    S = np.ldexp(A, -exponent)  # exact (up to underflow, covered by the guard): entries below 1 in magnitude
    estimate = float(np.linalg.eigvalsh(S)[0])
    alpha = gamma(n + 1) / (1.0 - gamma(n + 1))
    scale = float(np.sum(np.abs(np.diag(S)))) + n * abs(estimate) + n * 2.0 ** -900
    margin = 4.0 * alpha * scale
    for _ in range(attempts):
        c = estimate - margin
        B = S.copy()
        B[np.diag_indices(n)] = np.diag(S) - c
        if cholesky_completes(B):
            diagonal = np.diag(B)
            trace = upper(math.fsum(diagonal.tolist()), 1)  # fsum is correctly rounded
            loss = upper(alpha * trace, 1) + upper(UNIT_ROUNDOFF * float(np.max(np.abs(diagonal))), 1)
            loss = upper(loss + UNDERFLOW_GUARD * (n + 2) ** 2, 2)
            bound = float(np.nextafter(c - loss, -math.inf))
            bound = float(np.nextafter(math.ldexp(bound, exponent), -math.inf))  # (ldexp rounds when subnormal)
            if error > 0:
                bound = float(np.nextafter(bound - upper(float(error), 0), -math.inf))
            return bound
        margin *= 16.0
    return -math.inf


def gram_error_norm(Z: np.ndarray, diagonal: np.ndarray | None = None) -> float:
    """Upper bound on ``||fl(D - Z Z^T) - (D - Z Z^T)||_2`` for ``D = Diag(diagonal)`` (or 0) and float ``Z``.

    Each entry is an inner product of length ``r`` (plus one subtraction on the diagonal): its error is at
    most ``gamma_{r+1} (|Z| |Z|^T + |D|)``, whose spectral norm is at most ``||Z||_F^2 + max |D|``.

    Examples
    --------
    >>> gram_error_norm(np.ones((2, 3))) < 1e-14
    True
    """
    Z = np.asarray(Z, dtype=np.float64)
    r = Z.shape[1] if Z.ndim == 2 else 1
    frobenius = upper(float(np.sum(Z * Z)), Z.size + 1)
    top = 0.0 if diagonal is None or np.size(diagonal) == 0 else float(np.max(np.abs(diagonal)))
    return upper(gamma(r + 1) * (frobenius + top), 2)
