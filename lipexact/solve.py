"""``python -m lipexact.solve net.json``: the exact Lipschitz constant of a two-layer ReLU network.

The input is a JSON document of type ``two_layer_relu`` (or ``lipcst``, as written by
``python -m lipexact.reduce``). The result (status, value, proven bracket, witness input and pattern) is
printed; ``-o`` also writes it as JSON. Exit codes: 0 finished (optimal or stopped at a limit), 1 the
solver failed, 2 bad input, 130 interrupted (the partial result is still printed and written).
"""

from __future__ import annotations

import argparse
import sys
from typing import Any, Sequence

import numpy as np

from lipexact.cli import EXIT_INTERRUPTED, EXIT_OK, run_cli
from lipexact.domain import Box
from lipexact.exact import METHODS, lipschitz
from lipexact.io import from_dict, read_json, save
from lipexact.network import TwoLayerReLU
from lipexact.norms import NORMS
from lipexact.result import LipschitzResult, Status
from reductions.validation import InvalidInputError, require

__all__ = ["main", "build_parser", "network_from_document", "describe"]

PROG = "python -m lipexact.solve"
EXIT_SOLVER_ERROR = 1


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Compute the exact Lipschitz constant of a two-layer ReLU network f(x) = W2 relu(W1 x + b1) + b2, "
                    "with a certificate (a witness input whose gradient norm is the value, re-checked by autograd).",
    )
    parser.add_argument("network", help='JSON file: {"type": "two_layer_relu", "W1": ..., "W2": ..., "b1": ..., '
                                        '"b2": ...} or a "lipcst" document from python -m lipexact.reduce')
    parser.add_argument("--method", default="auto", choices=["auto", *METHODS],
                        help="exact method (default: auto, which picks by size and says which)")
    parser.add_argument("--norm", default="2", choices=list(NORMS),
                        help="input and output norm: 2 (spectral), 1 or inf (default: 2)")
    parser.add_argument("--time-limit", type=float, default=None, metavar="S",
                        help="stop after S seconds and report the proven bounds found so far")
    parser.add_argument("--box", nargs=2, type=float, default=None, metavar=("LOW", "HIGH"),
                        help="local constant on the box [LOW, HIGH]^n instead of the global constant")
    parser.add_argument("--seed", type=int, default=0, help="seed for randomized incumbent search (default: 0)")
    parser.add_argument("--progress", action="store_true", help="print bound, incumbent, gap and nodes to stderr")
    parser.add_argument("-o", "--output", default=None, metavar="OUT.json", help="also write the result as JSON")
    return parser


def network_from_document(document: Any) -> TwoLayerReLU:
    """The network a JSON document describes (``two_layer_relu`` directly, ``lipcst`` as ``M2 relu(M1 x)``)."""
    require(isinstance(document, dict), "(top level)", "a JSON object", type(document).__name__)
    if isinstance(document.get("lipcst"), dict):  # a reduce output document holds the instance under "lipcst"
        document = document["lipcst"]
    kind = document.get("type")
    require(kind in ("two_layer_relu", "lipcst"), "type", '"two_layer_relu" or "lipcst"', repr(kind))
    obj = from_dict(document, kind)
    return obj if isinstance(obj, TwoLayerReLU) else TwoLayerReLU(obj.M1, obj.M2)


def describe(result: LipschitzResult) -> str:
    """A few readable lines: status, value, bracket, witness and statistics."""
    lines = [str(result)]
    if result.witness is not None:
        lines.append(f"witness x = {np.array2string(result.witness, precision=6, max_line_width=100)}")
        lines.append(f"pattern   = {''.join('1' if on else '0' for on in result.pattern)}")
    if result.stats:
        lines.append("stats: " + ", ".join(f"{key}={value}" for key, value in sorted(result.stats.items())))
    return "\n".join(lines)


def _main(argv: Sequence[str] | None) -> int:
    args = build_parser().parse_args(argv)
    net = network_from_document(read_json(args.network))
    domain = None
    if args.box is not None:
        low, high = args.box
        domain = Box(np.full(net.n_inputs, low), np.full(net.n_inputs, high))
    if args.time_limit is not None and not args.time_limit > 0:
        raise InvalidInputError("--time-limit", "a number of seconds > 0", repr(args.time_limit))
    result = lipschitz(net, method=args.method, norm=args.norm, domain=domain, time_limit=args.time_limit,
                       seed=args.seed, progress=args.progress)
    print(describe(result))
    if args.output is not None:
        save(result, args.output)
    if result.status is Status.ERROR:
        return EXIT_SOLVER_ERROR
    return EXIT_INTERRUPTED if result.status is Status.INTERRUPTED else EXIT_OK


def main(argv: Sequence[str] | None = None) -> int:
    return run_cli(PROG, _main, argv)


if __name__ == "__main__":
    sys.exit(main())
