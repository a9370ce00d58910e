"""The pattern SDP on the shared Max-Cut / QUBO networks: root bound versus the proven optimum, and bnb with and
without it as a node bound.

``python -m benchmarks.pattern_sdp --out DIR [--time-limit S] [--bnb INSTANCES] [--root INSTANCES]
[--solvers ipm,clarabel]`` reads the ``g05_60.*`` (Max-Cut, 60 nodes) and ``bqp50-*`` (QUBO, 50 variables)
instances of ``../shared/instances`` (skipped with a message when the folder is absent), reduces each to a
two-layer network with :func:`reductions.chain.reduce_to_lipcst` and measures:

1. Root bounds: the certified pattern SDP (:func:`lipexact.bounds.sdp.pattern.pattern_sdp`, its time), the
   eigenvalue bound bnb uses at a node (:meth:`lipexact.exact.bounds.NodeBound.refine` at the root, 30
   iterations; not certified beyond its 1e-10 inflation) and AutoLip-style triangle bound, each mapped back to
   the instance's units (cut value, or QUBO minimum) through the reduction's value map and compared with the
   published optimum of ``optima.json`` (relative gap). With ``--solvers`` the SDP is also solved by
   cvxpy + Clarabel (or SCS) on a few instances, for the solver timing comparison.
2. bnb side by side: :func:`lipexact.lipschitz` ``(net, "bnb", time_limit=S)`` with ``node_bound="eigen"``
   (the default) and ``node_bound="sdp"``, one after the other on the same instance: status, nodes, wall time,
   the proven bracket mapped back, and the 1-minute load average before each run (the machine is shared:
   absolute times are inflated; the two runs of one instance are adjacent so that they see similar load).
   One untimed tiny solve with each node bound comes first (imports). ``--random-hidden`` / ``--random-seeds``
   add random 5-h-1 networks (N(0, 1) weights and biases; values in units of L^2).

The report (``report.md``, ``results.json``, CSV tables) is written with :func:`benchmarks.report.write_one_section`.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import json
import math
import os
import statistics
import time
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from benchmarks.report import Check, Section, Table

__all__ = ["PROG", "DEFAULT_BNB", "load_instance", "root_bounds", "bnb_pair", "build_section", "main"]

PROG = "python -m benchmarks.pattern_sdp"
ROOT_INSTANCES = tuple(f"maxcut/rudy/g05_60.{i}" for i in range(10)) + tuple(
    f"qubo/beasley/bqp50-{i}.sparse" for i in range(1, 11))
DEFAULT_BNB = ("qubo/gka/gka6a.sparse", "qubo/gka/gka7a.sparse", "maxcut/rudy/g05_60.0", "maxcut/rudy/g05_60.1",
               "qubo/beasley/bqp50-1.sparse", "qubo/beasley/bqp50-2.sparse")
_READERS = {"biqmac_graph": "read_rudy", "biqmac_sparse_qubo": "read_qubo_sparse"}


def _load() -> float | None:
    return os.getloadavg()[0] if hasattr(os, "getloadavg") else None


def shared_root() -> Path:
    return Path(__file__).resolve().parent.parent.parent / "shared" / "instances"


def random_instance(seed: int, hidden: int, inputs: int = 5) -> dict[str, Any]:
    """A random network (N(0, 1) weights and biases, scalar output) in the shape of an instance (no optimum)."""
    from lipexact.network import TwoLayerReLU

    rng = np.random.default_rng([seed, hidden, inputs])
    net = TwoLayerReLU(rng.standard_normal((hidden, inputs)), rng.standard_normal((1, hidden)),
                       rng.standard_normal(hidden))
    return {"path": f"random {inputs}-{hidden}-1 seed {seed}", "net": net, "offset": 0.0, "scale": 1.0,
            "optimum": None, "problem": "lipschitz^2", "network": f"{inputs}-{hidden}-1"}


def load_instance(root: Path, path: str) -> dict[str, Any]:
    """The instance's network, value map and published optimum."""
    from lipexact.network import TwoLayerReLU
    from reductions import formats
    from reductions.chain import reduce_to_lipcst

    optima = json.loads((root / "optima.json").read_text(encoding="utf-8"))
    entry = optima[path]
    source = getattr(formats, _READERS[entry["format"]])(root / path)
    reduced = reduce_to_lipcst(source)
    offset, scale = reduced.value_map
    net = TwoLayerReLU(reduced.lipcst.M1, reduced.lipcst.M2)
    return {"path": path, "net": net, "offset": float(offset), "scale": float(scale), "optimum": entry["optimum"],
            "problem": entry["problem"], "network": f"{net.n_inputs}-{net.n_hidden}-1"}


def to_source(instance: dict, lipschitz: float | None) -> float | None:
    """The instance-side value of ``L = lipschitz`` (``(L^2 - offset) / scale``)."""
    if lipschitz is None or not math.isfinite(lipschitz):
        return None
    return (lipschitz * lipschitz - instance["offset"]) / instance["scale"]


def _gap(instance: dict, bound: float | None) -> float | None:
    if bound is None:
        return None
    return abs(bound - instance["optimum"]) / abs(instance["optimum"])


def root_bounds(instance: dict, solvers: Sequence[str] = ()) -> dict[str, Any]:
    """Certified SDP, eigenvalue and triangle bounds at the root, in the instance's units."""
    from lipexact.bounds.sdp.pattern import pattern_sdp
    from lipexact.exact.arrangement import build_arrangement
    from lipexact.exact.bounds import NodeBound, triangle_bound
    from lipexact.exact.problem import validate_problem

    net = instance["net"]
    row: dict[str, Any] = {"instance": instance["path"], "network": instance["network"],
                           "optimum": instance["optimum"], "load": _load()}
    start = time.perf_counter()
    result = pattern_sdp(net)
    row["sdp_seconds"] = time.perf_counter() - start
    row["sdp_L"] = result.value
    row["sdp_bound"] = to_source(instance, result.value)
    row["sdp_iterations"] = result.certificate.get("iterations")
    row["sdp_deficit"] = result.certificate.get("deficit")
    arrangement = build_arrangement(validate_problem(net))
    bound = NodeBound(arrangement.A, "2")
    free = np.arange(arrangement.n_groups)
    start = time.perf_counter()
    eigen, _ = bound.refine(arrangement.base.copy(), free, -math.inf, None)
    row["eigen_seconds"] = time.perf_counter() - start
    row["eigen_bound"] = to_source(instance, eigen)
    row["triangle_bound"] = to_source(instance, triangle_bound(arrangement.base, arrangement.A, "2"))
    for solver in solvers:
        start = time.perf_counter()
        other = pattern_sdp(net, solver=solver)
        row[f"{solver}_seconds"] = time.perf_counter() - start
        row[f"{solver}_bound"] = to_source(instance, other.value)
    return row


def bnb_pair(instance: dict, time_limit: float, seed: int = 0) -> list[dict[str, Any]]:
    """bnb with the default node bound and with the SDP node bound, one after the other."""
    import lipexact

    rows = []
    for node_bound in ("eigen", "sdp"):
        load = _load()
        start = time.perf_counter()
        result = lipexact.lipschitz(instance["net"], method="bnb", time_limit=time_limit, seed=seed,
                                    node_bound=node_bound)
        seconds = time.perf_counter() - start
        low, high = to_source(instance, result.lower), to_source(instance, result.upper)
        if high is not None and low is not None and high < low:
            low, high = high, low  # a minimization (QUBO): the map reverses the order
        rows.append({"instance": instance["path"], "node_bound": node_bound, "status": result.status.value,
                     "nodes": result.stats.get("nodes"), "seconds": seconds, "load": load,
                     "lower": low, "upper": high, "optimum": instance["optimum"],
                     "sdp_calls": result.stats.get("sdp_calls"), "sdp_seconds": result.stats.get("sdp_seconds"),
                     "sdp_tightened": result.stats.get("sdp_tightened"), "sdp_pruned": result.stats.get("sdp_pruned"),
                     "sdp_skipped": result.stats.get("sdp_skipped")})
    return rows


def _warm_up() -> None:
    """One tiny bnb solve with each node bound, untimed: imports (torch for the witness check, the SDP modules)
    and first-call caches would otherwise be charged to the first timed run."""
    import lipexact

    net = random_instance(0, 6, 2)["net"]
    for node_bound in ("eigen", "sdp"):
        lipexact.lipschitz(net, method="bnb", node_bound=node_bound)


def _num(x: Any, digits: int = 4) -> Any:
    if x is None:
        return "-"
    if isinstance(x, float):
        return float(f"{x:.{digits}g}")
    return x


def build_section(roots: list[dict], pairs: list[dict], time_limit: float, message: str = "") -> Section:
    section = Section("pattern_sdp", "Pattern SDP: root bounds and the bnb node bound on the Max-Cut / QUBO networks")
    if message:
        section.text.append(message)
    if roots:
        solvers = sorted({k[:-8] for row in roots for k in row if k.endswith("_seconds")
                          and k not in ("sdp_seconds", "eigen_seconds")})
        columns = ["instance", "network", "optimum", "SDP bound (certified)", "gap", "SDP s", "eigen bound", "gap",
                   "eigen s", "triangle bound", "load"] + [f"{s} bound / s" for s in solvers]
        rows = []
        for row in roots:
            inst = {"optimum": row["optimum"]}
            rows.append([row["instance"], row["network"], row["optimum"], _num(row["sdp_bound"], 8),
                         _num(_gap(inst, row["sdp_bound"])), _num(row["sdp_seconds"], 3), _num(row["eigen_bound"], 8),
                         _num(_gap(inst, row["eigen_bound"])), _num(row["eigen_seconds"], 3),
                         _num(row["triangle_bound"], 6), _num(row["load"], 3)]
                        + [f"{_num(row.get(f'{s}_bound'), 8)} / {_num(row.get(f'{s}_seconds'), 3)}" for s in solvers])
        section.tables.append(Table("pattern_sdp_root", "Root bounds in the instance's units (cut value; QUBO minimum: "
                                    "a lower bound) versus the published optimum", columns, rows))
        valid = [(r["optimum"], r["sdp_bound"], r["instance"]) for r in roots if r["sdp_bound"] is not None]
        wrong = [name for opt, bound, name in valid
                 if (bound < opt - 1e-9 * abs(opt)) if "maxcut" in name] + [
                 name for opt, bound, name in valid if (bound > opt + 1e-9 * abs(opt)) and "qubo" in name]
        section.checks.append(Check("the certified SDP bound is on the right side of every published optimum",
                                    not wrong and bool(valid), ", ".join(wrong) or f"{len(valid)} instances"))
        gaps = [_gap({"optimum": r["optimum"]}, r["sdp_bound"]) for r in roots if r["sdp_bound"] is not None]
        if gaps:
            section.text.append(f"Median relative gap of the certified root SDP bound: {statistics.median(gaps):.4g} "
                                f"(max {max(gaps):.4g}); median SDP time "
                                f"{statistics.median(r['sdp_seconds'] for r in roots):.3g} s.")
    if pairs:
        columns = ["instance", "node bound", "status", "nodes", "seconds", "load (1 min)", "proven lower", "proven upper",
                   "optimum", "SDP calls", "SDP pruned", "SDP skipped", "SDP s"]
        rows = [[p["instance"], p["node_bound"], p["status"], p["nodes"], _num(p["seconds"], 4), _num(p["load"], 3),
                 _num(p["lower"], 8), _num(p["upper"], 8), p["optimum"], _num(p["sdp_calls"]), _num(p["sdp_pruned"]),
                 _num(p["sdp_skipped"]), _num(p["sdp_seconds"], 3)]
                for p in pairs]
        section.tables.append(Table("pattern_sdp_bnb", f"bnb with the default (eigen) and the SDP node bound, time limit "
                                    f"{time_limit:g} s", columns, rows))
        by_instance: dict[str, dict[str, dict]] = {}
        for p in pairs:
            by_instance.setdefault(p["instance"], {})[p["node_bound"]] = p
        ratios, width = [], []
        for name, pair in by_instance.items():
            if "eigen" in pair and "sdp" in pair:
                e, s = pair["eigen"], pair["sdp"]
                if e["status"] == "optimal" and s["status"] == "optimal":
                    ratios.append(s["seconds"] / e["seconds"])
                else:
                    def spread(p):
                        return None if p["upper"] is None or p["lower"] is None else p["upper"] - p["lower"]
                    width.append((name, spread(e), spread(s)))
        if ratios:
            section.text.append(f"Instances both closed: time ratio sdp / eigen median {statistics.median(ratios):.3g} "
                                f"over {len(ratios)} instances.")
        for name, e, s in width:
            section.text.append(f"{name}: not closed by both; proven bracket width eigen {_num(e, 6)}, sdp {_num(s, 6)}.")
        agree = all(abs(pair["eigen"]["upper"] - pair["sdp"]["upper"]) <= 1e-6 * abs(pair["eigen"]["upper"])
                    for pair in by_instance.values() if all(p in pair and pair[p]["status"] == "optimal"
                                                            for p in ("eigen", "sdp")))
        section.checks.append(Check("bnb with and without the SDP node bound agree where both close", agree))
    return section


def _parse(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog=PROG, description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=None, help="output folder (default: benchmarks/results/...)")
    parser.add_argument("--time-limit", type=float, default=120.0, help="bnb time limit per run (s, default 120)")
    parser.add_argument("--bnb", default=",".join(DEFAULT_BNB),
                        help="comma-separated instances for the bnb comparison ('' for none)")
    parser.add_argument("--root", default=",".join(ROOT_INSTANCES),
                        help="comma-separated instances for the root bounds ('' for none)")
    parser.add_argument("--solvers", default="", help="also solve the root SDP with these cvxpy solvers "
                        "(clarabel, scs) on the first --solver-instances instances")
    parser.add_argument("--solver-instances", type=int, default=2)
    parser.add_argument("--random-seeds", type=int, default=3,
                        help="random 5-h-1 networks (N(0, 1), biases) for the bnb comparison, per --random-hidden")
    parser.add_argument("--random-hidden", default="32,48", help="comma-separated hidden widths of the random nets")
    parser.add_argument("--seed", type=int, default=0)
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    from benchmarks.report import timestamp, write_one_section
    from reductions.validation import require

    args = _parse(argv)
    require(args.time_limit > 0, "time_limit", "a number > 0", repr(args.time_limit))
    require(args.seed >= 0, "seed", "a non-negative integer", repr(args.seed))
    out = args.out or Path(__file__).resolve().parent / "results" / f"pattern_sdp-{timestamp()}"
    require(not out.exists() or out.is_dir(), "out", "a folder", f"{out} is a file")
    started = _dt.datetime.now().isoformat(timespec="seconds")
    load_start = list(os.getloadavg()) if hasattr(os, "getloadavg") else None
    start = time.perf_counter()
    root = shared_root()
    roots, pairs, message = [], [], ""
    if not (root / "optima.json").exists():
        message = f"skipped: {root} is absent (the shared instances are not beside the repository)"
    else:
        solvers = tuple(s.strip() for s in args.solvers.split(",") if s.strip())
        for k, path in enumerate(p.strip() for p in args.root.split(",") if p.strip()):
            roots.append(root_bounds(load_instance(root, path), solvers if k < args.solver_instances else ()))
            print(f"root {path}: {roots[-1]['sdp_bound']} (optimum {roots[-1]['optimum']})", flush=True)
        _warm_up()
        for path in (p.strip() for p in args.bnb.split(",") if p.strip()):
            pairs.extend(bnb_pair(load_instance(root, path), args.time_limit, args.seed))
            print(f"bnb {path}: " + "; ".join(f"{p['node_bound']} {p['status']} {p['nodes']} nodes {p['seconds']:.1f} s"
                                              for p in pairs[-2:]), flush=True)
    for hidden in (int(h) for h in args.random_hidden.split(",") if h.strip()):
        for seed in range(args.random_seeds):
            pairs.extend(bnb_pair(random_instance(seed, hidden), args.time_limit, args.seed))
            print(f"bnb random h={hidden} seed={seed}: " + "; ".join(
                f"{p['node_bound']} {p['status']} {p['nodes']} nodes {p['seconds']:.1f} s" for p in pairs[-2:]), flush=True)
    built = build_section(roots, pairs, args.time_limit, message)
    built.records = roots + pairs
    built.seconds = time.perf_counter() - start
    write_one_section(out, built, PROG, argv, seed=args.seed, started=started, load_start=load_start,
                      seconds=built.seconds,
                      config={"name": "pattern_sdp", "time_limit": args.time_limit, "bnb": args.bnb, "root": args.root,
                              "solvers": args.solvers})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
