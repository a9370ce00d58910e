"""One look for every figure of the report: a fixed colour, marker and line style per method, readable
legends, and a small sideways offset so that equal values drawn at the same x stay visible.

Ours against the paper: the same colour and marker, ours solid with filled markers, the paper's dashed
with hollow markers. Upper bounds are drawn solid, lower bounds dashed, the exact value black.

Examples
--------
>>> style("autolip")["marker"], style("no-such-method")["marker"]
('s', 'o')
>>> [round(x, 2) for x in dodge([4, 5], 1, 3)]
[4.0, 5.0]
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable, Sequence

__all__ = ["STYLE", "style", "dodge", "plot_series", "finish", "save"]

#: method -> matplotlib keyword arguments (colour, marker, line style).
STYLE: dict[str, dict[str, Any]] = {
    "frobenius": {"color": "#7f7f7f", "marker": "D", "linestyle": "-"},
    "autolip": {"color": "#d62728", "marker": "s", "linestyle": "-"},
    "seqlip": {"color": "#1f77b4", "marker": "^", "linestyle": "-"},
    "seqlip_greedy": {"color": "#17becf", "marker": "v", "linestyle": "-."},
    "eclipse_fast": {"color": "#bcbd22", "marker": "<", "linestyle": "--"},
    "eclipse": {"color": "#e377c2", "marker": ">", "linestyle": "-"},
    "lipsdp": {"color": "#393b79", "marker": "p", "linestyle": "-"},
    "pattern_sdp": {"color": "#637939", "marker": "d", "linestyle": "-."},
    "exact": {"color": "#000000", "marker": "*", "linestyle": "-"},
    "data": {"color": "#2ca02c", "marker": "o", "linestyle": "--"},
    "gradient": {"color": "#9467bd", "marker": "P", "linestyle": "--"},
    "annealing": {"color": "#ff7f0e", "marker": "X", "linestyle": ":"},
    "grid": {"color": "#8c564b", "marker": "h", "linestyle": (0, (3, 1, 1, 1, 1, 1))},
    "ratio_autolip_seqlip": {"color": "#d62728", "marker": "s", "linestyle": "-"},
    "ratio_frobenius_autolip": {"color": "#7f7f7f", "marker": "D", "linestyle": "-"},
    "ratio_upper_lower": {"color": "#1f77b4", "marker": "o", "linestyle": "-"},
}

_FALLBACK_MARKERS = ["o", "s", "^", "v", "D", "P", "X", "h", "<", ">", "p", "*"]
_FALLBACK_LINES = ["-", "--", "-.", ":"]

LEGEND_FONTSIZE = 10
LABEL_FONTSIZE = 11


def style(key: str, index: int = 0) -> dict[str, Any]:
    """The style of ``key``; an unknown key gets the ``index``-th fallback (distinct marker and line)."""
    if key in STYLE:
        return dict(STYLE[key])
    return {"color": f"C{index % 10}", "marker": _FALLBACK_MARKERS[index % len(_FALLBACK_MARKERS)],
            "linestyle": _FALLBACK_LINES[index % len(_FALLBACK_LINES)]}


def dodge(xs: Sequence[float], index: int, count: int, width: float = 0.0, log: bool = False) -> list[float]:
    """``xs`` shifted sideways for series ``index`` of ``count`` (within ``width``: an additive shift, or a
    factor ``(1 + width)`` spread when ``log``), so that equal points of several series do not hide each other."""
    if count <= 1 or not width:
        return [float(x) for x in xs]
    offset = (index - (count - 1) / 2) * width / (count - 1)
    return [float(x) * (1 + offset) if log else float(x) + offset for x in xs]


def plot_series(ax, xs: Sequence[float], ys: Sequence[float], key: str, label: str, paper: bool = False,
                index: int = 0, **extra: Any):
    """Draw one series in its style: ours solid with filled markers, the paper's dashed with hollow ones."""
    kwargs = style(key, index)
    kwargs.update(markersize=7, linewidth=1.6, label=label)
    if paper:
        kwargs.update(linestyle="--", markerfacecolor="white", markeredgewidth=1.6, linewidth=1.3)
    kwargs.update(extra)
    return ax.plot(list(xs), list(ys), **kwargs)


def _plain_log_ticks(ax) -> None:
    """On a log axis spanning less than two decades, plain numbers (``2``, ``0.9``) instead of ``2 x 10^0``."""
    from matplotlib.ticker import FuncFormatter

    for axis, scale, limits in ((ax.xaxis, ax.get_xscale(), ax.get_xlim()), (ax.yaxis, ax.get_yscale(), ax.get_ylim())):
        low, high = sorted(limits)
        if scale == "log" and low > 0 and high / low < 100:
            plain = FuncFormatter(lambda value, _: f"{value:g}")
            axis.set_major_formatter(plain)
            axis.set_minor_formatter(plain)


def finish(ax, xlabel: str, ylabel: str, title: str | None = None, legend_outside: bool = False,
           legend_columns: int = 1, legend_below: bool = False) -> None:
    """Axis labels, grid and a readable legend (outside the axes, right or below, when there are many series)."""
    _plain_log_ticks(ax)
    ax.set_xlabel(xlabel, fontsize=LABEL_FONTSIZE)
    ax.set_ylabel(ylabel, fontsize=LABEL_FONTSIZE)
    if title:
        ax.set_title(title, fontsize=LABEL_FONTSIZE)
    ax.grid(True, which="major", alpha=0.35)
    ax.tick_params(labelsize=LABEL_FONTSIZE - 1)
    handles, _ = ax.get_legend_handles_labels()
    if not handles:
        return
    if legend_below:
        ax.legend(fontsize=LEGEND_FONTSIZE, loc="upper center", bbox_to_anchor=(0.5, -0.16), ncol=legend_columns,
                  frameon=False)
    elif legend_outside:
        ax.legend(fontsize=LEGEND_FONTSIZE, loc="upper left", bbox_to_anchor=(1.01, 1.0), ncol=legend_columns,
                  frameon=False)
    else:
        ax.legend(fontsize=LEGEND_FONTSIZE, ncol=legend_columns, framealpha=0.9)


def save(path: Path, draw: Callable[[Any], Any], size: tuple[float, float] = (8.0, 4.8), panels: int = 1) -> bool:
    """Draw with ``draw(ax)`` (or ``draw(axes)`` for several panels) and write a PNG; False when nothing was drawn."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, panels, figsize=size, squeeze=True)
    try:
        if draw(axes) is False:
            return False
        fig.tight_layout()
        fig.savefig(path, dpi=110)
        return True
    finally:
        plt.close(fig)
