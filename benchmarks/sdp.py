"""LipSDP-class bounds side by side: interior point (``lipsdp``) against first order (``lipsdp_first_order``).

``python -m benchmarks.sdp [--quick] [--out DIR] [--repeats R] [--seed S] [--iterations K]`` times, on each
network of :data:`NETWORKS` (random weights: PyTorch's default ``nn.Linear`` initialization, seeded, float64;
with trained weights the gap between the bounds differs):

- ``autolip``: the product of the layers' spectral norms (certified);
- ``lipsdp``: LipSDP-neuron by the interior-point route (``solver="auto"``: Clarabel for small LMIs, the
  structured barrier method otherwise), certified;
- ``lipsdp_first_order``: the same SDP by first-order steps on the multipliers (CPU), certified.

Every call goes through :func:`lipexact.upper_bound` with ``threads=1`` by default (``--threads``; on this
shared 2-core machine two threads of BLAS/torch are oversubscribed: the first-order solver took 39 s with
2 threads and 3.2 s with 1 under a load of 5). Times are medians over
``repeats`` calls (values are deterministic; the first call's value is reported), interleaved per network so
that a change of load hits each method alike; the 1-minute load average is recorded at the start and end of
each network. The networks: ``mnist-mlp`` is 784-256-10 (203,264 weights: the size of LipDiff's 203k-parameter
MNIST MLP), ``mnist-mlp2`` 784-256-256-10 (268,800 weights), ``small`` 40-64-64-10 (quick runs).

Checks (``mnist-mlp``): the first-order value is within 3.5% of the interior-point value, and its median time
at least 5x shorter (the goal of issue 11).
"""

from __future__ import annotations

import argparse
import datetime as _dt
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any, Sequence

PROG = "python -m benchmarks.sdp"

NETWORKS = {
    "small": (40, 64, 64, 10),
    "mnist-mlp": (784, 256, 10),
    "mnist-mlp2": (784, 256, 256, 10),
}

QUICK_NETWORKS = ("small",)
FULL_NETWORKS = ("small", "mnist-mlp")
TARGET_RATIO = 1.035
TARGET_SPEEDUP = 5.0


def random_mlp(sizes: Sequence[int], seed: int):
    """A ``Sequential`` ReLU MLP with PyTorch's default initialization (seeded), float64, eval mode."""
    import torch

    torch.manual_seed(seed)
    layers: list[Any] = []
    for a, b in zip(sizes[:-1], sizes[1:]):
        layers += [torch.nn.Linear(a, b), torch.nn.ReLU()]
    return torch.nn.Sequential(*layers[:-1]).double().eval()


def _call(model, method: str, options: dict, threads: Any) -> tuple[float | None, float, str]:
    from lipexact import upper_bound

    start = time.perf_counter()
    result = upper_bound(model, method, device="cpu", threads=threads, **options)
    seconds = time.perf_counter() - start
    return result.value, seconds, result.status.value


def run_sdp(networks: Sequence[str], repeats: int, seed: int, iterations: int, threads: Any = 1,
            progress: bool = False) -> list[dict]:
    methods = [("autolip", {}), ("lipsdp", {}), ("lipsdp_first_order", {"iterations": iterations})]
    rows = []
    for name in networks:
        sizes = NETWORKS[name]
        model = random_mlp(sizes, seed)
        load_start = os.getloadavg()[0]
        values: dict[str, Any] = {}
        seconds: dict[str, list[float]] = {m: [] for m, _ in methods}
        statuses: dict[str, str] = {}
        for _ in range(repeats):
            for method, options in methods:
                value, elapsed, status = _call(model, method, options, threads)
                values.setdefault(method, value)
                statuses.setdefault(method, status)
                seconds[method].append(elapsed)
                if progress:
                    print(f"{name} {method}: {value} in {elapsed:.2f} s", file=sys.stderr, flush=True)
        rows.append({"network": name, "sizes": list(sizes), "weights": sum(a * b for a, b in zip(sizes, sizes[1:])),
                     "values": values, "statuses": statuses,
                     "seconds": {m: statistics.median(s) for m, s in seconds.items()}, "all_seconds": seconds,
                     "load": (load_start, os.getloadavg()[0])})
    return rows


def build_section(rows: list[dict], iterations: int, repeats: int, threads: Any = 1):
    from benchmarks.report import Check, Section, Table

    section = Section("sdp", "LipSDP: interior point against first order")
    section.text.append(
        "Random weights (PyTorch default initialization, seeded, float64); every value is a certified upper bound "
        f"on the l2 Lipschitz constant. Times: median of {repeats} call(s) through `lipexact.upper_bound` on this "
        f"machine's CPU with threads={threads} for every method; the first-order solver runs {iterations} "
        "iterations. The machine is shared: absolute times "
        "are inflated by the load shown; the ratios are measured side by side.")
    table_rows = []
    for row in rows:
        v, s = row["values"], row["seconds"]
        ratio = v["lipsdp_first_order"] / v["lipsdp"] if v.get("lipsdp") and v.get("lipsdp_first_order") else None
        speedup = s["lipsdp"] / s["lipsdp_first_order"] if s["lipsdp_first_order"] else None
        table_rows.append(["-".join(map(str, row["sizes"])), row["weights"], v.get("autolip"), s["autolip"],
                           v.get("lipsdp"), s["lipsdp"], v.get("lipsdp_first_order"), s["lipsdp_first_order"],
                           ratio, speedup, f"{row['load'][0]:.1f} / {row['load'][1]:.1f}"])
        section.records.append(row)
        if row["network"] == "mnist-mlp":
            section.checks.append(Check("first order within 3.5% of interior point (784-256-10)",
                                        None if ratio is None else ratio <= TARGET_RATIO, f"ratio {ratio}"))
            section.checks.append(Check("first order at least 5x faster than interior point (784-256-10)",
                                        None if speedup is None else speedup >= TARGET_SPEEDUP, f"speedup {speedup}"))
    section.tables.append(Table(
        "sdp", "LipSDP-neuron: values (certified upper bounds) and median seconds",
        ["network", "weights", "autolip (product of norms)", "autolip s", "lipsdp (interior point)", "lipsdp s",
         "first order", "first order s", "first order / lipsdp", "speedup", "load start / end"],
        table_rows,
        notes=["Published for LipDiff's 203k-parameter MNIST MLP (trained weights, GPU for first order): interior "
               "point 4.822 in 47 s, first order 4.979 in 9.85 s, product of norms 9.309."]))
    return section


def _parse(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog=PROG, description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="the small network only, one repeat")
    parser.add_argument("--out", "-o", type=Path, default=None, help="output folder")
    parser.add_argument("--networks", default=None, help=f"comma-separated subset of {', '.join(NETWORKS)}")
    parser.add_argument("--repeats", type=int, default=None)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--iterations", type=int, default=None, help="first-order iterations (default: the "
                        "method's own)")
    parser.add_argument("--threads", default="1", help="CPU threads of every call (default 1: the machine is "
                        "shared; 'auto' for the library's rule)")
    parser.add_argument("--progress", action="store_true")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the measurement and write ``report.md``, ``results.json`` and the CSV table; print the report's path."""
    from benchmarks.report import timestamp, write_one_section
    from lipexact.bounds.sdp.first_order import DEFAULT_ITERATIONS
    from reductions.validation import require

    args = _parse(argv)
    repeats = args.repeats if args.repeats is not None else (1 if args.quick else 3)
    require(repeats >= 1, "repeats", "a positive integer", repr(repeats))
    iterations = args.iterations if args.iterations is not None else DEFAULT_ITERATIONS
    require(iterations >= 1, "iterations", "a positive integer", repr(iterations))
    if args.networks:
        networks = tuple(n.strip() for n in args.networks.split(",") if n.strip())
    else:
        networks = QUICK_NETWORKS if args.quick else FULL_NETWORKS
    require(bool(networks) and set(networks) <= set(NETWORKS), "networks", f"a subset of {', '.join(NETWORKS)}",
            repr(args.networks))
    out = args.out or Path(__file__).resolve().parent / "results" / f"sdp-{timestamp()}"
    require(not out.exists() or out.is_dir(), "out", "a folder", f"{out} is a file")
    started = _dt.datetime.now().isoformat(timespec="seconds")
    load_start = os.getloadavg()
    start = time.perf_counter()
    threads = None if args.threads == "auto" else int(args.threads)
    rows = run_sdp(networks, repeats, args.seed, iterations, threads=threads, progress=args.progress)
    built = build_section(rows, iterations, repeats, threads="auto" if threads is None else threads)
    built.seconds = time.perf_counter() - start
    write_one_section(out, built, PROG, argv, seed=args.seed, started=started, seconds=built.seconds,
                      load_start=load_start,
                      config={"name": "sdp" + ("-quick" if args.quick else ""), "repeats": repeats,
                              "networks": networks, "iterations": iterations, "threads": args.threads})
    return 0


def entry(argv: Sequence[str] | None = None) -> int:
    from lipexact.cli import run_cli

    return run_cli(PROG, main, argv)


if __name__ == "__main__":
    sys.exit(entry())
