"""Is an open polyhedron empty? Proposed in floating point, decided in exact rational arithmetic.

Every exact method of the project asks one question: is the open region

    P = {x : A x + c > 0 (every row, strictly), lower < x < upper (when there is a box)}

non-empty? (For an activation pattern, row ``i`` is ``s_i (w_i, b_i)`` with ``s_i = +1`` for an active
unit and ``-1`` for an inactive one.) This module is the one place that answers it, for the reductions and
for the solvers alike. The answer is a :class:`RegionDecision`:

``nonempty``
    with a floating-point point ``x`` whose strict signs and open-box membership were verified in exact
    rational arithmetic (:func:`certify_point`);
``empty``
    with rational multipliers ``y >= 0`` (Motzkin / Farkas certificate) such that ``y^T (A x + c) <= 0`` for
    every ``x`` of the closed box (of ``R^n`` without a box: ``y^T A = 0`` and ``y^T c <= 0``), verified
    exactly (:func:`certify_empty`). If ``x`` were in ``P``, every row would be positive and so would
    ``y^T (A x + c)`` (some ``y_i > 0``): a contradiction;
``undecided``
    neither certificate verified. Callers keep such a region (it stays in the upper bound) and do not call
    their result optimal.

The floating-point LP only proposes. It is scale-free: rows are normalized to unit length, the box is
mapped onto ``[-1, 1]^n`` (far and thin boxes lose nothing), global regions with offsets are homogenized
into ``[-1, 1]^n x [0, 1]`` after scaling ``x`` by the hyperplanes' typical distance from the origin, and
the LP maximizes a Chebyshev margin ``r <= 1`` (a ball inside the region), so no absolute epsilon depends
on the size of the weights. A float tolerance never decides anything here.

References
----------
T. S. Motzkin. Beitraege zur Theorie der linearen Ungleichungen. 1936 (the transposition theorem for
strict inequalities). DESIGN.md section 2.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any, Mapping, Sequence

import numpy as np

__all__ = ["RegionDecision", "UndecidedRegionError", "decide_region", "certify_point", "certify_empty", "exact_signs", "rows_of_pattern", "proportionality", "certificate_from_duals",
           "ExactRows", "NONEMPTY", "EMPTY", "UNDECIDED"]

NONEMPTY, EMPTY, UNDECIDED = "nonempty", "empty", "undecided"

#: Float duals below this fraction of the largest are left out of the support of a Farkas candidate.
_SUPPORT_FRACTION = 1e-9
#: Relative size of the box around an unresolved LP point in which the LP looks again.
_ZOOM = 1e-5
_UNIT_ROUNDOFF = 2.0 ** -53
_TINY = 2.0 ** -1074


class UndecidedRegionError(RuntimeError):
    """Neither an interior point nor an emptiness certificate of a region verified in exact arithmetic."""


@dataclass(frozen=True)
class RegionDecision:
    """The decided state of an open region (see the module docstring).

    Attributes
    ----------
    status : {"nonempty", "empty", "undecided"}
    point : ndarray or None
        A point of the region, verified exactly (``nonempty`` only).
    multipliers : dict of int to Fraction, or None
        The verified emptiness certificate, row index -> multiplier (``empty`` only).
    message : str
        Why a region is undecided.
    """

    status: str
    point: np.ndarray | None = None
    multipliers: Mapping[int, Fraction] | None = field(default=None, repr=False)
    message: str = ""

    @property
    def nonempty(self) -> bool:
        return self.status == NONEMPTY

    @property
    def empty(self) -> bool:
        return self.status == EMPTY

    @property
    def undecided(self) -> bool:
        return self.status == UNDECIDED


# ----------------------------------------------------------------------------------------- exact checks
def _fraction(value: float) -> Fraction:
    return Fraction(*float(value).as_integer_ratio())


def _nearest_float(numerator: int, denominator: int) -> float:
    """``numerator / denominator`` correctly rounded (Python's integer true division), +-inf on overflow."""
    try:
        return numerator / denominator
    except OverflowError:  # (copysign would convert the huge integer to a float and overflow again)
        return math.inf if (numerator > 0) == (denominator > 0) else -math.inf


class ExactRows:
    """Rational rows of a region: row ``i`` is ``(numerators[i] . x + offsets[i]) / denominators[i]``.

    The exact counterpart of float rows ``(A, c)`` whose entries are not floats themselves (for example
    the composed rows of a deep network's joint pattern). Integers throughout (a positive denominator per
    row), so that signs and certificates are checked with integer arithmetic. :attr:`A` and :attr:`c` are the
    nearest floats of the rational entries (``+-inf`` beyond the float range), which the float filters use
    with their representation error accounted for.

    Parameters
    ----------
    numerators : sequence of sequences of int, shape (k, n)
    offsets : sequence of int, shape (k,)
    denominators : sequence of int > 0, shape (k,), optional (ones)
    n : int, optional
        Number of columns (needed when ``k = 0``).

    Examples
    --------
    >>> rows = ExactRows.from_fractions([[Fraction(1, 3), Fraction(-1, 3)]], [Fraction(0)])
    >>> rows.A.tolist(), rows.signs(np.array([1.0, 1.0])).tolist(), rows.signs(np.array([1.0, 0.5])).tolist()
    ([[0.3333333333333333, -0.3333333333333333]], [0], [1])
    """

    __slots__ = ("numerators", "offsets", "denominators", "n", "_floats")

    def __init__(self, numerators: Sequence[Sequence[int]], offsets: Sequence[int],
                 denominators: Sequence[int] | None = None, n: int | None = None):
        self.numerators = [[int(v) for v in row] for row in numerators]
        self.offsets = [int(v) for v in offsets]
        self.denominators = [1] * len(self.offsets) if denominators is None else [int(d) for d in denominators]
        self.n = len(self.numerators[0]) if n is None and self.numerators else int(n or 0)
        if len(self.numerators) != len(self.offsets) or len(self.denominators) != len(self.offsets) \
                or any(len(row) != self.n for row in self.numerators) or any(d <= 0 for d in self.denominators):
            raise ValueError("ExactRows: numerators (k, n), offsets (k,) and positive denominators (k,) expected")
        self._floats: tuple[np.ndarray, np.ndarray] | None = None

    @classmethod
    def from_fractions(cls, A: Sequence[Sequence[Any]], c: Sequence[Any], n: int | None = None) -> "ExactRows":
        """Rows given as rationals (``Fraction``, ``int`` or ``float``: every float is a rational)."""
        numerators, offsets, denominators = [], [], []
        for row, offset in zip(A, c):
            values = [Fraction(v) for v in (*row, offset)]
            common = math.lcm(*(v.denominator for v in values))
            integers = [v.numerator * (common // v.denominator) for v in values]
            numerators.append(integers[:-1])
            offsets.append(integers[-1])
            denominators.append(common)
        return cls(numerators, offsets, denominators, n=n if n is not None else (len(A[0]) if len(A) else 0))

    @property
    def k(self) -> int:
        return len(self.offsets)

    @property
    def A(self) -> np.ndarray:
        return self._float_rows()[0]

    @property
    def c(self) -> np.ndarray:
        return self._float_rows()[1]

    def _float_rows(self) -> tuple[np.ndarray, np.ndarray]:
        if self._floats is None:
            A = np.array([[_nearest_float(v, d) for v in row] for row, d in zip(self.numerators, self.denominators)],
                         dtype=np.float64).reshape(self.k, self.n)
            c = np.array([_nearest_float(v, d) for v, d in zip(self.offsets, self.denominators)], dtype=np.float64)
            self._floats = (A, c)
        return self._floats

    def row(self, i: int) -> tuple[list[Fraction], Fraction]:
        """Row ``i`` as Fractions ``(a, c)``."""
        d = self.denominators[i]
        return [Fraction(v, d) for v in self.numerators[i]], Fraction(self.offsets[i], d)

    def take(self, indices: Sequence[int]) -> "ExactRows":
        """The rows ``indices`` (in that order)."""
        indices = [int(i) for i in indices]
        taken = ExactRows([self.numerators[i] for i in indices], [self.offsets[i] for i in indices],
                          [self.denominators[i] for i in indices], n=self.n)
        if self._floats is not None:
            taken._floats = (self._floats[0][indices], self._floats[1][indices])
        return taken

    def stack(self, other: "ExactRows") -> "ExactRows":
        """These rows followed by ``other``'s."""
        return ExactRows(self.numerators + other.numerators, self.offsets + other.offsets,
                         self.denominators + other.denominators, n=self.n)

    def zero_rows(self) -> np.ndarray:
        """Boolean mask of the rows whose ``x`` part is exactly zero."""
        return np.array([not any(row) for row in self.numerators], dtype=bool)

    def exact_values(self, x: Any, indices: Sequence[int] | None = None) -> list[Fraction]:
        """The exact values ``A_q x + c_q`` of rows ``indices`` (all by default) at the float point ``x``."""
        ratios = [float(v).as_integer_ratio() for v in np.asarray(x, dtype=np.float64).reshape(self.n).tolist()]
        shift = max((d.bit_length() - 1 for _, d in ratios), default=0)  # x_j = X_j / 2^shift
        X = [num << (shift - (d.bit_length() - 1)) for num, d in ratios]
        values = []
        for i in (range(self.k) if indices is None else indices):
            total = sum((a * xj for a, xj in zip(self.numerators[i], X) if a), 0) + (self.offsets[i] << shift)
            values.append(Fraction(total, self.denominators[i] << shift))
        return values

    def signs(self, x: Any, indices: Sequence[int] | None = None) -> np.ndarray:
        """Exact signs (-1, 0, 1) of rows ``indices`` (all by default) at the float point ``x``."""
        return np.array([(v > 0) - (v < 0) for v in self.exact_values(x, indices)], dtype=np.int64)


def _as_exact(exact: Any, k: int, n: int) -> ExactRows:
    """``exact`` (an :class:`ExactRows` or a pair ``(A_q, c_q)`` of rationals) checked against the shape ``(k, n)``."""
    if not isinstance(exact, ExactRows):
        A_q, c_q = exact
        exact = ExactRows.from_fractions(A_q, c_q, n=n)
    if exact.k != k or exact.n != n:
        raise ValueError(f"exact rows of shape ({exact.k}, {exact.n}) for a region of shape ({k}, {n})")
    return exact


def exact_signs(A: np.ndarray, c: np.ndarray, x: np.ndarray, exact: Any = None) -> np.ndarray:
    """The exact signs (-1, 0, 1) of ``A x + c`` for float data, as integers.

    A floating-point filter decides every row whose computed value exceeds a rigorous bound on its
    rounding error; the others are evaluated in rational arithmetic.

    With ``exact`` (an :class:`ExactRows`, or a pair ``(A_q, c_q)`` of lists of Fractions) the signs are those
    of the rational rows ``A_q x + c_q``: ``A`` and ``c`` give only the shape, the filter runs on the nearest
    floats of the rational entries with its bound widened by their representation error, and the rows it
    cannot decide are evaluated in exact integer arithmetic.

    Examples
    --------
    >>> exact_signs(np.array([[1.0, 1e-30], [3.0, 0.0]]), np.array([-1.0, -0.9]), np.array([1.0, 0.3]))
    array([1, 1])
    >>> exact_signs(np.array([[0.1, 0.2]]), np.array([-0.30000000000000004]), np.array([1.0, 1.0]))
    array([-1])
    >>> exact_signs(np.array([[3.0, 3.0]]), np.zeros(1), np.array([-0.2, 0.2]))  # a fused multiply-add gives 5.6e-17
    array([0])
    """
    if exact is not None:
        return _exact_signs_rational(A, x, exact)
    A = np.asarray(A, dtype=np.float64)
    c = np.asarray(c, dtype=np.float64).reshape(A.shape[0])
    x = np.asarray(x, dtype=np.float64).reshape(A.shape[1])
    with np.errstate(all="ignore"):
        value = A @ x + c
        size = np.abs(A) @ np.abs(x) + np.abs(c)
        # |fl(A x + c) - (A x + c)| <= gamma_{n+1} * (|A| |x| + |c|) plus underflow; doubled for the rounding
        # of this bound itself.
        error = 2.0 * ((A.shape[1] + 2) * _UNIT_ROUNDOFF * size * 2.0 + (A.shape[1] + 2) * 4 * _TINY)
    signs = np.sign(value).astype(np.int64)
    unsure = ~(np.isfinite(value) & np.isfinite(error) & (np.abs(value) > error))
    if np.any(unsure):
        # exact integer arithmetic: x = k_x 2^-e_x and (A_i, c_i) = k_i 2^-e_i (floats are dyadic), so
        # (A_i x + c_i) 2^(e_i + e_x) = k_i[:n] . k_x + k_i[n] 2^e_x, an integer with the same sign
        point, e_x = _integer_row(np.asarray(x, dtype=np.float64))
        for i in np.flatnonzero(unsure).tolist():
            row, _ = _integer_row(np.append(A[i], c[i]))
            total = sum(a * v for a, v in zip(row[:-1], point) if a) + (row[-1] << e_x)
            signs[i] = (total > 0) - (total < 0)
    return signs


def _exact_signs_rational(A: Any, x: Any, exact: Any) -> np.ndarray:
    """:func:`exact_signs` for rational rows (see there)."""
    x = np.asarray(x, dtype=np.float64).reshape(-1)
    k = np.shape(A)[0] if np.ndim(A) == 2 else (exact.k if isinstance(exact, ExactRows) else len(exact[1]))
    exact = _as_exact(exact, k, x.size)
    A, c = exact.A, exact.c
    with np.errstate(all="ignore"):
        value = A @ x + c
        size = np.abs(A) @ np.abs(x) + np.abs(c)
        # rounding of the float evaluation (as in exact_signs), plus the representation error of the rational
        # entries: |fl(q) - q| <= u |fl(q)| (1 + 2u) + 2^-1075 for each of them
        error = 2.0 * ((exact.n + 2) * _UNIT_ROUNDOFF * size * 2.0 + (exact.n + 2) * 4 * _TINY)
        error = error + 2.0 * (1.01 * _UNIT_ROUNDOFF * size + _TINY * (np.sum(np.abs(x)) + 1.0))
    signs = np.sign(value).astype(np.int64)
    unsure = np.flatnonzero(~(np.isfinite(value) & np.isfinite(error) & (np.abs(value) > error)))
    if unsure.size:
        signs[unsure] = exact.signs(x, unsure.tolist())
    return signs


def certify_point(A: Any, c: Any, x: Any, lower: Any = None, upper: Any = None, exact: Any = None) -> bool:
    """True when ``A x + c > 0`` holds exactly in every row and ``lower < x < upper`` (if a box is given).

    With ``exact`` (:class:`ExactRows` or ``(A_q, c_q)``), the rows checked are the rational ones.

    Examples
    --------
    >>> A, c = np.array([[1.0, 0.0], [1.0, 1e-9]]), np.zeros(2)
    >>> certify_point(A, c, [1.0, 1.0]), certify_point(A, c, [0.0, 1.0])   # a zero row value is refused
    (True, False)
    >>> certify_point(A, c, [1.0, 1.0], lower=[0.0, 0.0], upper=[1.0, 2.0])  # on the box boundary
    False
    """
    x = np.asarray(x, dtype=np.float64).reshape(-1)
    if not np.all(np.isfinite(x)):
        return False
    if lower is not None and not (np.all(x > np.asarray(lower, dtype=np.float64))
                                  and np.all(x < np.asarray(upper, dtype=np.float64))):
        return False
    A = np.asarray(A, dtype=np.float64).reshape(-1, x.size)
    if A.shape[0] == 0:
        return True
    if exact is not None:
        return bool(np.all(exact_signs(A, c, x, exact=_as_exact(exact, A.shape[0], x.size)) > 0))
    return bool(np.all(exact_signs(A, c, x) > 0))


def certify_empty(A: Any, c: Any, multipliers: Mapping[int, Any], lower: Any = None, upper: Any = None,
                  exact: Any = None) -> bool:
    """True when ``multipliers`` prove, in exact arithmetic, that the open region is empty.

    With ``exact`` (:class:`ExactRows` or ``(A_q, c_q)``), the proof is checked on the rational rows.

    ``multipliers`` maps row indices to non-negative numbers (at least one positive). With a box, the
    proof needs ``max over the closed box of y^T (A x + c) <= 0``; without one, ``y^T A = 0`` and
    ``y^T c <= 0``.

    Examples
    --------
    >>> A, c = np.array([[1.0], [-1.0]]), np.array([-1.0, -5.0])       # x > 1 and x < -5
    >>> certify_empty(A, c, {0: 1, 1: 1}), certify_empty(A, c, {0: 1, 1: 2})
    (True, False)
    >>> certify_empty(np.array([[1.0]]), np.array([-2.0]), {0: 1}, lower=[0.0], upper=[2.0])  # x > 2 in (0, 2)
    True
    """
    A = np.asarray(A, dtype=np.float64)
    c = np.asarray(c, dtype=np.float64).reshape(A.shape[0])
    weights = {int(i): Fraction(y) for i, y in multipliers.items()}
    if not weights or any(y < 0 for y in weights.values()) or not any(y > 0 for y in weights.values()):
        return False
    if any(not 0 <= i < A.shape[0] for i in weights):
        return False
    # Integer arithmetic: row i (with its offset) is the integer vector k_i over d_i (the rational rows of
    # ``exact``; or floats, which are dyadic: k_i 2^-e_i) and y_i = p_i / q_i; over a common denominator D every
    # term is an integer, and the sums have the exact signs.
    terms = []
    if exact is not None:
        exact = _as_exact(exact, A.shape[0], A.shape[1])
        for i, y in weights.items():
            if y != 0:
                terms.append((y.numerator, y.denominator * exact.denominators[i],
                              list(exact.numerators[i]) + [exact.offsets[i]]))
    else:
        for i, y in weights.items():
            if y != 0:
                k, e = _integer_row(np.append(A[i], c[i]))
                terms.append((y.numerator, y.denominator << e, k))
    D = 1
    for _, q, _ in terms:
        D = D * q // math.gcd(D, q)
    sums = [0] * (A.shape[1] + 1)
    for p, q, k in terms:
        factor = p * (D // q)
        sums = [t + factor * int(v) for t, v in zip(sums, k)]
    total = Fraction(sums[-1], D)
    residual = {j: Fraction(r, D) for j, r in enumerate(sums[:-1]) if r}
    if lower is None:
        return all(r == 0 for r in residual.values()) and total <= 0
    low, high = np.asarray(lower, dtype=np.float64), np.asarray(upper, dtype=np.float64)
    worst = total + sum((r * _fraction(high[j] if r > 0 else low[j]) for j, r in residual.items() if r != 0),
                        Fraction(0))
    return worst <= 0


def proportionality(row: np.ndarray, reference: np.ndarray) -> int:
    """``+1``/``-1`` when ``row`` is exactly a positive/negative multiple of ``reference``, else 0.

    Two cheap exact answers come first: a ratio that is a power of two (``+-1`` included) multiplies
    without rounding, so float equality decides; cross products that differ by more than their rounding
    error cannot be equal. The rest is decided in rational arithmetic.

    Examples
    --------
    >>> proportionality(np.array([-2.0, 0.6]), np.array([1.0, -0.3])), proportionality(np.array([0.75, 3.0]), np.array([0.25, 1.0]))
    (-1, 1)
    >>> proportionality(np.array([1.0, 0.3]), np.array([1.0, 0.30000000000000004]))
    0
    """
    pivot = int(np.flatnonzero(reference)[0])
    if row[pivot] == 0:
        return 0
    sign = 1 if (row[pivot] > 0) == (reference[pivot] > 0) else -1
    with np.errstate(all="ignore"):
        ratio = row[pivot] / reference[pivot]
        if math.frexp(abs(ratio))[0] == 0.5 and np.array_equal(reference * ratio, row) \
                and np.array_equal(row / ratio, reference):
            return sign
        left, right = row * reference[pivot], reference * row[pivot]
        slack = 4 * 2.0 ** -53 * (np.abs(left) + np.abs(right)) + 2.0 ** -1000
        if np.all(np.isfinite(left)) and np.all(np.isfinite(right)) and np.any(np.abs(left - right) > slack):
            return 0
    exact_ratio = Fraction(float(row[pivot])) / Fraction(float(reference[pivot]))
    for a, r in zip(row.tolist(), reference.tolist()):
        if Fraction(a) != exact_ratio * Fraction(r):
            return 0
    return sign


# ----------------------------------------------------------------------------------------- exact null space
def _nullspace(columns: list[list[Fraction]]) -> list[list[Fraction]]:
    """A basis of ``{y : sum_k y_k columns[k] = 0}`` (exact; ``columns`` are vectors of equal length)."""
    k = len(columns)
    if k == 0:
        return []
    n = len(columns[0])
    rows = [[columns[col][row] for col in range(k)] for row in range(n)]  # n x k matrix M, solve M y = 0
    pivots: list[int] = []
    r = 0
    for col in range(k):
        pivot = next((i for i in range(r, n) if rows[i][col] != 0), None)
        if pivot is None:
            continue
        rows[r], rows[pivot] = rows[pivot], rows[r]
        head = rows[r][col]
        rows[r] = [v / head for v in rows[r]]
        for i in range(n):
            if i != r and rows[i][col] != 0:
                factor = rows[i][col]
                rows[i] = [a - factor * b for a, b in zip(rows[i], rows[r])]
        pivots.append(col)
        r += 1
        if r == n:
            break
    basis = []
    for free in (col for col in range(k) if col not in pivots):
        y = [Fraction(0)] * k
        y[free] = Fraction(1)
        for row, col in enumerate(pivots):
            y[col] = -rows[row][free]
        basis.append(y)
    return basis


def _integer_row(values: np.ndarray) -> tuple[list[int], int]:
    """Integers ``k_j`` and ``e`` with ``values_j = k_j 2^-e`` exactly (floats are dyadic rationals)."""
    ratios = [float(v).as_integer_ratio() for v in values.tolist()]
    e = max((d.bit_length() - 1 for _, d in ratios), default=0)
    return [num << (e - (d.bit_length() - 1)) for num, d in ratios], e


def _nullspace_basis(A: np.ndarray, support: list[int]) -> list[list[Fraction]]:
    """A basis of ``{y : sum_k y_k A[support[k]] = 0}``, exact: FLINT's integer null space when python-flint
    is installed (fast), else rational elimination in Python."""
    touched = np.flatnonzero(np.any(A[support] != 0, axis=0))
    block = A[np.ix_(support, touched)]
    try:
        import flint
    except ImportError:  # pragma: no cover - python-flint is a declared dependency
        return _nullspace([[_fraction(a) for a in row.tolist()] for row in block])
    rows, exponents = zip(*(_integer_row(row) for row in block)) if len(support) else ((), ())
    if not touched.size:
        return [[Fraction(int(k == j)) for k in range(len(support))] for j in range(len(support))]
    matrix = flint.fmpz_mat([[rows[k][j] for k in range(len(support))] for j in range(touched.size)])
    X, nullity = matrix.nullspace()
    # column k of the integer matrix is 2^e_k A_k: y_k = y'_k 2^e_k solves the original system
    return [[Fraction(int(X[k, col]) << exponents[k]) for k in range(len(support))] for col in range(nullity)]


def _nullspace_basis_rational(exact: ExactRows, support: list[int]) -> list[list[Fraction]]:
    """A basis of ``{y : sum_k y_k A_q[support[k]] = 0}`` for rational rows (exact, FLINT when available)."""
    rows = [exact.numerators[i] for i in support]
    touched = [j for j in range(exact.n) if any(row[j] for row in rows)]
    if not touched:
        return [[Fraction(int(k == j)) for k in range(len(support))] for j in range(len(support))]
    try:
        import flint
    except ImportError:  # pragma: no cover - python-flint is a declared dependency
        basis = _nullspace([[Fraction(row[j]) for j in touched] for row in rows])
    else:
        matrix = flint.fmpz_mat([[row[j] for row in rows] for j in touched])
        X, nullity = matrix.nullspace()
        basis = [[Fraction(int(X[k, col])) for k in range(len(support))] for col in range(nullity)]
    # the integer rows are denominator_k times the rational rows: y_k = y'_k denominator_k; each vector is
    # then divided by its largest entry (a positive scale) so that its float image neither overflows nor is 0
    result = []
    for vector in basis:
        scaled = [y * exact.denominators[i] for y, i in zip(vector, support)]
        largest = max(abs(y) for y in scaled)
        result.append([y / largest for y in scaled] if largest else scaled)
    return result


def _exact_combination(A: np.ndarray, support: list[int], guess: np.ndarray,
                       exact: ExactRows | None = None) -> dict[int, Fraction] | None:
    """Non-negative rational ``y`` on ``support`` with ``sum y_i A_i = 0`` exactly, near ``guess``; or None.
    With ``exact``, the rows are its rational rows (``A`` their float approximation)."""
    basis = _nullspace_basis(A, support) if exact is None else _nullspace_basis_rational(exact, support)
    if not basis:
        return None
    if len(basis) == 1:
        y = basis[0]
        if sum(float(v) * g for v, g in zip(y, guess)) < 0:
            y = [-v for v in y]
    else:
        N = np.array([[float(v) for v in vector] for vector in basis]).T  # k x d
        coefficients, *_ = np.linalg.lstsq(N, guess, rcond=None)
        weights = [_fraction(a) for a in coefficients.tolist()]
        y = [sum((w * vector[k] for w, vector in zip(weights, basis)), Fraction(0)) for k in range(len(support))]
    if any(v < 0 for v in y) or not any(v > 0 for v in y):
        return None
    return {i: v for i, v in zip(support, y) if v != 0}


# ----------------------------------------------------------------------------------------- the float LP
def _row_lengths(rows: np.ndarray) -> np.ndarray:
    """Euclidean lengths of the rows without overflow or underflow of their squares (0 for a zero row)."""
    size = np.abs(rows).max(axis=1) if rows.shape[1] else np.zeros(rows.shape[0])
    with np.errstate(divide="ignore", invalid="ignore"):
        scaled = rows / np.where(size > 0, size, 1.0)[:, None]
    return size * np.linalg.norm(scaled, axis=1)


@dataclass
class _Proposal:
    margin: float
    point: np.ndarray | None
    duals: np.ndarray | None  # one non-negative dual per row of A (in the units of the original rows)
    box_duals: np.ndarray | None  # (2n,) duals of x_j > lower_j, x_j < upper_j (box case only)


def _chebyshev(A: np.ndarray, c: np.ndarray, lower: np.ndarray | None, upper: np.ndarray | None,
               tight: bool = False) -> _Proposal | None:
    """Maximize a Chebyshev margin over the scale-free form of the region (module docstring)."""
    from scipy.optimize import linprog

    k, n = A.shape
    if lower is not None:
        centre = lower + (upper - lower) / 2
        half = (upper - lower) / 2
        rows = A * half
        offsets = A @ centre + c
        homogeneous = False
    else:
        lengths = _row_lengths(A)
        distance = np.abs(c) / lengths
        reach = float(np.max(distance)) if k else 0.0
        homogeneous = reach > 0
        scale = reach if homogeneous else 1.0
        rows = A * scale
        offsets = c
    if homogeneous:
        rows = np.hstack([rows, offsets[:, None]])
    lengths = _row_lengths(rows)
    with np.errstate(divide="ignore", invalid="ignore"):
        unit = rows / lengths[:, None]
        shift = offsets / lengths if lower is not None else np.zeros(k)
    if not (np.all(np.isfinite(unit)) and np.all(np.isfinite(shift))):
        return None
    width = unit.shape[1]  # y (and t)
    # variables (y, [t], r); minimize -r subject to -unit y - r >= ... written as A_ub z <= b_ub
    A_ub = [np.hstack([-unit, np.ones((k, 1))])]
    b_ub = [shift]
    m = n  # box rows on y: |y_j| <= 1 - r
    eye = np.eye(width)[:m]
    A_ub.append(np.hstack([eye, np.ones((m, 1))]))
    A_ub.append(np.hstack([-eye, np.ones((m, 1))]))
    b_ub.extend([np.ones(m), np.ones(m)])
    if homogeneous:  # t >= r, t <= 1
        t_row = np.zeros(width + 1)
        t_row[n], t_row[-1] = -1.0, 1.0
        A_ub.append(t_row[None, :])
        b_ub.append(np.zeros(1))
    bounds = [(None, None)] * n + ([(0.0, 1.0)] if homogeneous else []) + [(None, 1.0)]
    cost = np.zeros(width + 1)
    cost[-1] = -1.0
    options = {"primal_feasibility_tolerance": 1e-10, "dual_feasibility_tolerance": 1e-10} if tight else {}
    outcome = linprog(cost, A_ub=np.vstack(A_ub), b_ub=np.concatenate(b_ub), bounds=bounds, method="highs",
                      options=options)
    if outcome.status != 0:
        return None
    z = np.asarray(outcome.x, dtype=np.float64)
    margin = float(z[-1])
    y = z[:n]
    if lower is not None:
        point = centre + half * y
    elif homogeneous:
        point = scale * y / z[n] if z[n] > 0 else None
    else:
        point = y
    marginals = -np.asarray(outcome.ineqlin.marginals, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        duals = np.maximum(marginals[:k], 0.0) / lengths
    box_duals = None
    if lower is not None:
        upper_faces = np.maximum(marginals[k:k + n], 0.0) / half  # y_j <= 1  <=>  x_j < upper_j
        lower_faces = np.maximum(marginals[k + n:k + 2 * n], 0.0) / half
        box_duals = np.concatenate([lower_faces, upper_faces])
    if not np.all(np.isfinite(duals)):
        duals = None
    return _Proposal(margin, point, duals, box_duals)


def _farkas(A: np.ndarray, c: np.ndarray, proposal: _Proposal, lower, upper,
            exact: ExactRows | None = None, fraction: float = _SUPPORT_FRACTION) -> dict[int, Fraction] | None:
    """Turn the LP's duals into a verified emptiness certificate, or None. Duals below ``fraction`` of the
    largest are left out of the support."""
    if proposal.duals is None or not np.any(proposal.duals > 0):
        return None
    duals = proposal.duals
    support = [int(i) for i in np.flatnonzero(duals > fraction * duals.max())]
    if lower is not None:  # globally, float duals never cancel exactly: go straight to the exact combination
        direct = {i: _fraction(duals[i]) for i in support}
        if certify_empty(A, c, direct, lower, upper, exact=exact):
            return direct
    # exact projection: y^T A = 0 (plus box faces as rows of their own), y >= 0
    if lower is None:
        combination = _exact_combination(A, support, duals[support], exact)
    else:
        n = A.shape[1]
        faces = np.vstack([np.eye(n), -np.eye(n)])
        rows = np.vstack([A, faces])
        box = proposal.box_duals if proposal.box_duals is not None else np.zeros(2 * n)
        everything = np.concatenate([duals, box])
        top = everything.max()
        chosen = [int(i) for i in np.flatnonzero(everything > fraction * top)]
        rational = None
        if exact is not None:
            identity = [[int(i == j) for j in range(n)] for i in range(n)]
            rational = exact.stack(ExactRows(identity + [[-v for v in row] for row in identity], [0] * (2 * n), n=n))
        combination = _exact_combination(rows, chosen, everything[chosen], rational)
        if combination is not None:
            combination = {i: y for i, y in combination.items() if i < A.shape[0]}
    if combination and certify_empty(A, c, combination, lower, upper, exact=exact):
        return combination
    return None


def _farkas_lp(A: np.ndarray, c: np.ndarray, lower: np.ndarray | None, upper: np.ndarray | None) -> _Proposal | None:
    """The alternative system as an LP: ``y >= 0``, ``sum y = 1``, ``y^T A = 0`` (box faces as rows of their
    own), minimizing ``y^T c``. A basic optimum has a small support, which the exact step then completes."""
    from scipy.optimize import linprog

    k, n = A.shape
    if lower is not None:
        centre, half = lower + (upper - lower) / 2, (upper - lower) / 2
        rows, offsets = A * half, A @ centre + c
        faces = np.vstack([np.eye(n), -np.eye(n)])  # z_j + 1 > 0, 1 - z_j > 0 on z in (-1, 1)^n
        rows, offsets = np.vstack([rows, faces]), np.concatenate([offsets, np.ones(2 * n)])
    else:
        rows, offsets = A, c
    lengths = _row_lengths(rows)
    with np.errstate(divide="ignore", invalid="ignore"):
        unit, shift = rows / lengths[:, None], offsets / lengths
    if not (np.all(np.isfinite(unit)) and np.all(np.isfinite(shift))):
        return None
    m = rows.shape[0]
    A_eq = np.vstack([unit.T, np.ones((1, m))])
    b_eq = np.concatenate([np.zeros(n), [1.0]])
    outcome = linprog(shift, A_eq=A_eq, b_eq=b_eq, bounds=[(0.0, None)] * m, method="highs")
    if outcome.status != 0 or not outcome.fun <= 0:
        return None
    y = np.maximum(np.asarray(outcome.x, dtype=np.float64), 0.0) / lengths
    box_duals = None
    if lower is not None:
        box_duals = np.concatenate([y[k:k + n] / half, y[k + n:] / half])  # per unit of x: x_j - lower_j, upper_j - x_j
    return _Proposal(margin=float(outcome.fun), point=None, duals=y[:k], box_duals=box_duals)


def certificate_from_duals(A: Any, c: Any, duals: Any, lower: Any = None, upper: Any = None,
                           box_duals: Any = None, exact: Any = None) -> dict[int, Fraction] | None:
    """A verified emptiness certificate built from an LP's dual values (any LP whose duals combine the rows
    ``A x + c > 0``, e.g. a warm-started Chebyshev LP of the caller's own), or None.

    ``duals`` has one non-negative value per row (in the units of ``A``); ``box_duals`` the values of the
    faces ``x_j - lower_j > 0`` then ``upper_j - x_j > 0``. The float values only propose: the certificate
    returned has been verified exactly (:func:`certify_empty`).

    With ``exact`` (:class:`ExactRows` or ``(A_q, c_q)``, as in :func:`decide_region`) the rows are rational
    and ``(A, c)`` only their floats: the exact projection and the check run on the rational rows.

    Examples
    --------
    >>> A, c = np.array([[1.0], [-1.0]]), np.array([-1.0, -5.0])       # x > 1 and x < -5
    >>> certificate_from_duals(A, c, [0.5000001, 0.4999999])            # rounded duals, exact projection
    {0: Fraction(1, 1), 1: Fraction(1, 1)}
    >>> certificate_from_duals(A, c, [1.0, 0.0]) is None
    True

    Rational rows ``x / 3 - 1 > 0`` and ``-(1/3 - 2^-70) x + 1 > 0``: the region ``3 < x < 3 / (1 - 3 2^-70)`` is
    not empty, although the rows' floats (equal and opposite ``x`` parts) would be proven empty:

    >>> rows = ExactRows.from_fractions([[Fraction(1, 3)], [-(Fraction(1, 3) - Fraction(1, 2 ** 70))]], [-1, 1])
    >>> floats_only = certificate_from_duals(rows.A, rows.c, [1.0, 1.0])
    >>> floats_only[0] == floats_only[1] > 0
    True
    >>> certificate_from_duals(rows.A, rows.c, [1.0, 1.0], exact=rows) is None
    True
    >>> rows = ExactRows.from_fractions([[Fraction(1, 3)], [Fraction(-1, 3)]], [-1, -1])   # x > 3 and x < -3
    >>> certificate_from_duals(rows.A, rows.c, [1.0, 1.0], exact=rows)
    {0: Fraction(1, 1), 1: Fraction(1, 1)}
    """
    A = np.asarray(A, dtype=np.float64)
    c = np.asarray(c, dtype=np.float64).reshape(A.shape[0])
    lower = None if lower is None else np.asarray(lower, dtype=np.float64)
    upper = None if upper is None else np.asarray(upper, dtype=np.float64)
    duals = np.maximum(np.asarray(duals, dtype=np.float64).reshape(A.shape[0]), 0.0)
    if not np.all(np.isfinite(duals)):
        return None
    box = None if box_duals is None else np.maximum(np.asarray(box_duals, dtype=np.float64), 0.0)
    rows = None if exact is None else _as_exact(exact, A.shape[0], A.shape[1])
    return _farkas(A, c, _Proposal(margin=-1.0, point=None, duals=duals, box_duals=box), lower, upper, rows)


def decide_region(A: Any, c: Any, lower: Any = None, upper: Any = None, exact: Any = None) -> RegionDecision:
    """Decide whether ``{x : A x + c > 0, lower < x < upper}`` is empty, with an exact certificate.

    Parameters
    ----------
    A : array_like, shape (k, n)
    c : array_like, shape (k,)
    lower, upper : array_like, shape (n,), optional
        An open box the region must meet (both or neither).
    exact : ExactRows or (A_q, c_q), optional
        The region's rows as rationals (lists of lists of ``Fraction``) when ``(A, c)`` only approximates
        them (composed rows of a deep network): the float LP runs on ``(A, c)`` and every certificate (the
        point's strict signs, the emptiness multipliers, the exact null spaces) is checked on the rational
        rows. A row whose rational ``x`` part is zero is decided by its rational offset.

    Returns
    -------
    RegionDecision

    Examples
    --------
    A thin cone (angular width 1e-9) is non-empty, and its point is verified exactly:

    >>> decision = decide_region(np.array([[-1.0, 0.0], [1.0, 1e-9]]), np.zeros(2))
    >>> decision.status, bool(decision.point[0] < 0 < decision.point[0] + 1e-9 * decision.point[1])
    ('nonempty', True)

    ``x > 1`` and ``x < -5`` cannot both hold; the certificate adds the two rows (``(x - 1) + (-x - 5) = -6``):

    >>> decision = decide_region(np.array([[1.0], [-1.0]]), np.array([-1.0, -5.0]))
    >>> decision.status, sorted(decision.multipliers.items())
    ('empty', [(0, Fraction(1, 1)), (1, Fraction(1, 1))])

    A far, thin box:

    >>> decide_region(np.array([[1.0]]), np.array([-1e10]), lower=[1e10], upper=[1e10 + 1]).status
    'nonempty'
    """
    A = np.asarray(A, dtype=np.float64)
    if A.ndim != 2:
        raise ValueError(f"A must be a (k, n) matrix, got shape {A.shape}")
    k, n = A.shape
    c = np.asarray(c, dtype=np.float64).reshape(k)
    rows = None if exact is None else _as_exact(exact, k, n)
    if lower is not None:
        lower = np.asarray(lower, dtype=np.float64).reshape(n)
        upper = np.asarray(upper, dtype=np.float64).reshape(n)
        if not np.all(lower < upper):
            return RegionDecision(UNDECIDED, message="the box has an empty interior")
    if rows is None:
        if not (np.all(np.isfinite(A)) and np.all(np.isfinite(c))):
            return RegionDecision(UNDECIDED, message="non-finite data")
        zero = ~np.any(A != 0, axis=1)
        empty = [i for i in np.flatnonzero(zero).tolist() if not c[i] > 0]  # 0 . x + c_i > 0 fails everywhere
    else:
        zero = rows.zero_rows()
        empty = [i for i in np.flatnonzero(zero).tolist() if not rows.offsets[i] > 0]  # denominators > 0
    if empty:
        return RegionDecision(EMPTY, multipliers={empty[0]: Fraction(1)})
    live = np.flatnonzero(~zero)
    A_live, c_live = A[live], c[live]
    if rows is not None:
        rows = rows.take(live.tolist())
        if not (np.all(np.isfinite(A_live)) and np.all(np.isfinite(c_live))):
            return RegionDecision(UNDECIDED, message="non-finite data")
    decision = _decide_live(A_live, c_live, lower, upper, rows)
    if decision.multipliers is not None:
        decision = RegionDecision(EMPTY, multipliers={int(live[i]): y for i, y in decision.multipliers.items()})
    return decision


def _decide_live(A: np.ndarray, c: np.ndarray, lower: np.ndarray | None, upper: np.ndarray | None,
                 rows: ExactRows | None) -> RegionDecision:
    """:func:`decide_region` on rows with a non-zero ``x`` part: the float LPs propose on ``(A, c)``, and every
    certificate is checked on ``(A, c)`` itself or, given, on the rational ``rows``."""
    n = A.shape[1]
    start = _start_point(n, lower, upper)
    if certify_point(A, c, start, lower, upper, exact=rows):
        return RegionDecision(NONEMPTY, point=start)
    centre = _chebyshev(A, c, lower, upper)
    if centre is not None and centre.margin > 0:
        point = _certified_point(A, c, centre.point, lower, upper, rows)
        if point is not None:
            return RegionDecision(NONEMPTY, point=point)
    # composed rational rows can mix scales far apart (a product of weights 1e-245): for them a second pass
    # keeps every positive dual in the support
    for fraction in (_SUPPORT_FRACTION,) if rows is None else (_SUPPORT_FRACTION, 0.0):
        for proposal in (_farkas_lp(A, c, lower, upper), centre):
            certificate = None if proposal is None else _farkas(A, c, proposal, lower, upper, rows, fraction)
            if certificate is not None:
                return RegionDecision(EMPTY, multipliers=certificate)
    proposals = [_chebyshev(A, c, lower, upper, tight=True), centre]
    if lower is None:  # the homogenized LP may sit at t = 0: look in boxes around the hyperplanes too
        reach = float(np.max(np.abs(c) / _row_lengths(A))) if A.shape[0] else 0.0
        for radius in (2.0 * reach + 1.0, 1e6 * (reach + 1.0)):
            proposals.append(_chebyshev(A, c, np.full(n, -radius), np.full(n, radius)))
    for proposal in proposals:
        if proposal is None:
            continue
        point = _certified_point(A, c, proposal.point, lower, upper, rows)
        if point is None:
            point = _zoomed_point(A, c, proposal.point, lower, upper, exact=rows)
        if point is not None:
            return RegionDecision(NONEMPTY, point=point)
    return RegionDecision(UNDECIDED, message="neither an interior point nor an emptiness certificate verified "
                                             "in exact arithmetic" + ("" if rows is None else " (rational rows)"))


def _zoomed_point(A, c, point, lower, upper, depth: int = 3, exact: ExactRows | None = None) -> np.ndarray | None:
    """Look for a point in ever smaller boxes around an LP point whose margin was too small to resolve.

    The LP's point lies within its feasibility tolerance of the region (when the region is not empty); in
    the box ``point +- ZOOM * size`` a thin region is ``1 / ZOOM`` times wider relative to the box.
    """
    for _ in range(depth):
        if point is None or not np.all(np.isfinite(point)):
            return None
        size = np.full(point.size, max(float(np.max(np.abs(point))), 1e-300))
        if lower is not None:
            size = np.minimum(size, upper - lower)
        low, high = point - _ZOOM * size, point + _ZOOM * size
        if lower is not None:
            low, high = np.maximum(low, lower), np.minimum(high, upper)
        if not np.all(low < high):
            return None
        proposal = _chebyshev(A, c, low, high)
        if proposal is None:
            return None
        found = _certified_point(A, c, proposal.point, low, high, exact)
        if found is not None:
            return found
        point = proposal.point
    return None


def _start_point(n: int, lower: np.ndarray | None, upper: np.ndarray | None) -> np.ndarray:
    return np.zeros(n) if lower is None else lower + (upper - lower) / 2


def _certified_point(A, c, point, lower, upper, exact: ExactRows | None = None) -> np.ndarray | None:
    """``point`` when it verifies exactly, else None."""
    if point is None or not np.all(np.isfinite(point)):
        return None
    if certify_point(A, c, point, lower, upper, exact=exact):
        return np.asarray(point, dtype=np.float64)
    return None


def rows_of_pattern(W: np.ndarray, b: np.ndarray, active: Sequence[bool]) -> tuple[np.ndarray, np.ndarray]:
    """The rows ``s_i (w_i, b_i)`` of a sign pattern (``s_i = +1`` active, ``-1`` inactive).

    Examples
    --------
    >>> A, c = rows_of_pattern(np.array([[1.0, 2.0]]), np.array([3.0]), [False])
    >>> A.tolist(), c.tolist()
    ([[-1.0, -2.0]], [-3.0])
    """
    sign = np.where(np.asarray(active, dtype=bool), 1.0, -1.0)
    return np.asarray(W, dtype=np.float64) * sign[:, None], np.asarray(b, dtype=np.float64) * sign

