"""``python -m lipexact.reduce instance``: reduce Max-Cut / QUBO / convex quadratics to LIP-CST.

Reads an instance (JSON of type ``maxcut``, ``qubo``, ``convex_quadratic_01``, ``convex_quadratic_pm1``
or ``lipcst``; a Biq Mac graph ("rudy") file; a Biq Mac sparse QUBO file), reduces it to the Lipschitz
constant of a bias-free two-layer ReLU network ``f(x) = M2 relu(M1 x)`` and writes one JSON document of
type ``lipcst_reduction`` (the source, the LIP-CST instance, the exact value map and the inverse data
that maps solutions back) to ``-o`` (atomically) or stdout. The chain of reductions goes to stderr.

``--solve`` computes ``L(f)`` exactly with :func:`lipexact.lipschitz`, maps the witness back (witness
-> activation pattern -> source certificate, re-evaluated exactly on the source instance) and prints
the source optimum and its certificate (to stdout with ``-o``, else to stderr so stdout stays JSON).

The ``-o`` path is checked before any work, and an instance whose reduction surely cannot fit in the
memory available is refused before it is built. ``source_bound`` (the solver's upper bound on
``L(f)`` mapped back) is rounded outward, exactly: see :func:`source_bound`.

Exit codes: 0 done, 1 the solver failed, 2 bad input (one line naming the field; no output file),
74 an output could not be written, 130 interrupted, 141 stdout closed early.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from fractions import Fraction
from typing import Any, Sequence, TextIO

import numpy as np

from lipexact.cli import EXIT_INTERRUPTED, EXIT_OK, run_cli
from lipexact.io import check_output, from_dict, read_json, write_atomic
from reductions.base import Solution
from reductions.chain import ReducedInstance, reduce_to_lipcst
from reductions.formats import guess_format, read_text_instance
from reductions.instances import (
    QUBO,
    ConvexQuadratic01,
    ConvexQuadraticPM1,
    LipCst,
    MaxCut,
    decode_number,
    encode_number,
    exact_number,
    source_value,
)
from reductions.reduction_size import require_reduction_fits
from reductions.validation import InvalidInputError, require

__all__ = ["main", "build_parser", "read_instance", "describe_chain", "solve_reduced", "describe_solution",
           "witness_values", "source_bound", "dumps"]

PROG = "python -m lipexact.reduce"
EXIT_SOLVER_ERROR = 1
INSTANCE_TYPES = ("maxcut", "qubo", "convex_quadratic_01", "convex_quadratic_pm1", "lipcst")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser (``--help`` describes every option).

    Examples
    --------
    >>> args = build_parser().parse_args(["g.rudy", "--to", "pm1", "--solve"])
    >>> args.instance, args.to, args.solve, args.method
    ('g.rudy', 'pm1', True, 'auto')
    """
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Reduce a Max-Cut, QUBO or convex quadratic instance to LIP-CST (the Lipschitz constant of "
                    "a two-layer ReLU network f(x) = M2 relu(M1 x)), write the network with the data that maps "
                    "solutions back, and optionally solve it exactly and map the answer back.",
        epilog="Value map: source value = (L(f)^2 - offset) / scale, exact (written as 'value_map'). "
               "Exit codes: 0 done, 1 solver failure, 2 bad input, 74 output not written, 130 interrupted, "
               "141 stdout closed early.",
    )
    parser.add_argument("instance",
                        help="instance file: JSON (type maxcut, qubo, convex_quadratic_01, convex_quadratic_pm1 "
                             "or lipcst), a Biq Mac graph ('rudy': 'n m' then 'i j w', 1-based) or a Biq Mac "
                             "sparse QUBO ('n m' then 'i j q', i <= j, minimized)")
    parser.add_argument("-o", "--output", default=None, metavar="OUT.json",
                        help="write the lipcst_reduction JSON document here (atomically); default: stdout")
    parser.add_argument("--to", default="auto", choices=["auto", "pm1", "01"],
                        help="route through convex quadratic maximization on {-1,1}^n ('pm1': any weights, "
                             "2n hidden units) or on {0,1}^n ('01': non-negative weights only, n hidden units); "
                             "auto picks 01 when it applies (default: auto)")
    parser.add_argument("--format", default=None, choices=["json", "rudy", "qubo"],
                        help="input format; default: by extension (.json, .rudy/.graph, .sparse/.qubo), "
                             "else JSON when the file starts with '{' and a rudy graph otherwise")
    parser.add_argument("--threshold", default=None, metavar="K",
                        help="decision version: 'is the optimum at least as good as K' (max >= K, or min <= K "
                             "for QUBO) becomes 'L(f) >= ell' with ell^2 stored exactly (K may be p/q)")
    parser.add_argument("--solve", action="store_true",
                        help="solve the reduced network exactly (lipexact.lipschitz) and print the source "
                             "optimum and certificate mapped back from the witness")
    parser.add_argument("--method", default="auto",
                        help="exact method for --solve: auto, brute, enumerate, bnb or milp (default: auto)")
    parser.add_argument("--time-limit", type=float, default=None, metavar="S",
                        help="seconds for --solve; a stopped search reports its best certified solution")
    parser.add_argument("--seed", type=int, default=0, help="seed for --solve (default: 0)")
    return parser


def read_instance(path: str, fmt: str | None = None) -> Any:
    """Read any supported instance from a JSON, rudy or sparse QUBO file (``fmt`` None: guess).

    Examples
    --------
    >>> read_instance("missing.rudy")
    Traceback (most recent call last):
    ...
    reductions.validation.InvalidInputError: missing.rudy: expected an existing file, got no such file
    """
    fmt = fmt or guess_format(path)
    if fmt == "json":
        document = read_json(path)
        require(isinstance(document, dict), "(top level)", "a JSON object", type(document).__name__)
        require(document.get("type") in INSTANCE_TYPES, "type", f"one of {list(INSTANCE_TYPES)}",
                repr(document.get("type")))
        return from_dict(document, INSTANCE_TYPES)
    return read_text_instance(path, fmt)


def _size(problem: Any) -> str:
    if isinstance(problem, LipCst):
        return f"lipcst (n={problem.n_inputs} inputs, l={problem.n_hidden} hidden units, m={problem.n_outputs})"
    if isinstance(problem, MaxCut):
        return f"maxcut (n={problem.n} nodes, {len(problem.edges)} edges)"
    return f"{problem.kind} (n={problem.n})"


def describe_chain(reduced: ReducedInstance) -> str:
    """``source -> reduction -> problem -> ... -> lipcst`` with sizes, and the value map.

    Examples
    --------
    >>> print(describe_chain(reduce_to_lipcst(MaxCut.from_edges(3, [(0, 1), (1, 2, -1)]))))
    chain: maxcut (n=3 nodes, 2 edges) --[maxcut_to_pm1]--> convex_quadratic_pm1 (n=3)
      --[pm1_to_lipcst]--> lipcst (n=4 inputs, l=6 hidden units, m=1)
    value map: source value = (L(f)^2 - 6) / 4
    """
    parts = [_size(reduced.source)]
    for reduction, step, following in zip(reduced.chain.reductions, reduced.inverse.steps,
                                          [s.source for s in reduced.inverse.steps[1:]] + [reduced.lipcst]):
        parts.append(f"--[{reduction.name}]--> {_size(following)}")
    offset, scale = reduced.value_map
    lines = ["chain: " + " ".join(parts) if reduced.chain.reductions else "chain: identity (already lipcst)",
             f"value map: source value = (L(f)^2 - {encode_number(offset)}) / {encode_number(scale)}"]
    if reduced.lipcst.ell_squared is not None:
        lines.append(f"decision: L(f)^2 >= {encode_number(reduced.lipcst.ell_squared)}")
    return "\n".join(lines)


def solve_reduced(reduced: ReducedInstance, method: str = "auto", time_limit: float | None = None,
                  seed: int = 0) -> tuple[Any, Solution | None]:
    """Solve the LIP-CST network exactly and map the witness back to a source solution.

    Returns the :class:`~lipexact.result.LipschitzResult` and the source :class:`Solution` (None when
    the solver found no witness). The source solution is re-evaluated exactly on the source instance.

    Examples
    --------
    >>> reduced = reduce_to_lipcst(QUBO([[-3, 2], [2, -1]]))
    >>> result, best = solve_reduced(reduced, method="brute")
    >>> result.status.value, round(result.value ** 2), best.value, best.certificate.tolist()
    ('optimal', 18, -3, [1, 0])
    """
    from lipexact.exact import lipschitz
    from lipexact.network import TwoLayerReLU

    lipcst = reduced.lipcst
    result = lipschitz(TwoLayerReLU(lipcst.M1, lipcst.M2), method=method, time_limit=time_limit, seed=seed)
    if result.witness is not None:
        lipcst_solution = Solution.at_witness(lipcst, np.asarray(result.witness))
    elif result.pattern is not None:
        lipcst_solution = Solution.of(lipcst, np.asarray(result.pattern, dtype=bool).reshape(-1))
    else:
        return result, None
    return result, reduced.map_back(lipcst_solution)


def _bits(vector: np.ndarray) -> str:
    return "".join("1" if v > 0 else "0" for v in np.asarray(vector).reshape(-1))


def witness_values(reduced: ReducedInstance, result: Any) -> tuple[Any, Any] | None:
    """``(||grad f(witness)||^2, its image under the value map)``, exact for integer networks.

    Examples
    --------
    >>> reduced = reduce_to_lipcst(MaxCut.from_edges(3, [(0, 1), (1, 2)]))
    >>> result, cut = solve_reduced(reduced, method="brute")
    >>> witness_values(reduced, result), cut.value
    ((2, 2), 2)
    >>> print(describe_solution(reduced, result, cut))  # doctest: +ELLIPSIS
    status: optimal (brute...)
    L(f) = 1.41421356237, L(f)^2 = 2
    maximum cut value: 2
    cut (side of node 0..2): 010
    S = [1] (0-based nodes)
    check: ||grad f(witness)||^2 = 2 maps to 2, which agrees with the value re-evaluated on the source
    """
    if result.witness is None:
        return None
    lipcst_value = reduced.lipcst.value_at(np.asarray(result.witness))
    return lipcst_value, source_value(lipcst_value, *reduced.value_map)


#: Relative widening of the solver's float upper bound on ``L(f)`` before it is squared. The bound is a
#: float that went through a square root (correctly rounded: within 2**-53 relative, on either side of
#: the true value) and a few float operations; 2**-46 covers 64 such roundings.
UPPER_MARGIN = Fraction(1, 2**46)


def _outward_float(value: Fraction, up: bool) -> float:
    """The float next to ``value`` on its outer side: ``>= value`` when ``up``, else ``<= value``.

    Examples
    --------
    >>> _outward_float(Fraction(1, 3), up=True) > 1 / 3, _outward_float(Fraction(1, 3), up=False) == 1 / 3
    (True, True)
    """
    result = float(value)
    if up and Fraction(result) < value:
        result = math.nextafter(result, math.inf)
    elif not up and Fraction(result) > value:
        result = math.nextafter(result, -math.inf)
    return result


def source_bound(reduced: ReducedInstance, result: Any) -> int | Fraction | float | None:
    """The solver's proven upper bound on ``L(f)`` as a bound on the source optimum, rounded outward.

    An upper bound on the maximum for Max-Cut and the convex quadratics, a lower bound on the minimum
    for QUBO (negative scale); None when the solver proved no finite upper bound. The float bound is
    widened by :data:`UPPER_MARGIN` and squared exactly (``Fraction``); for an integer network with one
    output ``L(f)^2`` is an integer, so the square is rounded down to one; the value map is applied
    exactly; a Max-Cut or QUBO with integer data has integer values, so the result is rounded outward
    to an integer (floor for a maximum, ceil for a minimum). Float data give a float rounded outward.

    Examples
    --------
    >>> import math
    >>> from lipexact.result import LipschitzResult
    >>> reduced = reduce_to_lipcst(QUBO([[-3, 2], [2, -1]]))
    >>> source_bound(reduced, LipschitzResult("time_limit", 4.0, "bnb", lower=4.0, upper=5.0))
    -4
    >>> one_edge = reduce_to_lipcst(MaxCut.from_edges(2, [(0, 1, 3)]))   # maximum cut 3 = L(f)^2
    >>> math.sqrt(3) ** 2 < 3                                           # the float sqrt of 3 is below it
    True
    >>> source_bound(one_edge, LipschitzResult("optimal", math.sqrt(3), "milp", lower=math.sqrt(3),
    ...                                        upper=math.sqrt(3)))
    3
    """
    if result.upper is None or not math.isfinite(result.upper):
        return None
    squared = (Fraction(result.upper) * (1 + UPPER_MARGIN)) ** 2  # exact from here on
    lipcst = reduced.lipcst
    if lipcst.is_integer and lipcst.n_outputs == 1:
        squared = Fraction(math.floor(squared))  # L(f)^2 is an integer
    offset, scale = reduced.value_map
    bound = (squared - Fraction(offset)) / Fraction(scale)  # a float offset or scale is converted exactly
    maximum = scale > 0
    source = reduced.source
    if isinstance(source, (MaxCut, QUBO)) and source.is_integer:
        return math.floor(bound) if maximum else math.ceil(bound)
    if not lipcst.is_integer or isinstance(offset, float) or isinstance(scale, float):
        return _outward_float(bound, up=maximum)
    return exact_number(bound)


def _number_text(value: Any) -> str:
    """An exact number for the console: ints as they are, fractions as ``p/q``, floats to 12 digits."""
    return f"{value:.12g}" if isinstance(value, float) else str(encode_number(value))


def describe_solution(reduced: ReducedInstance, result: Any, solution: Solution | None) -> str:
    """Status, L, L^2, the source optimum with its certificate, and the value-map cross-check."""
    lines = [f"status: {result.status.value} ({result.method}{': ' + result.message if result.message else ''})"]
    if result.value is not None:
        lines.append(f"L(f) = {result.value:.12g}, L(f)^2 = {result.value ** 2:.12g}")
    bound = source_bound(reduced, result)
    if bound is not None and result.status.value != "optimal":
        side = "<=" if reduced.value_map[1] > 0 else ">="
        lines.append(f"proven bound from L(f) <= {result.upper:.12g}: optimum {side} {_number_text(bound)}")
    if solution is None:
        lines.append("no witness found: nothing to map back")
        return "\n".join(lines)
    source = reduced.source
    value = encode_number(solution.value)
    if isinstance(source, MaxCut):
        label = "maximum cut value" if result.status.value == "optimal" else "cut value"
        lines.append(f"{label}: {value}")
        lines.append(f"cut (side of node 0..{source.n - 1}): {_bits(solution.certificate)}")
        lines.append(f"S = {[int(i) for i in np.flatnonzero(solution.certificate)]} (0-based nodes)")
    elif isinstance(source, QUBO):
        label = "minimum QUBO value" if result.status.value == "optimal" else "QUBO value"
        lines.append(f"{label}: {value}")
        lines.append(f"x = {_bits(solution.certificate)}")
    elif isinstance(source, (ConvexQuadratic01, ConvexQuadraticPM1)):
        lines.append(f"maximum of s^T H s: {value}" if result.status.value == "optimal" else f"s^T H s: {value}")
        lines.append(f"s = {np.asarray(solution.certificate).tolist()}")
    else:
        lines.append(f"L(f)^2 at the witness pattern: {value}")
        lines.append(f"pattern = {_bits(solution.certificate)}")
    values = witness_values(reduced, result)
    ell_squared = reduced.lipcst.ell_squared
    if ell_squared is not None and values is not None:
        if values[0] >= ell_squared:
            lines.append(f"decision: yes, L(f)^2 >= {encode_number(ell_squared)} (the witness proves it)")
        elif result.status.value == "optimal":
            lines.append(f"decision: no, L(f)^2 = {encode_number(values[0])} < {encode_number(ell_squared)}")
    if values is not None:
        agrees = "agrees with" if values[1] == solution.value else "DIFFERS from"
        lines.append(f"check: ||grad f(witness)||^2 = {encode_number(values[0])} maps to "
                     f"{encode_number(values[1])}, which {agrees} the value re-evaluated on the source")
    return "\n".join(lines)


def dumps(document: Any, indent: int = 1, level: int = 0) -> str:
    """JSON with one line per vector (matrices row by row) instead of one line per number.

    Examples
    --------
    >>> print(dumps({"M": [[1, 2], [3, 4]], "name": "x"}))
    {
     "M": [
      [1, 2],
      [3, 4]
     ],
     "name": "x"
    }
    """
    pad, inner = " " * (indent * level), " " * (indent * (level + 1))
    if isinstance(document, dict) and document:
        items = [f"{inner}{json.dumps(str(k))}: {dumps(v, indent, level + 1)}" for k, v in document.items()]
        return "{\n" + ",\n".join(items) + f"\n{pad}}}"
    if isinstance(document, list) and document and any(isinstance(v, (list, dict)) for v in document):
        items = [f"{inner}{dumps(v, indent, level + 1)}" for v in document]
        return "[\n" + ",\n".join(items) + f"\n{pad}]"
    return json.dumps(document, separators=(", ", ": "), allow_nan=False)


def _threshold(text: str | None) -> Any:
    if text is None:
        return None
    return decode_number(text, "--threshold")


def _main(argv: Sequence[str] | None) -> int:
    args = build_parser().parse_args(argv)
    if args.time_limit is not None and not args.time_limit > 0:
        raise InvalidInputError("--time-limit", "a number of seconds > 0", repr(args.time_limit))
    if args.output is not None:
        check_output(args.output, "-o/--output")
    if args.solve:
        from lipexact.exact import METHODS

        require(args.method in ("auto", *METHODS), "--method", f"one of {['auto', *METHODS]}", repr(args.method))
    instance = read_instance(args.instance, args.format)
    via = None if args.to == "auto" else args.to
    try:
        require_reduction_fits(instance, via, args.instance)
        reduced = reduce_to_lipcst(instance, via=via, threshold=_threshold(args.threshold))
    except InvalidInputError as error:
        if error.field == "via":
            raise InvalidInputError("--to", error.expected, error.got) from None
        raise
    print(describe_chain(reduced), file=sys.stderr)

    document = reduced.to_dict()
    status = EXIT_OK
    if args.solve:
        result, solution = solve_reduced(reduced, args.method, args.time_limit, args.seed)
        summary: TextIO = sys.stdout if args.output is not None else sys.stderr
        print(describe_solution(reduced, result, solution), file=summary)
        document["solution"] = {
            "lipschitz_result": result.to_dict(),
            "source_solution": None if solution is None else solution.to_dict(),
        }
        bound = source_bound(reduced, result)
        document["solution"]["source_bound"] = None if bound is None else encode_number(bound)
        values = witness_values(reduced, result)
        if values is not None:
            document["solution"]["witness_value"] = encode_number(values[0])
            document["solution"]["mapped_value"] = encode_number(values[1])
        if result.status.value == "error":
            status = EXIT_SOLVER_ERROR
        elif result.status.value == "interrupted":
            status = EXIT_INTERRUPTED
    text = dumps(document) + "\n"
    if args.output is None:
        sys.stdout.write(text)
    else:
        write_atomic(args.output, text)
    return status


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI (``argv`` None: ``sys.argv``); returns the exit code.

    Examples
    --------
    >>> import contextlib, io, tempfile
    >>> from pathlib import Path
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     source, out = Path(folder) / "k3.rudy", Path(folder) / "out.json"
    ...     _ = source.write_text("3 3\\n1 2 1\\n2 3 1\\n1 3 1\\n")
    ...     with contextlib.redirect_stderr(io.StringIO()):
    ...         code = main([str(source), "-o", str(out), "--solve", "--method", "brute"])
    ...     code, json.loads(out.read_text())["solution"]["source_solution"]["value"]
    status: optimal (brute...)
    ...
    maximum cut value: 2
    ...
    (0, 2)
    """
    return run_cli(PROG, _main, argv)


if __name__ == "__main__":
    sys.exit(main())
