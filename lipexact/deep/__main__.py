"""``python -m lipexact.deep net.json``: the exact Lipschitz constant of a small deep ReLU network.

The input is a JSON document of type ``relu_network`` (the format of ``../shared/networks``) or
``two_layer_relu``. The result (status, value, proven bracket, witness and concatenated pattern) is printed;
``-o`` also writes it as JSON. Exit codes: 0 finished (optimal or stopped at a limit), 1 the solver failed
(status ``error``), 2 bad input (checked before solving, the ``-o`` folder included), 74 an output could not be
written, 130 interrupted, 141 stdout closed early.
"""

from __future__ import annotations

import argparse
import sys
from typing import Sequence

import numpy as np

from lipexact.cli import EXIT_INTERRUPTED, EXIT_OK, run_cli
from lipexact.deep.network import ReLUNetwork
from lipexact.deep.solve import DEEP_METHODS, lipschitz_deep
from lipexact.domain import Box
from lipexact.io import check_output, read_json, save
from lipexact.network import TwoLayerReLU
from lipexact.norms import NORMS
from lipexact.result import Status
from lipexact.solve import describe
from reductions.validation import InvalidInputError, require

__all__ = ["main", "build_parser"]

PROG = "python -m lipexact.deep"
EXIT_SOLVER_ERROR = 1


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG, description="Compute the exact Lipschitz constant of a small deep ReLU network "
                               "f = L_k o relu o ... o relu o L_1, with a re-checked witness.")
    parser.add_argument("network", help='JSON file: {"type": "relu_network", "version": 1, "layers": '
                                        '[{"weight": out x in, "bias": out}, ...]} (or a two_layer_relu)')
    parser.add_argument("--method", default="enumerate", choices=list(DEEP_METHODS))
    parser.add_argument("--norm", default="2", choices=list(NORMS), help="2, 1 or inf (default: 2)")
    parser.add_argument("--box", nargs=2, type=float, default=None, metavar=("LOW", "HIGH"),
                        help="local constant on the box [LOW, HIGH]^n instead of the global constant")
    parser.add_argument("--time-limit", type=float, default=None, metavar="S",
                        help="stop after S seconds and report the proven bracket")
    parser.add_argument("--node-limit", type=int, default=None, metavar="N", help="stop after N nodes")
    parser.add_argument("--progress", action="store_true", help="print progress lines to stderr")
    parser.add_argument("-o", "--output", default=None, metavar="OUT.json", help="also write the result as JSON")
    return parser


def _main(argv: Sequence[str] | None) -> int:
    args = build_parser().parse_args(argv)
    document = read_json(args.network)
    require(isinstance(document, dict), "(top level)", "a JSON object", type(document).__name__)
    kind = document.get("type")
    require(kind in ("relu_network", "two_layer_relu"), "type", '"relu_network" or "two_layer_relu"', repr(kind))
    net = ReLUNetwork.from_dict(document) if kind == "relu_network" else \
        ReLUNetwork.from_two_layer(TwoLayerReLU.from_dict(document))
    domain = None
    if args.box is not None:
        low, high = args.box
        domain = Box(np.full(net.n_inputs, low), np.full(net.n_inputs, high))
    if args.time_limit is not None and not args.time_limit > 0:
        raise InvalidInputError("--time-limit", "a number of seconds > 0", repr(args.time_limit))
    if args.output is not None:
        check_output(args.output, "-o/--output")
    result = lipschitz_deep(net, method=args.method, norm=args.norm, domain=domain, time_limit=args.time_limit,
                            node_limit=args.node_limit, progress=args.progress)
    print(describe(result, args.output))
    if args.output is not None:
        save(result, args.output)
    if result.status is Status.ERROR:
        return EXIT_SOLVER_ERROR
    return EXIT_INTERRUPTED if result.status is Status.INTERRUPTED else EXIT_OK


def main(argv: Sequence[str] | None = None) -> int:
    return run_cli(PROG, _main, argv)


if __name__ == "__main__":
    sys.exit(main())
