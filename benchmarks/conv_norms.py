"""Spectral norms of convolutions: our certified values against the exact norm and a reference-style power method.

``python -m benchmarks.conv_norms --out DIR [--quick] [--seed S]`` writes a report section on the MNIST CNNs of
the paper's reference code (:func:`benchmarks.models.mnist_cnn`, random weights, ``--quick``: 4 and 5 layers,
else 4, 5, 7 and 10):

- **per layer**: the exact spectral norm (the largest singular value of the dense operator matrix, LAPACK), our
  certified value (:func:`lipexact.bounds.layer_norm.spectral_norm`: the kernel-built Gram certificate where the
  smaller side is at most 2048, else the FFT bound), the FFT bound alone (``exact_max_dim=0``), and the value of
  a reference-style power method, each with its time;
- **per network**: AutoLip (the product of the layer norms) by :func:`lipexact.bounds.upper_bound` with our
  defaults, with the FFT bounds only, and the sum of the reference-style power methods' times.

The reference-style power method follows the algorithm of the paper's code (github.com/avirmaux/lipEstimation,
``max_eigenvalue.generic_power_method``, as its docstring and parameters describe it): float32, ``v`` replaced
by the normalized gradient of ``||f(v) - f(0)||^2``, until ``||v - v_previous|| < 1e-8`` or 500 iterations, then
``||f(v) - f(0)||``. It is an estimate from below with no certificate; written here from that description.

Checks: every certified layer value lies in ``[exact, exact (1 + 1e-3)]`` (the issue's 0.1%), and AutoLip with
our defaults is no slower than the reference-style power methods (one thread each; judged outside ``--quick``
and the ``smoke`` configuration, where timings are too short and the machine too shared to judge).
"""

from __future__ import annotations

import argparse
import copy
import os
import sys
import time
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from benchmarks.report import Check, Section, Table

__all__ = ["PROG", "reference_style_power", "run_conv_norms", "build_section", "section", "main", "entry"]

PROG = "python -m benchmarks.conv_norms"
#: The issue's precision target for a certified layer norm, relative to the exact one.
PRECISION = 1e-3


def reference_style_power(layer: Any, shape: Sequence[int], seed: int = 0, max_iter: int = 500,
                          eps: float = 1e-8) -> tuple[float, int]:
    """``(estimate, iterations)`` of the reference code's power method (module docstring), in float32.

    Examples
    --------
    >>> import torch
    >>> conv = torch.nn.Conv1d(1, 1, 2, bias=False)
    >>> with torch.no_grad():
    ...     _ = conv.weight.copy_(torch.tensor([[[1.0, 1.0]]]))
    >>> value, iterations = reference_style_power(conv, (1, 6))
    >>> 1.8 < value <= 2.0
    True
    """
    import torch

    layer = copy.deepcopy(layer).float().eval()
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        zero = layer(torch.zeros(1, *shape))
    v = torch.randn(1, *shape, generator=generator)
    v = v / v.norm()
    iterations = 0
    for iterations in range(1, max_iter + 2):
        previous = v
        w = v.clone().requires_grad_(True)
        loss = (layer(w) - zero).norm() ** 2
        (grad,) = torch.autograd.grad(loss, w)
        v = grad / grad.norm()
        if float((v - previous).norm()) < eps:
            break
    with torch.no_grad():
        return float((layer(v) - zero).norm()), iterations


def _timed(call):
    start = time.perf_counter()
    value = call()
    return value, time.perf_counter() - start


def run_conv_norms(layers: Sequence[int], seed: int = 0, progress: bool = True) -> dict:
    """Every measurement of the section (one thread for everything)."""
    import torch

    from benchmarks.models import mnist_cnn
    from lipexact.bounds import upper_bound
    from lipexact.bounds.layer_norm import spectral_norm
    from lipexact.bounds.power import operator_matrix

    started = time.perf_counter()
    load_start = list(os.getloadavg()) if hasattr(os, "getloadavg") else None
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    rows, networks = [], []
    try:
        # one untimed run of each method first: imports and first-call set-up are not what is compared
        warm = mnist_cnn(4, seed=seed)
        upper_bound(warm, "autolip", input_shape=(1, 28, 28), device="cpu", threads=1)
        reference_style_power(warm[0], (1, 28, 28), seed, max_iter=5)
        for n_layers in layers:
            model = mnist_cnn(n_layers, seed=seed)
            load = os.getloadavg()[0] if hasattr(os, "getloadavg") else None
            ours, ours_s = _timed(lambda: upper_bound(model, "autolip", input_shape=(1, 28, 28), device="cpu",
                                                      threads=1))
            fft, fft_s = _timed(lambda: upper_bound(model, "autolip", input_shape=(1, 28, 28), device="cpu",
                                                    threads=1, exact_max_dim=0))
            shape = (1, 28, 28)
            x = torch.zeros(1, *shape, dtype=next(model.parameters()).dtype)
            reference_s, product = 0.0, 1.0
            for index, layer in enumerate(model):
                if isinstance(layer, torch.nn.Conv2d):
                    (estimate, iterations), ref_s = _timed(lambda: reference_style_power(layer, shape, seed))
                    reference_s += ref_s
                    product *= estimate
                    certified, our_s = _timed(lambda: spectral_norm(layer, shape, device="cpu"))
                    bound, bound_s = _timed(lambda: spectral_norm(layer, shape, device="cpu", exact_max_dim=0))
                    exact = float(np.linalg.norm(operator_matrix(layer, shape, device="cpu").numpy(), 2))
                    rows.append({"network": f"CNN-{n_layers}", "layer": index, "input": "x".join(map(str, shape)),
                                 "exact": exact, "certified": certified.value, "method": certified.method,
                                 "seconds": our_s, "fft": bound.value, "fft_seconds": bound_s,
                                 "reference": estimate, "reference_iterations": iterations,
                                 "reference_seconds": ref_s})
                with torch.no_grad():
                    x = layer(x)
                shape = tuple(x.shape[1:])
            networks.append({"network": f"CNN-{n_layers}", "autolip": ours.value, "status": ours.status.value,
                             "seconds": ours_s, "autolip_fft": fft.value, "fft_seconds": fft_s,
                             "reference_product": product, "reference_seconds": reference_s, "load1": load})
            if progress:
                print(f"[conv_norms] CNN-{n_layers}: ours {ours_s:.2f} s, FFT only {fft_s:.2f} s, reference-style "
                      f"{reference_s:.2f} s (load {load})", file=sys.stderr, flush=True)
    finally:
        torch.set_num_threads(threads)
    load_end = list(os.getloadavg()) if hasattr(os, "getloadavg") else None
    return {"layers": rows, "networks": networks, "load_start": load_start, "load_end": load_end, "seed": seed,
            "seconds": time.perf_counter() - started}


def _g(value: float | None, digits: int = 7) -> Any:
    return None if value is None else float(f"{value:.{digits}g}")


def build_section(result: dict, judge_speed: bool = True) -> Section:
    """The tables and checks of a :func:`run_conv_norms` result (``judge_speed``: whether the speed comparison is a
    check or only recorded)."""
    section = Section("conv_norms", "Convolution layer norms: certified, exact, FFT and a reference-style estimate")
    section.text.append(
        "MNIST CNNs of the paper's reference code, random weights (seed "
        f"{result['seed']}), one thread. `exact`: the largest singular value of the dense operator (LAPACK); "
        "`certified`: ours (a proven upper bound); `FFT`: the FFT bound alone; `reference-style`: the reference "
        "code's float32 power method as described in its docstring (an estimate, no certificate). Each method "
        "ran once untimed before the measurements (imports, first calls). Load average at "
        f"the start {result['load_start']}, at the end {result['load_end']} ({os.cpu_count()} logical cores).")
    layer_rows = [[r["network"], r["layer"], r["input"], _g(r["exact"]), _g(r["certified"]), r["method"],
                   _g(r["certified"] / r["exact"] - 1, 3), round(r["seconds"], 3), _g(r["fft"] / r["exact"] - 1, 3),
                   round(r["fft_seconds"], 3), _g(r["reference"] / r["exact"] - 1, 3), r["reference_iterations"],
                   round(r["reference_seconds"], 3)] for r in result["layers"]]
    section.tables.append(Table("conv_norms_layers", "Per layer: certified and FFT bounds above the exact norm",
                                ["network", "layer", "input", "exact", "certified", "method", "certified / exact - 1",
                                 "time (s)", "FFT / exact - 1", "FFT time (s)", "reference-style / exact - 1",
                                 "reference iterations", "reference time (s)"], layer_rows))
    net_rows = [[r["network"], _g(r["autolip"]), r["status"], round(r["seconds"], 3), _g(r["autolip_fft"]),
                 round(r["fft_seconds"], 3), _g(r["reference_product"]), round(r["reference_seconds"], 3),
                 round(r["seconds"] / r["reference_seconds"], 2) if r["reference_seconds"] else None, r["load1"]]
                for r in result["networks"]]
    section.tables.append(Table("conv_norms_autolip", "AutoLip on the whole network: ours, FFT only, reference-style",
                                ["network", "AutoLip (ours)", "status", "time (s)", "AutoLip (FFT only)",
                                 "FFT time (s)", "reference-style product", "reference time (s)",
                                 "ours / reference time", "load 1 min"], net_rows,
                                ["The reference-style product is an estimate from below (no certificate)."]))
    for r in result["layers"]:
        ok = r["exact"] <= r["certified"] <= r["exact"] * (1 + PRECISION) if r["exact"] > 0 else r["certified"] >= 0
        section.checks.append(Check(f"{r['network']} layer {r['layer']}: certified value within 0.1% above the "
                                    "exact norm", ok, f"{r['certified']!r} against {r['exact']!r} ({r['method']})"))
    for r in result["networks"]:
        ratio = r["seconds"] / r["reference_seconds"] if r["reference_seconds"] else None
        section.checks.append(Check(f"{r['network']}: AutoLip (certified) no slower than the reference-style power "
                                    "method", (ratio is not None and ratio <= 1.0) if judge_speed else None,
                                    f"{r['seconds']:.3f} s against {r['reference_seconds']:.3f} s"
                                    + ("" if judge_speed else " (not judged in this configuration)")))
    section.records.extend(result["layers"] + result["networks"])
    section.seconds = result.get("seconds", 0.0)
    return section


def section(ctx: Any) -> Section:
    """The measurement as a section of ``python -m benchmarks.run``: skipped in ``smoke``; ``quick``: CNN-4 only,
    speed recorded but not judged; otherwise the configuration's CNN depths."""
    name = getattr(ctx.config, "name", "default")
    if name == "smoke":
        built = Section("conv_norms", "Convolution layer norms: certified, exact, FFT and a reference-style estimate")
        built.text.append("Skipped in the `smoke` configuration (seconds of dense SVDs per layer); "
                          f"`{PROG} --quick` or any other configuration runs it.")
        return built
    quick = name == "quick"
    layers = (4,) if quick else tuple(getattr(ctx.config, "cnn_layers", (4, 5, 7, 10)))
    return build_section(run_conv_norms(layers, ctx.seed, progress=ctx.progress), judge_speed=not quick)


def _parse(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog=PROG, description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="CNN-4 and CNN-5 only; speed not judged")
    parser.add_argument("--seed", type=int, default=0, help="seed of the random weights and power methods")
    parser.add_argument("-o", "--out", type=Path, default=None,
                        help="output folder (default benchmarks/results/conv_norms-<timestamp>)")
    parser.add_argument("--no-progress", action="store_true", help="no progress lines on stderr")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the section and write its report; print the report's path."""
    from benchmarks.report import run_one_section

    args = _parse(argv)
    layers = (4, 5) if args.quick else (4, 5, 7, 10)
    return run_one_section(PROG, argv, "conv_norms", args.out, args.seed,
                           lambda: build_section(run_conv_norms(layers, args.seed, progress=not args.no_progress),
                                                 judge_speed=not args.quick),
                           {"name": "conv_norms", "layers": list(layers)})


def entry(argv: Sequence[str] | None = None) -> int:
    from lipexact.cli import run_cli

    return run_cli(PROG, main, argv)


if __name__ == "__main__":
    sys.exit(entry())
