"""The report's figures as PNG bytes (matplotlib's object API with the Agg canvas: no pyplot state,
no display needed), so the HTML writer can embed them and tests can open them.
"""

from __future__ import annotations

import io

import numpy as np
from matplotlib import colormaps
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from xstilts.report.study import StudyReport

DPI = 110
MAX_WIDTH = 13.0  # inches; wider figures get shrunk below legibility in the HTML page
MARKERS = {"english": "o", "low-resource": "s", "translated": "D", "multi": "^", "mlm": "v", "none": "x"}


def _png(fig: Figure) -> bytes:
    FigureCanvasAgg(fig)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=DPI)
    return buf.getvalue()


def _colors(report: StudyReport) -> dict[str, tuple]:
    """One fixed colour per condition across every figure."""
    palette = colormaps["tab10" if len(report.conditions) <= 10 else "tab20"]
    return {name: palette(i % palette.N) for i, name in enumerate(report.conditions)}


def _treated(report: StudyReport) -> list[str]:
    return [n for n in report.conditions if n != report.baseline]


def gain_heatmap(report: StudyReport) -> bytes | None:
    """Conditions × target tasks, colour = gain over the baseline, text = mean ± std and stars."""
    names, tasks = _treated(report), list(report.target_tasks)
    if not names or not tasks:
        return None
    vals = np.full((len(names), len(tasks)), np.nan)
    fig = Figure(layout="constrained", figsize=(1.6 + 1.5 * len(tasks), 1.2 + 0.55 * len(names)))
    ax = fig.add_subplot()
    for i, name in enumerate(names):
        for j, task in enumerate(tasks):
            comp = report.gain(name, task)
            if comp is None:
                continue
            vals[i, j] = comp.gain.mean
    lim = float(np.nanmax(np.abs(vals))) if np.isfinite(vals).any() else 1.0
    for i, name in enumerate(names):
        for j, task in enumerate(tasks):
            if (comp := report.gain(name, task)) is not None:
                dark = abs(comp.gain.mean) > 0.6 * lim
                ax.text(j, i, f"{comp.gain}{comp.stars}", ha="center", va="center", fontsize=8,
                        color="white" if dark else "black")
    im = ax.imshow(vals, cmap="RdBu", vmin=-lim or -1, vmax=lim or 1, aspect="auto")
    ax.set_xticks(range(len(tasks)), tasks)
    ax.set_yticks(range(len(names)), names)
    ax.set_title(f"Gain over '{report.baseline}' per target task")
    fig.colorbar(im, ax=ax, label="gain (points)")
    return _png(fig)


def language_gains(report: StudyReport, task: str) -> bytes | None:
    """Gain per language on `task`, one panel per condition (small multiples stay readable with many
    conditions and languages); error bars = std over seeds, y shared so panels compare."""
    comps = [c for c in report.gains if c.task == task]
    if not comps:
        return None
    langs = sorted({lang for c in comps for lang in c.per_language})
    colors = _colors(report)
    panel_w = max(3.5, 0.3 * len(langs) + 1.2)
    ncols = max(1, min(3, len(comps), int(MAX_WIDTH // panel_w)))
    nrows = -(-len(comps) // ncols)
    fig = Figure(layout="constrained", figsize=(min(MAX_WIDTH, ncols * panel_w), 2.3 * nrows + 0.8))
    axes = fig.subplots(nrows, ncols, sharey=True, squeeze=False).ravel()
    x = np.arange(len(langs))
    for ax, comp in zip(axes, comps):
        spreads = [comp.per_language.get(lang) for lang in langs]
        errs = [s.std if s and s.std is not None else 0.0 for s in spreads]
        ax.bar(x, [s.mean if s else np.nan for s in spreads], 0.75, color=colors[comp.a],
               yerr=errs if any(errs) else None, capsize=2)
        ax.axhline(0, color="black", linewidth=0.8)
        ax.set_xticks(x, langs, rotation=90 if len(langs) > 12 else 0, fontsize=7 if len(langs) > 12 else 9)
        ax.set_title(f"{comp.a}: mean {comp.gain.mean:+.2f}{comp.stars}", fontsize=9)
        ax.grid(axis="y", alpha=0.3)
    for ax in axes[len(comps):]:
        ax.set_visible(False)
    for ax in axes[::ncols]:
        ax.set_ylabel("gain (points)")
    fig.suptitle(f"{task}: gain over '{report.baseline}' per language (mean ± std over units; training language excluded)")
    return _png(fig)


def alignment_scatter(report: StudyReport) -> bytes | None:
    """Alignment gain (x) against transfer gain (y), one point per condition."""
    points = [(n, a) for n, a in report.alignment.items()
              if n != report.baseline and a.gain is not None and a.transfer_gain is not None]
    if not points:
        return None
    colors = _colors(report)
    fig = Figure(layout="constrained", figsize=(7.5, 4.4))
    ax = fig.add_subplot()
    for name, a in points:
        kind = report.conditions[name].kind
        ax.scatter(a.gain, a.transfer_gain, color=colors[name], marker=MARKERS.get(kind, "o"), s=50,
                   label=f"{name} ({kind})")
        if len(points) <= 8:  # beyond that labels collide; the legend names every point
            ax.annotate(name, (a.gain, a.transfer_gain), textcoords="offset points", xytext=(5, 4), fontsize=8)
    ax.margins(0.2)
    ax.axhline(0, color="grey", linewidth=0.6)
    ax.axvline(0, color="grey", linewidth=0.6)
    ax.set_xlabel("alignment gain (retrieval points, mean over probes)")
    ax.set_ylabel("transfer gain (points, mean over targets)")
    rho = report.correlation
    ax.set_title("Alignment vs transfer gain" + (f" (Spearman ρ = {rho[0]:.2f})" if rho else ""))
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.02, 1.0), title="condition (kind)", title_fontsize=8)
    return _png(fig)


def layer_curves(report: StudyReport) -> bytes | None:
    """Probe score by layer, one line per condition, one panel per probe task, one legend for all."""
    tasks = list(report.probe_tasks)
    if not tasks:
        return None
    colors = _colors(report)
    ncols = min(3, len(tasks))
    nrows = -(-len(tasks) // ncols)
    fig = Figure(layout="constrained", figsize=(min(MAX_WIDTH, 3.9 * ncols + 1.8), 3.4 * nrows))
    axes = fig.subplots(nrows, ncols, squeeze=False).ravel()
    for ax, task in zip(axes, tasks):
        for name, a in report.alignment.items():
            curve = a.curves.get(task)
            if curve:
                ax.plot(list(curve), list(curve.values()), marker=MARKERS.get(report.conditions[name].kind, "o"),
                        markersize=3, color=colors[name], label=name,
                        linestyle="--" if name == report.baseline else "-")
        ax.set_xlabel("layer (0 = embeddings)")
        ax.set_ylabel("score (0–100)")
        ax.set_title(f"{task}: mean over languages, directions", fontsize=9)
        ax.grid(alpha=0.3)
    for ax in axes[len(tasks):]:
        ax.set_visible(False)
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside right upper", fontsize=8)
    return _png(fig)
