"""The problems of the reduction chain: Max-Cut, QUBO, convex quadratic maximization, LIP-CST.

Each problem is a frozen, validated dataclass with an exact objective (integer data gives integer
values), a JSON form (``to_dict`` / ``from_dict`` with ``"type"`` and ``"version": 1``) and a vectorized
``brute_force()`` for small instances that returns ``(optimum, certificate)``.

Values are exact: integer data is evaluated in integer arithmetic, affine value maps use
:class:`fractions.Fraction` where a division is needed; only float data gives float values.

References
----------
Scaman, K. and Virmaux, A., "Lipschitz regularity of deep neural networks: analysis and efficient
estimation", NeurIPS 2018, arXiv:1805.10965 (LIP-CST and its NP-hardness).
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from numbers import Integral
from typing import Any, Iterable, Iterator

import numpy as np

from reductions.sizes import READ_COPIES, dense_bytes, require_fits
from reductions.realizability import UndecidedRegionError, decide_region, rows_of_pattern
from reductions.validation import (
    InvalidInputError,
    check_fields,
    as_array,
    as_real,
    check_psd,
    check_symmetric,
    require,
)

__all__ = [
    "MaxCut",
    "QUBO",
    "ConvexQuadratic01",
    "ConvexQuadraticPM1",
    "LipCst",
    "BRUTE_FORCE_LIMIT",
    "exact_number",
    "encode_number",
    "decode_number",
    "source_value",
    "quadratic_form",
]

SCHEMA_VERSION = 1

#: Largest number of binary variables (hidden units for :class:`LipCst`) that ``brute_force`` enumerates.
BRUTE_FORCE_LIMIT = 20

_CHUNK_BITS = 14

Number = int | float | Fraction


# ------------------------------------------------------------------------------------------ numbers
def exact_number(value: Any) -> Number:
    """Normalize a scalar: numpy integers become ``int``, whole Fractions ``int``, floats ``float``.

    Examples
    --------
    >>> exact_number(np.int64(3)), exact_number(Fraction(6, 3)), exact_number(Fraction(1, 2))
    (3, 2, Fraction(1, 2))
    """
    if isinstance(value, (bool, np.bool_)):
        return int(value)
    if isinstance(value, (Integral, np.integer)):
        return int(value)
    if isinstance(value, Fraction):
        return int(value) if value.denominator == 1 else value
    return float(value)


def encode_number(value: Number) -> int | float | str:
    """JSON form of an exact number: ints and floats as they are, a Fraction as the string ``"p/q"``.

    Examples
    --------
    >>> encode_number(Fraction(-3, 4)), encode_number(Fraction(8, 4)), encode_number(np.float64(0.5))
    ('-3/4', 2, 0.5)
    """
    value = exact_number(value)
    return f"{value.numerator}/{value.denominator}" if isinstance(value, Fraction) else value


def decode_number(value: Any, field: str, minimum: float | None = None) -> Number:
    """Read a number written by :func:`encode_number` (``"p/q"`` strings are exact fractions).

    Examples
    --------
    >>> decode_number("3/4", "offset")
    Fraction(3, 4)
    >>> decode_number(-1, "ell_squared", minimum=0)
    Traceback (most recent call last):
    ...
    reductions.validation.InvalidInputError: ell_squared: expected a number >= 0, got -1
    """
    if isinstance(value, str):
        try:
            value = Fraction(value.strip())
        except (ValueError, ZeroDivisionError):
            raise InvalidInputError(field, 'a number or an exact fraction "p/q"', repr(value)) from None
    return exact_number(as_real(value, field, minimum))


def source_value(value: Number, offset: Number, scale: Number) -> Number:
    """The affine value map ``(value - offset) / scale``, exact for int / Fraction inputs.

    Examples
    --------
    >>> source_value(54, 6, 4)
    12
    >>> source_value(7, 0, 2)
    Fraction(7, 2)
    """
    value, offset, scale = exact_number(value), exact_number(offset), exact_number(scale)
    if any(isinstance(v, float) for v in (value, offset, scale)):
        return (float(value) - float(offset)) / float(scale)
    return exact_number(Fraction(value - offset) / Fraction(scale))


def target_value(value: Number, offset: Number, scale: Number) -> Number:
    """The inverse of :func:`source_value`: ``value * scale + offset``.

    Examples
    --------
    >>> target_value(12, 6, 4), target_value(Fraction(1, 2), 0, 3)
    (54, Fraction(3, 2))
    """
    value, offset, scale = exact_number(value), exact_number(offset), exact_number(scale)
    if any(isinstance(v, float) for v in (value, offset, scale)):
        return float(value) * float(scale) + float(offset)
    return exact_number(Fraction(value) * scale + offset)


def _integer_safe(matrix: np.ndarray, vector_bound: int = 1) -> bool:
    """True when every quadratic form value of an integer matrix fits comfortably in int64."""
    bound = int(np.abs(matrix).astype(object).sum()) * vector_bound * vector_bound
    return bound < 2**62


def quadratic_form(matrix: np.ndarray, vector: np.ndarray) -> Number:
    """``v^T A v``, exactly (Python integers) for integer data.

    Examples
    --------
    >>> quadratic_form(np.array([[2, -1], [-1, 2]]), np.array([1, -1]))
    6
    """
    if matrix.dtype.kind in "iu" and np.asarray(vector).dtype.kind in "biu":
        v = np.asarray(vector).astype(object)
        return int(v @ matrix.astype(object) @ v)
    v = np.asarray(vector, dtype=np.float64)
    return float(v @ np.asarray(matrix, dtype=np.float64) @ v)


# ------------------------------------------------------------------------------------------ brute force
def _binary_chunks(n: int, fix_first: bool) -> Iterator[np.ndarray]:
    """All of {0,1}^n (with the first coordinate 0 when ``fix_first``), in chunks of rows (int8)."""
    free = n - 1 if fix_first else n
    total = 1 << free
    bits = np.arange(free, dtype=np.int64)
    step = 1 << _CHUNK_BITS
    for start in range(0, total, step):
        codes = np.arange(start, min(total, start + step), dtype=np.int64)
        rows = ((codes[:, None] >> bits) & 1).astype(np.int8)
        if fix_first:
            rows = np.hstack([np.zeros((rows.shape[0], 1), dtype=np.int8), rows])
        yield rows


def _check_brute_force_size(n: int, what: str) -> None:
    require(n <= BRUTE_FORCE_LIMIT, "n", f"at most {BRUTE_FORCE_LIMIT} {what} for brute force", str(n))


def _brute_force_quadratic(matrix: np.ndarray, plus_minus: bool, maximize: bool,
                           fix_first: bool) -> tuple[Number, np.ndarray]:
    """Optimize ``v^T A v`` over {0,1}^n or {-1,1}^n by enumeration; first optimum in code order."""
    n = matrix.shape[0]
    integer = matrix.dtype.kind in "iu"
    dtype = np.int64 if integer and _integer_safe(matrix) else (object if integer else np.float64)
    A = matrix.astype(dtype)
    best_value, best_row = None, None
    for rows in _binary_chunks(n, fix_first):
        vectors = (2 * rows.astype(np.int64) - 1) if plus_minus else rows.astype(np.int64)
        vectors = vectors.astype(dtype)
        values = ((vectors @ A) * vectors).sum(axis=1)
        index = int(np.argmax(values) if maximize else np.argmin(values))
        value = values[index]
        if best_value is None or (value > best_value if maximize else value < best_value):
            best_value, best_row = value, vectors[index]
    return exact_number(best_value), np.asarray(best_row).astype(np.int64)


# ------------------------------------------------------------------------------------------ JSON helpers
def _check_header(data: Any, kind: str, allowed: set[str]) -> None:
    require(isinstance(data, dict), kind, "a JSON object", type(data).__name__)
    require(data.get("type") == kind, "type", f'"{kind}"', repr(data.get("type")))
    require(data.get("version", SCHEMA_VERSION) == SCHEMA_VERSION, "version", str(SCHEMA_VERSION),
            repr(data.get("version")))
    check_fields(data, allowed | {"type", "version"}, kind)


def _required(data: dict, key: str, what: str) -> Any:
    require(key in data, key, f"{what} (field is missing)")
    return data[key]


def _square_matrix(value: Any, field: str) -> np.ndarray:
    matrix = as_array(value, field, ndim=2)
    require(matrix.shape[0] == matrix.shape[1], field, "a square matrix", f"shape {matrix.shape}")
    check_symmetric(matrix, field)
    return matrix


def _binary_vector(value: Any, field: str, n: int, plus_minus: bool = False) -> np.ndarray:
    vector = np.asarray(value)
    if vector.dtype == bool:
        vector = vector.astype(np.int64)
    require(vector.shape == (n,), field, f"a vector of length {n}", f"shape {vector.shape}")
    allowed = (-1, 1) if plus_minus else (0, 1)
    ok = vector.dtype.kind in "biuf" and bool(np.all(np.isin(vector, allowed)))
    require(ok, field, f"entries in {{{allowed[0]}, {allowed[1]}}}", repr(vector.tolist()[:8]))
    return vector.astype(np.int64)


# ------------------------------------------------------------------------------------------ Max-Cut
@dataclass(frozen=True, eq=False)
class MaxCut:
    """Maximum cut of an undirected weighted graph on nodes ``0 .. n-1``.

    Parameters
    ----------
    weights : array_like, shape (n, n)
        Symmetric weight matrix with a zero diagonal (no self-loops). Weights may be negative or zero;
        integer weights stay ``int64`` so cut values are exact integers. ``n >= 1``.

    The cut value of a side assignment ``side`` (bool, length n) is the sum of ``w_ij`` over the
    pairs ``i < j`` with ``side[i] != side[j]``; the problem maximizes it.

    Examples
    --------
    >>> g = MaxCut.from_edges(3, [(0, 1), (1, 2), (0, 2, 2)])
    >>> g.cut_value([True, False, False])
    3
    >>> g.brute_force()
    (3, array([False, False,  True]))
    """

    weights: np.ndarray

    sense = "max"
    kind = "maxcut"

    def __post_init__(self) -> None:
        weights = _square_matrix(self.weights, "weights")
        loops = np.flatnonzero(np.diag(weights))
        require(loops.size == 0, "weights", "a zero diagonal (no self-loops)",
                f"a self-loop at node {int(loops[0])}" if loops.size else None)
        object.__setattr__(self, "weights", weights)

    @property
    def n(self) -> int:
        return self.weights.shape[0]

    @property
    def is_integer(self) -> bool:
        return self.weights.dtype.kind in "iu"

    @property
    def edges(self) -> list[tuple[int, int, Number]]:
        """Non-zero-weight edges ``(i, j, w)`` with ``i < j`` (0-based)."""
        rows, cols = np.nonzero(np.triu(self.weights, 1))
        return [(int(i), int(j), exact_number(self.weights[i, j])) for i, j in zip(rows, cols)]

    @property
    def has_negative_weights(self) -> bool:
        return bool(np.any(self.weights < 0))

    def laplacian(self) -> np.ndarray:
        """``L = Diag(W 1) - W`` (integer for integer weights)."""
        W = self.weights
        return np.diag(W.sum(axis=1)) - W

    # ------------------------------------------------------------ construction
    @classmethod
    def from_edges(cls, n: int, edges: Iterable[Any]) -> "MaxCut":
        """Build from ``(i, j)`` or ``(i, j, w)`` tuples (0-based, weight 1 by default, each pair once)."""
        n = as_real(n, "n", minimum=1)
        require(isinstance(n, int), "n", "a positive integer", repr(n))
        require_fits(dense_bytes(n, n, copies=READ_COPIES), "n", f"n = {n}")
        items = []
        for k, edge in enumerate(edges):
            field = f"edges[{k}]"
            require(isinstance(edge, (tuple, list, np.ndarray)) and len(edge) in (2, 3), field,
                    "(i, j) or (i, j, weight)", repr(edge))
            i, j = edge[0], edge[1]
            for end in (i, j):
                ok = isinstance(end, (Integral, np.integer)) and not isinstance(end, bool) and 0 <= end < n
                require(ok, field, f"node indices in 0..{n - 1}", repr(end))
            require(i != j, field, "two different nodes (no self-loops)", repr(tuple(edge)))
            weight = as_real(edge[2], f"{field}.weight") if len(edge) == 3 else 1
            items.append((int(i), int(j), weight, field))
        integer = all(isinstance(w, int) for _, _, w, _ in items)
        W = np.zeros((n, n), dtype=np.int64 if integer else np.float64)
        seen = set()
        for i, j, w, field in items:
            key = (min(i, j), max(i, j))
            require(key not in seen, field, "each edge listed once", f"duplicate edge {key}")
            seen.add(key)
            W[i, j] = W[j, i] = w if integer else float(w)
        return cls(W)

    @classmethod
    def from_networkx(cls, graph: Any, weight: str = "weight") -> "MaxCut":
        """Build from an undirected networkx graph; nodes are numbered in ``graph.nodes`` order.

        A missing weight attribute counts as 1. Multigraph edges between the same pair add up.

        Examples
        --------
        >>> import networkx as nx
        >>> MaxCut.from_networkx(nx.petersen_graph()).brute_force()[0]
        12
        """
        import networkx as nx

        require(isinstance(graph, nx.Graph), "graph", "a networkx graph", type(graph).__name__)
        require(not graph.is_directed(), "graph", "an undirected graph", "a directed graph")
        require(graph.number_of_nodes() >= 1, "graph", "at least one node", "an empty graph")
        index = {node: k for k, node in enumerate(graph.nodes)}
        n = len(index)
        require_fits(dense_bytes(n, n, copies=READ_COPIES), "graph", f"{n} nodes")
        entries = []
        for u, v, data in graph.edges(data=True):
            require(u != v, f"edge ({u!r}, {v!r})", "two different nodes (no self-loops)")
            entries.append((index[u], index[v], as_real(data.get(weight, 1), f"edge ({u!r}, {v!r}).{weight}")))
        integer = all(isinstance(w, int) for _, _, w in entries)
        W = np.zeros((n, n), dtype=np.int64 if integer else np.float64)
        for i, j, w in entries:
            W[i, j] += w
            W[j, i] = W[i, j]
        return cls(W)

    def to_networkx(self, weight: str = "weight") -> Any:
        """An undirected networkx graph on nodes ``0 .. n-1`` with the non-zero weights as edges."""
        import networkx as nx

        graph = nx.Graph()
        graph.add_nodes_from(range(self.n))
        for i, j, w in self.edges:
            graph.add_edge(i, j, **{weight: w})
        return graph

    # ------------------------------------------------------------ objective
    def certificate(self, side: Any) -> np.ndarray:
        """Validate a side assignment (bool or 0/1, length n) and return it as a bool array."""
        return _binary_vector(side, "side", self.n).astype(bool)

    def cut_value(self, side: Any) -> Number:
        """The total weight of the edges with exactly one end on the ``True`` side (exact)."""
        x = self.certificate(side).astype(np.int64)
        return quadratic_form(self.laplacian(), x)  # x^T L x = sum_{i<j} w_ij (x_i - x_j)^2

    evaluate = cut_value

    def brute_force(self) -> tuple[Number, np.ndarray]:
        """Maximum cut and a maximizing side assignment by enumeration (node 0 on the False side)."""
        _check_brute_force_size(self.n, "nodes")
        value, x = _brute_force_quadratic(self.laplacian(), plus_minus=False, maximize=True, fix_first=True)
        return value, x.astype(bool)

    # ------------------------------------------------------------ JSON
    def to_dict(self) -> dict:
        """``{"type": "maxcut", "version": 1, "n": n, "edges": [[i, j, w], ...]}`` (0-based)."""
        return {"type": self.kind, "version": SCHEMA_VERSION, "n": self.n,
                "edges": [[i, j, encode_number(w)] for i, j, w in self.edges]}

    @classmethod
    def from_dict(cls, data: Any) -> "MaxCut":
        """Read ``{"n", "edges"}`` (0-based edge list) or ``{"weights"}`` (a symmetric matrix)."""
        _check_header(data, "maxcut", {"n", "edges", "weights"})
        if "weights" in data:
            require("edges" not in data, "edges", "either edges or weights, not both")
            weights = as_array(data["weights"], "weights", ndim=2)
            if "n" in data:
                require(data["n"] == weights.shape[0], "n", f"the size of weights ({weights.shape[0]})",
                        repr(data["n"]))
            return cls(weights)
        n = _required(data, "n", "the number of nodes, an integer >= 1")
        require(isinstance(n, int) and not isinstance(n, bool) and n >= 1, "n", "an integer >= 1 (a non-empty graph)",
                repr(n))
        edges = data.get("edges", [])
        require(isinstance(edges, list), "edges", "a list of [i, j, weight]", type(edges).__name__)
        return cls.from_edges(n, [tuple(e) if isinstance(e, list) else e for e in edges])

    def __repr__(self) -> str:
        return f"MaxCut(n={self.n}, edges={len(self.edges)})"


# ------------------------------------------------------------------------------------------ QUBO
@dataclass(frozen=True, eq=False)
class QUBO:
    """Quadratic unconstrained binary optimization: MINIMIZE ``x^T Q x`` over ``x`` in {0,1}^n.

    With a symmetric ``Q`` this is ``sum_i Q_ii x_i + 2 sum_{i<j} Q_ij x_i x_j``, the convention of
    the Biq Mac sparse QUBO format.

    Examples
    --------
    >>> q = QUBO([[-1, 2], [2, -1]])
    >>> q.value([1, 1]), q.value([1, 0])
    (2, -1)
    >>> q.brute_force()
    (-1, array([1, 0]))
    """

    Q: np.ndarray

    sense = "min"
    kind = "qubo"

    def __post_init__(self) -> None:
        object.__setattr__(self, "Q", _square_matrix(self.Q, "Q"))

    @property
    def n(self) -> int:
        return self.Q.shape[0]

    @property
    def is_integer(self) -> bool:
        return self.Q.dtype.kind in "iu"

    def certificate(self, x: Any) -> np.ndarray:
        """Validate a 0/1 vector of length n."""
        return _binary_vector(x, "x", self.n)

    def value(self, x: Any) -> Number:
        """``x^T Q x``, exact."""
        return quadratic_form(self.Q, self.certificate(x))

    evaluate = value

    def brute_force(self) -> tuple[Number, np.ndarray]:
        """Minimum and a minimizer by enumeration."""
        _check_brute_force_size(self.n, "variables")
        return _brute_force_quadratic(self.Q, plus_minus=False, maximize=False, fix_first=False)

    def to_dict(self) -> dict:
        return {"type": self.kind, "version": SCHEMA_VERSION, "Q": self.Q.tolist()}

    @classmethod
    def from_dict(cls, data: Any) -> "QUBO":
        _check_header(data, "qubo", {"Q"})
        return cls(_required(data, "Q", "a symmetric matrix"))

    def __repr__(self) -> str:
        return f"QUBO(n={self.n})"


# ------------------------------------------------------------------------------------------ convex quadratics
@dataclass(frozen=True, eq=False)
class _ConvexQuadratic:
    """Maximize ``s^T H s`` (H PSD) over a hypercube, with an exact affine map to a source objective.

    ``source value = (s^T H s - offset) / scale``; ``scale < 0`` means the source is minimized.
    """

    H: np.ndarray
    offset: Number = 0
    scale: Number = 1

    sense = "max"
    kind = ""
    plus_minus = False

    def __post_init__(self) -> None:
        H = _square_matrix(self.H, "H")
        check_psd(H, "H")
        offset = decode_number(self.offset, "offset")
        scale = decode_number(self.scale, "scale")
        require(scale != 0, "scale", "a non-zero number", repr(scale))
        object.__setattr__(self, "H", H)
        object.__setattr__(self, "offset", offset)
        object.__setattr__(self, "scale", scale)

    @property
    def n(self) -> int:
        return self.H.shape[0]

    @property
    def is_integer(self) -> bool:
        return self.H.dtype.kind in "iu"

    def certificate(self, s: Any) -> np.ndarray:
        return _binary_vector(s, "s", self.n, plus_minus=self.plus_minus)

    def value(self, s: Any) -> Number:
        """``s^T H s``, exact."""
        return quadratic_form(self.H, self.certificate(s))

    evaluate = value

    def source_value(self, value: Number) -> Number:
        """Map a value of this problem to the source objective, exactly."""
        return source_value(value, self.offset, self.scale)

    def brute_force(self) -> tuple[Number, np.ndarray]:
        """Maximum of ``s^T H s`` and a maximizer by enumeration."""
        _check_brute_force_size(self.n, "variables")
        return _brute_force_quadratic(self.H, plus_minus=self.plus_minus, maximize=True,
                                      fix_first=self.plus_minus)

    def to_dict(self) -> dict:
        return {"type": self.kind, "version": SCHEMA_VERSION, "H": self.H.tolist(),
                "offset": encode_number(self.offset), "scale": encode_number(self.scale)}

    @classmethod
    def from_dict(cls, data: Any):
        _check_header(data, cls.kind, {"H", "offset", "scale"})
        return cls(_required(data, "H", "a symmetric positive semi-definite matrix"),
                   data.get("offset", 0), data.get("scale", 1))

    def __repr__(self) -> str:
        return f"{type(self).__name__}(n={self.n}, offset={self.offset!r}, scale={self.scale!r})"


class ConvexQuadratic01(_ConvexQuadratic):
    """Maximize ``s^T H s`` over ``s`` in {0,1}^n with ``H`` positive semi-definite.

    Parameters
    ----------
    H : array_like, shape (n, n)
        Symmetric PSD matrix (checked with :func:`reductions.validation.check_psd`, relative tolerance
        ``PSD_TOLERANCE``).
    offset, scale : int, Fraction or float
        Exact affine map to the source objective: ``source = (s^T H s - offset) / scale``.

    Examples
    --------
    >>> p = ConvexQuadratic01([[1, -1], [-1, 1]])
    >>> p.brute_force()
    (1, array([1, 0]))
    """

    kind = "convex_quadratic_01"
    plus_minus = False


class ConvexQuadraticPM1(_ConvexQuadratic):
    """Maximize ``s^T H s`` over ``s`` in {-1,1}^n with ``H`` positive semi-definite.

    Same parameters as :class:`ConvexQuadratic01`. The brute force fixes ``s_0 = -1`` (the objective
    is even in ``s``).

    Examples
    --------
    >>> p = ConvexQuadraticPM1([[1, -1], [-1, 1]], scale=4)
    >>> value, s = p.brute_force()
    >>> value, s, p.source_value(value)
    (4, array([-1,  1]), 1)
    """

    kind = "convex_quadratic_pm1"
    plus_minus = True


# ------------------------------------------------------------------------------------------ LIP-CST
@dataclass(frozen=True, eq=False)
class LipCst:
    """LIP-CST: the Lipschitz constant of the bias-free network ``f(x) = M2 relu(M1 x)``.

    Parameters
    ----------
    M1 : array_like, shape (l, n)
    M2 : array_like, shape (m, l)
    ell_squared : int, Fraction or float, optional
        Threshold of the decision version, stored squared and exactly; None for the optimization
        version. Use :meth:`with_ell` to give ``ell`` itself. Negative thresholds are rejected.

    The objective of a hidden pattern ``s`` in {0,1}^l is ``||M2 diag(s) M1||_2^2`` (squared, so that
    integer data gives integer values when ``m = 1``); ``L(f)^2`` is its maximum over the patterns
    realized by some input (DESIGN.md section 1).

    Examples
    --------
    >>> p = LipCst([[1, 0], [0, 1], [1, 1]], [[1, 1, 1]])
    >>> p.pattern_at([1, -2]), p.gradient_at([1, -2])
    (array([ True, False, False]), array([[1, 0]]))
    >>> p.brute_force()
    (8, array([ True,  True,  True]))
    """

    M1: np.ndarray
    M2: np.ndarray
    ell_squared: Number | None = None

    sense = "max"
    kind = "lipcst"

    def __post_init__(self) -> None:
        M1 = as_array(self.M1, "M1", ndim=2)
        M2 = as_array(self.M2, "M2", ndim=2)
        require(M2.shape[1] == M1.shape[0], "M2", f"shape (m, {M1.shape[0]}) to match the rows of M1",
                f"shape {M2.shape}")
        ell_squared = None if self.ell_squared is None else decode_number(self.ell_squared, "ell_squared", 0)
        object.__setattr__(self, "M1", M1)
        object.__setattr__(self, "M2", M2)
        object.__setattr__(self, "ell_squared", ell_squared)

    @classmethod
    def with_ell(cls, M1: Any, M2: Any, ell: Number) -> "LipCst":
        """Decision version ``L(f) <= ell``; ``ell`` is squared exactly (int / Fraction stay exact)."""
        ell = decode_number(ell, "ell", minimum=0)
        return cls(M1, M2, ell * ell)

    @property
    def n_inputs(self) -> int:
        return self.M1.shape[1]

    @property
    def n_hidden(self) -> int:
        return self.M1.shape[0]

    @property
    def n_outputs(self) -> int:
        return self.M2.shape[0]

    @property
    def is_integer(self) -> bool:
        return self.M1.dtype.kind in "iu" and self.M2.dtype.kind in "iu"

    @property
    def live(self) -> np.ndarray:
        """Hidden units with a non-zero input row (dead units never switch on: pattern 0)."""
        return np.any(self.M1 != 0, axis=1)

    # ------------------------------------------------------------ local quantities
    def _input(self, x: Any) -> np.ndarray:
        x = np.asarray(x)
        require(x.shape == (self.n_inputs,) and x.dtype.kind in "biuf", "x",
                f"a vector of {self.n_inputs} numbers", f"shape {x.shape}")
        require(bool(np.all(np.isfinite(x))), "x", "finite numbers", "NaN or infinity")
        return x if x.dtype.kind in "iu" else x.astype(np.float64)

    def pattern_at(self, x: Any) -> np.ndarray:
        """``s_i = [(M1 x)_i > 0]`` (bool; exact for integer ``M1`` and ``x``)."""
        x = self._input(x)
        if self.M1.dtype.kind in "iu" and x.dtype.kind in "iu":
            return (self.M1.astype(object) @ x.astype(object)) > 0
        return (np.asarray(self.M1, dtype=np.float64) @ x) > 0

    def on_boundary(self, x: Any) -> bool:
        """True when a live unit has pre-activation exactly 0 at ``x`` (f may not be differentiable)."""
        x = self._input(x)
        pre = np.asarray(self.M1, dtype=np.float64) @ np.asarray(x, dtype=np.float64)
        return bool(np.any((pre == 0) & self.live))

    def jacobian_of_pattern(self, pattern: Any) -> np.ndarray:
        """``M2 diag(s) M1``, shape (m, n) (integer for integer data)."""
        s = self.certificate(pattern)
        return (self.M2 * s.astype(self.M2.dtype)) @ self.M1

    def gradient_at(self, x: Any) -> np.ndarray:
        """The Jacobian ``M2 diag(s) M1`` with ``s`` the pattern at ``x``, shape (m, n)."""
        return self.jacobian_of_pattern(self.pattern_at(x))

    def certificate(self, pattern: Any) -> np.ndarray:
        """Validate a hidden pattern (bool or 0/1, length l) and return it as a bool array."""
        return _binary_vector(pattern, "pattern", self.n_hidden).astype(bool)

    def value(self, pattern: Any) -> Number:
        """``||M2 diag(s) M1||_2^2``: exact (integer) for integer data with one output."""
        J = self.jacobian_of_pattern(pattern)
        if self.n_outputs == 1:
            g = J[0]
            return int(g.astype(object) @ g.astype(object)) if g.dtype.kind in "iu" else float(g @ g)
        return float(np.linalg.norm(np.asarray(J, dtype=np.float64), 2) ** 2)

    evaluate = value

    def value_at(self, x: Any) -> Number:
        """``||grad f(x)||^2`` with the closed-form Jacobian at ``x``."""
        return self.value(self.pattern_at(x))

    # ------------------------------------------------------------ realizability and brute force
    def realize(self, pattern: Any) -> np.ndarray | None:
        """An input ``x`` whose pattern equals ``pattern`` on the live units, or None when none exists.

        Decided by :func:`reductions.realizability.decide_region` on the rows ``(2 s_i - 1) M1_i`` of the
        live units: the point's signs, or the emptiness certificate, are verified in exact arithmetic
        (:class:`~reductions.realizability.UndecidedRegionError` when neither verifies). Dead units are off
        everywhere, so a pattern that switches one on is matched on the live units only.
        """
        s = self.certificate(pattern)
        live = self.live
        if not np.any(live):
            return np.zeros(self.n_inputs)
        A, c = rows_of_pattern(np.asarray(self.M1[live], dtype=np.float64), np.zeros(int(live.sum())), s[live])
        decision = decide_region(A, c)
        if decision.undecided:
            raise UndecidedRegionError(decision.message)
        return decision.point

    def pattern_values(self) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """All patterns of the live units (dead units off) with their values, in chunks."""
        live_index = np.flatnonzero(self.live)
        A = self.M1[live_index]
        integer = self.is_integer
        for rows in _binary_chunks(len(live_index), fix_first=False):
            patterns = np.zeros((rows.shape[0], self.n_hidden), dtype=bool)
            patterns[:, live_index] = rows.astype(bool)
            if self.n_outputs == 1:
                weighted = rows.astype(np.int64) * self.M2[0, live_index]
                if integer and self._values_fit_int64():
                    g = weighted @ A
                    values = (g * g).sum(axis=1)
                else:
                    g = np.asarray(weighted, dtype=np.float64) @ np.asarray(A, dtype=np.float64)
                    values = (g * g).sum(axis=1)
            else:
                J = np.einsum("ml,kl,ln->kmn", np.asarray(self.M2[:, live_index], dtype=np.float64),
                              rows.astype(np.float64), np.asarray(A, dtype=np.float64))
                values = np.linalg.norm(J, ord=2, axis=(1, 2)) ** 2
            yield patterns, values

    def _values_fit_int64(self) -> bool:
        gradient_bound = int(np.abs(self.M2).astype(object).max()) * int(np.abs(self.M1).astype(object).sum())
        return gradient_bound * gradient_bound < 2**62

    def brute_force(self) -> tuple[Number, np.ndarray]:
        """``L(f)^2`` and a realized maximizing pattern: all patterns, best first, each LP-checked.

        The value is exact (an integer for integer data with one output). Use :meth:`realize` for a
        witness input of the returned pattern.
        """
        _check_brute_force_size(int(self.live.sum()), "live hidden units")
        all_patterns, all_values = [], []
        for patterns, values in self.pattern_values():
            all_patterns.append(patterns)
            all_values.append(values)
        patterns = np.vstack(all_patterns)
        values = np.concatenate(all_values)
        for index in np.argsort(-values.astype(np.float64), kind="stable"):
            if self.realize(patterns[index]) is not None:
                return self.value(patterns[index]), patterns[index]
        raise AssertionError("no realizable pattern")  # unreachable: some pattern is realized at any x

    # ------------------------------------------------------------ JSON
    def to_dict(self) -> dict:
        return {"type": self.kind, "version": SCHEMA_VERSION, "M1": self.M1.tolist(), "M2": self.M2.tolist(),
                "ell_squared": None if self.ell_squared is None else encode_number(self.ell_squared)}

    @classmethod
    def from_dict(cls, data: Any) -> "LipCst":
        """Read ``{"M1", "M2"}`` with an optional threshold ``"ell_squared"`` or ``"ell"`` (not both)."""
        _check_header(data, "lipcst", {"M1", "M2", "ell", "ell_squared"})
        M1 = _required(data, "M1", "an (l, n) matrix")
        M2 = _required(data, "M2", "an (m, l) matrix")
        ell, ell_squared = data.get("ell"), data.get("ell_squared")
        require(ell is None or ell_squared is None, "ell", "either ell or ell_squared, not both")
        if ell is not None:
            return cls.with_ell(M1, M2, ell)
        return cls(M1, M2, ell_squared)

    def __repr__(self) -> str:
        return (f"LipCst(n={self.n_inputs}, l={self.n_hidden}, m={self.n_outputs}, "
                f"ell_squared={self.ell_squared!r})")


#: Every problem type by its JSON ``"type"``.
PROBLEM_TYPES = {cls.kind: cls for cls in (MaxCut, QUBO, ConvexQuadratic01, ConvexQuadraticPM1, LipCst)}
