"""Thread counts on a busy machine: every bound with the default settings against fixed thread counts.

``python -m benchmarks.threads [--quick] [-o DIR] [--seed S] [--repeats R] [--phases busy,idle]`` times
:func:`lipexact.upper_bound` / :func:`lipexact.lower_bound` for every bound method on two models:

- ``mlp``: the 10-200-200-200-10 MLP of the performance section (``benchmarks.models.mlp``, float64);
- ``cnn``: a MNIST-size CNN (input 1x28x28; Conv 1->32 3x3, Conv 32->64 3x3 stride 2, Conv 64->64 3x3
  stride 2, each with ReLU, then Linear 3136->10; float64).

Options (:data:`METHODS`): the lower bounds' defaults of the ``--quick`` report on the MLP (256 data points);
lighter on the CNN (64 data points, SeqLip-CNN with ``k=32``, 4 x 20 gradient steps, 16 x 50 annealing steps)
so that a run takes minutes: the thread question is per operation, not per iteration count.

Each call runs under a thread configuration: ``default`` (no ``threads=`` and ``LIPEXACT_THREADS`` unset:
the library's rule, :mod:`lipexact.threads`), and ``threads=k`` for every ``k`` from 1 to the CPUs of
this process. Two phases:

- ``busy``: the benchmark starts one single-threaded busy-loop process (``python -c "while True: pass"``)
  before the phase and stops it after (also on an error or Ctrl-C);
- ``idle``: no process started by the benchmark; the machine's own load is recorded (a shared machine is
  rarely idle: the idle checks are judged only where no other process was ready to run when the phase
  started, see :func:`lipexact.threads.busy_cpus`, and recorded otherwise).

Per (phase, model, method): one warm-up call with one thread, then ``repeats`` rounds (more for calls
under a second: about one second per configuration, at most :data:`MAX_ROUNDS`), each calling every
configuration once (interleaved, so that a change of load hits every configuration alike); a row is the
median per configuration. A call of a fixed configuration that runs past ``max(CAP_FLOOR, CAP_FACTOR x``
the one-thread time) is stopped by a SIGALRM watchdog and recorded as at least that long (``>=``): that
is what oversubscribed threads do, and waiting minutes for it proves nothing more.

Checks (every row): busy: the default's median is at most 1.5x the best configuration's; idle: at most 1.1x
the one-thread median plus :data:`IDLE_SLACK` seconds (timer noise on millisecond calls). The idle phase
also measures the crossover of :data:`lipexact.threads.CROSSOVER_WORK`: one convolution and its transpose
(what AutoLip's power method does per layer) at growing sizes, one thread against every idle core.

It is also a section of ``python -m benchmarks.run`` (``--sections threads``).
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as _dt
import os
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator, Sequence

from benchmarks.measure import Hang, call_with_watchdog
from benchmarks.report import Check, Section, Table

__all__ = ["PROG", "BUSY_FACTOR", "IDLE_FACTOR", "IDLE_SLACK", "MODELS", "METHODS", "busy_core", "mnist_cnn",
           "Row", "run_threads", "build_section", "section", "main"]

PROG = "python -m benchmarks.threads"
BUSY_FACTOR = 1.5
IDLE_FACTOR = 1.1
IDLE_SLACK = 0.005  # seconds
CAP_FLOOR = 0.5  # seconds
#: A fixed count's call is stopped past CAP_FACTOR x the one-thread time: its true time is then above the
#: one-thread time, so the best configuration (and the verdict) is known without waiting for it.
CAP_FACTOR = 2.0
MODELS = ("mlp", "cnn")
#: (model, kind, method, options): every bound that runs on the model (grid needs <= 2 input dimensions).
METHODS: dict[str, list[tuple[str, str, dict]]] = {
    "mlp": [("upper", "autolip", {}), ("upper", "frobenius", {}), ("upper", "seqlip_greedy", {}),
            ("upper", "seqlip", {}), ("lower", "data", {}), ("lower", "gradient", {"restarts": 8, "steps": 100}),
            ("lower", "annealing", {"chains": 16, "steps": 100})],
    "cnn": [("upper", "autolip", {}), ("upper", "frobenius", {}), ("upper", "seqlip_cnn", {"k": 32}),
            ("lower", "data", {}), ("lower", "gradient", {"restarts": 4, "steps": 20}),
            ("lower", "annealing", {"chains": 16, "steps": 50})],
}
MAX_ROUNDS = 15  # rounds of calls shorter than a second: up to this many, about 1 s in all
CROSSOVER_SIZES = ((16, 32, 28), (32, 64, 28), (64, 64, 28), (64, 128, 28), (96, 192, 27), (192, 384, 13))


#: The busy loop, run as ``python -c BUSY_LOOP PARENT_PID``: every million iterations it checks that its parent is
#: still that process (the pid is passed in, not read at start: the parent may die before the child starts).
BUSY_LOOP = ("import os, sys\nparent = int(sys.argv[1])\nwhile os.getppid() == parent:\n"
             "    for _ in range(10**6):\n        pass\n")


@contextlib.contextmanager
def busy_core() -> Iterator[subprocess.Popen]:
    """One single-threaded busy-loop process for the duration of the block (stopped even on an error, and
    ending on its own once this process is gone, so a killed benchmark leaves no busy loop behind)."""
    process = subprocess.Popen([sys.executable, "-c", BUSY_LOOP, str(os.getpid())], stdin=subprocess.DEVNULL,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        time.sleep(0.5)  # let it get scheduled before anything is timed
        yield process
    finally:
        process.terminate()
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:  # pragma: no cover
            process.kill()
            process.wait()


def mnist_cnn(seed: int = 0):
    """The MNIST-size CNN of this benchmark (see the module docstring)."""
    import torch

    from benchmarks.models import _finish, _seeded

    nn = torch.nn
    state = _seeded(seed)
    try:
        net = nn.Sequential(nn.Conv2d(1, 32, 3, padding=1), nn.ReLU(), nn.Conv2d(32, 64, 3, stride=2, padding=1),
                            nn.ReLU(), nn.Conv2d(64, 64, 3, stride=2, padding=1), nn.ReLU(), nn.Flatten(),
                            nn.Linear(64 * 7 * 7, 10))
        return _finish(net, seed, None)
    finally:
        torch.random.set_rng_state(state)


def _timed(call: Callable[[], Any], cap: float | None) -> tuple[float, bool, Any]:
    """Wall seconds of ``call()``, whether the watchdog stopped it, and its result (None when stopped)."""
    start = time.perf_counter()
    try:
        result = call_with_watchdog(call, cap)
        return time.perf_counter() - start, False, result
    except Hang:
        return time.perf_counter() - start, True, None


@dataclass
class Row:
    phase: str
    model: str
    method: str
    seconds: dict[str, list[float]] = field(default_factory=dict)  # configuration -> timed calls
    stopped: dict[str, int] = field(default_factory=dict)  # configuration -> calls stopped by the watchdog
    default_threads: list[int] = field(default_factory=list)  # what the rule chose, per call
    busy_before: float = 0.0
    load: float | None = None
    judged: bool = True
    error: str = ""

    def median(self, config: str) -> float | None:
        values = self.seconds.get(config)
        return statistics.median(values) if values else None

    def best(self) -> tuple[str, float]:
        medians = {c: self.median(c) for c in self.seconds if self.median(c) is not None}
        config = min(medians, key=medians.get)
        return config, medians[config]

    def ratio(self) -> float | None:
        """busy: default / best; idle: default / one thread."""
        if self.error or self.median("default") is None:
            return None
        reference = self.best()[1] if self.phase == "busy" else self.median("1")
        return self.median("default") / reference

    def passed(self) -> bool | None:
        if self.error or self.median("default") is None:
            return None
        if self.phase == "busy":
            return self.median("default") <= BUSY_FACTOR * self.best()[1]
        return self.median("default") <= IDLE_FACTOR * self.median("1") + IDLE_SLACK

    def to_dict(self) -> dict:
        return {"phase": self.phase, "model": self.model, "method": self.method, "seconds": self.seconds,
                "stopped": self.stopped, "default_threads": self.default_threads, "busy_before": self.busy_before,
                "load": self.load, "judged": self.judged, "ratio": self.ratio(), "passed": self.passed(),
                "error": self.error}


def _bound(model, shape, kind: str, method: str, options: dict, data, threads: Any, seed: int):
    from lipexact import lower_bound, upper_bound

    if kind == "upper":
        return upper_bound(model, method, input_shape=shape, device="cpu", seed=seed, threads=threads, **options)
    return lower_bound(model, method, data=data if method == "data" else None, input_shape=shape, device="cpu",
                       seed=seed, threads=threads, **options)


def _crossover(repeats: int) -> list[list[Any]]:
    """One convolution and its transpose, float64, batch 1, at growing sizes: 1 thread against every CPU of the
    process (the rule gives a large layer the idle cores; the busy CPUs are in the table)."""
    import torch
    import torch.nn.functional as F

    from lipexact.threads import available_cpus, busy_cpus, thread_scope

    rows = []
    for cin, cout, hw in CROSSOVER_SIZES:
        w = torch.randn(cout, cin, 3, 3, dtype=torch.float64)
        x = torch.randn(1, cin, hw, hw, dtype=torch.float64)

        def step():
            F.conv_transpose2d(F.conv2d(x, w, padding=1), w, padding=1)

        many = max(2, available_cpus())
        busy = busy_cpus()
        times: dict[int, list[float]] = {1: [], many: []}
        for _ in range(max(1, repeats)):
            for count in times:
                with thread_scope(threads=count):
                    step()
                    n, start = 0, time.perf_counter()
                    while time.perf_counter() - start < 0.2:
                        step()
                        n += 1
                    times[count].append((time.perf_counter() - start) / n)
        one, more = min(times[1]), min(times[many])
        rows.append([f"{cin}->{cout} 3x3 at {hw}x{hw}", cin * cout * 9 * hw * hw, many, one * 1e3, more * 1e3,
                     one / more, busy])
    return rows


def _load() -> float | None:
    try:
        return round(os.getloadavg()[0], 2)
    except (OSError, AttributeError):  # pragma: no cover
        return None


@dataclass
class ThreadsResult:
    rows: list[Row]
    configs: list[str]
    crossover: list[list[Any]]
    load_start: float | None
    load_end: float | None
    seconds: float
    judged: bool


def run_threads(models: Sequence[str] = MODELS, phases: Sequence[str] = ("busy", "idle"), repeats: int = 3,
                seed: int = 0, judged: bool = True, methods: dict | None = None, crossover: bool = True,
                progress: bool = False, mlp_widths: Sequence[int] = (10, 200, 200, 200, 10),
                max_rounds: int = MAX_ROUNDS) -> ThreadsResult:
    """Time every bound of ``methods`` (default :data:`METHODS`) on ``models`` in each phase."""
    import torch

    from benchmarks import models as zoo
    from lipexact.threads import ENV_VAR, available_cpus, busy_cpus

    if os.environ.get(ENV_VAR):  # the default configuration is the rule, not a user's override
        raise RuntimeError(f"unset {ENV_VAR} to measure the default thread rule")
    methods = METHODS if methods is None else methods
    configs = ["default"] + [str(k) for k in range(1, available_cpus() + 1)]
    built = {"mlp": (zoo.mlp(mlp_widths, seed=seed), (mlp_widths[0],)), "cnn": (mnist_cnn(seed), (1, 28, 28))}
    generator = torch.Generator().manual_seed(seed)
    points = {"mlp": 256, "cnn": 64}
    data = {name: torch.randn(points[name], *shape, generator=generator, dtype=torch.float64)
            for name, (_, shape) in built.items()}
    rows: list[Row] = []
    cross: list[list[Any]] = []
    load_start = _load()
    start = time.perf_counter()
    for phase in phases:
        context = busy_core() if phase == "busy" else contextlib.nullcontext()
        with context:
            busy_before = busy_cpus()
            if phase == "idle" and crossover:
                cross = _crossover(repeats)
            for name in models:
                model, shape = built[name]
                for kind, method, options in methods[name]:
                    row = Row(phase, name, method, busy_before=busy_before, load=_load(),
                              judged=judged and (phase == "busy" or busy_before < 0.5))
                    rows.append(row)
                    row_start = time.perf_counter()
                    try:
                        _bound(model, shape, kind, method, options, data[name], 1, seed)  # warm-up
                        cap, rounds, done = None, max(1, repeats), 0
                        while done < rounds:  # short calls get more rounds: about a second per configuration
                            done += 1
                            for config in ["1"] + [c for c in configs if c != "1"]:
                                threads = None if config == "default" else int(config)
                                limit = None if config in ("1", "default") else cap
                                seconds, stopped, result = _timed(
                                    lambda: _bound(model, shape, kind, method, options, data[name], threads, seed),
                                    limit)
                                row.seconds.setdefault(config, []).append(seconds)
                                row.stopped[config] = row.stopped.get(config, 0) + int(stopped)
                                if config == "default" and result is not None:
                                    row.default_threads.append(int(result.stats.get("threads", 0)))
                                if config == "1" and cap is None:
                                    cap = max(CAP_FLOOR, CAP_FACTOR * seconds)
                                    rounds = max(rounds, min(max_rounds, int(1.0 / max(seconds, 1e-3))))
                    except Exception as error:  # recorded: the report shows it
                        row.error = f"{type(error).__name__}: {error}"[:300]
                    if progress:
                        medians = {c: round(row.median(c), 3) for c in row.seconds}
                        print(f"[threads] {phase} {name} {method}: {medians} chosen {row.default_threads} "
                              f"({time.perf_counter() - row_start:.1f} s, load {_load()}) {row.error}",
                              file=sys.stderr, flush=True)
    return ThreadsResult(rows, configs, cross, load_start, _load(), time.perf_counter() - start, judged)


def _cell(row: Row, config: str) -> Any:
    value = row.median(config)
    if value is None:
        return "-"
    return f">= {value:.3g}" if row.stopped.get(config) else value


def build_section(result: ThreadsResult, key: str = "threads",
                  title: str = "10. Thread counts on a busy machine") -> Section:
    from lipexact.threads import CROSSOVER_WORK, available_cpus

    section = Section(key, title)
    section.text.append(
        f"Every bound with the default thread settings (the rule of `lipexact.threads`: `LIPEXACT_THREADS` unset, "
        f"one thread when the largest layer has fewer than {CROSSOVER_WORK:.0e} multiply-adds, else the idle "
        f"cores) against `threads=k` for k = 1..{available_cpus()} (the CPUs of this process), median of the "
        f"rounds, interleaved. Busy phase: one busy-loop process started and stopped by the benchmark; target "
        f"default <= {BUSY_FACTOR}x the best configuration. Idle phase: no process of ours; target default <= "
        f"{IDLE_FACTOR}x one thread + {IDLE_SLACK * 1e3:g} ms, judged only where no other process was ready to "
        f"run when the phase started. A `>=` cell was stopped by the watchdog "
        f"(max({CAP_FLOOR:g} s, {CAP_FACTOR:g}x one thread)). Load average (1 min): {result.load_start} at the "
        f"start, {result.load_end} at the end; {result.seconds:.0f} s in all.")
    columns = ["phase", "model", "method"] + [f"{c} (s)" if c == "default" else f"{c} thread{'s' * (c != '1')} (s)"
                                              for c in result.configs]
    columns += ["threads chosen", "ratio", "target", "result", "busy CPUs before", "load"]
    rows = []
    for row in result.rows:
        ratio = row.ratio()
        verdict = "error" if row.error else ("PASS" if row.passed() else "FAIL")
        if not row.judged and not row.error:
            verdict += " (not judged)"
        chosen = ",".join(str(c) for c in sorted(set(row.default_threads))) or "-"
        target = f"<= {BUSY_FACTOR} x best" if row.phase == "busy" else f"<= {IDLE_FACTOR} x 1 thread"
        rows.append([row.phase, row.model, row.method] + [_cell(row, c) for c in result.configs]
                    + [chosen, ratio if ratio is not None else row.error or "-", target, verdict, row.busy_before,
                       row.load])
        name = f"threads: {row.phase} {row.model} {row.method}"
        if row.error:
            section.checks.append(Check(name, False if result.judged else None, row.error))
        elif row.judged:
            section.checks.append(Check(name, row.passed(), f"ratio {ratio:.3g} ({target})"))
        section.records.append(row.to_dict())
    section.tables.append(Table("threads", "Default thread settings against fixed thread counts (seconds)",
                                columns, rows, ["ratio: busy default / best configuration; idle default / one "
                                                "thread. threads chosen: the counts the default used "
                                                "(result.stats['threads'])."]))
    if result.crossover:
        section.tables.append(Table("threads_crossover", "Crossover: conv2d + conv_transpose2d, float64, batch 1 "
                                    "(idle phase)", ["layer", "multiply-adds", "threads", "1 thread (ms)",
                                                     "threads (ms)", "speed-up", "busy CPUs (others)"], result.crossover,
                                    [f"lipexact.threads.CROSSOVER_WORK = {CROSSOVER_WORK:.0e}."]))
        section.records.append({"crossover": result.crossover})
    return section


def section(ctx: Any) -> Section:
    """The measurement as a section of ``python -m benchmarks.run`` (``threads_*`` fields of the configuration)."""
    from lipexact.threads import ENV_VAR

    cfg = ctx.config
    if not cfg.threads_run or os.environ.get(ENV_VAR):
        built = Section("threads", "10. Thread counts on a busy machine")
        built.text.append(f"Skipped: {ENV_VAR} is set, so there is no default rule to measure."
                          if os.environ.get(ENV_VAR) else f"Skipped in the `{cfg.name}` configuration.")
        return built
    methods = None if cfg.threads_methods is None else {m: [x for x in METHODS[m] if x[1] in cfg.threads_methods]
                                                         for m in METHODS}
    result = run_threads(cfg.threads_models, cfg.threads_phases, cfg.threads_repeats, ctx.seed,
                         judged=cfg.threads_judged, methods=methods, crossover=cfg.threads_crossover,
                         progress=False, max_rounds=cfg.threads_max_rounds)
    return build_section(result)


def _parse(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog=PROG, description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="2 rounds instead of 3")
    parser.add_argument("--repeats", type=int, default=None, help="rounds (default 3, --quick 2)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the models, data and searches")
    parser.add_argument("--phases", default="busy,idle", help="comma-separated subset of busy, idle")
    parser.add_argument("--models", default=",".join(MODELS), help="comma-separated subset of mlp, cnn")
    parser.add_argument("--methods", default=None, help="comma-separated subset of the methods (default: all)")
    parser.add_argument("-o", "--out", type=Path, default=None,
                        help="output folder (default benchmarks/results/threads-<timestamp>)")
    parser.add_argument("--progress", action="store_true", help="one line per row on stderr")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the measurement and write ``report.md``, ``results.json`` and the CSV tables; print the report's
    path."""
    from benchmarks.report import timestamp, write_one_section
    from reductions.validation import require

    args = _parse(argv)
    repeats = args.repeats if args.repeats is not None else (2 if args.quick else 3)
    require(repeats >= 1, "repeats", "a positive integer", repr(repeats))
    phases = tuple(p.strip() for p in args.phases.split(",") if p.strip())
    require(bool(phases) and set(phases) <= {"busy", "idle"}, "phases", "a subset of busy, idle", repr(args.phases))
    models = tuple(m.strip() for m in args.models.split(",") if m.strip())
    require(bool(models) and set(models) <= set(MODELS), "models", "a subset of mlp, cnn", repr(args.models))
    methods = None
    if args.methods:
        wanted = {m.strip() for m in args.methods.split(",") if m.strip()}
        methods = {m: [x for x in METHODS[m] if x[1] in wanted] for m in METHODS}
    out = args.out or Path(__file__).resolve().parent / "results" / f"threads-{timestamp()}"
    require(not out.exists() or out.is_dir(), "out", "a folder", f"{out} is a file")
    started = _dt.datetime.now().isoformat(timespec="seconds")
    result = run_threads(models, phases, repeats, args.seed, methods=methods, progress=args.progress)
    built = build_section(result, title="Thread counts on a busy machine")
    built.seconds = result.seconds
    write_one_section(out, built, PROG, argv, seed=args.seed, started=started, seconds=result.seconds,
                      config={"name": "threads" + ("-quick" if args.quick else ""), "repeats": repeats,
                              "phases": phases, "models": models})
    return 0


def entry(argv: Sequence[str] | None = None) -> int:
    from lipexact.cli import run_cli

    return run_cli(PROG, main, argv)


if __name__ == "__main__":
    sys.exit(entry())
