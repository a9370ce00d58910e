"""The layer-wise LipSDP bounds (ECLipsE, ECLipsE-Fast) on deep random MLPs, beside AutoLip, the full LipSDP
and the ECLipsE authors' package.

``python -m benchmarks.eclipse --out DIR [--depths 10,50,100] [--width 100] [--repeats 3] [--seeds 1]
[--reference-budget 120] [--lipsdp-budget 300] [--small-seeds 3]`` measures, on MLPs ``width -> width -> ... ->
10`` with ``depth`` Linear layers and N(0, 1)/sqrt(fan-in) weights (seeded):

1. Value and time of ``autolip`` (the product of certified layer norms), ``eclipse_fast``, ``eclipse`` and, where
   it is registered and its LMI fits (``max_dim``), the full ``lipsdp``; every one a certified upper bound, so
   smaller is better. Each method is timed as the median of ``--repeats`` calls (one call when the first took
   over 30 s), all single-threaded (``threads=1``: the machine is shared; ratios measured side by side).
2. When the ``eclipse-nn`` package is installed (``pip install .[anchors]``), its ECLipsE and ECLipsE-Fast on
   the same networks (floating-point estimates, not certified), each under a watchdog of
   ``--reference-budget`` seconds.
3. On small nets (``3 -> 6 -> 6 -> 2``, ``--small-seeds`` of them) the exact constant
   (:func:`lipexact.lipschitz`, global l2) and each bound's ratio to it.

Checks: every certified value is at least the exact constant (small nets), at most AutoLip (proven for both
variants); our floating-point ECLipsE-Fast estimate agrees with the authors' (the same closed form) and our
certified value is at most it (for the proposed multipliers the certifier finds the smallest ``rho``, which on
deep nets lies well below the estimate: see :mod:`lipexact.bounds.sdp.eclipse`).
The 1-minute load average is recorded before every call; absolute times are inflated on the busy machine.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import math
import os
import statistics
import time
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

from benchmarks.report import Check, Section, Table

__all__ = ["PROG", "random_mlp", "measure_bounds", "measure_reference", "small_exact_rows", "build_section", "main"]

PROG = "python -m benchmarks.eclipse"
_SLOW = 30.0  # seconds: a method slower than this on its first call is not repeated


def _load() -> float | None:
    return os.getloadavg()[0] if hasattr(os, "getloadavg") else None


def random_mlp(depth: int, width: int, outputs: int = 10, inputs: int | None = None, seed: int = 0):
    """A ``torch.nn.Sequential`` ReLU MLP with ``depth`` Linear layers, N(0, 1)/sqrt(fan-in) weights, zero biases."""
    import torch

    inputs = width if inputs is None else inputs
    sizes = [inputs] + [width] * (depth - 1) + [outputs]
    rng = np.random.default_rng([seed, depth, width])
    layers: list[Any] = []
    for a, b in zip(sizes[:-1], sizes[1:]):
        linear = torch.nn.Linear(a, b, dtype=torch.float64)
        with torch.no_grad():
            linear.weight.copy_(torch.as_tensor(rng.standard_normal((b, a)) / math.sqrt(a)))
            linear.bias.zero_()
        layers += [linear, torch.nn.ReLU()]
    return torch.nn.Sequential(*layers[:-1])


def _timed(call: Callable[[], Any], repeats: int) -> tuple[Any, list[float], float | None]:
    """Median-of-``repeats`` timing (one call when the first is slow); returns (result, times, load before)."""
    load = _load()
    times, result = [], None
    for k in range(max(1, repeats)):
        start = time.perf_counter()
        result = call()
        times.append(time.perf_counter() - start)
        if times[0] > _SLOW:
            break
    return result, times, load


def measure_bounds(model, repeats: int, lipsdp_budget: float) -> list[dict[str, Any]]:
    """autolip, eclipse_fast, eclipse and (registered, fitting) lipsdp on ``model``: one row each."""
    from benchmarks.measure import Hang, call_with_watchdog
    from lipexact.bounds import UPPER_METHODS, upper_bound, validate_request
    from reductions.validation import InvalidInputError

    rows = []
    for method in ("autolip", "eclipse_fast", "eclipse", "lipsdp"):
        row: dict[str, Any] = {"method": method}
        if method not in UPPER_METHODS:
            row.update(outcome="unavailable", reason="not registered in lipexact.bounds.UPPER_METHODS")
            rows.append(row)
            continue
        try:
            validate_request(method, model, device="cpu")
        except InvalidInputError as error:
            row.update(outcome="unavailable", reason=f"does not apply: {error}")
            rows.append(row)
            continue
        budget = lipsdp_budget if method == "lipsdp" else None
        try:
            result, times, load = _timed(
                lambda: call_with_watchdog(lambda: upper_bound(model, method, device="cpu", threads=1), budget),
                1 if method == "lipsdp" else repeats)
        except Hang:
            row.update(outcome="timeout", reason=f"stopped by the watchdog after {budget:g} s")
            rows.append(row)
            continue
        row.update(outcome="ok" if result.status.value == "upper_bound" else "error", status=result.status.value,
                   value=result.value, seconds=statistics.median(times), runs=len(times), load=load,
                   estimate=result.stats.get("estimate", result.stats.get("solver_value")),
                   certifier=result.stats.get("certifier"), message=result.message[:160],
                   certify_seconds=result.timings.get("certify"))
        rows.append(row)
    return rows


def measure_reference(model, repeats: int, budget: float) -> list[dict[str, Any]]:
    """The ``eclipse-nn`` package's ECLipsE and ECLipsE-Fast (uncertified estimates), or one row saying why not."""
    from benchmarks.measure import Hang, call_with_watchdog

    try:
        from eclipse_nn import LipConstEstimator
    except ImportError:
        return [{"method": "eclipse-nn", "outcome": "unavailable",
                 "reason": "the eclipse-nn package is not installed (pip install .[anchors])"}]
    import contextlib
    import io

    rows = []
    for name in ("ECLipsE_Fast", "ECLipsE"):
        row: dict[str, Any] = {"method": f"eclipse-nn {name}"}

        def call():
            with contextlib.redirect_stdout(io.StringIO()):  # it prints per-layer progress
                return float(LipConstEstimator(model=model).estimate(name))

        try:
            value, times, load = _timed(lambda: call_with_watchdog(call, budget), repeats)
        except Hang:
            row.update(outcome="timeout", reason=f"stopped by the watchdog after {budget:g} s")
            rows.append(row)
            continue
        except Exception as error:  # noqa: BLE001 - a failure of the external package is reported, not fatal
            row.update(outcome="error", reason=f"{type(error).__name__}: {str(error)[:160]}")
            rows.append(row)
            continue
        row.update(outcome="ok", value=value, seconds=statistics.median(times), runs=len(times), load=load)
        rows.append(row)
    return rows


def small_exact_rows(seeds: int, repeats: int) -> list[dict[str, Any]]:
    """Ratios to the exact constant on small nets ``3 -> 6 -> 6 -> 2``."""
    import lipexact

    rows = []
    for seed in range(seeds):
        model = random_mlp(3, 6, outputs=2, inputs=3, seed=seed)
        load = _load()
        start = time.perf_counter()
        exact = lipexact.lipschitz(model, norm=2, time_limit=60)
        row = {"network": f"3-6-6-2 seed {seed}", "exact_status": exact.status.value, "exact": exact.value,
               "exact_lower": exact.lower, "exact_upper": exact.upper, "exact_seconds": time.perf_counter() - start,
               "load": load}
        for bound in measure_bounds(model, repeats, lipsdp_budget=120):
            row[bound["method"]] = bound.get("value")
            row[f"{bound['method']}_seconds"] = bound.get("seconds")
        rows.append(row)
    return rows


def _num(x: Any, digits: int = 6) -> Any:
    if x is None:
        return "-"
    if isinstance(x, float):
        return float(f"{x:.{digits}g}") if math.isfinite(x) else str(x)
    return x


def build_section(deep: list[dict], small: list[dict], width: int) -> Section:
    section = Section("eclipse", "Layer-wise LipSDP (ECLipsE, ECLipsE-Fast) on deep MLPs")
    section.text.append(
        f"Random MLPs width {width} (input {width}, output 10), N(0,1)/sqrt(fan-in) weights. Certified upper bounds "
        "(smaller is better): AutoLip (product of layer norms), ECLipsE-Fast and ECLipsE (lipexact.bounds.sdp.eclipse, "
        "certified on the whole LMI up to side 1500, layer by layer beyond), the full LipSDP where registered and its "
        "LMI fits. eclipse-nn: the ECLipsE authors' package, floating-point estimates (not certified). Times: median "
        f"of the repeats (one call when the first took over {_SLOW:g} s), one thread, 1-minute load average before "
        "each method.")
    columns = ["network", "method", "value", "/ AutoLip", "seconds", "certify s (last run)", "runs", "certifier",
               "load", "note"]
    rows, checks_auto, fast_vs_ref, lipsdp_vs_eclipse = [], [], [], []
    for net in deep:
        auto = next((r.get("value") for r in net["rows"] if r["method"] == "autolip" and r.get("outcome") == "ok"),
                    None)
        for r in net["rows"]:
            value = r.get("value")
            ratio = value / auto if (value is not None and auto) else None
            note = r.get("reason", "") if r.get("outcome") != "ok" else ""
            rows.append([net["network"], r["method"], _num(value), _num(ratio, 4), _num(r.get("seconds"), 3),
                         _num(r.get("certify_seconds"), 3), r.get("runs", "-"), r.get("certifier") or "-",
                         _num(r.get("load"), 3), note[:120]])
            if r["method"] in ("eclipse_fast", "eclipse") and r.get("outcome") == "ok" and auto:
                checks_auto.append((net["network"], r["method"], value, auto))
        ours = next((r for r in net["rows"] if r["method"] == "eclipse" and r.get("outcome") == "ok"), None)
        full = next((r for r in net["rows"] if r["method"] == "lipsdp" and r.get("outcome") == "ok"), None)
        if ours and full:
            lipsdp_vs_eclipse.append((net["network"], full["value"], ours["value"]))
        ours = next((r for r in net["rows"] if r["method"] == "eclipse_fast" and r.get("outcome") == "ok"), None)
        theirs = next((r for r in net["rows"] if r["method"] == "eclipse-nn ECLipsE_Fast" and r.get("outcome") == "ok"),
                      None)
        if ours and theirs:
            fast_vs_ref.append((net["network"], ours["estimate"], ours["value"], theirs["value"]))
    section.tables.append(Table("eclipse_deep", "Deep random MLPs: certified bounds and the external anchor", columns,
                                rows))
    if small:
        columns = ["network", "exact (status)", "AutoLip / exact", "ECLipsE-Fast / exact", "ECLipsE / exact",
                   "LipSDP / exact", "exact s", "ECLipsE s", "load"]
        table_rows, below = [], []
        for r in small:
            reference = r["exact"] if r["exact_status"] == "optimal" else r["exact_lower"]
            ratios = [(r.get(m) / reference) if (r.get(m) is not None and reference) else None
                      for m in ("autolip", "eclipse_fast", "eclipse", "lipsdp")]
            table_rows.append([r["network"], f"{_num(reference)} ({r['exact_status']})"] + [_num(x, 5) for x in ratios]
                              + [_num(r["exact_seconds"], 3), _num(r.get("eclipse_seconds"), 3), _num(r["load"], 3)])
            if r["exact_lower"] is not None:
                below += [(r["network"], m, r[m]) for m in ("eclipse_fast", "eclipse", "lipsdp")
                          if r.get(m) is not None and r[m] < r["exact_lower"]]
        section.tables.append(Table("eclipse_small", "Small nets: each certified bound over the exact constant (global "
                                    "l2; the proven lower value when the search stopped)", columns, table_rows))
        section.checks.append(Check("no certified layer-wise or LipSDP value below the exact constant (small nets)",
                                    not below, "; ".join(f"{n} {m} {v}" for n, m, v in below)))
    over = [(n, m, v, a) for n, m, v, a in checks_auto if v > a * (1 + 1e-6)]
    section.checks.append(Check("ECLipsE and ECLipsE-Fast at most AutoLip (proven; relative 1e-6 for the "
                                "certifier's raise)", not over if checks_auto else None,
                                "; ".join(f"{n} {m} {v:.6g} > {a:.6g}" for n, m, v, a in over)))
    looser = [(n, a, b) for n, a, b in lipsdp_vs_eclipse if a > b * (1 + 1e-4)]
    section.checks.append(Check("the full LipSDP at most ECLipsE (its optimum is over all multipliers, ECLipsE's are one "
                                "choice; a failure means the full SDP's solver stopped far from its optimum)",
                                not looser if lipsdp_vs_eclipse else None,
                                "; ".join(f"{n}: lipsdp {a:.6g} > eclipse {b:.6g}" for n, a, b in looser)))
    differ = [(n, a, c) for n, a, b, c in fast_vs_ref if abs(a - c) > 1e-6 * c]
    section.checks.append(Check("our floating-point ECLipsE-Fast estimate within 1e-6 of the authors' (the same closed "
                                "form)", not differ if fast_vs_ref else None,
                                "; ".join(f"{n}: ours {a:.10g}, theirs {c:.10g}" for n, a, c in differ)))
    above = [(n, b, c) for n, a, b, c in fast_vs_ref if b > c * (1 + 1e-6)]
    section.checks.append(Check("our certified ECLipsE-Fast at most the authors' (uncertified) Fast estimate (relative "
                                "1e-6): the certifier finds the smallest rho for the proposed multipliers",
                                not above if fast_vs_ref else None,
                                "; ".join(f"{n}: certified {b:.10g}, theirs {c:.10g}" for n, b, c in above)))
    return section


def _parse(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog=PROG, description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=None, help="output folder (default benchmarks/results/eclipse-*)")
    parser.add_argument("--depths", default="10,50,100", help="comma-separated numbers of Linear layers")
    parser.add_argument("--width", type=int, default=100, help="hidden width (and input width)")
    parser.add_argument("--repeats", type=int, default=3, help="timed calls per method (median)")
    parser.add_argument("--seeds", type=int, default=1, help="random networks per depth")
    parser.add_argument("--reference-budget", type=float, default=120.0,
                        help="watchdog (s) of each eclipse-nn call")
    parser.add_argument("--lipsdp-budget", type=float, default=300.0, help="watchdog (s) of the full lipsdp")
    parser.add_argument("--small-seeds", type=int, default=3, help="small nets compared with the exact constant")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    from benchmarks.report import timestamp, write_one_section
    from reductions.validation import require

    args = _parse(argv)
    depths = [int(d) for d in args.depths.split(",") if d.strip()]
    require(all(d >= 2 for d in depths), "depths", "integers >= 2", args.depths)
    require(args.width >= 1 and args.repeats >= 1 and args.seeds >= 1 and args.small_seeds >= 0, "width",
            "positive width, repeats, seeds", repr((args.width, args.repeats, args.seeds)))
    out = args.out or Path(__file__).resolve().parent / "results" / f"eclipse-{timestamp()}"
    require(not out.exists() or out.is_dir(), "out", "a folder", f"{out} is a file")
    started = _dt.datetime.now().isoformat(timespec="seconds")
    load_start = list(os.getloadavg()) if hasattr(os, "getloadavg") else None
    start = time.perf_counter()
    try:
        from threadpoolctl import threadpool_limits
        limits = threadpool_limits(1)  # the reference package runs NumPy/SciPy too: one thread for everyone
    except ImportError:  # pragma: no cover - threadpoolctl comes with scipy's usual installs
        limits = None
    deep = []
    for depth in depths:
        for seed in range(args.seeds):
            model = random_mlp(depth, args.width, seed=seed)
            name = f"depth {depth} width {args.width} seed {seed}"
            rows = measure_bounds(model, args.repeats, args.lipsdp_budget)
            rows += measure_reference(model, args.repeats, args.reference_budget)
            deep.append({"network": name, "depth": depth, "width": args.width, "seed": seed, "rows": rows})
            print(name + ": " + "; ".join(f"{r['method']} {_num(r.get('value'))} ({_num(r.get('seconds'), 3)} s)"
                                          for r in rows), flush=True)
    small = small_exact_rows(args.small_seeds, args.repeats) if args.small_seeds else []
    if limits is not None:
        limits.unregister() if hasattr(limits, "unregister") else None
    built = build_section(deep, small, args.width)
    built.records = [{"network": net["network"], **row} for net in deep for row in net["rows"]] + small
    built.seconds = time.perf_counter() - start
    write_one_section(out, built, PROG, argv, seed=0, started=started, load_start=load_start, seconds=built.seconds,
                      config={"name": "eclipse", "depths": depths, "width": args.width, "repeats": args.repeats,
                              "seeds": args.seeds, "reference_budget": args.reference_budget,
                              "lipsdp_budget": args.lipsdp_budget, "small_seeds": args.small_seeds})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
