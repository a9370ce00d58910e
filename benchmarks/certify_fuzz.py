"""Certification fuzz: every exact method against an independent exact oracle.

``python -m benchmarks.certify_fuzz [--runs N | --quick] [--seed S] [-o DIR] [--time-limit T]`` runs a seeded
fuzz of :func:`lipexact.lipschitz` (methods ``brute``, ``enumerate``, ``bnb``, ``milp``, ``vertices``; norms 2, 1, inf;
global constants and boxes) on small two-layer ReLU networks (``h <= 8``, ``n <= 4``) and compares every
answer with the truth computed here, independently of ``lipexact.exact``:

- the network's float data are converted exactly to rationals (``Fraction(float)``);
- every activation region (open, strict signs, inside the open box for a local constant) is decided by an
  exact rational simplex written below (:func:`decide_strict`), with a certificate that is checked
  exactly: a point of the region, or Motzkin multipliers proving it empty;
- the constant is the largest norm of ``J(s) = W2 diag(s) W1`` over the non-empty regions, ``J`` computed
  in rational arithmetic (the 1 and inf norms exactly; the 2 norm by a square root / SVD of the exact
  ``J`` rounded once).

The case families stress what floating-point realizability checks get wrong: weight scales from 1e-6 to
1e6, thin cones and thin slabs of relative width 1e-12..1e-3, thin boxes and boxes far from the origin
(up to 1e10), integer and degenerate arrangements (duplicate, opposite, zero, parallel and concurrent
hyperplanes, exact under power-of-two scales, or broken by one rounding under arbitrary scales). The
report counts, per method, norm, scope and family: statuses, wrong ``optimal`` values, proven brackets that
miss the truth, exceptions (anything but ``InvalidInputError``) and runs stopped by the time limit. It is
written like every other benchmark report (``report.md``, ``results.json`` with every case's data and every
run, one CSV per table) and is also a section of ``python -m benchmarks.run``.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import math
import os
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

from benchmarks.measure import Hang, call_with_watchdog
from benchmarks.report import Check, Section, Table

__all__ = [
    "Decision", "decide_strict", "Region", "realizable_regions", "exact_jacobian", "exact_norm", "Oracle",
    "oracle", "Case", "FAMILIES", "make_case", "RunRecord", "FuzzResult", "run_fuzz", "build_section",
    "section", "main", "METHODS", "NORMS", "REL_TOL", "FLOOR",
]

PROG = "python -m benchmarks.certify_fuzz"
METHODS = ("brute", "enumerate", "bnb", "milp", "vertices")
NORMS = ("2", "1", "inf")
#: Relative tolerance of every comparison with the truth.
REL_TOL = 1e-9
#: Absolute floor of every comparison, in units of the network's magnitude ``|| |W2| |W1| ||`` (an upper
#: bound on every ``||J(s)||``): float evaluation of ``J(s)`` alone errs by ~1e-15 of it.
FLOOR = 1e-13
DEFAULT_RUNS = 2000
QUICK_RUNS = 480
DEFAULT_TIME_LIMIT = 10.0


# =========================================================================== the exact oracle
@dataclass(frozen=True)
class Decision:
    """Whether ``{x : A x < c}`` is non-empty, with the certificate that proves it.

    Attributes
    ----------
    nonempty : bool
    point : tuple of Fraction or None
        When non-empty: a point ``x`` with ``A x < c`` in every row (checked exactly).
    multipliers : tuple of Fraction or None
        When empty: ``y >= 0``, ``y != 0`` with ``y^T A = 0`` and ``y . c <= 0`` (checked exactly), which
        rules out any ``x``: ``0 = y^T A x < y . c <= 0``.
    """

    nonempty: bool
    point: tuple[Fraction, ...] | None = None
    multipliers: tuple[Fraction, ...] | None = None


class OracleError(AssertionError):
    """A certificate of the oracle failed its exact check (a bug in this module, never in the solver)."""


def _pivot(T: list[list[Fraction]], basis: list[int], row: int, col: int) -> None:
    pivot = T[row][col]
    T[row] = [value / pivot for value in T[row]]
    for r, line in enumerate(T):
        factor = line[col]
        if r != row and factor != 0:
            T[r] = [a - factor * b for a, b in zip(line, T[row])]
    basis[row] = col


def decide_strict(A: Sequence[Sequence[Fraction]], c: Sequence[Fraction], n: int) -> Decision:
    """Decide exactly whether the strict system ``A x < c`` (``x`` in Q^n) has a solution.

    The system has a solution iff ``max t`` subject to ``A x + t 1 <= c``, ``t <= 1`` is positive. Its dual,
    ``min c.y + z`` subject to ``A^T y = 0``, ``1.y + z = 1``, ``y, z >= 0``, is solved by a dense simplex in
    rational arithmetic with Bland's rule (no cycling), started at the feasible basis ``z = 1`` (the
    artificial columns of the rows ``A^T y = 0`` start at level 0 and are pivoted out, or stay at 0 in a
    redundant row). At the optimum, the simplex multipliers ``(x, t)`` are a primal solution with
    ``t`` = the optimal value: a point with slack ``t > 0`` in every row, or, when ``t <= 0``, the basic
    ``y`` is a Motzkin certificate of emptiness. Both certificates are checked exactly before returning.

    Parameters
    ----------
    A : sequence of rows of Fraction, each of length ``n``
    c : sequence of Fraction
    n : int
        Dimension of ``x``.

    Returns
    -------
    Decision

    Examples
    --------
    >>> F = Fraction
    >>> decide_strict([[F(1)], [F(-1)]], [F(0), F(0)], 1).nonempty          # x < 0 and x > 0
    False
    >>> d = decide_strict([[F(1)], [F(-1)]], [F(1, 10**12), F(0)], 1)      # 0 < x < 1e-12
    >>> d.nonempty, 0 < d.point[0] < F(1, 10**12)
    (True, True)
    """
    K = len(A)
    zero, one = Fraction(0), Fraction(1)
    if K == 0:
        return Decision(True, point=(zero,) * n)
    # columns: y_0..y_{K-1}, z (= K), artificial_0..artificial_{n-1} (= K+1+j); last entry: right-hand side
    T = [[Fraction(A[k][j]) for k in range(K)] + [zero] + [one if i == j else zero for i in range(n)] + [zero]
         for j in range(n)]
    T.append([one] * (K + 1) + [zero] * n + [one])
    basis = [K + 1 + j for j in range(n)] + [K]
    cost = [Fraction(v) for v in c] + [one] + [zero] * n
    for j in range(n):  # pivot the artificial columns out (their rows have right-hand side 0)
        col = next((k for k in range(K) if T[j][k] != 0), None)
        if col is not None:
            _pivot(T, basis, j, col)
    while True:
        entering = None
        for col in range(K + 1):  # artificial columns never enter
            if col in basis:
                continue
            reduced = cost[col] - sum(cost[basis[r]] * T[r][col] for r in range(n + 1))
            if reduced < 0:
                entering = col
                break
        if entering is None:
            break
        best: tuple[tuple[Fraction, int], int] | None = None
        for r in range(n + 1):
            if T[r][entering] > 0:
                key = (T[r][-1] / T[r][entering], basis[r])
                if best is None or key < best[0]:
                    best = (key, r)
        if best is None:  # the feasible set is bounded (1.y + z = 1), so this cannot happen
            raise OracleError("unbounded dual in decide_strict")
        _pivot(T, basis, best[1], entering)
    # simplex multipliers pi = c_B^T B^-1; B^-1 sits in the columns that formed the first basis
    first = [K + 1 + j for j in range(n)] + [K]
    pi = [sum(cost[basis[r]] * T[r][col] for r in range(n + 1)) for col in first]
    x, t = pi[:n], pi[n]
    if t > 0:
        for row, bound in zip(A, c):
            if not sum(Fraction(a) * xi for a, xi in zip(row, x)) < bound:
                raise OracleError("the point of a non-empty region violates a strict inequality")
        return Decision(True, point=tuple(x))
    y = [zero] * K
    for r, var in enumerate(basis):
        if var < K:
            y[var] = T[r][-1]
    if (any(v < 0 for v in y) or not any(v > 0 for v in y)
            or any(sum(y[k] * Fraction(A[k][j]) for k in range(K)) != 0 for j in range(n))
            or sum(y[k] * Fraction(c[k]) for k in range(K)) > 0):
        raise OracleError("the Motzkin certificate of an empty region does not verify")
    return Decision(False, multipliers=tuple(y))


def _rational(value: Any) -> Fraction:
    """The exact rational value of a float or integer (numpy scalars included)."""
    value = value.item() if hasattr(value, "item") else value
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError(f"non-finite value {value!r}")
    return Fraction(value)


def _rationals(array: Any) -> list:
    array = np.asarray(array)
    if array.ndim == 0:
        return _rational(array)
    return [_rationals(item) for item in array]


@dataclass(frozen=True)
class Region:
    """A non-empty activation region: its pattern and an exact point strictly inside it."""

    pattern: tuple[bool, ...]
    point: tuple[Fraction, ...]


def realizable_regions(W1: Any, b1: Any = None, domain: Any = None) -> list[Region]:
    """Every pattern whose open region meets the open box (or R^n), decided exactly.

    Depth-first over the live units (a unit with a zero row ``w_i = 0`` is constant: its bit is set to
    False and constrains nothing, since it adds nothing to any Jacobian). A child inherits its parent's
    point when that point already satisfies the new strict sign; otherwise :func:`decide_strict` decides it
    (and gives a point). Infeasible partial patterns are pruned.

    Parameters
    ----------
    W1 : array_like, shape (h, n)
    b1 : array_like, shape (h,), optional
    domain : (lower, upper), optional
        The box; None for the whole space.

    Returns
    -------
    list of Region

    Examples
    --------
    >>> [r.pattern for r in realizable_regions([[1.0, 0.0], [1.0, 1e-9]])]
    [(True, True), (True, False), (False, True), (False, False)]
    >>> [r.pattern for r in realizable_regions([[1.0]], [0.0], ([0.1], [0.1 + 1e-9]))]
    [(True,)]
    """
    W = _rationals(np.asarray(W1))
    h, n = len(W), len(W[0])
    b = [Fraction(0)] * h if b1 is None else _rationals(np.asarray(b1))
    A: list[list[Fraction]] = []
    c: list[Fraction] = []
    if domain is not None:
        lower, upper = (_rationals(np.asarray(v, dtype=np.float64)) for v in domain)
        for j in range(n):
            unit = [Fraction(int(i == j)) for i in range(n)]
            A += [unit, [-v for v in unit]]
            c += [upper[j], -lower[j]]
        start = tuple((lo + hi) / 2 for lo, hi in zip(lower, upper))
        if not all(lo < hi for lo, hi in zip(lower, upper)):
            raise ValueError("the box has an empty interior")
    else:
        start = (Fraction(0),) * n
    live = [i for i in range(h) if any(v != 0 for v in W[i])]
    regions: list[Region] = []

    def visit(depth: int, bits: tuple[bool, ...], point: tuple[Fraction, ...]) -> None:
        if depth == len(live):
            pattern = [False] * h
            for i, bit in zip(live, bits):
                pattern[i] = bit
            regions.append(Region(tuple(pattern), point))
            return
        i = live[depth]
        for bit in (True, False):
            # bit True: w.x + b > 0, i.e. -w.x < b; bit False: w.x + b < 0
            row = [-v for v in W[i]] if bit else list(W[i])
            bound = b[i] if bit else -b[i]
            A.append(row)
            c.append(bound)
            if sum(a * x for a, x in zip(row, point)) < bound:
                visit(depth + 1, bits + (bit,), point)
            else:
                decision = decide_strict(A, c, n)
                if decision.nonempty:
                    visit(depth + 1, bits + (bit,), decision.point)
            A.pop()
            c.pop()

    visit(0, (), start)
    return regions


def exact_jacobian(W1: Any, W2: Any, pattern: Sequence[bool]) -> list[list[Fraction]]:
    """``W2 diag(pattern) W1`` in rational arithmetic (rows: outputs)."""
    A, B = _rationals(np.asarray(W1)), _rationals(np.asarray(W2))
    n = len(A[0])
    return [[sum((B[k][i] * A[i][j] for i in range(len(A)) if pattern[i]), Fraction(0)) for j in range(n)]
            for k in range(len(B))]


def exact_norm(J: list[list[Fraction]], norm: str) -> float:
    """``||J||_{p->p}`` of an exact Jacobian, rounded once: "1" max column abs sum, "inf" max row abs sum
    (both exact, then rounded), "2" the Euclidean norm of the row for one output (exact sum of squares,
    then a correctly rounded square root of its float), the largest singular value of ``float(J)`` for
    several outputs.

    Examples
    --------
    >>> J = [[Fraction(3), Fraction(-4)]]
    >>> exact_norm(J, "2"), exact_norm(J, "1"), exact_norm(J, "inf")
    (5.0, 4.0, 7.0)
    """
    if norm == "1":
        return float(max(sum(abs(row[j]) for row in J) for j in range(len(J[0]))))
    if norm == "inf":
        return float(max(sum(abs(v) for v in row) for row in J))
    if len(J) == 1:
        return math.sqrt(float(sum(v * v for v in J[0])))
    return float(np.linalg.norm(np.array([[float(v) for v in row] for row in J]), ord=2))


def _norm_key(J: list[list[Fraction]], norm: str) -> Fraction | float:
    """A key ordered like ``||J||`` and exact where the norm is (the square for l2 with one output)."""
    if norm == "1":
        return max(sum(abs(row[j]) for row in J) for j in range(len(J[0])))
    if norm == "inf":
        return max(sum(abs(v) for v in row) for row in J)
    if len(J) == 1:
        return sum(v * v for v in J[0])
    return exact_norm(J, norm)


def magnitude(W1: Any, W2: Any, norm: str) -> float:
    """``|| |W2| |W1| ||``: an upper bound on every ``||J(s)||``, the unit of :data:`FLOOR`."""
    M = np.abs(np.asarray(W2, dtype=np.float64)) @ np.abs(np.asarray(W1, dtype=np.float64))
    if norm == "1":
        return float(M.sum(axis=0).max())
    if norm == "inf":
        return float(M.sum(axis=1).max())
    return float(np.linalg.norm(M, ord=2))


@dataclass(frozen=True)
class Oracle:
    """The true constant of one (network, domain) for each norm.

    Attributes
    ----------
    values : dict
        norm -> the exact constant (rounded once to float).
    patterns : dict
        norm -> a maximizing pattern.
    witnesses : dict
        norm -> an exact point of the maximizing region (as floats, for the report).
    regions : int
        Number of non-empty regions.
    seconds : float
    """

    values: dict[str, float]
    patterns: dict[str, tuple[bool, ...]]
    witnesses: dict[str, list[float]]
    regions: int
    seconds: float


def oracle(W1: Any, W2: Any, b1: Any = None, domain: Any = None, norms: Sequence[str] = NORMS) -> Oracle:
    """The exact Lipschitz constant of ``W2 relu(W1 x + b1)`` on the box (or R^n), for each norm.

    Examples
    --------
    >>> o = oracle([[1.0, 0.0], [1.0, 1e-9]], [[1.0, -1.0]])      # the thin cone x1 < 0 < x1 + 1e-9 x2
    >>> o.values["2"], o.values["1"], o.patterns["2"]
    (1.0, 1.0, (False, True))
    >>> oracle([[0.5], [0.500000001]], [[1.0, -1.0]], [0.3, 0.3]).values["2"]
    0.5
    """
    start = time.perf_counter()
    regions = realizable_regions(W1, b1, domain)
    values: dict[str, float] = {}
    patterns: dict[str, tuple[bool, ...]] = {}
    witnesses: dict[str, list[float]] = {}
    jacobians = [(region, exact_jacobian(W1, W2, region.pattern)) for region in regions]
    for norm in norms:
        best = None
        for region, J in jacobians:
            key = _norm_key(J, norm)
            if best is None or key > best[0]:
                best = (key, region, J)
        values[norm] = exact_norm(best[2], norm)
        patterns[norm] = best[1].pattern
        witnesses[norm] = [float(v) for v in best[1].point]
    return Oracle(values, patterns, witnesses, len(regions), time.perf_counter() - start)


# =========================================================================== the case families
@dataclass
class Case:
    """One fuzz network and domain, with the truth and (for canonical thin cases) a closed-form answer."""

    index: int
    family: str
    W1: np.ndarray
    W2: np.ndarray
    b1: np.ndarray | None
    domain: tuple[np.ndarray, np.ndarray] | None
    params: dict[str, Any] = field(default_factory=dict)
    known: dict[str, float] | None = None  # norm -> closed-form constant of this exact float data

    @property
    def scope(self) -> str:
        return "global" if self.domain is None else "box"

    def to_dict(self) -> dict:
        return {"index": self.index, "family": self.family, "scope": self.scope, "params": self.params,
                "W1": self.W1.tolist(), "W2": self.W2.tolist(),
                "b1": None if self.b1 is None else self.b1.tolist(),
                "domain": None if self.domain is None else [self.domain[0].tolist(), self.domain[1].tolist()],
                "known": self.known}


def _log_uniform(rng: np.random.Generator, low: float, high: float) -> float:
    return float(10.0 ** rng.uniform(math.log10(low), math.log10(high)))


def _scales(rng: np.random.Generator) -> tuple[float, float]:
    """``(sigma, r)``: the scale of (W1, b1) and of W2, log-uniform in [1e-6, 1e6]."""
    return _log_uniform(rng, 1e-6, 1e6), _log_uniform(rng, 1e-6, 1e6)


def _pow2_scales(rng: np.random.Generator) -> tuple[float, float]:
    """``(sigma, r)`` as powers of two in [2^-20, 2^20] (about 1e-6..1e6): scaling by them is exact, so an
    exactly degenerate arrangement stays exactly degenerate."""
    return 2.0 ** int(rng.integers(-20, 21)), 2.0 ** int(rng.integers(-20, 21))


def _box(lower: np.ndarray, width: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """A float box ``[lower, lower + width]`` widened to at least 16 ulps per side (a non-empty interior)."""
    lower = np.asarray(lower, dtype=np.float64)
    width = np.maximum(np.asarray(width, dtype=np.float64), 16 * np.spacing(np.abs(lower) + 1e-300))
    return lower, lower + width


def _q(x: Any) -> Fraction:
    return _rational(x)


def _sqrt(q: Fraction) -> float:
    return math.sqrt(float(q))


def family_random(rng: np.random.Generator, index: int) -> Case:
    """Gaussian weights, ``n <= 4``, ``h <= 8``, one or two outputs, (W1, b1) and W2 scaled independently."""
    n, h, m = int(rng.integers(1, 5)), int(rng.integers(1, 9)), int(rng.integers(1, 3))
    sigma, r = _scales(rng)
    W1 = rng.normal(size=(h, n)) * sigma
    b1 = rng.normal(size=h) * sigma if rng.random() < 0.75 else None
    W2 = rng.normal(size=(m, h)) * r
    domain = None
    if rng.random() < 0.5:
        domain = _box(rng.normal(size=n), 10.0 ** rng.uniform(-3, 0.5, size=n))
    return Case(index, "random", W1, W2, b1, domain, {"sigma": sigma, "r": r})


def family_integer(rng: np.random.Generator, index: int) -> Case:
    """Integer weights in [-3, 3] (many degenerate arrangements: parallel, coincident, concurrent
    hyperplanes) times power-of-two scales in [2^-20, 2^20], so the degeneracies stay exact."""
    n, h, m = int(rng.integers(1, 4)), int(rng.integers(1, 9)), int(rng.integers(1, 3))
    sigma, r = _pow2_scales(rng)
    W1 = rng.integers(-3, 4, size=(h, n)) * sigma
    b1 = rng.integers(-3, 4, size=h) * sigma if rng.random() < 0.5 else None
    W2 = rng.integers(-3, 4, size=(m, h)) * r
    domain = None
    if rng.random() < 0.5:
        corner = rng.integers(-3, 3, size=n).astype(float)
        domain = (corner, corner + rng.integers(1, 4, size=n))
    return Case(index, "integer", W1, W2, b1, domain, {"sigma": sigma, "r": r})


def family_degenerate(rng: np.random.Generator, index: int, exact: bool = True) -> Case:
    """Duplicate, scaled-duplicate (x 2, 3, 0.5), opposite, zero and parallel rows; hyperplanes through one
    point. With ``exact`` the scales are powers of two and the degeneracies are exact; otherwise they are
    log-uniform and rounding breaks them by about one ulp, leaving slivers of relative width ~1e-16 (the
    ``near_degenerate`` family)."""
    n, m = int(rng.integers(1, 4)), int(rng.integers(1, 3))
    sigma, r = _pow2_scales(rng) if exact else _scales(rng)
    base = rng.integers(-3, 4, size=(int(rng.integers(1, 4)), n)).astype(float)
    rows, biases, kinds = [], [], []
    point = rng.integers(-2, 3, size=n).astype(float)
    concurrent = rng.random() < 0.5
    size = int(rng.integers(2, 9))
    while len(rows) < size:
        w = base[int(rng.integers(len(base)))]
        kind = str(rng.choice(["copy", "scaled", "opposite", "zero", "parallel"]))
        if kind == "scaled":
            w = w * float(rng.choice([2.0, 3.0, 0.5]))
        elif kind == "opposite":
            w = -w
        elif kind == "zero":
            w = np.zeros(n)
        bias = -float(w @ point) if concurrent or kind != "parallel" else float(rng.integers(-3, 4))
        rows.append(w)
        biases.append(bias)
        kinds.append(kind)
    W1 = np.array(rows) * sigma
    b1 = np.array(biases) * sigma if (concurrent and np.any(point != 0)) or rng.random() < 0.7 else None
    W2 = rng.integers(-3, 4, size=(m, len(rows))) * r
    domain = None
    if rng.random() < 0.5:
        domain = (point - rng.integers(1, 3, size=n), point + rng.integers(1, 3, size=n))
    return Case(index, "degenerate" if exact else "near_degenerate", W1, W2, b1, domain,
                {"sigma": sigma, "r": r, "kinds": kinds, "concurrent": concurrent})


def family_thin_cone(rng: np.random.Generator, index: int) -> Case:
    """Two nearly parallel hyperplanes (angle eps in [1e-12, 1e-3]): W1 = sigma [[1, 0], [1, eps]],
    W2 = r [1, -1]; both thin wedges carry the constant. Canonical cases (no rotation, no extra unit, the
    global constant) have the closed form ``|r| sqrt(sigma^2 + (sigma eps)^2)`` (l2), ``|r| (sigma +
    sigma eps)`` (inf), ``|r| sigma`` (1): two non-parallel lines always make all four regions."""
    eps = _log_uniform(rng, 1e-12, 1e-3)
    sigma, r = _scales(rng)
    n = int(rng.choice([2, 3]))
    canonical = rng.random() < 0.4
    W1 = np.zeros((2, n))
    W1[0, 0], W1[1, 0], W1[1, 1] = sigma, sigma, sigma * eps
    W2 = np.array([[r, -r]])
    apex = rng.normal(size=n) * float(rng.choice([0.0, 1.0, 1e3]))
    rotated = False
    if not canonical:
        if rng.random() < 0.5:  # a random rotation of the input space (floats: no longer exact)
            Q, _ = np.linalg.qr(rng.normal(size=(n, n)))
            W1 = W1 @ Q
            rotated = True
        if rng.random() < 0.5:  # extra ordinary units
            k = int(rng.integers(1, 3))
            W1 = np.vstack([W1, rng.normal(size=(k, n)) * sigma])
            W2 = np.hstack([W2, rng.normal(size=(1, k)) * r * float(rng.choice([0.1, 1.0]))])
        if rng.random() < 0.5:
            W2 = np.vstack([W2, rng.normal(size=(1, W2.shape[1])) * r])
    b1 = None if not np.any(apex) else -(W1 @ apex)
    domain = None
    if not canonical and rng.random() < 0.5:  # a box around the apex: the wedges are thin in absolute terms
        half = _log_uniform(rng, 1e-3, 10.0)
        domain = _box(apex - half, np.full(n, 2 * half))
    known = None
    if canonical:
        a, d, w = _q(W1[1, 0]), _q(W1[1, 1]), abs(_q(W2[0, 0]))
        known = {"2": float(w) * _sqrt(a * a + d * d), "inf": float(w * (abs(a) + abs(d))), "1": float(w * abs(a))}
    return Case(index, "thin_cone", W1, W2, b1, domain,
                {"eps": eps, "sigma": sigma, "r": r, "canonical": canonical, "rotated": rotated}, known)


def family_thin_slab(rng: np.random.Generator, index: int) -> Case:
    """Two nearly equal thresholds on a line: W1 = sigma [[a], [a (1 + eps)]], b1 = sigma [c, c],
    W2 = r [1, -1]; the slab between them has slope ``r sigma a`` (pattern (1, 0), when ``a c > 0``) or
    ``-r sigma a (1 + eps)`` (pattern (0, 1), when ``a c < 0``); outside it the slope is 0 or
    ``r sigma a eps``. Canonical cases (one input, two units) have that closed form."""
    eps = _log_uniform(rng, 1e-12, 1e-3)
    sigma, r = _scales(rng)
    a = float(rng.choice([-1.0, 1.0])) * float(rng.uniform(0.2, 2.0))
    c = float(rng.choice([-1.0, 1.0])) * float(rng.uniform(0.1, 1.0))
    canonical = rng.random() < 0.5
    W1 = np.array([[a], [a * (1 + eps)]]) * sigma
    b1 = np.array([c, c]) * sigma
    W2 = np.array([[r, -r]])
    if not canonical and rng.random() < 0.5:  # a second input the units ignore, and an ordinary unit on it
        W1 = np.hstack([W1, np.zeros((2, 1))])
        W1 = np.vstack([W1, rng.normal(size=(1, 2)) * sigma])
        b1 = np.append(b1, rng.normal() * sigma)
        W2 = np.hstack([W2, [[rng.normal() * r * 0.1]]])
    domain = None
    if not canonical and rng.random() < 0.5:  # a box around the slab
        centre = -c / a
        half = _log_uniform(rng, 1e-6, 1.0) * abs(centre)
        lower = np.full(W1.shape[1], centre - half)
        lower[1:] = -1.0
        width = np.full(W1.shape[1], 2 * half)
        width[1:] = 2.0
        domain = _box(lower, width)
    known = None
    if canonical:  # one input: evaluate the pattern of every interval between the (exact) thresholds
        w, bq, v = [_q(W1[0, 0]), _q(W1[1, 0])], _q(b1[0]), [_q(W2[0, 0]), _q(W2[0, 1])]
        cuts = sorted({-bq / w[0], -bq / w[1]})
        samples = [cuts[0] - 1] + [(p + q) / 2 for p, q in zip(cuts, cuts[1:])] + [cuts[-1] + 1]
        slopes = [abs(sum(v[i] * w[i] for i in range(2) if w[i] * x + bq > 0)) for x in samples]
        known = {norm: float(max(slopes)) for norm in NORMS}
    return Case(index, "thin_slab", W1, W2, b1, domain,
                {"eps": eps, "sigma": sigma, "r": r, "a": a, "c": c, "canonical": canonical}, known)


def family_thin_box(rng: np.random.Generator, index: int) -> Case:
    """A box of relative width eps in [1e-12, 1e-3] at position t (0.1 to 1e10): ``r relu(sigma x)`` on
    it (slope ``r sigma``), or a kink in its middle, ``r relu(sigma (x - t0)) + 2 r relu(sigma (x - k))``
    (slope ``3 r sigma`` on the thin right half); optionally a second input on [-1, 1]."""
    eps = _log_uniform(rng, 1e-12, 1e-3)
    sigma, r = _scales(rng)
    t = float(rng.choice([0.1, 1.0, 1e3, 1e6, 1e10])) * float(rng.choice([1.0, -1.0]))
    lower, upper = _box([t], [eps * max(1.0, abs(t))])
    variant = str(rng.choice(["relu", "kink"]))
    two_d = rng.random() < 0.3
    if variant == "relu":
        t0 = lower[0] - abs(lower[0]) - 1.0  # the kink is left of the box: the unit is on throughout
        W1, b1, W2 = np.array([[sigma]]), np.array([-sigma * t0]), np.array([[r]])
    else:
        k = float((_q(lower[0]) + _q(upper[0])) / 2)
        t0 = lower[0] - abs(lower[0]) - 1.0
        W1, b1, W2 = np.array([[sigma], [sigma]]), np.array([-sigma * t0, -sigma * k]), np.array([[r, 2 * r]])
    if two_d:
        W1 = np.hstack([W1, np.zeros((W1.shape[0], 1))])
        W1 = np.vstack([W1, [[0.0, sigma]]])
        b1 = np.append(b1, 0.0)
        W2 = np.hstack([W2, [[r]]])
        lower, upper = np.append(lower, -1.0), np.append(upper, 1.0)
    known = None
    # closed form, valid when the kinks fall where they were put (checked exactly on the rounded data)
    lo, hi = _q(lower[0]), _q(upper[0])
    on_left = -_q(b1[0]) / _q(W1[0, 0]) < lo
    kink_inside = variant == "relu" or lo < -_q(b1[1]) / _q(W1[1, 0]) < hi
    if on_left and kink_inside:
        g = [_q(W2[0, 0]) * _q(W1[0, 0]) + (_q(W2[0, 1]) * _q(W1[1, 0]) if variant == "kink" else 0)]
        if two_d:
            g.append(_q(W2[0, -1]) * _q(W1[-1, 1]))
        known = {"2": _sqrt(sum(v * v for v in g)), "inf": float(sum(abs(v) for v in g)),
                 "1": float(max(abs(v) for v in g))}
    return Case(index, "thin_box", W1, W2, b1, (lower, upper),
                {"eps": eps, "sigma": sigma, "r": r, "t": t, "variant": variant, "two_d": two_d}, known)


def family_far_box(rng: np.random.Generator, index: int) -> Case:
    """A box of relative width eps far from the origin (|centre| up to 1e10) crossed by the hyperplanes of
    a random network (each through a random point of the box)."""
    n, h, m = int(rng.integers(1, 4)), int(rng.integers(2, 7)), int(rng.integers(1, 3))
    eps = _log_uniform(rng, 1e-12, 1e-3)
    sigma, r = _scales(rng)
    centre = rng.choice([-1.0, 1.0], size=n) * 10.0 ** rng.uniform(0, 10, size=n)
    lower, upper = _box(centre, np.maximum(eps * np.abs(centre), 1e-12))
    W1 = rng.normal(size=(h, n)) * sigma
    points = lower + rng.uniform(size=(h, n)) * (upper - lower)
    b1 = -np.einsum("ij,ij->i", W1, points)
    W2 = rng.normal(size=(m, h)) * r
    return Case(index, "far_box", W1, W2, b1, (lower, upper),
                {"eps": eps, "sigma": sigma, "r": r, "centre": centre.tolist()})


#: Family name -> generator ``(rng, index) -> Case``; cases cycle through them in this order.
FAMILIES: dict[str, Callable[[np.random.Generator, int], Case]] = {
    "random": family_random,
    "integer": family_integer,
    "degenerate": family_degenerate,
    "near_degenerate": lambda rng, index: family_degenerate(rng, index, exact=False),
    "thin_cone": family_thin_cone,
    "thin_slab": family_thin_slab,
    "thin_box": family_thin_box,
    "far_box": family_far_box,
}


def make_case(seed: int, index: int, families: Sequence[str] = tuple(FAMILIES)) -> Case:
    """Case ``index`` of the fuzz with ``seed``: family ``families[index % len(families)]``, drawn from
    ``numpy.random.default_rng([seed, index])`` (so a case does not depend on how many are run)."""
    name = families[index % len(families)]
    return FAMILIES[name](np.random.default_rng([seed, index]), index)


# =========================================================================== running the solvers
@dataclass
class RunRecord:
    """One solver call and its comparison with the truth."""

    case: int
    family: str
    scope: str
    method: str
    norm: str
    outcome: str  # "result", "invalid_input" (InvalidInputError), "exception", "hang" (watchdog)
    status: str | None = None
    value: float | None = None
    lower: float | None = None
    upper: float | None = None
    truth: float | None = None
    magnitude: float | None = None
    seconds: float = 0.0
    error: str = ""  # the exception, or the solver's message when the status is not optimal
    wrong_optimal: bool = False
    bracket_violation: bool = False
    relative_error: float | None = None

    @property
    def failure(self) -> bool:
        return self.wrong_optimal or self.bracket_violation or self.outcome in ("exception", "hang")

    def to_dict(self) -> dict:
        return {k: (str(v) if isinstance(v, float) and not math.isfinite(v) else v)
                for k, v in self.__dict__.items()}




def judge(record: RunRecord) -> RunRecord:
    """Fill ``wrong_optimal``, ``bracket_violation`` and ``relative_error`` of a finished run.

    Wrong optimal: status ``optimal`` and ``|value - truth| > REL_TOL |truth| + FLOOR magnitude`` (or no
    value). Bracket violation: ``truth < lower (1 - REL_TOL) - FLOOR magnitude`` or ``truth > upper (1 +
    REL_TOL) + FLOOR magnitude``, for the sides that are not None.
    """
    truth, floor = record.truth, FLOOR * (record.magnitude or 0.0)
    if record.value is not None:
        record.relative_error = abs(record.value - truth) / abs(truth) if truth else abs(record.value - truth)
    if record.status == "optimal":
        record.wrong_optimal = record.value is None or abs(record.value - truth) > REL_TOL * abs(truth) + floor
    low = record.lower is not None and truth < record.lower * (1 - REL_TOL) - floor
    high = record.upper is not None and truth > record.upper * (1 + REL_TOL) + floor
    record.bracket_violation = bool(low or high)
    return record


def solve_run(case: Case, method: str, norm: str, truth: float, time_limit: float, seed: int) -> RunRecord:
    """Call :func:`lipexact.lipschitz` once (watchdog at ``3 time_limit + 10`` s) and judge the answer."""
    from lipexact import TwoLayerReLU, lipschitz
    from reductions.validation import InvalidInputError

    record = RunRecord(case.index, case.family, case.scope, method, norm, "result", truth=truth,
                       magnitude=magnitude(case.W1, case.W2, norm))
    start = time.perf_counter()
    try:
        net = TwoLayerReLU(case.W1, case.W2, case.b1)
        domain = None if case.domain is None else (case.domain[0], case.domain[1])
        result = call_with_watchdog(
            lambda: lipschitz(net, method, norm=norm, domain=domain, time_limit=time_limit, seed=seed),
            3 * time_limit + 10)
    except InvalidInputError as error:
        record.outcome, record.error = "invalid_input", str(error)
    except Hang:
        record.outcome, record.error = "hang", f"no answer after {3 * time_limit + 10:g} s"
    except Exception as error:  # noqa: BLE001 - every exception is a finding of the fuzz
        record.outcome, record.error = "exception", f"{type(error).__name__}: {error}"
    else:
        record.status = getattr(result.status, "value", str(result.status))
        record.value, record.lower, record.upper = result.value, result.lower, result.upper
        if record.status != "optimal":
            record.error = str(result.message)[:300]
        judge(record)
    record.seconds = time.perf_counter() - start
    return record


@dataclass
class FuzzResult:
    """Everything a fuzz produced: the cases (with their truth), the runs, and how long it took."""

    seed: int
    time_limit: float
    cases: list[dict]
    runs: list[RunRecord]
    seconds: float
    oracle_seconds: float
    known_mismatches: list[dict]
    families: tuple[str, ...]
    methods: tuple[str, ...]


def _combinations(case: Case, methods: Sequence[str]) -> list[tuple[str, str]]:
    """Every (method, norm) to run on ``case``; milp does not take the l2 norm with several outputs, vertices
    no l2 norm at all."""
    return [(method, norm) for method in methods for norm in NORMS
            if not (method == "milp" and norm == "2" and case.W2.shape[0] > 1)
            and not (method == "vertices" and norm == "2")]


def run_fuzz(runs: int = DEFAULT_RUNS, seed: int = 0, time_limit: float = DEFAULT_TIME_LIMIT,
             families: Sequence[str] = tuple(FAMILIES), methods: Sequence[str] = METHODS,
             progress: bool = False) -> FuzzResult:
    """Run exactly ``runs`` solver calls on cases ``0, 1, ...`` of the seeded fuzz.

    Every case is solved by every method in ``methods`` for every norm (milp: not l2 with several
    outputs; vertices: not l2), on its domain (global or a box); the truth of each case comes from :func:`oracle`.

    Parameters
    ----------
    runs : int
        Number of solver calls (the last case may run a subset of its combinations).
    seed : int
        Seed of the cases and of the solvers' random choices.
    time_limit : float
        Seconds per solver call.
    families, methods : sequence of str
        Subsets of :data:`FAMILIES` and :data:`METHODS`.
    progress : bool
        A progress bar on stderr.

    Returns
    -------
    FuzzResult
    """
    from tqdm import tqdm

    unknown = [f for f in families if f not in FAMILIES] + [m for m in methods if m not in METHODS]
    if unknown or not families or not methods:
        from reductions.validation import InvalidInputError

        raise InvalidInputError("families/methods", f"non-empty subsets of {list(FAMILIES)} and {list(METHODS)}",
                                ", ".join(unknown) or "an empty list")
    start = time.perf_counter()
    bar = tqdm(total=runs, desc="certify fuzz", file=sys.stderr, disable=not progress, leave=False,
               dynamic_ncols=True)
    records: list[RunRecord] = []
    cases: list[dict] = []
    mismatches: list[dict] = []
    oracle_seconds = 0.0
    index = 0
    while len(records) < runs:
        case = make_case(seed, index, tuple(families))
        index += 1
        truth = oracle(case.W1, case.W2, case.b1, case.domain)
        oracle_seconds += truth.seconds
        entry = case.to_dict()
        entry.update(truth=truth.values, truth_patterns={k: list(v) for k, v in truth.patterns.items()},
                     truth_witnesses=truth.witnesses, regions=truth.regions, oracle_seconds=truth.seconds)
        cases.append(entry)
        if case.known is not None:
            for norm, value in case.known.items():
                if not math.isclose(value, truth.values[norm], rel_tol=1e-12, abs_tol=0.0):
                    mismatches.append({"case": case.index, "family": case.family, "norm": norm, "known": value,
                                       "oracle": truth.values[norm]})
        for method, norm in _combinations(case, methods):
            if len(records) >= runs:
                break
            bar.set_postfix_str(f"case {case.index} {case.family} {method} {norm}")
            records.append(solve_run(case, method, norm, truth.values[norm], time_limit, seed))
            bar.update(1)
    bar.close()
    return FuzzResult(seed, time_limit, cases, records, time.perf_counter() - start, oracle_seconds, mismatches,
                      tuple(families), tuple(methods))


# =========================================================================== the report
_STATUSES = ("optimal", "time_limit", "node_limit", "interrupted", "error")


def _counts(runs: list[RunRecord]) -> dict[str, int]:
    statuses = Counter(r.status for r in runs if r.outcome == "result")
    return {
        "runs": len(runs),
        **{s: statuses.get(s, 0) for s in _STATUSES},
        "other status": sum(v for k, v in statuses.items() if k not in _STATUSES),
        "invalid input": sum(r.outcome == "invalid_input" for r in runs),
        "exceptions": sum(r.outcome in ("exception", "hang") for r in runs),
        "wrong optimal": sum(r.wrong_optimal for r in runs),
        "bracket violations": sum(r.bracket_violation for r in runs),
    }


def _group_rows(runs: list[RunRecord], key: Callable[[RunRecord], tuple], order: list[tuple]) -> list[list]:
    groups: dict[tuple, list[RunRecord]] = {}
    for r in runs:
        groups.setdefault(key(r), []).append(r)
    rows = []
    for k in order:
        if k in groups:
            counts = _counts(groups[k])
            rows.append(list(k) + list(counts.values()) + [max(r.seconds for r in groups[k])])
    return rows


def build_section(fuzz: FuzzResult, key: str = "certify_fuzz",
                  title: str = "8. Certification fuzz: exact solvers against an independent oracle") -> Section:
    """The report section of a fuzz: tables per method/norm/scope and per family, the failures, checks."""
    runs = fuzz.runs
    section = Section(key, title)
    families = Counter(c["family"] for c in fuzz.cases)
    section.text.append(
        f"{len(runs)} solver runs of `lipexact.lipschitz` (methods {', '.join(fuzz.methods)}; norms 2, 1, inf; "
        f"time limit {fuzz.time_limit:g} s per run) on {len(fuzz.cases)} seeded networks (seed {fuzz.seed}; "
        + ", ".join(f"{families[f]} {f}" for f in fuzz.families if families[f]) + "), each compared with the "
        "truth of an independent exact oracle (`benchmarks/certify_fuzz.py`: the float data as exact "
        "rationals, every activation region decided by an exact rational simplex whose point / Motzkin "
        "certificate is re-checked exactly; it shares no code with `lipexact.exact`). (W1, b1) and W2 are "
        "scaled by independent log-uniform factors in [1e-6, 1e6] (powers of two in [2^-20, 2^20] for the "
        "`integer` and `degenerate` families, so that their degeneracies stay exact; `near_degenerate` is the "
        "same construction with arbitrary factors, whose rounding leaves slivers of relative width ~1e-16); "
        "thin cones, slabs and boxes have a relative thinness eps in [1e-12, 1e-3]. milp is not run for the "
        "l2 norm with several outputs (refused by design).")
    section.text.append(
        f"A run is a *wrong optimal* when its status is `optimal` and |value - truth| > {REL_TOL:g} |truth| + "
        f"{FLOOR:g} M, and a *bracket violation* when truth < lower (1 - {REL_TOL:g}) - {FLOOR:g} M or truth > "
        f"upper (1 + {REL_TOL:g}) + {FLOOR:g} M, where M = || |W2| |W1| || bounds every ||J(s)|| (the floor "
        "is 100 times the float error of evaluating one J(s)). *Exceptions* are anything raised except "
        "`InvalidInputError` (counted apart), and calls stopped by the watchdog at 3 x the time limit + 10 s. "
        f"Total time {fuzz.seconds:.1f} s, of which the oracle took {fuzz.oracle_seconds:.1f} s.")
    count_columns = list(_counts([]).keys()) + ["max seconds"]
    order = [(m, n, s) for m in fuzz.methods for n in NORMS for s in ("global", "box")]
    section.tables.append(Table(
        f"{key}_statuses", "Statuses and failures per method, norm and scope",
        ["method", "norm", "scope"] + count_columns,
        _group_rows(runs, lambda r: (r.method, r.norm, r.scope), order)
        + [["all", "", ""] + list(_counts(runs).values()) + [max((r.seconds for r in runs), default=0.0)]]))
    order = [(f, m) for f in fuzz.families for m in fuzz.methods]
    section.tables.append(Table(
        f"{key}_families", "Statuses and failures per case family and method",
        ["family", "method"] + count_columns, _group_rows(runs, lambda r: (r.family, r.method), order)))
    cases = {c["index"]: c for c in fuzz.cases}
    failures = [r for r in runs if r.failure]
    shown = failures[:40]
    rows = []
    for r in shown:
        params = cases[r.case]["params"]
        rows.append([r.case, r.family, r.scope, r.method, r.norm, r.status or r.outcome, r.value, r.lower, r.upper,
                     r.truth, r.relative_error,
                     ", ".join(f"{k}={v:.3g}" for k, v in params.items() if isinstance(v, float)),
                     "wrong optimal" if r.wrong_optimal else ("bracket" if r.bracket_violation else r.error[:80])])
    section.tables.append(Table(
        f"{key}_failures", f"Failures ({len(shown)} of {len(failures)} shown; all in results.json)",
        ["case", "family", "scope", "method", "norm", "status", "value", "lower", "upper", "truth",
         "relative error", "parameters", "what"], rows,
        ["Every case's weights, biases, box, truth, maximizing pattern and an exact witness point are in "
         "results.json (records), so any failure can be rerun alone."]))
    wrong = sum(r.wrong_optimal for r in runs)
    brackets = sum(r.bracket_violation for r in runs)
    raised = [r for r in runs if r.outcome in ("exception", "hang")]
    known = sum(c["known"] is not None for c in fuzz.cases)
    section.checks += [
        Check("every `optimal` value equals the oracle's truth", wrong == 0,
              f"{wrong} wrong of {sum(r.status == 'optimal' for r in runs)} optimal runs"),
        Check("every proven bracket [lower, upper] contains the truth", brackets == 0,
              f"{brackets} violations in {len(runs)} runs"),
        Check("no solver call raised (other than InvalidInputError) or hung", not raised,
              f"{len(raised)} runs" + (f"; first: {raised[0].error[:120]}" if raised else "")),
        Check("the oracle agrees with every closed-form answer of the canonical thin cases",
              not fuzz.known_mismatches if known else None,
              f"{known} cases with a closed form, {len(fuzz.known_mismatches)} mismatches"),
    ]
    section.records = [{**case, "runs": [r.to_dict() for r in runs if r.case == case["index"]]}
                       for case in fuzz.cases]
    return section


def section(ctx: Any) -> Section:
    """The fuzz as a section of ``python -m benchmarks.run`` (size, time limit and families from the
    configuration: ``fuzz_runs``, ``fuzz_time_limit``, ``fuzz_families``)."""
    cfg = ctx.config
    families = tuple(cfg.fuzz_families) or tuple(FAMILIES)
    fuzz = run_fuzz(cfg.fuzz_runs, ctx.seed, cfg.fuzz_time_limit, families, METHODS, progress=ctx.progress)
    return build_section(fuzz)


# =========================================================================== command line
def _parse(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog=PROG, description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=None, help=f"solver runs (default {DEFAULT_RUNS}; "
                        f"{QUICK_RUNS} with --quick)")
    parser.add_argument("--quick", action="store_true", help=f"{QUICK_RUNS} runs (a minute or two)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the cases and the solvers (default 0)")
    parser.add_argument("-o", "--out", type=Path, default=None,
                        help="output folder (default benchmarks/results/certify_fuzz-<timestamp>)")
    parser.add_argument("--time-limit", type=float, default=DEFAULT_TIME_LIMIT,
                        help=f"seconds per solver run (default {DEFAULT_TIME_LIMIT:g})")
    parser.add_argument("--families", default=",".join(FAMILIES), help="comma-separated subset of "
                        + ", ".join(FAMILIES))
    parser.add_argument("--methods", default=",".join(METHODS), help="comma-separated subset of "
                        + ", ".join(METHODS))
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the fuzz and write ``report.md``, ``results.json`` and the CSV tables; print the report's path."""
    from benchmarks.report import timestamp, write_one_section
    from reductions.validation import require

    args = _parse(argv)
    runs = args.runs if args.runs is not None else (QUICK_RUNS if args.quick else DEFAULT_RUNS)
    require(runs >= 1, "runs", "a positive integer", repr(runs))
    require(args.seed >= 0, "seed", "a non-negative integer", repr(args.seed))
    require(args.time_limit > 0, "time-limit", "a positive number of seconds", repr(args.time_limit))
    families = tuple(f.strip() for f in args.families.split(",") if f.strip())
    methods = tuple(m.strip() for m in args.methods.split(",") if m.strip())
    out = args.out
    if out is None:
        out = Path(__file__).resolve().parent / "results" / f"certify_fuzz-{timestamp()}"
    require(not out.exists() or out.is_dir(), "out", "a folder", f"{out} is a file")
    started = _dt.datetime.now().isoformat(timespec="seconds")
    load_start = list(os.getloadavg()) if hasattr(os, "getloadavg") else None
    start = time.perf_counter()
    fuzz = run_fuzz(runs, args.seed, args.time_limit, families, methods, progress=not args.no_progress)
    built = build_section(fuzz, title="Certification fuzz: exact solvers against an independent oracle")
    built.seconds = fuzz.seconds
    write_one_section(out, built, PROG, argv, seed=args.seed, started=started, load_start=load_start,
                      seconds=time.perf_counter() - start,
                      config={"name": "certify_fuzz", "runs": runs, "time_limit": args.time_limit,
                              "families": families, "methods": methods})
    return 0


def entry(argv: Sequence[str] | None = None) -> int:
    from lipexact.cli import run_cli

    return run_cli(PROG, main, argv)


if __name__ == "__main__":
    sys.exit(entry())
