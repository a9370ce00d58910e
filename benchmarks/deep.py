"""Exact constants of deep ReLU networks: times to proof, certified brackets, node bounds before and after.

``python -m benchmarks.deep --out DIR [--published | --quick | --full] [--seed S]`` writes a report section (Markdown,
``results.json`` and one CSV per table, :func:`benchmarks.report.write_one_section`) with:

- **published**: the seven published exact constants of ``../shared/networks`` (LipBaB 4-5-5-3 and
  10-15-10-3 on boxes, three norms; ExLipBaB 4-6-6-3 global l2), each solved by ``auto`` with its time; a
  check per constant (``optimal`` and within 1e-9 relative). Skipped with a message when the folder is absent.
- **small boxes** (not in ``--published``): LipBaB-like 10-30-30-30-3 nets (:func:`small_box_network`, seeds
  :data:`SMALL_BOX_SEEDS`) on ``[0, 0.1]^10``, norms 2, 1 and inf (``--quick``: l2), each solved by ``auto``; the
  check of issue 13's target (every one proven in under :data:`SMALL_BOX_TARGET` s; judged outside ``--quick``).
- **depth on small boxes** (not in ``--quick``): the same kind of nets with 4 and 5 hidden layers of 30
  (:data:`DEPTH_SIZES`, seeds :data:`DEPTH_SEEDS`) on ``[0, 0.1]^10``, l2, ``auto``: time to proof or the
  bracket at the limit, how the small-box case scales with depth.
- **node bounds, before and after**: :func:`lipexact.deep.enumerate.run_search` (branch and bound) with the
  entrywise interval Jacobian bound (``jacobian="interval"``, the bound before this section existed) and with
  the sign-vector, orthant, last-layer and layer-norm split bounds (``"signed"``, the default), side by side
  in one run on the same networks (same limit), with the ratio of the times and of the node counts.
- **random deep networks**: N(0, 1)/sqrt(fan-in) weights and biases, seed ``S``: 10-20-20-1 and
  10-30-30-30-3 on ``[0, 1]^10``, ``[-1, 1]^10`` and globally, norms 2 and inf (``--full``: and 1)
  (``auto``: time to proof, or the certified bracket at the limit: 60 s, 600 s with ``--full``);
  11-12-12-1 and 11-24-24-1 globally (targets: < 60 s and < 10 min); 13-20-16-8-3 globally (target: a
  bracket within 1% after 10 minutes, ``--full``).
- **trained networks** (not in ``--quick``): :func:`trained_network`, the sizes of the public global nets
  (11-12-12-1, 9-16-16-1, 11-24-24-1) trained to regress a smooth function, global l2, ``auto`` (time to proof or
  the bracket at the limit).
- **pruned networks** (not in ``--quick``): :func:`pruned_network`, random nets with a quarter of every hidden
  layer's rows zeroed, global l2, ``auto`` with the LipSDP solves keeping those units and without them
  (:mod:`lipexact.bounds.sdp.inert`), side by side (time to proof or the bracket at the limit, and the ratio).
- **memory**: the peak resident set size of each run (psutil, sampled every 0.1 s in a thread) and of the
  largest.

The machine's load average is recorded before each row: the machine is shared and absolute times are
inflated under load; the before/after comparison is a ratio of runs made one after the other.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

from benchmarks.report import Check, Section, Table

__all__ = ["PROG", "random_network", "small_box_network", "trained_network", "pruned_network", "TRAINED_SIZES",
           "PRUNED_SIZES", "SMALL_BOX_TARGET",
           "SMALL_BOX_SEEDS", "small_box_check",
           "measure", "run_deep", "build_section", "section_mode", "section", "main",
           "entry"]

PROG = "python -m benchmarks.deep"
SHARED = Path(__file__).resolve().parents[2] / "shared" / "networks"


def random_network(sizes: Sequence[int], seed: int):
    """N(0, 1)/sqrt(fan-in) weights and biases.

    Examples
    --------
    >>> random_network([3, 4, 1], 0).sizes
    [3, 4, 1]
    """
    from lipexact.deep.network import ReLUNetwork

    rng = np.random.default_rng(seed)
    return ReLUNetwork([(rng.standard_normal((o, i)) / np.sqrt(i), rng.standard_normal(o) / np.sqrt(i))
                        for i, o in zip(sizes[:-1], sizes[1:])])


#: The trained group's networks: the sizes of ExLipBaB's public global nets (wine 11-12-12-1 and 11-24-24-1,
#: abalone 9-16-16-1).
TRAINED_SIZES = ("11-12-12-1", "9-16-16-1", "11-24-24-1")


#: Sizes of the pruned group (global l2, with and without the LipSDP solves' removal of zero-row units).
PRUNED_SIZES = ("11-12-12-1", "8-10-20-1", "9-16-16-1")


def pruned_network(sizes: Sequence[int], seed: int, fraction: float = 0.25):
    """:func:`random_network` with ``fraction`` of every hidden layer's rows zeroed (structured pruning: those units'
    pre-activations are their biases), the rows drawn with the seed.

    Examples
    --------
    >>> net = pruned_network([3, 8, 4, 1], 0)
    >>> [int((~np.asarray(W).any(axis=1)).sum()) for W in net.weights]
    [2, 1, 0]
    """
    from lipexact.deep.network import ReLUNetwork

    net = random_network(sizes, seed)
    rng = np.random.default_rng([seed, 1])
    layers = []
    for i, (W, b) in enumerate(zip(net.weights, net.biases)):
        W = np.array(W, dtype=np.float64)
        if i < len(net.weights) - 1:
            W[rng.choice(W.shape[0], int(fraction * W.shape[0]), replace=False)] = 0.0
        layers.append((W, np.array(b, dtype=np.float64)))
    return ReLUNetwork(layers)


def trained_network(sizes: Sequence[int], seed: int, epochs: int = 300):
    """A stand-in for the public trained nets (their weights are not in ``../shared``), trained for a regression on
    tabular inputs as they were: the MLP of ``sizes``
    (PyTorch's default initialisation, seeded) fitted by Adam to a smooth random function of 3,000
    standard-normal inputs (:func:`benchmarks.data.smooth_function`, lengthscale 2), one thread.

    Examples
    --------
    >>> trained_network([3, 4, 1], 0, epochs=2).sizes
    [3, 4, 1]
    """
    import torch

    from benchmarks.data import smooth_function
    from benchmarks.models import mlp
    from benchmarks.training import train_regression
    from lipexact.deep.network import ReLUNetwork

    rng = np.random.default_rng(seed)
    f = smooth_function(sizes[0], n_features=300, lengthscale=2.0, seed=seed)
    X = rng.standard_normal((3000, sizes[0]))
    model = mlp(list(sizes), seed=seed, dtype=torch.float64)
    train_regression(model, X, f(X)[:, None], epochs=epochs, lr=1e-2, batch_size=500, seed=seed)
    layers = [m for m in model if isinstance(m, torch.nn.Linear)]
    return ReLUNetwork([(layer.weight.detach().numpy(), layer.bias.detach().numpy()) for layer in layers])


def small_box_network(sizes: Sequence[int], seed: int):
    """LipBaB-like networks for small boxes: weights ``0.65 N(0, 1)``, biases ``-0.35 + 0.9 N(0, 1)`` (many units
    stable on ``[0, 0.1]^n``).

    Examples
    --------
    >>> small_box_network([3, 4, 2], 0).sizes
    [3, 4, 2]
    """
    from lipexact.deep.network import ReLUNetwork

    rng = np.random.default_rng(seed)
    return ReLUNetwork([(0.65 * rng.standard_normal((o, i)), -0.35 + 0.9 * rng.standard_normal(o))
                        for i, o in zip(sizes[:-1], sizes[1:])])


#: Issue 13: every 10-30-30-30-3 network of LipBaB's kind on ``[0, 0.1]^10`` proven in under this many seconds.
SMALL_BOX_TARGET = 1.0
#: Seeds of the small-box networks per mode (``quick``: l2 only; the others: norms 2, 1 and inf).
SMALL_BOX_SEEDS = {"quick": (0, 1, 2), "default": tuple(range(6)), "full": tuple(range(10))}
#: Deeper small-box nets (the depth group, not in ``quick``) and their seeds.
DEPTH_SIZES = ("10-30-30-30-30-3", "10-30-30-30-30-30-3")
DEPTH_SEEDS = (0, 1, 2)


@dataclass
class Run:
    group: str
    name: str
    scope: str
    norm: str
    method: str
    limit: float | None
    status: str
    lower: float | None
    upper: float | None
    seconds: float
    nodes: int | None
    peak_rss_mb: float
    load1: float | None
    note: str = ""

    @property
    def gap(self) -> float | None:
        if self.lower is None or self.upper is None or not self.lower > 0:
            return None
        return self.upper / self.lower - 1.0


def measure(call: Callable[[], Any]) -> tuple[Any, float, float]:
    """``(result, seconds, peak RSS in MiB)``: the call's wall time and the largest resident set size of this
    process sampled every 0.1 s while it ran (psutil).

    Examples
    --------
    >>> value, seconds, peak = measure(lambda: sum(range(10)))
    >>> value, seconds >= 0, peak > 0
    (45, True, True)
    """
    import psutil

    process = psutil.Process()
    peak = [process.memory_info().rss]
    done = threading.Event()

    def sample() -> None:
        while not done.wait(0.1):
            peak[0] = max(peak[0], process.memory_info().rss)

    thread = threading.Thread(target=sample, daemon=True)
    thread.start()
    start = time.perf_counter()
    try:
        value = call()
    finally:
        seconds = time.perf_counter() - start
        done.set()
        thread.join()
    peak[0] = max(peak[0], process.memory_info().rss)
    return value, seconds, peak[0] / 2 ** 20


def _load() -> float | None:
    return os.getloadavg()[0] if hasattr(os, "getloadavg") else None


def _solve(group: str, name: str, net, norm: str, box, limit: float | None, seed: int, note: str = "") -> Run:
    from lipexact.deep.solve import lipschitz_deep
    from lipexact.domain import as_box

    load = _load()
    domain = None if box is None else as_box(box, net.n_inputs)  # a number stands for every coordinate
    result, seconds, peak = measure(lambda: lipschitz_deep(net, "auto", norm, domain, limit, seed=seed))
    stats = result.stats
    nodes = stats.get("nodes", stats.get("second", {}).get("nodes"))
    cube = isinstance(box, (tuple, list)) and all(np.ndim(bound) == 0 for bound in box)
    scope = "global" if box is None else f"[{box[0]:g}, {box[1]:g}]^{net.n_inputs}" if cube else "box (per coordinate)"
    picked = stats.get("auto")
    return Run(group, name, scope, norm, f"auto ({picked})", limit, result.status.value, result.lower, result.upper,
               seconds, nodes, peak, load, note)


def _compare(name: str, net, norm: str, box, limit: float, seed: int) -> list[Run]:
    from lipexact.deep.enumerate import run_search
    from lipexact.domain import as_box
    from lipexact.exact.problem import Clock

    rows = []
    domain = None if box is None else as_box(([box[0]] * net.n_inputs, [box[1]] * net.n_inputs), net.n_inputs)
    scope = "global" if box is None else f"[{box[0]:g}, {box[1]:g}]^{net.n_inputs}"
    for jacobian in ("interval", "signed"):
        load = _load()
        outcome, seconds, peak = measure(lambda: run_search(net, norm, domain, Clock(limit), bnb=True, seed=seed,
                                                            jacobian=jacobian))
        rows.append(Run("bounds", name, scope, norm, f"bnb ({jacobian})", limit, outcome.status.value, outcome.value,
                        outcome.upper, seconds, outcome.stats["nodes"], peak, load))
    return rows


def _published(seed: int) -> tuple[list[Run], list[Check], str | None]:
    from lipexact.deep.network import ReLUNetwork
    from lipexact.norms import parse_norm

    index_path = SHARED / "published.json"
    if not index_path.is_file():
        return [], [], f"published networks not found at {SHARED}"
    runs, checks = [], []
    for name, record in sorted(json.loads(index_path.read_text()).items()):
        net = ReLUNetwork.from_dict(json.loads((SHARED / f"{name}.json").read_text()))
        for entry in record["published"]:
            box = entry["box"]  # None, [low, high] (numbers or one list per bound) or {"lower": .., "upper": ..}
            run = _solve("published", name, net, parse_norm(entry["norm"]), box, 300.0, seed,
                         note=f"published {entry['value']!r}")
            runs.append(run)
            value = entry["value"]
            ok = (run.status == "optimal" and run.lower is not None
                  and abs(run.lower - value) <= 1e-9 * abs(value) and abs(run.upper - value) <= 1e-9 * abs(value))
            checks.append(Check(f"{name} l{entry['norm']} {run.scope}: optimal and equal to the published "
                                f"{value!r} (1e-9 relative)", ok,
                                f"{run.status} [{run.lower!r}, {run.upper!r}] in {run.seconds:.2f} s"))
    return runs, checks, None


@dataclass
class DeepResult:
    runs: list
    checks: list
    skipped: list
    mode: str
    seed: int
    limit: float
    load_start: Any
    load_end: Any
    seconds: float


def run_deep(mode: str = "default", seed: int = 0, progress: bool = True) -> DeepResult:
    """Every row of the section (see the module docstring); ``mode`` is ``published`` (the published constants
    only), ``quick``, ``default`` or ``full``."""
    import torch  # noqa: F401 - imported before any timing (the witness check imports it on first use)

    load_start = list(os.getloadavg()) if hasattr(os, "getloadavg") else None
    start = time.perf_counter()
    limit = {"published": 300.0, "quick": 10.0, "default": 60.0, "full": 600.0}[mode]
    runs, checks, skipped = [], [], []

    def log(run: Run) -> None:
        runs.append(run)
        if progress:
            print(f"[deep] {run.group} {run.name} {run.scope} l{run.norm} {run.method}: {run.status} "
                  f"[{run.lower}, {run.upper}] {run.seconds:.1f} s (load {run.load1})", file=sys.stderr, flush=True)

    published, published_checks, reason = _published(seed)
    for run in published:
        log(run)
    checks.extend(published_checks)
    if reason:
        skipped.append(reason)
    if mode == "published":
        load_end = list(os.getloadavg()) if hasattr(os, "getloadavg") else None
        return DeepResult(runs, checks, skipped, mode, seed, limit, load_start, load_end, time.perf_counter() - start)
    # small boxes: LipBaB-like nets on [0, 0.1]^10, the < 1 s target judged per run outside quick
    small_norms = ("2",) if mode == "quick" else ("2", "1", "inf")
    small_runs = []
    for small_seed in SMALL_BOX_SEEDS[mode]:
        net = small_box_network([10, 30, 30, 30, 3], small_seed)
        for norm in small_norms:
            run = _solve("small", f"10-30-30-30-3 s{small_seed}", net, norm, (0.0, 0.1), limit, seed)
            small_runs.append(run)
            log(run)
    checks.append(small_box_check(small_runs, judged=mode != "quick"))
    if mode != "quick":  # depth on small boxes
        for sizes in DEPTH_SIZES:
            for depth_seed in DEPTH_SEEDS:
                net = small_box_network([int(s) for s in sizes.split("-")], depth_seed)
                log(_solve("depth", f"{sizes} s{depth_seed}", net, "2", (0.0, 0.1), limit, seed))
    # node bounds before and after, side by side
    comparisons = [("8-10-10-1", None, "2"), ("8-10-10-1", None, "inf")] if mode == "quick" else \
        [("11-12-12-1", None, "2"), ("11-12-12-1", None, "inf"), ("10-20-20-1", (0.0, 1.0), "inf"),
         ("10-20-20-1", None, "inf")]
    compare_limit = 20.0 if mode == "quick" else 60.0
    for sizes, box, norm in comparisons:
        net = random_network([int(s) for s in sizes.split("-")], seed)
        for run in _compare(sizes, net, norm, box, compare_limit, seed):
            log(run)
    # random deep nets
    norms = {"quick": ("2",), "default": ("2", "inf"), "full": ("2", "inf", "1")}[mode]
    nets = ["10-20-20-1"] if mode == "quick" else ["10-20-20-1", "10-30-30-30-3"]
    for sizes in nets:
        net = random_network([int(s) for s in sizes.split("-")], seed)
        for box in ((0.0, 1.0), (-1.0, 1.0), None):
            for norm in norms:
                log(_solve("random", sizes, net, norm, box, limit, seed))
    if mode != "quick":  # trained nets of the public global sizes
        for sizes in TRAINED_SIZES:
            net = trained_network([int(size) for size in sizes.split("-")], seed)
            log(_solve("trained", sizes, net, "2", None, limit, seed, note="trained 300 epochs"))
    if mode != "quick":  # pruned nets: the LipSDP solves keeping the zero-row units, then removing them
        from lipexact.bounds.sdp import inert

        for sizes in PRUNED_SIZES:
            net = pruned_network([int(size) for size in sizes.split("-")], seed)
            for remove in (False, True):
                inert.REMOVE = remove
                try:
                    log(_solve("pruned", sizes, net, "2", None, limit, seed,
                               note="zero-row units removed" if remove else "zero-row units kept"))
                finally:
                    inert.REMOVE = True
    targets = [("11-12-12-1", 60.0)] if mode == "quick" else \
        [("11-12-12-1", 60.0), ("11-24-24-1", 600.0), ("13-20-16-8-3", 600.0)]
    for sizes, target in targets:
        net = random_network([int(s) for s in sizes.split("-")], seed)
        run_limit = target if mode == "full" else min(target, limit)
        run = _solve("targets", sizes, net, "2", None, run_limit, seed, note=f"target {target:g} s")
        log(run)
        if sizes == "13-20-16-8-3":
            ok = run.gap is not None and run.gap <= 0.01 if run_limit >= target else None
            checks.append(Check(f"{sizes} global l2: certified bracket within 1% after {target:g} s", ok,
                                f"[{run.lower}, {run.upper}] after {run.seconds:.1f} s (limit {run_limit:g} s)"))
        else:
            ok = run.status == "optimal" and run.seconds <= target if run_limit >= target or \
                run.status == "optimal" else None
            checks.append(Check(f"{sizes} global l2: proven optimal within {target:g} s", ok,
                                f"{run.status} [{run.lower}, {run.upper}] in {run.seconds:.1f} s "
                                f"(limit {run_limit:g} s)"))
    load_end = list(os.getloadavg()) if hasattr(os, "getloadavg") else None
    return DeepResult(runs, checks, skipped, mode, seed, limit, load_start, load_end, time.perf_counter() - start)


def small_box_check(runs: Sequence[Run], judged: bool = True) -> Check:
    """Issue 13's small-box target: every run ``optimal`` in under :data:`SMALL_BOX_TARGET` seconds (not judged,
    only recorded, when ``judged`` is False); the detail names every run that missed it.

    Examples
    --------
    >>> fast = Run("small", "s0", "[0, 0.1]^10", "2", "auto (bnb)", 60.0, "optimal", 1.0, 1.0, 0.5, 10, 1.0, 0.1)
    >>> slow = Run("small", "s2", "[0, 0.1]^10", "2", "auto (bnb)", 60.0, "optimal", 1.0, 1.0, 4.2, 800, 1.0, 0.1)
    >>> [small_box_check(runs, judged).passed for runs, judged in (([fast], True), ([fast, slow], True),
    ...                                                              ([slow], False))]
    [True, False, None]
    >>> small_box_check([fast, slow]).detail
    '1 of 2 runs; s2 l2: optimal 4.20 s'
    """
    slow = [r for r in runs if not (r.status == "optimal" and r.seconds < SMALL_BOX_TARGET)]
    detail = (f"{len(runs) - len(slow)} of {len(runs)} runs; "
              + ("; ".join(f"{r.name} l{r.norm}: {r.status} {r.seconds:.2f} s" for r in slow) or "none slower")
              + ("" if judged else " (recorded, not judged)"))
    return Check(f"small boxes: every 10-30-30-30-3 net of LipBaB's kind on [0, 0.1]^10 proven in < "
                 f"{SMALL_BOX_TARGET:g} s", (not slow) if judged and runs else None, detail)


def _fmt(value: float | None) -> Any:
    return None if value is None else float(f"{value:.10g}")


def build_section(result: DeepResult, key: str = "deep",
                  title: str = "Deep networks: exact constants, brackets and node bounds") -> Section:
    section = Section(key, title)
    cores = os.cpu_count() or 1
    scope = ("the published constants only (the `smoke` and `quick` configurations; `python -m benchmarks.deep` "
             "runs the rest)" if result.mode == "published" else f"limit {result.limit:g} s for the random nets")
    section.text.append(
        f"Mode `{result.mode}` ({scope}), seed {result.seed}. Random nets: "
        "N(0, 1)/sqrt(fan-in) weights and biases. Every value is certified: `lower` is the re-checked witness "
        "(exact signs, autograd), `upper` the proven bound; `optimal` means they agree within 1e-9. The method "
        "is `lipschitz_deep(net, 'auto')`, which says what it picked.")
    loads = (f"Load average (1/5/15 min) at the start: {result.load_start}, at the end: {result.load_end} "
             f"({cores} logical cores); the 1-minute load before each row is in the tables.")
    if max((result.load_start or [0])[0], (result.load_end or [0])[0]) > cores:
        loads += (" WARNING: more runnable processes than cores: other work shared the machine and the "
                  "times are longer than on an idle machine.")
    section.text.append(loads + f" Total {result.seconds:.0f} s.")
    if result.skipped:
        section.text.append("Skipped: " + "; ".join(result.skipped) + ".")
    columns = ["network", "scope", "norm", "method", "limit (s)", "status", "lower", "upper", "gap", "time (s)",
               "nodes", "peak RSS (MiB)", "load 1 min", "note"]

    def rows(group: str) -> list:
        return [[r.name, r.scope, r.norm, r.method, r.limit, r.status, _fmt(r.lower), _fmt(r.upper),
                 None if r.gap is None else float(f"{r.gap:.3g}"), round(r.seconds, 2), r.nodes,
                 round(r.peak_rss_mb, 1), r.load1, r.note] for r in result.runs if r.group == group]

    section.tables.append(Table(f"{key}_published", "Published exact constants (../shared/networks)", columns,
                                rows("published")))
    section.tables.append(Table(f"{key}_small", f"Small boxes: LipBaB-like 10-30-30-30-3 nets (weights 0.65 N(0, 1), "
                                "biases -0.35 + 0.9 N(0, 1)) on [0, 0.1]^10, target < "
                                f"{SMALL_BOX_TARGET:g} s each", columns, rows("small"),
                                ["Wall seconds of one run each on the shared machine (the load is in the row)."]))
    section.tables.append(Table(f"{key}_depth", "Depth on small boxes: LipBaB-like nets with 4 and 5 hidden layers "
                                "of 30 on [0, 0.1]^10, l2: time to proof or the bracket at the limit", columns,
                                rows("depth"), ["Each hidden layer more costs several times the time; README "
                                                "says where it goes (bounds and realizability)."]))
    section.tables.append(Table(f"{key}_random", "Random deep networks: time to proof or the bracket at the limit",
                                columns, rows("random")))
    section.tables.append(Table(f"{key}_trained", "Trained networks of the public global sizes (trained_network: "
                                "a regression on 11 or 9 standard-normal inputs), global l2", columns,
                                rows("trained"), ["Harder than random nets of the same size: see README."]))
    section.tables.append(Table(f"{key}_targets", "Global l2 targets (11-12-12-1 < 60 s, 11-24-24-1 < 10 min, "
                                "13-20-16-8-3 bracket within 1% after 10 min)", columns, rows("targets"),
                                ["Outside --full the limit is the mode's, so a target row that stops there is not "
                                 "judged."]))
    pruned_runs = [r for r in result.runs if r.group == "pruned"]
    section.tables.append(Table(
        f"{key}_pruned", "Pruned random nets (a quarter of every hidden layer's rows zeroed), global l2: the LipSDP "
        "node solves keeping the zero-row units (before) and removing them (after), side by side",
        ["network", "status before", "status after", "upper before", "upper after", "time before (s)",
         "time after (s)", "time ratio", "nodes before", "nodes after", "load 1 min"],
        [[before.name, before.status, after.status, _fmt(before.upper), _fmt(after.upper), round(before.seconds, 2),
          round(after.seconds, 2), round(after.seconds / before.seconds, 3) if before.seconds > 0 else None,
          before.nodes, after.nodes, before.load1] for before, after in zip(pruned_runs[::2], pruned_runs[1::2])],
        ["Removing them is exact (no Jacobian sees them); with a zero row in, the barrier problem was unbounded "
         "along the unit's multiplier (lipexact.bounds.sdp.inert)."]))
    bound_runs = [r for r in result.runs if r.group == "bounds"]
    comparison = []
    for before, after in zip(bound_runs[::2], bound_runs[1::2]):
        comparison.append([before.name, before.scope, before.norm, before.status, after.status,
                           _fmt(before.upper), _fmt(after.upper), round(before.seconds, 2), round(after.seconds, 2),
                           round(after.seconds / before.seconds, 3) if before.seconds > 0 else None,
                           before.nodes, after.nodes,
                           round(after.nodes / before.nodes, 3) if before.nodes else None, before.load1])
    section.tables.append(Table(
        f"{key}_bounds", "Node bounds: entrywise interval Jacobian bound (before) against the sign-vector, "
        "orthant, last-layer and layer-norm split bounds (after), bnb, same limit, side by side",
        ["network", "scope", "norm", "status before", "status after", "upper before", "upper after",
         "time before (s)", "time after (s)", "time ratio", "nodes before", "nodes after", "node ratio",
         "load 1 min"], comparison,
        ["A ratio below 1: the new bounds are faster (fewer nodes). When both stop at the limit, compare the "
         "upper bounds (the certified bracket's top) instead."]))
    largest = max(result.runs, key=lambda r: r.peak_rss_mb, default=None)
    if largest is not None:
        section.text.append(f"Peak RSS: {largest.peak_rss_mb:.0f} MiB (the largest run: {largest.name} "
                            f"{largest.scope} l{largest.norm}, {largest.method}).")
    section.checks.extend(result.checks)
    section.records.extend(r.__dict__ for r in result.runs)
    section.seconds = result.seconds
    return section


def section_mode(config_name: str) -> str:
    """The mode of the section in a ``python -m benchmarks.run`` configuration: ``smoke`` and ``quick`` (whose
    whole run has a 5-minute budget) solve the published constants only (seconds); ``full`` is the full mode;
    any other configuration the default mode (about 25 minutes).

    Examples
    --------
    >>> section_mode("quick"), section_mode("default"), section_mode("full")
    ('published', 'default', 'full')
    """
    return "published" if config_name in ("quick", "smoke") else "full" if config_name == "full" else "default"


def section(ctx: Any) -> Section:
    """The measurement as a section of ``python -m benchmarks.run`` (mode: :func:`section_mode`)."""
    mode = section_mode(getattr(ctx.config, "name", "default"))
    return build_section(run_deep(mode, ctx.seed, progress=ctx.progress))


def _parse(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog=PROG, description=__doc__.splitlines()[0])
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--published", action="store_true", help="the published constants only (seconds)")
    group.add_argument("--quick", action="store_true", help="small nets, 10 s limits (a few minutes)")
    group.add_argument("--full", action="store_true", help="600 s limits and the 10-minute targets (hours)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the random networks and the solvers")
    parser.add_argument("-o", "--out", type=Path, default=None,
                        help="output folder (default benchmarks/results/deep-<timestamp>)")
    parser.add_argument("--no-progress", action="store_true", help="no progress lines on stderr")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the section and write its report; print the report's path."""
    from benchmarks.report import run_one_section

    args = _parse(argv)
    mode = "published" if args.published else "quick" if args.quick else "full" if args.full else "default"
    return run_one_section(PROG, argv, "deep", args.out, args.seed,
                           lambda: build_section(run_deep(mode, args.seed, progress=not args.no_progress)),
                           {"name": f"deep-{mode}", "mode": mode})


def entry(argv: Sequence[str] | None = None) -> int:
    from lipexact.cli import run_cli

    return run_cli(PROG, main, argv)


if __name__ == "__main__":
    sys.exit(entry())
