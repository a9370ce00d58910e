"""The sections that redo the paper's experiments (Scaman & Virmaux 2018, poster section 7) with its
published values beside ours: 1. the MLP table, 2. the CNN table, 3. AlexNet.

Each section writes three tables: our numbers, the published ones (every row cited: poster, section 7,
table, row), and the scale-free ratios side by side (ours, paper), because absolute values depend on
training while the ratios (AutoLip / SeqLip, Frobenius / AutoLip per layer, upper / lower) say how the
bounds behave. Where the poster and the reference code leave a setup open, the section text says what
we chose.
"""

from __future__ import annotations

import math
from typing import Any, Iterable

from benchmarks import data as datasets
from benchmarks import measure, models, paper_values, plots
from benchmarks.measure import Measurement
from benchmarks.report import AsPublished, Figure, Section, Table
from benchmarks.tables import (LOWER_LABELS, UPPER_LABELS, Context, _float32, _options_text, _ratio, _record,
                               _timing_table, _values, bracket_checks, evaluate_bounds)

__all__ = ["mlp_section", "cnn_section", "alexnet_section", "best", "per_layer"]

MLP_UPPERS = ("frobenius", "autolip", "seqlip", "seqlip_greedy", "eclipse_fast", "eclipse", "lipsdp")
MLP_LOWERS = ("data", "annealing", "grid")
CNN_UPPERS = ("autolip", "seqlip_greedy")
CNN_LOWERS = ("data", "annealing")

_PAPER_LABELS = {"Frobenius": "Frobenius", "AutoLip": "AutoLip", "SeqLip": "SeqLip", "greedy SeqLip": "greedy SeqLip",
                 "data": "data", "annealing": "annealing", "grid search": "grid search", "ratio": "ratio"}


def best(values: Iterable[Measurement | None], side: str) -> float | None:
    """The smallest proven upper bound (``side="upper"``; the greedy heuristic counts too, as in the paper's
    tables) or the largest proven lower bound (``side="lower"``) among ``values``.

    Examples
    --------
    >>> a = Measurement("lower", "data", "ok", kind="lower", value=2.0)
    >>> b = Measurement("lower", "grid", "ok", kind="lower", value=3.0)
    >>> best([a, b, None], "lower")
    3.0
    """
    numbers = []
    for m in values:
        if m is None or not m.available or m.value is None:
            continue
        if side == "lower" and m.family == "lower":
            numbers.append(m.proven_lower)
        elif side == "upper" and m.family == "upper":
            numbers.append(m.value)
    numbers = [x for x in numbers if x is not None]
    if not numbers:
        return None
    return max(numbers) if side == "lower" else min(numbers)


def per_layer(ratio: float | None, layers: int) -> float | None:
    """A ratio of two products over ``layers`` factors, as a geometric mean per factor.

    Examples
    --------
    >>> per_layer(16.0, 4)
    2.0
    """
    if ratio is None or ratio <= 0 or layers < 1:
        return None
    return ratio ** (1.0 / layers)


def _quotient(a: float | None, b: float | None) -> float | None:
    if a is None or b is None or not b:
        return None
    return a / b


def _paper_table(key: str, title: str, rows: list[Any], first_column: str, extra_note: str = "") -> Table:
    """The published values of ``rows`` of table ``key``, each row with its citation."""
    published = paper_values.table(key)
    columns = [first_column] + [f"{_PAPER_LABELS.get(c, c)} (paper)" for c in published["columns"]] + ["source"]
    body = []
    for row in rows:
        values = published["rows"].get(row)
        if values is None:
            continue
        body.append([row] + [_published(values.get(c)) for c in published["columns"]]
                    + [paper_values.row_citation(key, row)])
    if not body:
        return Table(f"{key}_paper", title, columns, body, [
            f"The poster has no row for these layer counts ({', '.join(map(str, rows))}); its rows: "
            f"{', '.join(map(str, published['rows']))}."])
    notes = [f"Published values: {paper_values.CITATION}; typed in from the poster's text, each row cited "
             "(section 7, table, row). " + " ".join(published.get("notes", []))]
    if extra_note:
        notes.append(extra_note)
    return Table(f"{key}_paper", title, columns, body, notes)


def _published(value: float | None) -> AsPublished | None:
    return None if value is None else AsPublished(value)


def _save(ctx: Context, name: str, caption: str, draw, size=(8.0, 4.8), panels: int = 1) -> Figure | None:
    return Figure(f"{name}.png", caption) if plots.save(ctx.out / f"{name}.png", draw, size, panels) else None


# --------------------------------------------------------------------------- 1. MLP table
def _exact_mlp(ctx: Context, model, n_layers: int) -> Measurement:
    """``lipexact.lipschitz`` on the trained MLP: proven optimal, or the proven bracket where it stopped."""
    cfg = ctx.config
    options: dict[str, Any] = {}
    if n_layers > 2 and cfg.exact_node_limit:
        options["node_limit"] = cfg.exact_node_limit  # deterministic: the same bracket on a busy machine
    return measure.exact(model, "auto", time_limit=cfg.exact_time_limit, seed=ctx.seed, **options)


def mlp_section(ctx: Context) -> Section:
    from benchmarks.training import train_regression

    cfg = ctx.config
    section = Section("mlp", "1. MLPs on a smooth synthetic 2-D function (the paper's MLP table)")
    X, y, _ = datasets.gp_regression(cfg.mlp_samples, seed=ctx.seed, function_seed=ctx.seed,
                                     input_std=cfg.mlp_input_std, lengthscale=cfg.mlp_lengthscale)
    layer_counts = [2] + [k for k in cfg.mlp_layers if k != 2]
    per_model = len(MLP_UPPERS) + len(MLP_LOWERS)
    bar = ctx.bar(len(layer_counts) * (per_model * len(ctx.devices) + 2), "MLP table")
    lower_options = {**cfg.lower_options, **cfg.mlp_lower_options}
    rows, ratio_rows, timings = [], [], []
    ours: dict[int, dict[str, Measurement]] = {}
    exacts: dict[int, Measurement] = {}
    for n_layers in layer_counts:
        width = cfg.mlp_two_layer_width if n_layers == 2 else cfg.mlp_width
        label = f"MLP-{n_layers}"
        model = models.paper_mlp(n_layers, width, seed=ctx.seed + n_layers, dtype=_float32())
        bar.set_postfix_str(f"{label} training")
        trained = train_regression(model, X, y, epochs=cfg.mlp_epochs, lr=cfg.mlp_lr, batch_size=cfg.mlp_batch,
                                   seed=ctx.seed)
        model = model.double()
        bar.update(1)
        skip = {}
        if width > cfg.seqlip_exact_max_width:
            skip["seqlip"] = (f"width {width} > {cfg.seqlip_exact_max_width} in the `{cfg.name}` configuration: "
                              f"exact SeqLip enumerates 2^width patterns per pair of layers (`--full` runs it)")
        results = evaluate_bounds(ctx, label, model, (2,), X, MLP_UPPERS, MLP_LOWERS, skip,
                                  step=lambda s: (bar.set_postfix_str(s), bar.update(1)), options=lower_options)
        bar.set_postfix_str(f"{label} exact")
        exact = _exact_mlp(ctx, model, n_layers)
        bar.update(1)
        values = _values(results, ctx.device)
        ours[n_layers], exacts[n_layers] = values, exact
        rows.append([n_layers, models.describe(model), trained["final_loss"]]
                    + [values[m] for m in MLP_UPPERS] + [exact] + [values[m] for m in MLP_LOWERS])
        timings.append((label, results))
        section.checks += bracket_checks(label, values.values(), exact)
        section.records.append(_record(label, results, training=trained, exact=exact.to_dict(), width=width))
    bar.close()

    for n_layers in layer_counts:
        values = ours[n_layers]
        paper = paper_values.table("mlp")["rows"].get(n_layers, {})
        autolip_seqlip = _ratio(values["autolip"], values["seqlip_greedy"])
        frob_autolip = per_layer(_ratio(values["frobenius"], values["autolip"]), n_layers)
        upper_lower = _quotient(best(values.values(), "upper"), best(values.values(), "lower"))
        paper_upper_lower = None
        if paper:
            paper_upper_lower = min(paper["SeqLip"], paper["greedy SeqLip"]) / max(
                paper["data"], paper["annealing"], paper["grid search"])
        exact = exacts[n_layers]
        exact_gap = None
        if exact.available and exact.upper is not None and exact.lower:
            exact_gap = exact.upper / exact.lower
        ratio_rows.append([n_layers, autolip_seqlip, paper_values.ratio("mlp", n_layers, "AutoLip", "greedy SeqLip"),
                           frob_autolip, per_layer(paper_values.ratio("mlp", n_layers, "Frobenius", "AutoLip"),
                                                   n_layers),
                           upper_lower, paper_upper_lower, exact_gap])

    section.text.append(
        f"MLPs with {', '.join(map(str, cfg.mlp_layers))} linear layers, every hidden layer {cfg.mlp_width} wide, "
        f"2 inputs and 1 output, plus a two-layer row (width {cfg.mlp_two_layer_width}). Data as in the paper's "
        "reference code (github.com/avirmaux/lipEstimation, `experiments/gp.py`): "
        f"{cfg.mlp_samples} inputs drawn from N(0, {cfg.mlp_input_std:g}^2 I_2) and a smooth random function "
        f"(a Gaussian process with an RBF kernel of lengthscale {cfg.mlp_lengthscale:g} and variance 1, sampled "
        "by random Fourier features). Trained by mean squared error, Adam (learning rate "
        f"{cfg.mlp_lr:g}, batch {cfg.mlp_batch}, {cfg.mlp_epochs} epochs, float32, seed {ctx.seed}); bounds in "
        f"float64 on `{ctx.device}`. **Where we chose**: the poster gives neither the width nor the training of "
        f"its MLPs; we use width {cfg.mlp_width}, which puts the scale-free ratios below in the range of the "
        "poster's table. The `exact` column is `lipexact.lipschitz(model, norm=2)`: proven optimal, or the "
        "proven bracket [lower, upper] where the search stopped"
        + (f" (node limit {cfg.exact_node_limit} for the deep networks, so the bracket does not depend on the "
           f"machine's load; time limit {cfg.exact_time_limit:g} s)" if cfg.exact_node_limit
           else f" (time limit {cfg.exact_time_limit:g} s)")
        + ". Lower-bound options: " + _options_text(lower_options, MLP_LOWERS) + ".")
    columns = (["# layers", "architecture", "train MSE"] + [UPPER_LABELS[m] for m in MLP_UPPERS]
               + ["exact (ours; [bracket] where stopped)"] + [LOWER_LABELS[m] for m in MLP_LOWERS])
    section.tables.append(Table("mlp_table", "MLP bounds (ours)", columns, rows, [
        "`*` greedy SeqLip is a heuristic (no guarantee); SeqLip (exact) is a proven upper bound.",
        "A bracket `[a, b] (status)` in the exact column is proven: the constant lies in it; the search stopped "
        "at its limit before closing it."]))
    section.tables.append(_paper_table("mlp", "MLP: the published values (paper)", cfg.mlp_layers, "# layers"))
    section.tables.append(Table(
        "mlp_ratios", "MLP: scale-free ratios, ours beside the paper's",
        ["# layers", "AutoLip / greedy SeqLip", "(paper)", "(Frobenius / AutoLip)^(1/layers)", "(paper)",
         "best upper / best lower", "(paper)", "exact bracket upper / lower (ours)"], ratio_rows,
        ["Best upper: the smallest of the upper columns (greedy SeqLip included, as the paper's SeqLip columns); "
         "best lower: the largest lower bound. Paper ratios are computed from the cited values of the table "
         "above. The two-layer row has no published counterpart.",
         "(Frobenius / AutoLip)^(1/layers): the geometric mean per layer of the gap between the product of "
         "Frobenius norms and the product of spectral norms."]))
    section.tables.append(_timing_table("mlp_timings", "MLP bound timings", timings, ctx.devices))

    def draw_bounds(ax):
        series = [(m, UPPER_LABELS[m]) for m in MLP_UPPERS] + [(m, LOWER_LABELS[m]) for m in MLP_LOWERS]
        drawn = False
        for index, (method, name) in enumerate(series):
            points = [(k, ours[k][method].value) for k in layer_counts
                      if ours[k][method].available and ours[k][method].value]
            if points:
                xs, ys = zip(*points)
                plots.plot_series(ax, plots.dodge(xs, index, len(series) + 1, 0.5), ys, method, name)
                drawn = True
        lows = [(k, exacts[k].lower, exacts[k].upper) for k in layer_counts
                if exacts[k].available and exacts[k].lower and exacts[k].upper]
        if lows:
            xs = plots.dodge([p[0] for p in lows], len(series), len(series) + 1, 0.5)
            centres = [math.sqrt(p[1] * p[2]) for p in lows]
            ax.errorbar(xs, centres, yerr=[[c - p[1] for c, p in zip(centres, lows)],
                                           [p[2] - c for c, p in zip(centres, lows)]],
                        fmt="*", color="black", markersize=9, capsize=4, linewidth=1.4,
                        label="exact (bar: proven bracket)")
            drawn = True
        if not drawn:
            return False
        ax.set_yscale("log")
        ax.set_xticks(layer_counts)
        plots.finish(ax, "number of linear layers", "Lipschitz constant (l2), log scale",
                     f"Bounds of our trained MLPs (width {cfg.mlp_width})", legend_outside=True)

    figure = _save(ctx, "mlp_bounds", "Our MLPs: upper bounds (solid), lower bounds (dashed) and the exact "
                   "value or its proven bracket (black), log scale; points of equal value are shifted sideways.",
                   draw_bounds, size=(9.0, 4.8))
    if figure:
        section.figures.append(figure)
    figure = _save(ctx, "mlp_vs_paper", "Scale-free ratios of the MLP bounds versus depth: ours (solid, filled) "
                   "and the paper's (dashed, hollow), log scale.",
                   lambda ax: _draw_ratios(ax, ratio_rows, [("ratio_autolip_seqlip", "AutoLip / greedy SeqLip", 1, 2),
                                                            ("ratio_frobenius_autolip",
                                                             "(Frobenius / AutoLip) per layer", 3, 4),
                                                            ("ratio_upper_lower", "best upper / best lower", 5, 6)],
                                           "MLPs: ours against the paper"), size=(10.0, 4.8))
    if figure:
        section.figures.append(figure)
    return section


def _draw_ratios(ax, ratio_rows: list[list[Any]], series: list[tuple[str, str, int, int]], title: str):
    """Ours (column ``i``) and the paper's (column ``j``) per ratio, versus the number of layers (column 0)."""
    drawn = False
    count = 2 * len(series)
    for index, (key, name, ours_col, paper_col) in enumerate(series):
        for offset, (col, paper) in enumerate(((ours_col, False), (paper_col, True))):
            points = [(r[0], r[col]) for r in ratio_rows if isinstance(r[col], (int, float)) and r[col]]
            if points:
                xs, ys = zip(*points)
                plots.plot_series(ax, plots.dodge(xs, 2 * index + offset, count, 0.4), ys, key,
                                  f"{name} ({'paper' if paper else 'ours'})", paper=paper)
                drawn = True
    if not drawn:
        return False
    ax.set_yscale("log")
    ax.set_xticks(sorted({r[0] for r in ratio_rows}))
    plots.finish(ax, "number of layers", "ratio (log scale)", title, legend_outside=True)
    return True


# --------------------------------------------------------------------------- 2. CNN table
def cnn_section(ctx: Context) -> Section:
    from benchmarks.training import train_classifier

    cfg = ctx.config
    section = Section("cnn", "2. CNNs on 28x28 digits (the paper's MNIST CNN table)")
    if cfg.cnn_family == "mnist":
        images, labels, source = datasets.digits28(limit=cfg.digits_limit, source=cfg.cnn_data)
    else:
        images, labels = datasets.digits(upsample=cfg.digits_upsample, limit=cfg.digits_limit)
        source = ("scikit-learn's 8x8 digits" + (f" upsampled x{cfg.digits_upsample}" if cfg.digits_upsample > 1
                                                  else "") + ", pixels in [0, 1] (not the paper's setup)")
    shape = tuple(images.shape[1:])
    bound_data = images[:cfg.cnn_bound_samples] if cfg.cnn_bound_samples else images
    bar = ctx.bar(len(cfg.cnn_layers) * ((len(CNN_UPPERS) + len(CNN_LOWERS)) * len(ctx.devices) + 1), "CNN table")
    rows, ratio_rows, timings = [], [], []
    for n_layers in cfg.cnn_layers:
        label = f"CNN-{n_layers}"
        if cfg.cnn_family == "mnist":
            model = models.mnist_cnn(n_layers, seed=ctx.seed + n_layers, dtype=_float32())
        else:
            model = models.paper_cnn(n_layers, cfg.cnn_channels, image_size=shape[-1], seed=ctx.seed + n_layers,
                                     dtype=_float32())
        bar.set_postfix_str(f"{label} training")
        trained = train_classifier(model, images, labels, epochs=cfg.cnn_epochs, lr=cfg.cnn_lr,
                                   batch_size=cfg.cnn_batch, seed=ctx.seed)
        model = model.double()
        bar.update(1)
        results = evaluate_bounds(ctx, label, model, shape, bound_data, CNN_UPPERS, CNN_LOWERS,
                                  step=lambda s: (bar.set_postfix_str(s), bar.update(1)),
                                  options=cfg.cnn_lower_options)
        values = _values(results, ctx.device)
        autolip_seqlip = _ratio(values["autolip"], values["seqlip_greedy"])
        rows.append([n_layers, models.describe(model), trained["train_accuracy"], values["autolip"],
                     values["seqlip_greedy"], autolip_seqlip, values["data"], values["annealing"]])
        paper = paper_values.table("cnn")["rows"].get(n_layers, {})
        lower = best(values.values(), "lower")
        ratio_rows.append([n_layers, autolip_seqlip, paper.get("ratio"),
                           paper_values.ratio("cnn", n_layers, "AutoLip", "greedy SeqLip"),
                           _quotient(_value(values["seqlip_greedy"]), lower),
                           _quotient(paper.get("greedy SeqLip"), max(paper["data"], paper["annealing"]))
                           if paper else None])
        timings.append((label, results))
        section.checks += bracket_checks(label, values.values())
        section.records.append(_record(label, results, training=trained))
    bar.close()
    architecture = (
        "the MNIST CNNs of the paper's reference code (github.com/avirmaux/lipEstimation, `models/mnist_4.py` "
        "and `models/mnist_5.py`: convolutions of 32, 64 and 128 channels with stride 2, then a 2x2 convolution "
        "to 10 outputs; `mnist_5` adds a 64-channel 3x3 convolution with stride 1). **Where we chose**: the "
        "7- and 10-layer networks are not in that code; ours add 3 and 6 such 64-channel convolutions at the "
        "same place" if cfg.cnn_family == "mnist" else
        f"small CNNs ({cfg.cnn_channels} channels per 3x3 convolution, padding 1, one linear read-out)")
    section.text.append(
        f"CNNs with {', '.join(map(str, cfg.cnn_layers))} layers: {architecture}. Data: {source}; "
        f"{images.shape[0]} images of shape {'x'.join(map(str, shape))}"
        + (", pixels in [-1, 1] as the reference code normalises them" if cfg.cnn_family == "mnist" else "")
        + f". Trained by cross-entropy, Adam (learning rate {cfg.cnn_lr:g}, batch {cfg.cnn_batch}, "
        f"{cfg.cnn_epochs} epochs, float32): the reference code trains 25 to 40 epochs on the 60000 MNIST "
        "training images, so absolute values are not comparable; the ratios are. The data lower bound uses the "
        f"first {bound_data.shape[0]} images. Lower-bound options: "
        f"{_options_text({**cfg.lower_options, **cfg.cnn_lower_options}, CNN_LOWERS)}.")
    columns = ["# layers", "architecture", "train accuracy", "AutoLip", "greedy SeqLip*", "AutoLip / greedy SeqLip",
               "data", "annealing"]
    section.tables.append(Table("cnn_table", "CNN bounds (ours)", columns, rows,
                                ["`*` greedy SeqLip is a heuristic (no guarantee).",
                                 "The SDP-class bounds (ECLipsE-Fast, ECLipsE, LipSDP) take MLPs only (they are "
                                 "in the MLP table): as dense LMIs, these CNNs' first hidden layer alone has 4608 "
                                 "units (32 x 12 x 12), and one Cholesky factorization of that side took 16 s on "
                                 "this machine (load 4.8), an eigendecomposition 69 s, against seconds for "
                                 "AutoLip; a convolution-structured SDP solver is not built."]))
    section.tables.append(_paper_table("cnn", "CNN: the published values (paper)", list(cfg.cnn_layers),
                                       "# layers", "The poster's ratio column is AutoLip / greedy SeqLip, rounded "
                                       "to one decimal."))
    section.tables.append(Table(
        "cnn_ratios", "CNN: scale-free ratios, ours beside the paper's",
        ["# layers", "AutoLip / greedy SeqLip", "(paper, printed)", "(paper, from its values)",
         "greedy SeqLip / best lower", "(paper)"], ratio_rows,
        ["Best lower: the largest of our lower bounds (data, annealing); the paper's: the larger of its dataset "
         "and annealing columns."]))
    section.tables.append(_timing_table("cnn_timings", "CNN bound timings", timings, ctx.devices))
    figure = _save(ctx, "cnn_vs_paper", "Scale-free ratios of the CNN bounds versus depth: ours (solid, filled) "
                   "and the paper's (dashed, hollow), log scale.",
                   lambda ax: _draw_ratios(ax, ratio_rows, [("ratio_autolip_seqlip", "AutoLip / greedy SeqLip", 1, 3),
                                                            ("ratio_upper_lower", "greedy SeqLip / best lower", 4, 5)],
                                           "CNNs: ours against the paper"), size=(10.0, 4.8))
    if figure:
        section.figures.append(figure)
    return section


def _value(m: Measurement | None) -> float | None:
    return m.value if m is not None and m.available else None


# --------------------------------------------------------------------------- 3. AlexNet
def alexnet_section(ctx: Context) -> Section:
    cfg = ctx.config
    section = Section("alexnet", "3. AlexNet (random weights; the paper's are trained)")
    if cfg.alexnet == "skip":
        section.text.append(f"Skipped in the `{cfg.name}` configuration; `--quick` runs a reduced AlexNet and "
                            "`--full` the original one.")
        return section
    model = models.alexnet(seed=ctx.seed, width_scale=cfg.alexnet_width_scale)
    shape = (3, cfg.alexnet_input, cfg.alexnet_input)
    reduced = cfg.alexnet_input != 224 or cfg.alexnet_width_scale != 1.0
    section.text.append(
        "The AlexNet architecture written with torch (5 convolutions, 3 overlapping 3x3/stride-2 max-poolings, "
        "3 linear layers) with **random** PyTorch-default weights (seed "
        f"{ctx.seed}): pretrained ImageNet weights cannot be fetched here, while the paper's values are for the "
        f"trained network, so only the ratio AutoLip / greedy SeqLip is comparable. Input {shape}"
        + (f", channel and width scale {cfg.alexnet_width_scale}: a REDUCED network, not the original "
           "(`--full` runs the original size)" if reduced else ": the original size")
        + f". {models.count_parameters(model):,} parameters.")
    bar = ctx.bar(2 * len(ctx.devices), "AlexNet")
    results = evaluate_bounds(ctx, "AlexNet", model, shape, None, ("autolip", "seqlip_greedy"), (),
                              step=lambda s: (bar.set_postfix_str(s), bar.update(1)))
    bar.close()
    values = _values(results, ctx.device)
    paper = paper_values.table("alexnet")["rows"]["alexnet"]
    name = "AlexNet, random weights" + (" (reduced)" if reduced else "")
    rows = [[name + " (ours)", "x".join(map(str, shape)), values["autolip"], values["seqlip_greedy"],
             _ratio(values["autolip"], values["seqlip_greedy"]), "this run"],
            ["AlexNet, trained ImageNet weights (paper)", "3x224x224", _published(paper["AutoLip"]),
             _published(paper["greedy SeqLip"]),
             paper["AutoLip"] / paper["greedy SeqLip"], paper_values.row_citation("alexnet", "alexnet")]]
    section.tables.append(Table(
        "alexnet_table", "AlexNet bounds: ours (random weights) beside the paper's (trained weights)",
        ["network", "input", "AutoLip", "greedy SeqLip*", "AutoLip / greedy SeqLip", "source"], rows,
        ["`*` greedy SeqLip is a heuristic (no guarantee).",
         "The two rows are different networks (random against trained weights): compare the ratio, not the "
         "values. The paper's ratio is computed from its two cited values.",
         "No SDP-class bound here: they take MLPs only, and AlexNet's first convolution alone has "
         "64 x 55 x 55 = 193,600 outputs (a dense LMI of that side is out of reach)."]))
    section.tables.append(_timing_table("alexnet_timings", "AlexNet bound timings", [("AlexNet", results)],
                                        ctx.devices))
    section.checks += bracket_checks("AlexNet", values.values())
    section.records.append(_record("AlexNet", results, input_shape=list(shape),
                                   width_scale=cfg.alexnet_width_scale))
    return section
