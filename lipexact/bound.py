"""``python -m lipexact.bound model.pt``: upper and lower bounds on a PyTorch model's Lipschitz constant.

The model is a TorchScript file (``torch.jit.save``), a pickled module (``torch.save(model)``; loading
it executes pickled code, so only load files you trust), a ``state_dict`` file with ``--arch module:Class``
(the class is imported, from ``--pythonpath DIR`` if given, built without arguments, and the weights are
read without executing pickled code), an ONNX file (the optional ``onnx`` extra) or a ``two_layer_relu``
JSON document. Each method of ``--methods`` runs in turn (upper: autolip, frobenius, power, seqlip,
seqlip_greedy, seqlip_cnn, and whatever else is registered; lower: data, gradient, annealing, grid); a
table of method, kind (upper / lower / heuristic / n/a), value and time is printed, and ``--json`` writes
every result as JSON (atomically).

Every method's inputs are validated before any method runs. A malformed request (an unknown method, an
unreadable file, a shape the model does not accept, a bad option) stops at once with exit code 2 and
nothing runs. A method that does not apply to this model (SeqLip on a residual network, the power method
on a network with activations, a grid search in many dimensions) gets a ``not_applicable`` row with the
reason, and the other methods run. Once they have run, results are never thrown away. Exit codes: 0 every
method finished or did not apply (and at least one finished), 1 a method failed (its row says why; the
others are reported) or no method applied, 2 bad input (one line on stderr, no output file; a model with a
NaN or infinite weight, or a ``--json`` path in a missing or read-only folder, is bad input), 74 an output
could not be written, 130 interrupted, 141 stdout closed early.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
from typing import Any, Sequence

from lipexact.cli import EXIT_OK, run_cli
from lipexact.models import check_finite, existing_file, load_model
from lipexact.result import LipschitzResult, Status
from reductions.validation import InvalidInputError, as_array, require

__all__ = ["main", "build_parser", "load_model", "check_finite", "load_data", "parse_shape", "parse_threads",
           "format_table"]

PROG = "python -m lipexact.bound"
EXIT_METHOD_FAILED = 1
SCHEMA_VERSION = 1

_KINDS = {Status.UPPER_BOUND: "upper", Status.LOWER_BOUND: "lower", Status.HEURISTIC: "heuristic",
          Status.OPTIMAL: "exact", Status.NOT_APPLICABLE: "n/a"}


def build_parser() -> argparse.ArgumentParser:
    from lipexact.bounds import LOWER_METHODS, UPPER_METHODS

    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Bound the l2 Lipschitz constant of a PyTorch model from above (AutoLip, Frobenius, SeqLip, "
                    "certified LipSDP-class SDP bounds, power method for affine models) and from below (data, gradient ascent, simulated annealing, "
                    "grid search), side by side.",
        epilog="WARNING: a pickled model (torch.save(model)) is loaded with torch.load(weights_only=False), which "
               "executes the code stored in the file. Only load files you trust.",
    )
    parser.add_argument("model", help="TorchScript file (torch.jit.save), pickled nn.Module (torch.save(model); "
                                      "executes pickled code: trusted files only), a state_dict file with --arch, "
                                      "an .onnx file (optional extra: pip install lipexact[onnx]) or a "
                                      "two_layer_relu JSON file")
    parser.add_argument("--arch", default=None, metavar="MODULE:CLASS",
                        help="read MODEL as a state_dict (torch.save(model.state_dict()); no pickled code runs) "
                             "for the model built by MODULE:CLASS (a class or function called without arguments)")
    parser.add_argument("--pythonpath", default=None, metavar="DIR",
                        help="folder to import the --arch module from (default: the current import path)")
    parser.add_argument("--input-shape", default=None, metavar="C,H,W",
                        help="shape of one input without the batch dimension, e.g. 1,28,28 (inferred for MLPs and "
                             "from --data when omitted)")
    parser.add_argument("--methods", default="autolip", metavar="M1,M2",
                        help=f"comma-separated methods; upper: {', '.join(UPPER_METHODS)}; lower: "
                             f"{', '.join(LOWER_METHODS)} (default: autolip)")
    parser.add_argument("--data", default=None, metavar="FILE",
                        help="inputs for the lower bounds, shape (k, *input shape): a .npy file or a .pt tensor "
                             "(required by method data)")
    parser.add_argument("--device", default=None, help="cpu, cuda or cuda:N (default: cuda when available)")
    parser.add_argument("--dtype", default="float64", choices=["float64", "float32"],
                        help="computation precision (default: float64)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the randomized methods (default: 0)")
    parser.add_argument("--threads", default=None, metavar="N",
                        help="CPU threads for torch, BLAS and OpenMP (default: auto, i.e. LIPEXACT_THREADS when set, "
                             "else one thread for models of small layers and the idle cores for large "
                             "convolutions; oversubscribed cores make many small operations many times slower)")
    parser.add_argument("--json", default=None, metavar="OUT.json", help="also write every result as JSON")
    return parser


def parse_shape(text: str | None) -> tuple[int, ...] | None:
    """``"1,28,28"`` -> ``(1, 28, 28)``; None stays None.

    Examples
    --------
    >>> parse_shape("1, 28,28")
    (1, 28, 28)
    >>> parse_shape("1,x")
    Traceback (most recent call last):
    ...
    reductions.validation.InvalidInputError: --input-shape: expected comma-separated positive integers, e.g. 1,28,28, got '1,x'
    """
    if text is None:
        return None
    parts = [p.strip() for p in text.split(",")]
    ok = bool(parts) and all(p.isdigit() and int(p) > 0 for p in parts)
    require(ok, "--input-shape", "comma-separated positive integers, e.g. 1,28,28", repr(text))
    return tuple(int(p) for p in parts)


def load_data(path: str | None) -> Any:
    """Inputs from a ``.npy`` file (no pickles) or a ``.pt`` tensor, as a float64 numpy array (or None)."""
    if path is None:
        return None
    import numpy as np
    import torch

    file = existing_file(path, "--data")
    try:
        if file.suffix == ".npy":
            data = np.load(file, allow_pickle=False)
        elif file.suffix == ".pt":
            data = torch.load(str(file), map_location="cpu", weights_only=True)
        else:
            raise InvalidInputError("--data", "a .npy or .pt file", repr(file.name))
    except InvalidInputError:
        raise
    except Exception as error:
        reason = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise InvalidInputError("--data", "a readable .npy array or .pt tensor", f"{path} ({reason[:120]})") from None
    require(isinstance(data, (np.ndarray, torch.Tensor)), "--data", "an array or tensor of inputs",
            type(data).__name__)
    array = as_array(data, "--data", ndim=data.ndim, integer_ok=False)
    require(array.ndim >= 2, "--data", "a batch of inputs of shape (k, *input shape)", f"shape {array.shape}")
    return array


def _unscripted(model: Any, shape: tuple[int, ...] | None) -> Any:
    """A scripted ``nn.Sequential`` of standard layers as an ordinary module, so every method can read it."""
    import torch

    from lipexact.bounds.torchscript import unscript

    if isinstance(model, torch.jit.ScriptModule):
        try:
            return unscript(model, shape)
        except InvalidInputError:
            pass  # each method reports what it cannot read (autolip: TorchScript is not fx-traceable)
    return model


def parse_threads(text: str | None) -> int | None:
    """``--threads``: a positive integer, or None (absent or ``auto``: the rule of :mod:`lipexact.threads`).

    Without ``--threads``, ``LIPEXACT_THREADS`` is checked here too, so that a bad value fails before any work.

    Examples
    --------
    >>> parse_threads("3")
    3
    >>> parse_threads("auto") is None
    True
    >>> parse_threads("0")
    Traceback (most recent call last):
    ...
    reductions.validation.InvalidInputError: --threads: expected a positive integer or 'auto', got '0'
    """
    from lipexact.threads import ENV_VAR
    from lipexact.threads import parse_threads as parse

    if text is None:
        parse(os.environ.get(ENV_VAR), ENV_VAR)
    return parse(text, "--threads")


def _methods(text: str) -> list[tuple[str, str]]:
    from lipexact.bounds import LOWER_METHODS, UPPER_METHODS

    names = [name.strip() for name in text.split(",") if name.strip()]
    choices = [*UPPER_METHODS, *LOWER_METHODS]
    require(bool(names), "--methods", f"a comma-separated list among {', '.join(choices)}", repr(text))
    chosen = []
    for name in names:
        require(name in choices, "--methods", f"methods among {', '.join(choices)}", repr(name))
        chosen.append((name, "upper" if name in UPPER_METHODS else "lower"))
    return chosen


def _format_value(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:.6g}" if math.isfinite(value) else str(value)


def format_table(results: Sequence[LipschitzResult]) -> str:
    """A plain-text table: method, kind, status, value, time; then the certified bracket.

    Examples
    --------
    >>> rows = [LipschitzResult(Status.UPPER_BOUND, 2.5, "autolip", upper=2.5, timings={"total": 0.01}),
    ...         LipschitzResult(Status.LOWER_BOUND, 2.0, "data", lower=2.0, timings={"total": 0.2})]
    >>> print(format_table(rows))
    method   kind   status       value  time (s)
    autolip  upper  upper_bound  2.5    0.01
    data     lower  lower_bound  2      0.2
    certified: 2 <= L <= 2.5
    """
    header = ("method", "kind", "status", "value", "time (s)")
    rows = [(r.method, _KINDS.get(r.status, "error"), r.status.value, _format_value(r.value),
             f"{r.timings.get('total', float('nan')):.3g}") for r in results]
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
    lines = ["  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip() for row in [header, *rows]]
    lower, upper = _bracket(results)
    if lower is not None or upper is not None:
        lines.append(f"certified: {_format_value(lower)} <= L <= {_format_value(upper)}")
    for r in results:
        if r.status in (Status.HEURISTIC, Status.ERROR, Status.NOT_APPLICABLE) and r.message:
            lines.append(f"note ({r.method}): {r.message}")
    return "\n".join(lines)


def _bracket(results: Sequence[LipschitzResult]) -> tuple[float | None, float | None]:
    """The best proven bounds: every result's ``lower`` and ``upper`` are proven (LipschitzResult's contract)."""
    lowers = [r.lower for r in results if r.lower is not None]
    uppers = [r.upper for r in results if r.upper is not None]
    return (max(lowers) if lowers else None), (min(uppers) if uppers else None)


def _not_applicable(method: str, error: InvalidInputError, seconds: float = 0.0) -> LipschitzResult:
    return LipschitzResult(Status.NOT_APPLICABLE, None, method,
                           message=f"not applicable: {error.field}: expected {error.expected}"
                                   + (f", got {error.got}" if error.got is not None else ""),
                           timings={"total": seconds})


def _validate(method: str, kind: str, model: Any, shape: Any, data: Any, options: dict) -> LipschitzResult | None:
    """Every input error of ``method``, raised before any method runs (fields prefixed by the method);
    a "not applicable" row (without running anything) when the method does not apply to this model."""
    from lipexact.bounds import validate_request
    from lipexact.bounds.errors import NotApplicableError

    try:
        validate_request(method, model, kind=kind, data=data, input_shape=shape, **options)
    except NotApplicableError as error:
        return _not_applicable(method, error)
    except InvalidInputError as error:
        raise InvalidInputError(f"{method}: {error.field}", error.expected, error.got) from None
    return None


def _run(method: str, kind: str, model: Any, shape: Any, data: Any, options: dict) -> LipschitzResult:
    """One method's result; a failure on the (validated) input becomes an error row, never an abort."""
    import time

    from lipexact.bounds import lower_bound, upper_bound
    from lipexact.bounds.errors import NotApplicableError

    started = time.perf_counter()
    try:
        if kind == "upper":
            return upper_bound(model, method, input_shape=shape, **options)
        return lower_bound(model, method, data=data, input_shape=shape, **options)
    except KeyboardInterrupt:
        raise
    except NotApplicableError as error:  # found out only while running (a method without a validator)
        return _not_applicable(method, error, time.perf_counter() - started)
    except Exception as error:  # the inputs passed validation: report the failure and carry on
        reason = str(error).splitlines()[0] if str(error) else ""
        if isinstance(error, InvalidInputError):
            reason = f"{error.field}: expected {error.expected}, got {error.got}"
        return LipschitzResult(Status.ERROR, None, method, message=f"{type(error).__name__}: {reason}"[:300],
                               timings={"total": time.perf_counter() - started})


def _reported_shape(model: Any, shape: tuple[int, ...] | None) -> list[int] | None:
    """The input shape given, or the one read from the model (None when it cannot be read)."""
    if shape is not None:
        return list(shape)
    from lipexact.bounds.shapes import infer_input_shape

    try:
        return list(infer_input_shape(model))
    except InvalidInputError:
        return None


def _exit_code(results: Sequence[LipschitzResult]) -> int:
    """0 when no method failed and at least one finished; 1 otherwise (a failure, or nothing applied)."""
    if any(r.status is Status.ERROR for r in results) or not any(r.success for r in results):
        return EXIT_METHOD_FAILED
    return EXIT_OK


def _main(argv: Sequence[str] | None) -> int:
    args = build_parser().parse_args(argv)
    from lipexact.bounds.device import as_dtype, pick_device

    methods = _methods(args.methods)
    shape = parse_shape(args.input_shape)
    device = pick_device(args.device)
    dtype = as_dtype(args.dtype)
    threads = parse_threads(args.threads)
    require(args.seed >= 0, "--seed", "a non-negative integer", repr(args.seed))
    if args.json is not None:
        from lipexact.io import check_output

        check_output(args.json, "--json")
    data = load_data(args.data)
    if any(name == "data" for name, _ in methods):
        require(data is not None, "--data", "a .npy or .pt file of inputs (method data needs them)", "none given")
    if shape is None and data is not None:
        shape = tuple(data.shape[1:])
    if args.pythonpath is not None:
        require(args.arch is not None, "--pythonpath", "to come with --arch (the folder of the --arch module)",
                repr(args.pythonpath))
    model = _unscripted(load_model(args.model, arch=args.arch, pythonpath=args.pythonpath), shape)

    # each method runs inside lipexact.threads.thread_scope: --threads, else LIPEXACT_THREADS, else one thread for
    # small models and the idle cores for large convolutions; the count used is in each result's stats
    options = {"device": device, "dtype": dtype, "seed": args.seed, "threads": threads}
    # a bad request fails here, before any work is done; a method that does not apply gets its row now
    skipped = {name: _validate(name, kind, model, shape, data, options) for name, kind in methods}
    results = [skipped[name] or _run(name, kind, model, shape, data, options) for name, kind in methods]
    print(format_table(results))
    if args.json is not None:
        from lipexact.io import write_atomic

        lower, upper = _bracket(results)
        report = {"type": "bound_report", "version": SCHEMA_VERSION, "model": args.model,
                  "input_shape": _reported_shape(model, shape), "device": str(device),
                  "dtype": args.dtype, "seed": args.seed,
                  "threads": threads if threads is not None else "auto", "lower": lower, "upper": upper,
                  "results": [r.to_dict() for r in results]}
        write_atomic(args.json, json.dumps(report, indent=1) + "\n")
    return _exit_code(results)


def main(argv: Sequence[str] | None = None) -> int:
    return run_cli(PROG, _main, argv)


if __name__ == "__main__":
    sys.exit(main())
