"""The deep branch and bound with and without LP-tightened node bounds (:mod:`lipexact.deep.lp_bounds`), side by side.

``python -m benchmarks.deep_lp_bounds [--modes off,layer,node] [--limit S] [--random-limit S] [--wall]`` runs
:class:`lipexact.deep.enumerate.DeepSearch` (branch and bound) with each ``lp_bounds`` mode, one after the other on
the same networks, and prints a Markdown table (one row per run) and the medians per mode:

- 10-30-30-30-3 networks with weights ``0.65 N(0, 1)`` and biases ``-0.35 + 0.9 N(0, 1)`` (seeds 0 and 1), on
  ``[0, 0.1]^10``, norms 2, 1 and inf: times to proof (issue 13's small-box target, under 1 s, is judged on
  seeds 0-5 by ``python -m benchmarks.deep``);
- the random 10-20-20-1 (:func:`benchmarks.deep.random_network`, seed 0) on ``[0, 1]^10``, l_inf: the proven
  bracket at the limit.

The limits are CPU seconds of this process by default (``Clock(now=time.process_time)``): the machine is shared
and a wall-clock limit gives a loaded run fewer nodes; ``--wall`` uses wall-clock limits. Both times are
reported, with the load average before each run. One unrecorded search per mode runs first (:func:`warm_up`).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from dataclasses import dataclass
from typing import Sequence

import numpy as np

from benchmarks.deep import small_box_network

__all__ = ["PROG", "LpRun", "small_box_network", "cases", "run_case", "warm_up", "summary", "table", "main"]

PROG = "python -m benchmarks.deep_lp_bounds"


@dataclass
class LpRun:
    case: str
    mode: str
    status: str
    lower: float | None
    upper: float
    wall: float
    cpu: float
    nodes: int
    decisions: int
    region_lps: int
    fixed_by_lp: int
    load: float


def cases(limit: float, random_limit: float) -> list[tuple[str, object, str, tuple, float]]:
    """``(name, network, norm, box, limit)`` of the benchmark."""
    from benchmarks.deep import random_network

    small = (np.zeros(10), np.full(10, 0.1))
    out = []
    for seed in (0, 1):
        net = small_box_network([10, 30, 30, 30, 3], seed)
        for norm in ("2", "1", "inf"):
            out.append((f"10-30-30-30-3 s{seed} [0,0.1]^10 l{norm}", net, norm, small, limit))
    out.append(("10-20-20-1 s0 [0,1]^10 linf", random_network([10, 20, 20, 1], 0), "inf",
                (np.zeros(10), np.ones(10)), random_limit))
    return out


def run_case(name: str, net, norm: str, box: tuple, limit: float, mode: str, cpu_clock: bool = True,
             node_limit: int | None = None) -> LpRun:
    """One branch and bound with ``lp_bounds=mode``."""
    from lipexact.deep.enumerate import DeepSearch
    from lipexact.domain import as_box
    from lipexact.exact.problem import Clock
    from lipexact.threads import small_blas

    load = os.getloadavg()[0]
    clock = Clock(limit, now=time.process_time) if cpu_clock else Clock(limit)
    with small_blas():
        search = DeepSearch(net, norm, as_box(box, net.n_inputs), clock, node_limit=node_limit, bnb=True,
                            lp_bounds=mode)
        wall, cpu = time.perf_counter(), time.process_time()
        outcome = search.run()
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    stats = outcome.stats
    return LpRun(name, mode, outcome.status.value, outcome.value, outcome.upper, wall, cpu, stats["nodes"],
                 stats["lps"], stats.get("region_lps", 0), stats.get("stable_by_lp", 0), load)


def warm_up(modes: Sequence[str], cpu_clock: bool = True) -> None:
    """One unrecorded search per mode on a smaller network first: the imports and first calls (scipy, HiGHS)
    took 1-2 s, which the first measured run paid otherwise."""
    net = small_box_network([10, 30, 30, 3], 5)
    for mode in modes:
        run_case("warm-up", net, "2", (np.zeros(10), np.full(10, 0.1)), 30.0, mode, cpu_clock)


def summary(runs: Sequence[LpRun], prefix: str = "10-30-30-30-3") -> dict:
    """Per mode, the medians of wall and CPU seconds and nodes over the runs whose case starts with ``prefix``,
    and their ratios to mode ``off`` (when measured).

    Examples
    --------
    >>> runs = [LpRun("10-30-30-30-3 a", m, "optimal", 1.0, 1.0, w, w, n, 0, 0, 0, 1.0)
    ...         for m, w, n in (("off", 4.0, 100), ("off", 2.0, 50), ("node", 1.0, 20), ("node", 1.0, 30))]
    >>> summary(runs)["node"]["wall_ratio"], summary(runs)["node"]["nodes"]
    (0.3333333333333333, 25.0)
    """
    out = {}
    for mode in dict.fromkeys(r.mode for r in runs):
        chosen = [r for r in runs if r.mode == mode and r.case.startswith(prefix)]
        if chosen:
            out[mode] = {"wall": statistics.median(r.wall for r in chosen),
                         "cpu": statistics.median(r.cpu for r in chosen),
                         "nodes": statistics.median(r.nodes for r in chosen),
                         "optimal": sum(r.status == "optimal" for r in chosen), "runs": len(chosen)}
    if "off" in out:
        for values in out.values():
            for key in ("wall", "cpu", "nodes"):
                base = out["off"][key]
                values[f"{key}_ratio"] = values[key] / base if base else float("nan")
    return out


def table(runs: Sequence[LpRun]) -> str:
    """The runs as a Markdown table."""
    lines = ["| case | lp_bounds | status | lower | upper | wall s | CPU s | nodes | region decisions | region LPs "
             "| fixed by LP | load |", "|" + "---|" * 12]
    for r in runs:
        lower = "-" if r.lower is None else f"{r.lower:.6g}"
        lines.append(f"| {r.case} | {r.mode} | {r.status} | {lower} | {r.upper:.6g} | {r.wall:.2f} | {r.cpu:.2f} "
                     f"| {r.nodes} | {r.decisions} | {r.region_lps} | {r.fixed_by_lp} | {r.load:.1f} |")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog=PROG, description=__doc__.splitlines()[0])
    parser.add_argument("--modes", default="off,layer,node", help="comma-separated lp_bounds modes (off,layer,node)")
    parser.add_argument("--limit", type=float, default=120.0, help="seconds per 10-30-30-30-3 run")
    parser.add_argument("--random-limit", type=float, default=60.0, help="seconds of the 10-20-20-1 run")
    parser.add_argument("--wall", action="store_true", help="wall-clock limits (default: CPU seconds)")
    parser.add_argument("--no-random", action="store_true", help="skip the 10-20-20-1 run")
    args = parser.parse_args(argv)
    from lipexact.deep.enumerate import LP_BOUNDS

    modes = [m for m in args.modes.split(",") if m]
    if not modes or any(m not in LP_BOUNDS for m in modes) or args.limit <= 0 or args.random_limit <= 0:
        print(f"{PROG}: modes must be among {LP_BOUNDS} and limits positive", file=sys.stderr)
        return 2
    warm_up(modes, not args.wall)
    runs = []
    for name, net, norm, box, limit in cases(args.limit, args.random_limit):
        if args.no_random and name.startswith("10-20-20-1"):
            continue
        for mode in modes:
            runs.append(run_case(name, net, norm, box, limit, mode, cpu_clock=not args.wall))
            r = runs[-1]
            print(f"{r.case} {r.mode}: {r.status} [{r.lower}, {r.upper:.6g}] {r.wall:.2f} s (CPU {r.cpu:.2f} s) "
                  f"{r.nodes} nodes, load {r.load:.1f}", file=sys.stderr, flush=True)
    print(table(runs))
    print()
    for mode, values in summary(runs).items():
        ratios = "".join(f", {k} x{values[k + '_ratio']:.2f}" for k in ("wall", "cpu", "nodes") if k + "_ratio" in values)
        print(f"- 10-30-30-30-3 medians, lp_bounds={mode}: {values['wall']:.2f} s wall, {values['cpu']:.2f} s CPU, "
              f"{values['nodes']:.0f} nodes ({values['optimal']}/{values['runs']} optimal){ratios}")
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
