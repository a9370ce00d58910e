"""Time limits that hold: every exact method stops within ``limit x 1.1 + 0.2 s``, measured.

``python -m benchmarks.time_limits [--quick] [-o DIR] [--seed S] [--repeats R] [--limits L,...]`` times
:func:`lipexact.lipschitz` ``(net, method, time_limit=L)`` for every exact method (``brute`` only where
``h <= 16``; ``enumerate``, ``bnb``, ``milp`` and ``auto``) and every limit (0.02, 0.2, 1 and 5 s;
``--quick``: 0.02, 0.2 and 1 s) on networks that the solvers do not finish quickly:

- ``gka3a`` and ``g05_60.0``: the shared instances ``../shared/instances/qubo/gka/gka3a.sparse`` and
  ``../shared/instances/maxcut/rudy/g05_60.0`` read with :func:`lipexact.reduce.read_instance`, reduced by
  :func:`reductions.chain.reduce_to_lipcst` and solved as ``TwoLayerReLU(lipcst.M1, lipcst.M2)`` (global
  l2 constant; skipped with a message when the folder is absent);
- ``random_6x40``: 6 inputs, 40 hidden units, one output, N(0, 1) weights and biases (global l2 constant);
- ``random_3x14_box``: 3 inputs, 14 hidden units, one output, N(0, 1) weights and biases, local l2
  constant on the box ``[-1, 1]^3`` (the network brute force runs on; draw :data:`BOX_DRAW`, one that brute
  force does not finish within 5 s with seed 0).

torch is imported before anything is timed (the witness check imports it on first use, a one-off cost of
the first call in a process). Each (network, method) is run once untimed at the smallest limit (warm-up:
imports and first-call caches of the solver libraries), then each limit is timed ``repeats`` times
(default 3; ``gc.collect()`` before each call, outside the timed span); a row's wall time is the median of
its repeats, wall-clock (``time.perf_counter``) around the ``lipschitz`` call alone. A row passes when that
median is at most ``limit x 1.1 + 0.2`` seconds. The machine's load average is recorded at the start and
the end, and the 1-minute load before each row, since the limit is a wall-clock promise and a busy
machine slows every search.

The report follows the other sections (``report.md``, ``results.json`` with every call, one CSV per table);
every row is a check, so failing rows are FAIL checks that count in the report's summary. It is also a
section of ``python -m benchmarks.run`` (``--sections time_limits``).
"""

from __future__ import annotations

import argparse
import datetime as _dt
import gc
import os
import statistics
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from benchmarks.measure import Hang, call_with_watchdog
from benchmarks.report import Check, Section, Table

__all__ = [
    "PROG", "METHODS", "LIMITS", "QUICK_LIMITS", "NETWORKS", "BRUTE_MAX_HIDDEN", "FACTOR", "SLACK",
    "allowed", "Network", "make_network", "Call", "Row", "TimeLimitResult", "time_call", "run_time_limits",
    "build_section", "section", "main", "entry",
]

PROG = "python -m benchmarks.time_limits"
METHODS = ("brute", "enumerate", "bnb", "milp", "auto")
LIMITS = (0.02, 0.2, 1.0, 5.0)
QUICK_LIMITS = (0.02, 0.2, 1.0)
NETWORKS = ("gka3a", "g05_60.0", "random_6x40", "random_3x14_box")
#: Brute force enumerates 2^h patterns: it is timed only on networks with at most this many hidden units.
BRUTE_MAX_HIDDEN = 16
#: The promise: a run with ``time_limit=L`` returns within ``FACTOR L + SLACK`` seconds.
FACTOR = 1.1
SLACK = 0.2
DEFAULT_REPEATS = 3

_INSTANCES = {
    "gka3a": ("qubo", "gka", "gka3a.sparse"),
    "g05_60.0": ("maxcut", "rudy", "g05_60.0"),
}


def allowed(limit: float) -> float:
    """The wall time a run with ``time_limit=limit`` may take: ``limit x 1.1 + 0.2`` seconds.

    >>> round(allowed(0.02), 6), round(allowed(5.0), 6)
    (0.222, 5.7)
    """
    return limit * FACTOR + SLACK


def _load() -> list[float] | None:
    return list(os.getloadavg()) if hasattr(os, "getloadavg") else None


# =========================================================================== the networks
def shared_root() -> Path:
    """``../shared/instances`` beside the repository."""
    return Path(__file__).resolve().parent.parent.parent / "shared" / "instances"


@dataclass
class Network:
    """A network to time: the ``TwoLayerReLU``, its domain (None: global) and where it comes from."""

    name: str
    net: Any
    domain: tuple[list[float], list[float]] | None
    source: str

    @property
    def hidden(self) -> int:
        return int(np.asarray(self.net.W1).shape[0])

    @property
    def inputs(self) -> int:
        return int(np.asarray(self.net.W1).shape[1])

    @property
    def scope(self) -> str:
        return "global" if self.domain is None else "box"


#: The draw of the 3-input, 14-hidden network: brute force's time on such a network ranges from 0.1 s to over
#: 6 s by draw (it checks the patterns best first, until one is realizable on the box); with seed 0, draws 0 to 3
#: finish in 0.1 to 1.5 s and draw 4 is not finished after 6 s (1145 regions checked, commit c8cbe68).
BOX_DRAW = 4


def _random(name: str, seed: int, n: int, h: int, box: bool, draw: int | None = None) -> Network:
    from lipexact import TwoLayerReLU

    key = [seed, n, h] + ([] if draw is None else [draw])
    rng = np.random.default_rng(key)
    W1, b1, W2 = rng.standard_normal((h, n)), rng.standard_normal(h), rng.standard_normal((1, h))
    domain = ([-1.0] * n, [1.0] * n) if box else None
    source = (f"random: W1 {h}x{n}, b1, W2 1x{h} ~ N(0, 1), numpy default_rng({key})"
              + (f"; box [-1, 1]^{n}" if box else ""))
    return Network(name, TwoLayerReLU(W1, W2, b1), domain, source)


def make_network(name: str, seed: int = 0, root: Path | None = None) -> Network:
    """One of :data:`NETWORKS`; a missing shared instance raises ``FileNotFoundError``."""
    from lipexact import TwoLayerReLU

    if name == "random_6x40":
        return _random(name, seed, 6, 40, box=False)
    if name == "random_3x14_box":
        return _random(name, seed, 3, 14, box=True, draw=BOX_DRAW)
    if name in _INSTANCES:
        from lipexact.reduce import read_instance
        from reductions.chain import reduce_to_lipcst

        path = (root if root is not None else shared_root()).joinpath(*_INSTANCES[name])
        if not path.exists():
            raise FileNotFoundError(2, "no such file", str(path))
        reduced = reduce_to_lipcst(read_instance(str(path)))
        return Network(name, TwoLayerReLU(reduced.lipcst.M1, reduced.lipcst.M2), None,
                       f"shared instance {'/'.join(_INSTANCES[name])} -> reduce_to_lipcst "
                       f"({' -> '.join(reduced.chain.names)})")
    from reductions.validation import InvalidInputError

    raise InvalidInputError("networks", f"names among {list(NETWORKS)}", repr(name))


# =========================================================================== timing
def _watchdog(seconds: float) -> float:
    """Seconds after which a call with this limit is abandoned: far beyond the allowance."""
    return 3 * allowed(seconds) + 30.0




@dataclass
class Call:
    """One timed call of ``lipschitz``."""

    wall: float
    cpu: float
    outcome: str  # "result", "exception", "hang"
    status: str | None = None
    lower: float | None = None
    upper: float | None = None
    message: str = ""

    @property
    def label(self) -> str:
        return self.status if self.outcome == "result" else self.outcome

    def to_dict(self) -> dict:
        return dict(self.__dict__)


def time_call(network: Network, method: str, limit: float, seed: int = 0) -> Call:
    """Time ``lipschitz(network.net, method, domain=network.domain, time_limit=limit, seed=seed)``."""
    from lipexact import lipschitz

    gc.collect()
    watchdog = _watchdog(limit)
    cpu0 = time.process_time()
    start = time.perf_counter()
    try:
        result = call_with_watchdog(
            lambda: lipschitz(network.net, method, domain=network.domain, time_limit=limit, seed=seed), watchdog)
    except Hang:
        wall, cpu = time.perf_counter() - start, time.process_time() - cpu0
        return Call(wall, cpu, "hang", message=f"no answer after {watchdog:g} s (watchdog)")
    except Exception as error:  # noqa: BLE001 - recorded: the row still says how long it took
        wall, cpu = time.perf_counter() - start, time.process_time() - cpu0
        return Call(wall, cpu, "exception", message=f"{type(error).__name__}: {error}"[:300])
    wall, cpu = time.perf_counter() - start, time.process_time() - cpu0
    status = getattr(result.status, "value", str(result.status))
    message = str(result.message)[:300]
    return Call(wall, cpu, "result", status, result.lower, result.upper, message)


@dataclass
class Row:
    """Every timed call of one (network, method, limit) and the verdict on their median."""

    network: str
    hidden: int
    scope: str
    method: str
    limit: float
    calls: list[Call]
    load1: float | None = None

    @property
    def allowed(self) -> float:
        return allowed(self.limit)

    @property
    def wall(self) -> float:
        return statistics.median(c.wall for c in self.calls)

    @property
    def wall_max(self) -> float:
        return max(c.wall for c in self.calls)

    @property
    def cpu(self) -> float:
        return statistics.median(c.cpu for c in self.calls)

    @property
    def ratio(self) -> float:
        return self.wall / self.allowed

    @property
    def passed(self) -> bool:
        return self.wall <= self.allowed

    @property
    def verdict(self) -> str:
        return "PASS" if self.passed else "FAIL"

    @property
    def median_call(self) -> Call:
        return sorted(self.calls, key=lambda c: c.wall)[(len(self.calls) - 1) // 2]

    @property
    def status(self) -> str:
        labels = Counter(c.label for c in self.calls)
        if len(labels) == 1:
            return next(iter(labels))
        return ", ".join(f"{label} x{count}" for label, count in labels.most_common())

    def to_dict(self) -> dict:
        return {"network": self.network, "hidden": self.hidden, "scope": self.scope, "method": self.method,
                "limit": self.limit, "allowed": self.allowed, "wall_median": self.wall,
                "wall_max": self.wall_max, "cpu_median": self.cpu, "ratio": self.ratio, "verdict": self.verdict,
                "status": self.status, "load1_before": self.load1, "calls": [c.to_dict() for c in self.calls]}


@dataclass
class TimeLimitResult:
    """Everything a run produced."""

    seed: int
    limits: tuple[float, ...]
    methods: tuple[str, ...]
    repeats: int
    networks: list[dict]
    skipped: list[str]
    rows: list[Row]
    warmups: list[dict]
    torch_import_seconds: float
    load_start: list[float] | None
    load_end: list[float] | None
    seconds: float
    judged: bool = True
    extra: dict = field(default_factory=dict)


def _import_torch() -> float:
    start = time.perf_counter()
    import torch  # noqa: F401 - imported before any timing: its import is a one-off cost of the first call

    return time.perf_counter() - start


def run_time_limits(limits: Sequence[float] = LIMITS, networks: Sequence[str] = NETWORKS,
                    methods: Sequence[str] = METHODS, repeats: int = DEFAULT_REPEATS, seed: int = 0,
                    progress: bool = False, root: Path | None = None, judged: bool = True) -> TimeLimitResult:
    """Time every method x limit x network (brute force only where ``h <= 16``).

    Parameters
    ----------
    limits : sequence of float
        Time limits in seconds.
    networks : sequence of str
        Names among :data:`NETWORKS`; a shared instance that is absent is skipped with a message.
    methods : sequence of str
        Names among :data:`METHODS`.
    repeats : int
        Timed calls per row (the row's wall time is their median).
    seed : int
        Seed of the random networks and of the solvers.
    progress : bool
        A progress bar on stderr.
    root : Path, optional
        The shared instance folder (default ``../shared/instances``).
    judged : bool
        Whether the rows' verdicts are checks of the report (the smoke configuration records them only).

    Returns
    -------
    TimeLimitResult
    """
    from tqdm import tqdm

    from reductions.validation import InvalidInputError, require

    unknown = [m for m in methods if m not in METHODS] + [n for n in networks if n not in NETWORKS]
    if unknown or not methods or not networks:
        raise InvalidInputError("methods/networks", f"non-empty subsets of {list(METHODS)} and {list(NETWORKS)}",
                                ", ".join(unknown) or "an empty list")
    require(len(limits) > 0 and all(limit > 0 for limit in limits), "limits", "positive numbers of seconds",
            repr(list(limits)))
    require(repeats >= 1, "repeats", "a positive integer", repr(repeats))
    load_start = _load()
    start = time.perf_counter()
    torch_seconds = _import_torch()
    built: list[Network] = []
    skipped: list[str] = []
    for name in networks:
        try:
            built.append(make_network(name, seed, root))
        except FileNotFoundError as error:
            skipped.append(f"{name}: skipped, {error.filename} is absent on this machine")
    plan = [(network, method) for network in built for method in methods
            if not (method == "brute" and network.hidden > BRUTE_MAX_HIDDEN)]
    for network in built:
        if "brute" in methods and network.hidden > BRUTE_MAX_HIDDEN:
            skipped.append(f"{network.name} / brute: not timed (h = {network.hidden} > {BRUTE_MAX_HIDDEN})")
    limits = tuple(sorted(float(limit) for limit in limits))
    bar = tqdm(total=len(plan) * (1 + len(limits) * repeats), desc="time limits", file=sys.stderr,
               disable=not progress, leave=False, dynamic_ncols=True)
    rows: list[Row] = []
    warmups: list[dict] = []
    for network, method in plan:
        bar.set_postfix_str(f"{network.name} {method} warm-up")
        warm = time_call(network, method, limits[0], seed)
        warmups.append({"network": network.name, "method": method, "limit": limits[0], **warm.to_dict()})
        bar.update(1)
        for limit in limits:
            bar.set_postfix_str(f"{network.name} {method} {limit:g} s")
            load = _load()
            calls = []
            for _ in range(repeats):
                calls.append(time_call(network, method, limit, seed))
                bar.update(1)
            rows.append(Row(network.name, network.hidden, network.scope, method, limit, calls,
                            load[0] if load else None))
    bar.close()
    described = [{"name": n.name, "inputs": n.inputs, "hidden": n.hidden, "scope": n.scope, "source": n.source,
                  "W1": np.asarray(n.net.W1).tolist() if n.name.startswith("random") else None,
                  "b1": np.asarray(n.net.b1).tolist() if n.name.startswith("random") else None,
                  "W2": np.asarray(n.net.W2).tolist() if n.name.startswith("random") else None,
                  "domain": n.domain} for n in built]
    return TimeLimitResult(seed, limits, tuple(methods), repeats, described, skipped, rows, warmups, torch_seconds,
                           load_start, _load(), time.perf_counter() - start, judged)


# =========================================================================== the report
def _loads(values: list[float] | None) -> str:
    return ", ".join(f"{x:.2f}" for x in values) if values else "not available"


def build_section(result: TimeLimitResult, key: str = "time_limits",
                  title: str = "9. Time limits: every exact method within limit x 1.1 + 0.2 s") -> Section:
    """The report section: the row table, a per-method summary and one check per row."""
    section = Section(key, title)
    rows = result.rows
    cores = os.cpu_count() or 1
    networks = "; ".join(f"`{n['name']}` (n = {n['inputs']}, h = {n['hidden']}, {n['scope']}: {n['source']})"
                         for n in result.networks)
    section.text.append(
        f"Wall time of `lipexact.lipschitz(net, method, time_limit=L)` (l2 norm, seed {result.seed}) for methods "
        f"{', '.join(result.methods)} (brute force only where h <= {BRUTE_MAX_HIDDEN}) and limits "
        f"{', '.join(f'{x:g}' for x in result.limits)} s on {len(result.networks)} networks: {networks}. "
        f"The promise under test: a call returns within allowed = L x {FACTOR:g} + {SLACK:g} s. torch was "
        f"imported before any timing ({result.torch_import_seconds:.2f} s; it is a one-off cost of the first "
        "witness check in a process). Each (network, method) ran once untimed at the smallest limit (warm-up), "
        f"then each row {result.repeats} times; a row's wall is the median of its calls (wall clock around the "
        "`lipschitz` call alone, after `gc.collect()`), `cpu` the median process CPU time of the same calls "
        "(wall well above cpu: the process waited for a core). ratio = wall / allowed; a row fails when "
        "ratio > 1. `status` is the status of the calls (`optimal`: the search finished before the limit, "
        "so the limit did not bind).")
    loads = (f"Load average (1/5/15 min) at the start: {_loads(result.load_start)}; at the end: "
             f"{_loads(result.load_end)} ({cores} logical cores); the 1-minute load before each row is in the "
             "table.")
    if max((result.load_start or [0])[0], (result.load_end or [0])[0]) > cores:
        loads += (" WARNING: more runnable processes than cores during the run: other work shared the machine "
                  "and the walls are longer than on an idle machine.")
    section.text.append(loads + f" Total time {result.seconds:.1f} s.")
    if result.skipped:
        section.text.append("Not timed: " + "; ".join(result.skipped) + ".")
    columns = ["network", "h", "scope", "method", "limit (s)", "allowed (s)", "wall (s)", "wall max (s)",
               "cpu (s)", "ratio", "verdict", "status", "lower", "upper", "load 1 min"]
    table_rows = []
    for row in rows:
        call = row.median_call
        table_rows.append([row.network, row.hidden, row.scope, row.method, row.limit, row.allowed, row.wall,
                           row.wall_max, row.cpu, row.ratio, row.verdict, row.status, call.lower, call.upper,
                           row.load1])
    notes = [f"wall: median of {result.repeats} calls; wall max: the slowest of them; lower / upper: the "
             "bracket of the median call."]
    if not result.judged:
        notes.append("The verdicts of this configuration are recorded, not checked (a timing on a shared "
                     "machine is not a test).")
    section.tables.append(Table(f"{key}_rows", "Wall time per network, method and limit", columns, table_rows,
                                notes))
    summary = []
    for method in result.methods:
        mine = [r for r in rows if r.method == method]
        if not mine:
            continue
        worst = max(mine, key=lambda r: r.ratio)
        failed = [r for r in mine if not r.passed]
        summary.append([method, len(mine), len(failed), worst.ratio,
                        f"{worst.network} at {worst.limit:g} s: {worst.wall:.3f} s of {worst.allowed:.3f} s",
                        max(r.wall - r.limit for r in mine)])
    section.tables.append(Table(
        f"{key}_methods", "Per method: rows, failures and the worst row",
        ["method", "rows", "FAIL", "worst ratio", "worst row", "max overrun wall - limit (s)"], summary))
    for row in rows:
        name = (f"`{row.method}` on `{row.network}` with time_limit={row.limit:g} s returns within "
                f"{row.allowed:.3f} s")
        detail = (f"median wall {row.wall:.3f} s (max {row.wall_max:.3f} s, cpu {row.cpu:.3f} s), ratio "
                  f"{row.ratio:.2f}, status {row.status}")
        if not row.passed:
            detail += f", {row.wall - row.allowed:.3f} s over the allowance"
        section.checks.append(Check(name, row.passed if result.judged else None, detail))
    raised = [(r, c) for r in rows for c in r.calls if c.outcome != "result"]
    section.checks.append(Check(
        "no timed call raised or hung", not raised,
        f"{len(raised)} calls" + (f"; first: {raised[0][0].method} on {raised[0][0].network}: "
                                  f"{raised[0][1].message[:120]}" if raised else "")))
    section.records = [{"networks": result.networks, "skipped": result.skipped, "limits": list(result.limits),
                        "methods": list(result.methods), "repeats": result.repeats, "seed": result.seed,
                        "factor": FACTOR, "slack": SLACK, "torch_import_seconds": result.torch_import_seconds,
                        "load_start": result.load_start, "load_end": result.load_end, "judged": result.judged,
                        "warmups": result.warmups, "rows": [r.to_dict() for r in rows]}]
    return section


def section(ctx: Any) -> Section:
    """The measurement as a section of ``python -m benchmarks.run`` (limits, repeats, networks and whether
    the verdicts are checks from the configuration: ``time_limits``, ``time_limit_repeats``,
    ``time_limit_networks``, ``time_limit_judged``)."""
    cfg = ctx.config
    result = run_time_limits(cfg.time_limits, cfg.time_limit_networks, METHODS, cfg.time_limit_repeats, ctx.seed,
                             progress=ctx.progress, judged=cfg.time_limit_judged)
    return build_section(result)


# =========================================================================== command line
def _parse(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog=PROG, description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true",
                        help=f"limits {', '.join(f'{x:g}' for x in QUICK_LIMITS)} s (default "
                             f"{', '.join(f'{x:g}' for x in LIMITS)} s)")
    parser.add_argument("--limits", default=None, help="comma-separated time limits in seconds (overrides --quick)")
    parser.add_argument("--repeats", type=int, default=DEFAULT_REPEATS,
                        help=f"timed calls per row, the median is reported (default {DEFAULT_REPEATS})")
    parser.add_argument("--seed", type=int, default=0, help="seed of the random networks and the solvers")
    parser.add_argument("--methods", default=",".join(METHODS), help="comma-separated subset of "
                        + ", ".join(METHODS))
    parser.add_argument("--networks", default=",".join(NETWORKS), help="comma-separated subset of "
                        + ", ".join(NETWORKS))
    parser.add_argument("-o", "--out", type=Path, default=None,
                        help="output folder (default benchmarks/results/time_limits-<timestamp>)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the measurement and write ``report.md``, ``results.json`` and the CSV tables; print the report's
    path."""
    from benchmarks.report import timestamp, write_one_section
    from reductions.validation import InvalidInputError, require

    args = _parse(argv)
    if args.limits is not None:
        try:
            limits = tuple(float(x) for x in args.limits.split(",") if x.strip())
        except ValueError:
            raise InvalidInputError("limits", "comma-separated numbers of seconds", repr(args.limits)) from None
    else:
        limits = QUICK_LIMITS if args.quick else LIMITS
    require(args.seed >= 0, "seed", "a non-negative integer", repr(args.seed))
    methods = tuple(m.strip() for m in args.methods.split(",") if m.strip())
    networks = tuple(n.strip() for n in args.networks.split(",") if n.strip())
    out = args.out
    if out is None:
        out = Path(__file__).resolve().parent / "results" / f"time_limits-{timestamp()}"
    require(not out.exists() or out.is_dir(), "out", "a folder", f"{out} is a file")
    started = _dt.datetime.now().isoformat(timespec="seconds")
    load_start = _load()
    start = time.perf_counter()
    result = run_time_limits(limits, networks, methods, args.repeats, args.seed, progress=not args.no_progress)
    built = build_section(result, title="Time limits: every exact method within limit x 1.1 + 0.2 s")
    built.seconds = result.seconds
    write_one_section(out, built, PROG, argv, seed=args.seed, started=started, load_start=load_start,
                      seconds=time.perf_counter() - start,
                      config={"name": "time_limits" + ("-quick" if args.quick and args.limits is None else ""),
                              "limits": list(limits), "repeats": args.repeats, "methods": methods,
                              "networks": networks})
    return 0


def entry(argv: Sequence[str] | None = None) -> int:
    from lipexact.cli import run_cli

    return run_cli(PROG, main, argv)


if __name__ == "__main__":
    sys.exit(entry())
