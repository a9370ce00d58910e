"""The sections of the benchmark report. Each function runs its experiments and returns a
:class:`~benchmarks.report.Section`; nothing in a table is typed by hand except the published values of
:mod:`benchmarks.paper_values`, in their own columns.

1. :func:`mlp_section` - the paper's MLP table (synthetic 2-D function), paper values beside ours.
2. :func:`cnn_section` - the paper's MNIST CNN table (28x28 digits), paper values beside ours.
3. :func:`alexnet_section` - AutoLip vs greedy SeqLip on AlexNet (random weights) beside the paper's.
4. :func:`open_question_section` - two-layer nets of growing width and deeper nets of growing depth: exact
   value next to every bound.
5. :func:`scaling_section`, :func:`instances_section` - exact-solver scaling; Max-Cut / QUBO instances.
6. :func:`performance_section` - the speed and memory figures other issues ask for.
7. :func:`devices_section` - every bound timing per device (after every section that times bounds).
8. :func:`certify_fuzz_section` - every exact method against an independent oracle (``benchmarks/certify_fuzz.py``).
9. :func:`time_limits_section` - every exact method within ``limit x 1.1 + 0.2 s`` (``benchmarks/time_limits.py``).
10. :func:`threads_section` - default thread settings against fixed counts, one core busy (``benchmarks/threads.py``).
11. :func:`deep_section` - exact constants of deep networks: the published ones, brackets, node bounds
    (``benchmarks/deep.py``; the published constants only in the ``smoke`` and ``quick`` configurations).
12. :func:`conv_norms_section` - convolution layer norms: certified against exact, the FFT bound and a
    reference-style power method (``benchmarks/conv_norms.py``).
13. :func:`anchor_section` - the two-layer anchor: auto and the deep MILP against a plain big-M MILP solved by
    HiGHS (``benchmarks/anchor.py``).

Every bound and exact solve runs under the library's thread rule (:mod:`lipexact.threads`); the count each
bound used is in its record (``extra.stats.threads``) and in the tables' notes.
"""

from __future__ import annotations

import os
import statistics
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable

import numpy as np

from benchmarks import data as datasets
from benchmarks import measure, models, plots
from benchmarks.config import Config
from benchmarks.measure import Measurement
from benchmarks.report import Check, Figure, Section, Table

__all__ = ["Context", "SECTIONS", "UPPER_LABELS", "LOWER_LABELS", "bracket_checks", "target_checks"]

#: Relative slack when comparing two bounds computed in floating point.
ORDER_TOLERANCE = 1e-6

UPPER_LABELS = {"frobenius": "Frobenius", "autolip": "AutoLip", "seqlip": "SeqLip (exact)",
                "seqlip_greedy": "greedy SeqLip*", "eclipse_fast": "ECLipsE-Fast", "eclipse": "ECLipsE",
                "lipsdp": "LipSDP", "pattern_sdp": "pattern SDP"}
LOWER_LABELS = {"data": "data", "gradient": "gradient ascent", "annealing": "annealing", "grid": "grid search"}


@dataclass
class Context:
    """What every section needs: the configuration, seed, timing devices, output folder, progress bar."""

    config: Config
    seed: int
    devices: list[str]
    out: Path
    progress: bool = True
    bound_timings: list[dict] = field(default_factory=list)

    @property
    def device(self) -> str:
        """The device whose values go into the tables (the first one)."""
        return self.devices[0]

    def bar(self, total: int, description: str):
        from tqdm import tqdm

        return tqdm(total=total, desc=description, file=sys.stderr, disable=not self.progress, leave=False,
                    dynamic_ncols=True)


def _float32():
    import torch

    return torch.float32


def _skipped(family: str, method: str, reason: str, device: str = "cpu") -> Measurement:
    return Measurement(family=family, method=method, outcome="skipped", device=device, reason=reason)


# --------------------------------------------------------------------------- shared evaluation
def evaluate_bounds(ctx: Context, label: str, model, input_shape: tuple, data, uppers: Iterable[str],
                    lowers: Iterable[str], skip: dict[str, str] | None = None,
                    step: Callable[[str], None] | None = None,
                    options: dict[str, dict] | None = None) -> dict[str, dict[str, Measurement]]:
    """Every requested bound on every device: ``{method: {device: Measurement}}``.

    ``skip`` maps a method to the reason it is not run on this model (e.g. exact SeqLip too wide);
    ``options`` a lower-bound method to its options (default: the configuration's ``lower_options``).
    """
    skip = skip or {}
    options = {**ctx.config.lower_options, **(options or {})}
    results: dict[str, dict[str, Measurement]] = {}
    for family, methods in (("upper", uppers), ("lower", lowers)):
        for method in methods:
            per_device: dict[str, Measurement] = {}
            for device in ctx.devices:
                if step:
                    step(f"{label} {method} {device}")
                if method in skip:
                    per_device[device] = _skipped(family, method, skip[method], device)
                elif family == "upper":
                    per_device[device] = measure.upper(model, method, input_shape, device=device, seed=ctx.seed)
                else:
                    per_device[device] = measure.lower(model, method, input_shape, data=data, device=device,
                                                       seed=ctx.seed, **options.get(method, {}))
                m = per_device[device]
                ctx.bound_timings.append({"model": label, "family": family, "method": method, "device": device,
                                          "outcome": m.outcome, "seconds": m.seconds, "value": m.value})
            results[method] = per_device
    return results


def bracket_checks(label: str, measurements: Iterable[Measurement], exact: Measurement | None = None) -> list[Check]:
    """Orders that must hold among proven numbers: lower <= exact <= SeqLip <= AutoLip <= Frobenius."""
    measurements = [m for m in measurements if m is not None]
    uppers = [(m.method, m.proven_upper) for m in measurements if m.family == "upper" and m.proven_upper is not None]
    lowers = [(m.method, m.proven_lower) for m in measurements if m.family == "lower" and m.proven_lower is not None]
    if exact is not None and exact.available:
        if exact.proven_upper is not None:
            uppers.append(("exact", exact.proven_upper))
        if exact.proven_lower is not None:
            lowers.append(("exact", exact.proven_lower))
    checks = []
    if uppers and lowers:
        (u_name, u), (l_name, l) = min(uppers, key=lambda t: t[1]), max(lowers, key=lambda t: t[1])
        ok = l <= u * (1 + ORDER_TOLERANCE) + 1e-12
        checks.append(Check(f"{label}: every proven upper bound >= every proven lower bound", ok,
                            f"smallest upper {u_name} = {u:.6g}, largest lower {l_name} = {l:.6g}"))
    else:
        checks.append(Check(f"{label}: every proven upper bound >= every proven lower bound", None,
                            f"{len(uppers)} proven upper and {len(lowers)} proven lower values available"))
    by_method = {m.method: m.proven_upper for m in measurements if m.family == "upper"}
    chain = [("seqlip", "autolip"), ("autolip", "frobenius")]
    if exact is not None and exact.kind == "exact":
        chain.insert(0, ("exact", "seqlip"))
        by_method["exact"] = exact.value
    for small, large in chain:
        a, b = by_method.get(small), by_method.get(large)
        if a is not None and b is not None:
            checks.append(Check(f"{label}: {small} <= {large}", a <= b * (1 + ORDER_TOLERANCE) + 1e-12,
                                f"{a:.6g} <= {b:.6g}"))
    return checks


def _timing_table(key: str, title: str, rows_of: list[tuple[str, dict[str, dict[str, Measurement]]]],
                  devices: list[str]) -> Table:
    rows = []
    for label, results in rows_of:
        for method, per_device in results.items():
            rows.append([label, method] + [per_device[d].seconds if per_device[d].available else per_device[d]
                                           for d in devices])
    notes = [] if any(d.startswith("cuda") for d in devices) else [
        "CUDA is not available on this machine: CPU timings only."]
    return Table(key, title, ["model", "method"] + [f"seconds on {d}" for d in devices], rows, notes)


def _record(label: str, results: dict[str, dict[str, Measurement]], **extra: Any) -> dict:
    return {"model": label, **extra,
            "bounds": {method: {d: m.to_dict() for d, m in per.items()} for method, per in results.items()}}


def _values(results: dict[str, dict[str, Measurement]], device: str) -> dict[str, Measurement]:
    return {method: per[device] for method, per in results.items()}


def _ratio(a: Measurement | None, b: Measurement | None) -> float | None:
    if a is None or b is None or not a.available or not b.available or not a.value or not b.value:
        return None
    return a.value / b.value


def _figure(ctx: Context, name: str, caption: str, draw: Callable[[Any], Any], size=(8.0, 4.8),
            panels: int = 1) -> Figure | None:
    """Draw and save ``<name>.png`` in the report's style (:mod:`benchmarks.plots`); None when nothing was drawn."""
    if not plots.save(ctx.out / f"{name}.png", draw, size, panels):
        return None
    return Figure(f"{name}.png", caption)


def _options_text(options: dict[str, dict], methods: Iterable[str]) -> str:
    parts = [f"{m} {', '.join(f'{k}={v}' for k, v in options[m].items())}" for m in methods if options.get(m)]
    return "; ".join(parts) if parts else "defaults"


# --------------------------------------------------------------------------- 1.-3. the paper's experiments
def mlp_section(ctx: Context) -> Section:
    """The paper's MLP table, with its published values beside ours (:mod:`benchmarks.paper_tables`)."""
    from benchmarks import paper_tables

    return paper_tables.mlp_section(ctx)


def cnn_section(ctx: Context) -> Section:
    """The paper's MNIST CNN table, with its published values beside ours (:mod:`benchmarks.paper_tables`)."""
    from benchmarks import paper_tables

    return paper_tables.cnn_section(ctx)


def alexnet_section(ctx: Context) -> Section:
    """AutoLip and greedy SeqLip on AlexNet beside the paper's values (:mod:`benchmarks.paper_tables`)."""
    from benchmarks import paper_tables

    return paper_tables.alexnet_section(ctx)


# --------------------------------------------------------------------------- 4. the open question
OPEN_UPPERS = ("frobenius", "autolip", "seqlip", "seqlip_greedy", "eclipse_fast", "lipsdp", "pattern_sdp")
OPEN_LOWERS = ("data", "gradient", "annealing", "grid")


def open_question_section(ctx: Context) -> Section:
    from benchmarks.training import train_regression

    cfg = ctx.config
    section = Section("open_question", "4. The open question: how far are the bounds from the true constant?")
    section.text.append(
        "Scaman & Virmaux (2018) prove that computing the Lipschitz constant is NP-hard even for two-layer "
        "networks, and so could compare their upper bounds (AutoLip, SeqLip) only with lower bounds, leaving "
        "open how far the bounds are from the true constant. For two-layer ReLU networks of growing width, "
        "and for deeper ones of growing depth, our exact solvers answer this: each ratio below is bound / exact "
        "constant (upper bounds >= 1, lower bounds <= 1). Input dimension "
        f"{cfg.open_inputs}; 'random': PyTorch default initialisation; 'trained': the same architecture trained "
        f"{cfg.open_epochs} epochs on the synthetic 2-D function.")
    X, y, _ = datasets.synthetic_2d(cfg.mlp_samples, seed=ctx.seed, function_seed=ctx.seed)
    if cfg.open_inputs != 2:
        X = np.random.default_rng(ctx.seed).uniform(-1, 1, size=(cfg.mlp_samples, cfg.open_inputs))
        y = np.zeros((len(X), 1))
    methods = OPEN_UPPERS + OPEN_LOWERS
    networks = [(kind, 2, width) for kind in OPEN_KINDS for width in cfg.open_widths]
    networks += [(kind, layers, width) for kind in OPEN_KINDS for layers in cfg.open_depths
                 for width in cfg.open_deep_widths]
    bar = ctx.bar(len(networks) * (len(methods) * len(ctx.devices) + 1), "open question")
    rows: dict[bool, list] = {False: [], True: []}  # deep or not
    timings = []
    curves: dict[bool, dict[tuple[str, str], list[tuple[int, float]]]] = {False: {}, True: {}}
    for kind, layers, width in networks:
        deep = layers > 2
        label = f"{layers}-layer h={width} ({kind})" if deep else f"2-layer h={width} ({kind})"
        seed = ctx.seed + width + (100 * layers if deep else 0)
        model = models.paper_mlp(layers, width, n_inputs=cfg.open_inputs, seed=seed, dtype=_float32())
        training = None
        if kind == "trained":
            training = train_regression(model, X, y, epochs=cfg.open_epochs, lr=1e-2, seed=ctx.seed)
        model = model.double()
        bar.set_postfix_str(f"{label} exact")
        exact = _open_exact(ctx, model, deep)
        bar.update(1)
        results = evaluate_bounds(ctx, label, model, (cfg.open_inputs,), X, OPEN_UPPERS, OPEN_LOWERS,
                                  _open_skips(cfg, width, deep), step=lambda s: (bar.set_postfix_str(s), bar.update(1)))
        values = _values(results, ctx.device)
        truth = exact.value if exact.kind == "exact" else None
        ratios = []
        for method in methods:
            m = values[method]
            if truth and m.available and m.value is not None:
                ratios.append(m.value / truth)
                curves[deep].setdefault((kind, method), []).append((layers if deep else width, m.value / truth))
            else:
                ratios.append(m if not m.available else None)
        rows[deep].append([kind] + ([layers] if deep else []) + [width, exact] + ratios)
        timings.append((label, results))
        section.checks += bracket_checks(label, values.values(), exact)
        section.records.append(_record(label, results, exact=exact.to_dict(), kind=kind, width=width, layers=layers,
                                       training=training))
    bar.close()
    ratio_columns = ([f"{UPPER_LABELS[m]} / L" for m in OPEN_UPPERS] + [f"{LOWER_LABELS[m]} / L" for m in OPEN_LOWERS])
    notes = ["A ratio is shown only where the exact value was proven optimal; a stopped exact search shows its "
             "bracket [lower, upper].", "`*` greedy SeqLip is a heuristic (no guarantee)."]
    section.tables.append(Table("open_question_table", "Bound / exact constant, two-layer networks",
                                ["network", "hidden width", "exact L"] + ratio_columns, rows[False], notes))
    section.tables.append(_ratio_summary(curves[False], methods))
    if rows[True]:
        section.tables.append(Table(
            "open_question_deep", "Bound / exact constant, deeper networks (layers: linear layers, output included)",
            ["network", "layers", "hidden width", "exact L"] + ratio_columns, rows[True],
            notes + [f"Exact: `lipexact.lipschitz` (auto, global l2), at most {cfg.exact_time_limit:g} s"
                     + (f" and {cfg.open_deep_node_limit} nodes" if cfg.open_deep_node_limit else "")
                     + " each; the pattern SDP covers two-layer networks only."]))
        section.tables.append(_ratio_summary(curves[True], methods, "open_question_deep_summary",
                                             "Summary: bound / exact over the depths of this run"))
    section.tables.append(_timing_table("open_question_timings", "Bound timings", timings, ctx.devices))
    for deep, name, axis, caption in (
            (False, "open_question_ratios", "hidden width (log scale)", "versus width, two-layer networks"),
            (True, "open_question_deep_ratios", "linear layers", "versus depth, deeper networks")):
        figure = _ratio_figure(ctx, name, curves[deep], axis, deep, caption)
        if figure:
            section.figures.append(figure)
    return section


#: The two kinds of network of the open question: default initialisation, and trained on the 2-D function.
OPEN_KINDS = ("random", "trained")


def _open_exact(ctx: Context, model, deep: bool) -> Measurement:
    """The exact constant: the two-layer solvers on a :class:`lipexact.network.TwoLayerReLU`, else
    ``lipexact.lipschitz`` on the deep network (within the configuration's node limit, when it has one)."""
    from lipexact.network import TwoLayerReLU

    cfg = ctx.config
    if not deep:
        return measure.exact(TwoLayerReLU.from_torch(model), "auto", time_limit=cfg.exact_time_limit, seed=ctx.seed)
    options = {"node_limit": cfg.open_deep_node_limit} if cfg.open_deep_node_limit else {}
    return measure.exact(model, "auto", time_limit=cfg.exact_time_limit, seed=ctx.seed, **options)


def _open_skips(cfg: Config, width: int, deep: bool) -> dict[str, str]:
    """The bounds not run on a network of the open question, with the reason."""
    skip = {}
    if width > cfg.seqlip_exact_max_width:
        skip["seqlip"] = f"width {width} > {cfg.seqlip_exact_max_width}"
    if cfg.open_inputs > 3:
        skip["grid"] = f"grid search in {cfg.open_inputs} dimensions"
    if deep:
        skip["pattern_sdp"] = "two-layer networks only"
    return skip


def _ratio_figure(ctx: Context, name: str, curves: dict[tuple[str, str], list[tuple[int, float]]], axis: str,
                  linear_x: bool, caption: str) -> Figure | None:
    """Bound / exact against width (log scale) or depth: upper bounds left, lower bounds right."""
    def draw(axes):
        if not curves:
            return False
        for ax, (side, group) in zip(axes, (("upper", OPEN_UPPERS), ("lower", OPEN_LOWERS))):
            series = [(kind, method) for method in group for kind in ("trained", "random") if (kind, method) in curves]
            for index, (kind, method) in enumerate(series):
                xs, ys = zip(*curves[(kind, method)])
                label = UPPER_LABELS.get(method, LOWER_LABELS.get(method, method))
                plots.plot_series(ax, plots.dodge(xs, index, len(series), 0.25, log=not linear_x), ys, method,
                                  f"{label} ({kind})", paper=kind == "random")
            ax.axhline(1.0, color="black", linewidth=1.0)
            if linear_x:
                ax.set_xticks(sorted({x for points in curves.values() for x, _ in points}))
            else:
                ax.set_xscale("log", base=2)
            ax.set_yscale("log")
            plots.finish(ax, axis, "bound / exact constant (log scale)", f"{side} bounds (1 = the exact constant)",
                         legend_below=True, legend_columns=2)

    return _figure(ctx, name, f"Bound / exact constant {caption} (log y): upper bounds left (>= 1), lower bounds "
                   "right (<= 1); trained networks solid and filled, random ones dashed and hollow; points shifted "
                   "slightly sideways so that equal values stay visible.", draw, size=(13, 6.4), panels=2)


def _ratio_summary(curves: dict[tuple[str, str], list[tuple[int, float]]], methods: Iterable[str],
                   key: str = "open_question_summary",
                   title: str = "Summary: bound / exact over the widths of this run") -> Table:
    """Per method and network kind: the spread of bound / exact, and how often it is on the wrong side of 1."""
    rows = []
    for kind in ("random", "trained"):
        for method in methods:
            ratios = [r for _, r in curves.get((kind, method), [])]
            if not ratios:
                continue
            upper = method in UPPER_LABELS
            wrong = sum((r < 1 - ORDER_TOLERANCE) if upper else (r > 1 + ORDER_TOLERANCE) for r in ratios)
            tight = sum(abs(r - 1) <= ORDER_TOLERANCE for r in ratios)
            rows.append([kind, UPPER_LABELS.get(method, LOWER_LABELS.get(method, method)),
                         "upper" if upper else "lower", len(ratios), min(ratios), statistics.median(ratios),
                         max(ratios), tight, wrong])
    return Table(key, title,
                 ["networks", "method", "side", "count", "min", "median", "max", "# equal to L",
                  "# on the wrong side of L"], rows,
                 ["'wrong side': an upper estimate below L or a lower bound above L. Only the heuristic (`*`) may "
                  "be below L; for a proven bound this column must be 0 (it is also a check below)."])


# --------------------------------------------------------------------------- 5a. exact-solver scaling
SCALING_METHODS: tuple[tuple[str, str, dict], ...] = (
    ("brute", "brute", {}),
    ("enumerate", "enumerate", {}),
    ("bnb", "bnb", {}),
    ("milp (HiGHS)", "milp", {"solver": "highs"}),
    ("milp (CBC)", "milp", {"solver": "cbc"}),
)


def random_two_layer(n_inputs: int, width: int, seed: int):
    """A two-layer net with standard normal weights and biases (the scaling benchmark's family)."""
    from lipexact.network import TwoLayerReLU

    rng = np.random.default_rng(seed)
    return TwoLayerReLU(rng.normal(size=(width, n_inputs)), rng.normal(size=(1, width)),
                        b1=rng.normal(size=width))


def scaling_section(ctx: Context) -> Section:
    cfg = ctx.config
    section = Section("scaling", "5a. Exact-solver scaling")
    section.text.append(
        f"Two-layer networks with {cfg.scaling_inputs} inputs, one output and standard normal weights and "
        f"biases; {cfg.scaling_seeds} network(s) per width (seeds {ctx.seed}..{ctx.seed + cfg.scaling_seeds - 1}), "
        f"median time shown. Time limit {cfg.scaling_time_limit:g} s per solve; once a method reaches it, "
        "larger widths are not tried for that method. All exact solves run on the CPU.")
    bar = ctx.bar(len(cfg.scaling_widths) * len(SCALING_METHODS) * cfg.scaling_seeds, "exact scaling")
    given_up: dict[str, str] = {}
    table_rows = []
    curves: dict[str, list[tuple[int, float, bool]]] = {}
    for width in cfg.scaling_widths:
        row: list[Any] = [width]
        agree: list[float] = []
        for label, method, options in SCALING_METHODS:
            if label in given_up:
                row.append(_skipped("exact", label, given_up[label]))
                bar.update(cfg.scaling_seeds)
                continue
            runs = []
            for k in range(cfg.scaling_seeds):
                bar.set_postfix_str(f"h={width} {label} seed {k}")
                net = random_two_layer(cfg.scaling_inputs, width, ctx.seed + k)
                runs.append(measure.exact(net, method, time_limit=cfg.scaling_time_limit, seed=ctx.seed, **options))
                bar.update(1)
            failed = [r for r in runs if not r.available]
            if failed:
                row.append(failed[0])
                given_up[label] = f"{failed[0].outcome} at h = {width}"
                if failed[0].outcome == "error":
                    section.checks.append(Check(f"h={width}: {label} returns a result", False, failed[0].reason))
                continue
            seconds = statistics.median(r.seconds for r in runs)
            stopped = any(r.outcome == "stopped" for r in runs)
            row.append(f"{seconds:.3g}" + (" (time limit)" if stopped else ""))
            curves.setdefault(label, []).append((width, seconds, stopped))
            section.records.append({"width": width, "method": label, "runs": [r.to_dict() for r in runs]})
            if stopped:
                given_up[label] = f"time limit reached at h = {width}"
            else:
                agree.append(runs[0].value)
        if len(agree) >= 2:
            spread = (max(agree) - min(agree)) / max(1.0, abs(max(agree)))
            section.checks.append(Check(f"h={width}: every exact method agrees (seed {ctx.seed})", spread <= 1e-6,
                                        f"{len(agree)} methods, relative spread {spread:.2e}"))
        table_rows.append(row)
    bar.close()
    section.tables.append(Table("scaling_table", "Median seconds per exact solve", ["hidden width"]
                                + [label for label, _, _ in SCALING_METHODS], table_rows,
                                [f"Time limit {cfg.scaling_time_limit:g} s; device: cpu."]))

    def draw(ax):
        if not curves:
            return False
        for index, (label, points) in enumerate(curves.items()):
            xs = plots.dodge([p[0] for p in points], index, len(curves), 0.6)
            ys = [p[1] for p in points]
            plots.plot_series(ax, xs, ys, label, label, index=index)
            stopped = [(x, p[1]) for x, p in zip(xs, points) if p[2]]
            if stopped:
                ax.scatter(*zip(*stopped), marker="x", s=80, color="red", zorder=5)
        ax.axhline(cfg.scaling_time_limit, color="red", linestyle=":", label=f"time limit ({cfg.scaling_time_limit:g} s)")
        ax.set_yscale("log")
        plots.finish(ax, "hidden width h", "wall seconds (median, log scale)", "Exact solvers: time versus width",
                     legend_outside=True)

    figure = _figure(ctx, "exact_scaling", "Exact solve time versus hidden width (log scale; red line: time "
                     "limit; red x: stopped at the limit).", draw, size=(9, 4.8))
    if figure:
        section.figures.append(figure)
    return section


# --------------------------------------------------------------------------- 5b. Max-Cut / QUBO instances
def instances_section(ctx: Context) -> Section:
    from benchmarks import instances

    return instances.section(ctx)


# --------------------------------------------------------------------------- 6. devices
def devices_section(ctx: Context) -> Section:
    section = Section("devices", "7. Devices (CPU and GPU)")
    import torch

    if torch.cuda.is_available():
        section.text.append(f"CUDA is available ({torch.cuda.get_device_name(0)}); bounds were timed on "
                            f"{', '.join(ctx.devices)}. Exact solvers always run on the CPU.")
    else:
        section.text.append("CUDA is not available on this machine: every bound and every exact solve ran on "
                            "the CPU, so there is no GPU column.")
    totals: dict[tuple[str, str], dict[str, float]] = {}
    for entry in ctx.bound_timings:
        if entry["seconds"] is None:
            continue
        key = (entry["family"], entry["method"])
        totals.setdefault(key, {}).setdefault(entry["device"], 0.0)
        totals[key][entry["device"]] += entry["seconds"]
    rows = [[family, method] + [per.get(d) for d in ctx.devices] for (family, method), per in sorted(totals.items())]
    section.tables.append(Table("device_totals", "Total seconds per bound method, all models of this run",
                                ["family", "method"] + [f"seconds on {d}" for d in ctx.devices], rows))
    section.records = ctx.bound_timings
    return section


# --------------------------------------------------------------------------- 7. performance figures
def performance_section(ctx: Context) -> Section:
    cfg = ctx.config
    section = Section("performance", "6. Performance figures")
    if not cfg.perf_run:
        section.text.append(f"Skipped in the `{cfg.name}` configuration: speed targets are judged by `--full` "
                            "(run it on an idle machine; the report states the load).")
        return section
    import torch

    bar = ctx.bar(4, "performance")
    rows = []
    # greedy SeqLip on a 10-200-200-200-10 MLP
    bar.set_postfix_str("greedy SeqLip")
    net = models.mlp(cfg.perf_greedy_widths, seed=ctx.seed)
    shape = (cfg.perf_greedy_widths[0],)
    greedy, _ = measure.median_time(lambda: measure.upper(net, "seqlip_greedy", shape, device="cpu", seed=ctx.seed),
                                    cfg.perf_repeats)
    rows.append(_target_row("greedy SeqLip on " + "-".join(map(str, cfg.perf_greedy_widths)), greedy,
                            cfg.perf_greedy_target, cfg.perf_repeats))
    bar.update(1)
    # exact SeqLip on one pair of width 20
    bar.set_postfix_str("exact SeqLip pair")
    w = cfg.perf_seqlip_pair_width
    pair = models.mlp([w, w, w], seed=ctx.seed)
    exact_pair, _ = measure.median_time(lambda: measure.upper(pair, "seqlip", (w,), device="cpu", seed=ctx.seed),
                                        cfg.perf_repeats)
    rows.append(_target_row(f"exact SeqLip, one pair of width {w} ({w}-{w}-{w} MLP)", exact_pair,
                            cfg.perf_seqlip_target, cfg.perf_repeats))
    bar.update(1)
    section.tables.append(Table("performance_targets", "Speed targets (median of several runs, cpu)",
                                ["benchmark", "runs", "median seconds", "target seconds", "result"], rows,
                                [f"threads used by the bounds (lipexact.threads rule, LIPEXACT_THREADS="
                                 f"{os.environ.get('LIPEXACT_THREADS', 'unset')}): {_threads_used([greedy, exact_pair])}"
                                 f"; torch threads outside lipexact calls: {torch.get_num_threads()}; load average "
                                 f"(1 min) {os.getloadavg()[0]:.2f}."]))
    # bnb vs brute at h = 16
    bar.set_postfix_str("bnb vs brute")
    h = cfg.perf_bnb_hidden
    net16 = random_two_layer(cfg.perf_bnb_inputs, h, ctx.seed)
    timed = {}
    for method in ("brute", "bnb"):
        timed[method], _ = measure.median_time(
            lambda method=method: measure.exact(net16, method, time_limit=cfg.scaling_time_limit * 6, seed=ctx.seed),
            cfg.perf_repeats)
    bar.update(1)
    ratio = None
    if timed["brute"].kind == "exact" and timed["bnb"].kind == "exact":
        ratio = timed["brute"].seconds / timed["bnb"].seconds
        section.checks.append(Check(f"bnb and brute agree at h = {h}",
                                    abs(timed["brute"].value - timed["bnb"].value)
                                    <= 1e-9 * max(1.0, abs(timed["brute"].value)),
                                    f"{timed['brute'].value:.10g} vs {timed['bnb'].value:.10g}"))
    section.tables.append(Table("bnb_vs_brute", f"bnb versus brute force at h = {h} "
                                f"({cfg.perf_bnb_inputs} inputs, N(0, 1) weights and biases, seed {ctx.seed}, median of "
                                f"{cfg.perf_repeats})",
                                ["method", "median seconds", "status", "value"],
                                [[m, timed[m].seconds if timed[m].available else timed[m], timed[m].status or "-",
                                  timed[m]] for m in ("brute", "bnb")]
                                + [["ratio brute / bnb", ratio, "-", "-"]]))
    # peak memory of the exact solvers
    bar.set_postfix_str("memory")
    h = cfg.perf_memory_hidden
    net_mem = random_two_layer(cfg.scaling_inputs, h, ctx.seed)
    memory_rows = []
    for label, method, options in SCALING_METHODS:
        # warm-up on a tiny network, so that imports and solver start-up are not counted
        measure.exact(random_two_layer(cfg.scaling_inputs, 3, ctx.seed), method, time_limit=10, **options)
        result, memory = measure.peak_memory(
            lambda: measure.exact(net_mem, method, time_limit=cfg.scaling_time_limit, seed=ctx.seed, **options))
        memory_rows.append([label, result.status or result, result.seconds if result.available else result,
                            memory["tracemalloc_peak_bytes"] / 2 ** 20, memory["rss_peak_growth_bytes"] / 2 ** 20,
                            memory["rss_after_bytes"] / 2 ** 20])
        section.records.append({"memory": label, "result": result.to_dict(), **memory})
    bar.update(1)
    bar.close()
    section.tables.append(Table("exact_memory", f"Peak memory of the exact solvers at h = {h}",
                                ["method", "status", "seconds", "tracemalloc peak (MiB)", "RSS peak growth (MiB)",
                                 "process RSS after (MiB)"],
                                memory_rows, ["tracemalloc sees Python and numpy allocations, not memory inside "
                                              "compiled solvers (HiGHS) or solver subprocesses (CBC); the RSS "
                                              "growth (sampled every 5 ms) sees in-process native memory, not "
                                              "memory the process already held nor the CBC subprocess."]))
    section.records += [{"benchmark": r[0], "median_seconds": r[2], "target": r[3], "result": r[4]} for r in rows]
    section.checks += target_checks(rows)
    return section


def target_checks(rows: list[list[Any]], cores: int | None = None, load: float | None = None) -> list[Check]:
    """One check per speed-target row (``[name, runs, seconds, target, PASS/FAIL/not run]``), so that a missed
    target is a FAIL in the summary; the detail names the load when the machine was busy.

    Examples
    --------
    >>> [c.passed for c in target_checks([["a", 3, 1.0, 5.0, "PASS"], ["b", 3, 9.0, 5.0, "FAIL"]], 2, 0.5)]
    [True, False]
    """
    cores = cores or os.cpu_count() or 1
    load = os.getloadavg()[0] if load is None and hasattr(os, "getloadavg") else (load or 0.0)
    busy = (f"; measured under load (1-min load {load:.2f} > {cores} cores): rerun on an idle machine"
            if load > cores else "")
    checks = []
    for name, _, seconds, target, verdict in rows:
        passed = None if verdict == "not run" else verdict == "PASS"
        detail = (f"median {seconds:.3g} s, target {target:g} s" if isinstance(seconds, float)
                  else f"not run: {seconds}") + busy
        checks.append(Check(f"speed target: {name}", passed, detail))
    return checks


def _target_row(name: str, m: Measurement, target: float, repeats: int) -> list[Any]:
    if not m.available:
        return [name, "-", m, target, "not run"]
    runs = m.extra.get("runs_seconds", [m.seconds])
    return [name, len(runs), m.seconds, target, "PASS" if m.seconds <= target else "FAIL"]


# --------------------------------------------------------------------------- 8. certification fuzz
def certify_fuzz_section(ctx: Context) -> Section:
    from benchmarks import certify_fuzz

    return certify_fuzz.section(ctx)


# --------------------------------------------------------------------------- 9. time limits
def time_limits_section(ctx: Context) -> Section:
    from benchmarks import time_limits

    return time_limits.section(ctx)


# --------------------------------------------------------------------------- 10. threads
def threads_section(ctx: Context) -> Section:
    from benchmarks import threads

    return threads.section(ctx)


# --------------------------------------------------------------------------- 11. deep networks
def deep_section(ctx: Context) -> Section:
    from benchmarks import deep

    return deep.section(ctx)


# --------------------------------------------------------------------------- 12. convolution layer norms
def conv_norms_section(ctx: Context) -> Section:
    from benchmarks import conv_norms

    return conv_norms.section(ctx)


# --------------------------------------------------------------------------- 13. the two-layer anchor
def anchor_section(ctx: Context) -> Section:
    from benchmarks import anchor

    return anchor.section(ctx)


def _threads_used(measurements: Iterable[Measurement]) -> str:
    """The thread counts the library chose for these calls (``result.stats["threads"]``), as text."""
    counts = sorted({m.extra.get("stats", {}).get("threads") for m in measurements if m.available} - {None})
    return ", ".join(str(c) for c in counts) or "not recorded"


#: Section key -> builder, in report order.
SECTIONS: dict[str, Callable[[Context], Section]] = {
    "mlp": mlp_section,
    "cnn": cnn_section,
    "alexnet": alexnet_section,
    "open_question": open_question_section,
    "scaling": scaling_section,
    "instances": instances_section,
    "performance": performance_section,
    "devices": devices_section,
    "certify_fuzz": certify_fuzz_section,
    "time_limits": time_limits_section,
    "threads": threads_section,
    "deep": deep_section,
    "conv_norms": conv_norms_section,
    "anchor": anchor_section,
}
