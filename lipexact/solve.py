"""``python -m lipexact.solve net.json``: the exact Lipschitz constant of a ReLU network of any depth.

The input is a JSON document of type ``two_layer_relu``, ``relu_network`` (the format of
``../shared/networks``: ``layers`` of ``{"weight": out x in, "bias"}``) or ``lipcst`` (as written by
``python -m lipexact.reduce``), or a saved ``torch.nn.Sequential`` of ``Linear`` and ``ReLU`` (TorchScript or
``torch.save``; a pickle is loaded with ``weights_only=False``: load only files you trust). The result (status,
value, proven bracket, a summary of the witness input and pattern) is printed; ``-o`` also writes it as JSON, with
the full witness and pattern. With ``--progress`` the search's progress and the solver's own log go to stderr, so
stdout holds only the result. ``--box LOW HIGH`` asks for the local constant on ``[LOW, HIGH]^n``, ``--box-file
BOX.json`` on a box given per coordinate (:func:`read_box`). Exit codes: 0 finished (optimal or stopped at a limit),
1 the solver failed, 2 bad input (checked before solving, the ``-o`` folder included), 74 an output could not be
written, 130 interrupted (the partial result is still printed and written), 141 stdout closed early.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any, Sequence

import numpy as np

from lipexact.cli import EXIT_INTERRUPTED, EXIT_OK, run_cli, stdout_to_stderr
from lipexact.domain import Box, as_box
from lipexact.deep.solve import DEEP_METHODS
from lipexact.entry import as_any_network, lipschitz
from lipexact.exact import METHODS
from lipexact.io import check_output, from_dict, read_json, save
from lipexact.models import load_model
from lipexact.network import TwoLayerReLU
from lipexact.norms import NORMS
from lipexact.result import LipschitzResult, Status
from reductions.validation import InvalidInputError, require

__all__ = ["main", "build_parser", "network_from_document", "read_network", "read_box", "describe"]

PROG = "lipexact-solve" if sys.argv and sys.argv[0].endswith("lipexact-solve") else "python -m lipexact.solve"
EXIT_SOLVER_ERROR = 1


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Compute the exact Lipschitz constant of a ReLU network f = L_k o relu o ... o relu o L_1 "
                    "(two layers: f(x) = W2 relu(W1 x + b1) + b2), with a certificate (a witness input whose "
                    "gradient norm is the value, its signs verified in exact arithmetic, re-checked by autograd).",
    )
    parser.add_argument("network", help='JSON file: {"type": "two_layer_relu", "W1": ..., "W2": ..., "b1": ..., '
                                        '"b2": ...}, {"type": "relu_network", "layers": [{"weight": ..., "bias": '
                                        '...}, ...]} or a "lipcst" document from python -m lipexact.reduce; or a '
                                        'saved torch.nn.Sequential of Linear and ReLU (.pt)')
    parser.add_argument("--method", default="auto", choices=list(dict.fromkeys(["auto", *METHODS, *DEEP_METHODS])),
                        help="exact method (default: auto, which picks by size and depth and says which); deeper "
                             f"networks take {', '.join(DEEP_METHODS)}")
    parser.add_argument("--norm", default="2", choices=list(NORMS),
                        help="input and output norm: 2 (spectral), 1 or inf (default: 2)")
    parser.add_argument("--time-limit", type=float, default=None, metavar="S",
                        help="stop after S seconds and report the proven bounds found so far")
    parser.add_argument("--node-limit", type=int, default=None, metavar="N",
                        help="stop after N search nodes (bnb, enumerate and deep networks) with the proven bounds")
    boxes = parser.add_mutually_exclusive_group()
    boxes.add_argument("--box", nargs=2, type=float, default=None, metavar=("LOW", "HIGH"),
                       help="local constant on the box [LOW, HIGH]^n instead of the global constant")
    boxes.add_argument("--box-file", default=None, metavar="BOX.json",
                       help='local constant on a box given per coordinate: a JSON object {"lower": [...], '
                            '"upper": [...]} with one entry per input (e.g. an eps-ball around a data point)')
    parser.add_argument("--seed", type=int, default=0, help="seed for randomized incumbent search (default: 0)")
    parser.add_argument("--progress", action="store_true",
                        help="print bound, incumbent, gap and nodes, and the MILP solver's log, to stderr")
    parser.add_argument("-o", "--output", default=None, metavar="OUT.json",
                        help="also write the result as JSON, with the full witness and pattern (the console "
                             "shows a summary)")
    return parser


def network_from_document(document: Any) -> Any:
    """The network a JSON document describes: ``two_layer_relu`` and ``relu_network`` (a
    :class:`TwoLayerReLU` for one hidden layer, a :class:`~lipexact.deep.network.ReLUNetwork` for more), and
    ``lipcst`` as ``M2 relu(M1 x)``."""
    require(isinstance(document, dict), "(top level)", "a JSON object", type(document).__name__)
    if isinstance(document.get("lipcst"), dict):  # a reduce output document holds the instance under "lipcst"
        document = document["lipcst"]
    kind = document.get("type")
    kinds = ("two_layer_relu", "relu_network", "lipcst")
    require(kind in kinds, "type", " or ".join(f'"{k}"' for k in kinds), repr(kind))
    obj = from_dict(document, kind)
    if kind == "lipcst":
        return TwoLayerReLU(obj.M1, obj.M2)
    return as_any_network(obj)


def read_network(path: str) -> Any:
    """The network in ``path``: a JSON document (:func:`network_from_document`) or a saved torch module."""
    if not path.endswith(".json"):
        try:
            return as_any_network(load_model(path))
        except InvalidInputError as error:
            if error.field != "model":
                raise
            # not a torch file: read it as JSON below (its errors name the JSON problem)
    return network_from_document(read_json(path))


def read_box(path: str, dimension: int) -> Box:
    """The box of ``--box-file``: a JSON object with ``lower`` and ``upper`` vectors of length ``dimension``
    (``"type": "box"`` optional, as :meth:`lipexact.domain.Box.to_dict` writes it). A bad file raises
    :class:`InvalidInputError` naming ``--box-file`` and the field.

    Examples
    --------
    >>> import json, tempfile, os
    >>> path = os.path.join(tempfile.mkdtemp(), "box.json")
    >>> _ = open(path, "w").write(json.dumps({"lower": [0, -1], "upper": [0.5, 1]}))
    >>> read_box(path, 2).upper.tolist()
    [0.5, 1.0]
    >>> read_box(path, 3)
    Traceback (most recent call last):
    ...
    reductions.validation.InvalidInputError: --box-file: expected a box of dimension 3 ..., got dimension 2
    """
    document = read_json(path)
    require(isinstance(document, dict), "--box-file", 'a JSON object {"lower": [...], "upper": [...]}',
            type(document).__name__)
    require(document.get("type", "box") == "box", "--box-file.type", '"box" (or no type)', repr(document.get("type")))
    try:
        return as_box(document, dimension)
    except InvalidInputError as error:
        # every field of a box's errors starts with "domain" ("domain", "domain.lower", ...)
        raise InvalidInputError("--box-file" + error.field.removeprefix("domain"), error.expected,
                                error.got) from None


#: Coordinates of the witness (and units of the pattern) printed in full; longer vectors are summarized.
SHOWN = 8


def _vector_line(x: np.ndarray, output: str | None) -> str:
    where = f"the full vector is in {output}" if output is not None else "-o writes the full vector"
    head = np.array2string(x[:SHOWN], precision=6, max_line_width=200, separator=", ")
    if x.size <= SHOWN:
        return f"witness x = {head}"
    return (f"witness x = {head[:-1]}, ...] ({x.size} coordinates, ||x||_2 = {np.linalg.norm(x):.6g}; "
            f"{where})")


def _pattern_line(pattern: np.ndarray, output: str | None) -> str:
    bits = "".join("1" if on else "0" for on in pattern)
    if pattern.size <= 8 * SHOWN:
        return f"pattern   = {bits}"
    where = f"the full pattern is in {output}" if output is not None else "-o writes the full pattern"
    return f"pattern   = {bits[:8 * SHOWN]}... ({int(pattern.sum())} of {pattern.size} units on; {where})"


def describe(result: LipschitzResult, output: str | None = None) -> str:
    """A few readable lines: status, value, bracket, a summary of the witness and pattern, statistics.

    Vectors longer than :data:`SHOWN` coordinates (patterns longer than ``8 * SHOWN`` units) are cut
    short with their length and norm; ``output`` names the file that holds them in full.

    Examples
    --------
    >>> result = LipschitzResult("optimal", 5.0, "brute", lower=5.0, upper=5.0, witness=np.arange(10.0),
    ...                          pattern=np.ones(3, dtype=bool))
    >>> print(describe(result, "out.json"))  # doctest: +ELLIPSIS
    brute: optimal value=5 in [5, 5]
    witness x = [0., 1., 2., 3., 4., 5., 6., 7., ...] (10 coordinates, ||x||_2 = 16.8819; the full vector is in out.json)
    pattern   = 111
    """
    lines = [str(result)]
    if result.witness is not None:
        lines.append(_vector_line(np.asarray(result.witness, dtype=np.float64).reshape(-1), output))
    if result.pattern is not None:
        lines.append(_pattern_line(np.asarray(result.pattern, dtype=bool).reshape(-1), output))
    if result.stats:
        lines.append("stats: " + ", ".join(f"{key}={value}" for key, value in sorted(result.stats.items())))
    return "\n".join(lines)


def _main(argv: Sequence[str] | None) -> int:
    args = build_parser().parse_args(argv)
    net = read_network(args.network)
    domain = None
    if args.box is not None:
        low, high = args.box
        domain = Box(np.full(net.n_inputs, low), np.full(net.n_inputs, high))
    if args.box_file is not None:
        domain = read_box(args.box_file, net.n_inputs)
    if args.time_limit is not None and not args.time_limit > 0:
        raise InvalidInputError("--time-limit", "a number of seconds > 0", repr(args.time_limit))
    if args.output is not None:
        check_output(args.output, "-o/--output")
    import torch  # noqa: F401 - the witness check needs it; imported here (after the input checks) its 1-2 s stay
    # out of the solve time the result reports
    with stdout_to_stderr(args.progress):  # solver logs (HiGHS prints from C++ to fd 1) go to stderr
        options = {} if args.node_limit is None else {"node_limit": args.node_limit}
        result = lipschitz(net, method=args.method, norm=args.norm, domain=domain, time_limit=args.time_limit,
                           seed=args.seed, progress=args.progress, **options)
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
