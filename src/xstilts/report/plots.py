"""The report's figures as PNG bytes (matplotlib's object API with the Agg canvas: no pyplot state,
no display needed), so the HTML writer can embed them and tests can open them.
"""

from __future__ import annotations

import io

import numpy as np
from matplotlib import colormaps
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

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


MIN_HALF_SPAN = 1.0  # points: a colour scale or axis of differences spans at least ±1 point around 0
VERDICT_COLORS = {"different": "#1a5fa8", "equivalent": "#2e8b57", "inconclusive": "#888888", "no claim": "#888888"}


def symmetric_limit(values, floor: float = MIN_HALF_SPAN) -> float:
    """Half-span of a scale symmetric around 0 that holds every finite value, at least FLOOR: a
    -0.007 difference stays pale instead of being painted like the largest loss."""
    finite = [abs(float(v)) for v in values if v is not None and np.isfinite(v)]
    return max([floor, *finite])


def forest_comparisons(report: StudyReport) -> tuple[list, str]:
    """What the forest plot shows: the declared primary comparisons, else the gains over the
    baseline (transfer, then probes); and its caption's first sentence."""
    if report.primary:
        return list(report.primary), "The declared primary comparisons"
    comps = [*report.gains, *report.alignment_gains]
    return comps, (f"No primary comparison is declared (the spec has no analysis: primary: list), so this shows "
                   f"the gains over the baseline ({report.baseline}) instead")


def _short_verdict(c) -> str:
    if c.verdict == "different":
        return f"different (p Holm {c.p_holm:.3g})" if c.p_holm is not None else "different"
    if c.verdict == "equivalent":
        return f"equivalent within ±{c.margin:g}"
    if c.verdict == "inconclusive":
        return "inconclusive" + (f" (power {c.power:.0%})" if c.power is not None else "")
    return f"no claim ({len(c.units)} unit{'s' * (len(c.units) != 1)})"


def forest(report: StudyReport) -> bytes | None:
    """The forest plot as PNG bytes (see `forest_figure`)."""
    fig = forest_figure(report)
    return None if fig is None else _png(fig)


def forest_figure(report: StudyReport) -> Figure | None:
    """Forest plot: one row per comparison (difference and 95% t interval, verdict written beside
    it), one panel per outcome so different metrics never share an axis; each panel's axis is
    symmetric around 0, at least ±max(1, margin) points wide, with the equivalence margin shaded."""
    from xstilts.report.setup import metric_text

    comps, _ = forest_comparisons(report)
    if not comps:
        return None
    tasks = list(dict.fromkeys(c.task for c in comps))
    sizes = [sum(c.task == t for c in comps) for t in tasks]
    fig = Figure(layout="constrained", figsize=(10.5, 0.9 + sum(0.34 * n + 0.75 for n in sizes)))
    axes = fig.subplots(len(tasks), 1, squeeze=False, height_ratios=[n + 1.6 for n in sizes]).ravel()
    for ax, task in zip(axes, tasks):
        rows = [c for c in comps if c.task == task]
        margin = rows[0].margin
        lim = 1.08 * symmetric_limit([v for c in rows for v in (c.gain.mean, *(c.ci or ()))],
                                     max(MIN_HALF_SPAN, 1.5 * margin))
        ax.axvspan(-margin, margin, color="#2e8b57", alpha=0.08, linewidth=0)
        ax.axvline(0, color="black", linewidth=0.8)
        for i, c in enumerate(rows):
            color = VERDICT_COLORS.get(c.verdict, "#888888")
            if c.verdict == "different" and c.gain.mean < 0:
                color = "#b22222"  # different, and lower
            if c.ci is not None:
                ax.plot(c.ci, [i, i], color=color, linewidth=2.0, solid_capstyle="butt")
            ax.plot([c.gain.mean], [i], marker="D" if c.verdict == "different" else "o", markersize=6,
                    color=color, markerfacecolor=color if c.tested else "white", markeredgewidth=1.5)
            ci = "" if c.ci is None else f" [{c.ci[0]:+.2f}, {c.ci[1]:+.2f}]"
            ax.annotate(f"{c.gain.mean:+.2f}{ci}  {_short_verdict(c)}", (1.01, i), xycoords=("axes fraction", "data"),
                        va="center", fontsize=8, color=color if c.verdict != "no claim" else "#444444")
        ax.set_yticks(range(len(rows)), [f"{c.a} − {c.b}" for c in rows], fontsize=8)
        ax.set_ylim(len(rows) - 0.4, -0.6)
        ax.set_xlim(-lim, lim)
        ax.grid(axis="x", alpha=0.3)
        metric = metric_text(report.setup, task.split(" ")[0])
        ax.set_title(f"{task} ({metric}): difference, points", fontsize=9, loc="left")
    axes[-1].set_xlabel(f"difference (points) with 95% t interval; shaded: ±{comps[0].margin:g} equivalence margin")
    return fig


def gain_heatmap(report: StudyReport) -> bytes | None:
    """The heatmap as PNG bytes (see `heatmap_figure`)."""
    fig = heatmap_figure(report)
    return None if fig is None else _png(fig)


def heatmap_figure(report: StudyReport) -> Figure | None:
    """Conditions × target tasks, colour = gain over the baseline on a scale symmetric around 0 and at
    least ±1 point wide, text = mean ± std and stars."""
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
    lim = symmetric_limit(vals.ravel())
    for i, name in enumerate(names):
        for j, task in enumerate(tasks):
            if (comp := report.gain(name, task)) is not None:
                dark = abs(comp.gain.mean) > 0.6 * lim
                ax.text(j, i, f"{comp.gain}{comp.stars}", ha="center", va="center", fontsize=8,
                        color="white" if dark else "black")
    im = ax.imshow(vals, cmap="RdBu", vmin=-lim, vmax=lim, aspect="auto")
    ax.set_xticks(range(len(tasks)), tasks)
    ax.set_yticks(range(len(names)), names)
    ax.set_title(f"Gain over '{report.baseline}' per target task")
    fig.colorbar(im, ax=ax, label="gain (points)")
    return fig


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
    lim = 1.1 * symmetric_limit([s.mean + sign * (s.std or 0.0) for c in comps for s in c.per_language.values()
                                 for sign in (-1, 1)])
    axes[0].set_ylim(-lim, lim)  # y shared: symmetric around 0, at least ±1 point
    for ax in axes[len(comps):]:
        ax.set_visible(False)
    for ax in axes[::ncols]:
        ax.set_ylabel("gain (points)")
    fig.suptitle(f"{task}: gain over '{report.baseline}' per language (mean ± std over units; training language excluded)")
    return _png(fig)


def alignment_scatter(report: StudyReport) -> bytes | None:
    """Alignment gain (x) against transfer gain (y), one point per condition."""
    points = [(n, a.gain, a.transfer_gain) for n, a in report.alignment.items()
              if n != report.baseline and a.gain is not None and a.transfer_gain is not None]
    if not points:
        return None
    colors = _colors(report)
    fig = Figure(layout="constrained", figsize=(7.5, 4.4))
    ax = fig.add_subplot()
    for name, gain, transfer in points:
        kind = report.conditions[name].kind
        ax.scatter(gain, transfer, color=colors[name], marker=MARKERS.get(kind, "o"), s=50, label=f"{name} ({kind})")
        if len(points) <= 8:  # beyond that labels collide; the legend names every point
            ax.annotate(name, (gain, transfer), textcoords="offset points", xytext=(5, 4), fontsize=8)
    xlim = 1.2 * symmetric_limit([gain for _n, gain, _t in points])
    ylim = 1.2 * symmetric_limit([transfer for _n, _g, transfer in points])
    ax.set_xlim(-xlim, xlim)
    ax.set_ylim(-ylim, ylim)
    ax.axhline(0, color="grey", linewidth=0.6)
    ax.axvline(0, color="grey", linewidth=0.6)
    ax.set_xlabel("alignment gain (retrieval points, mean over probes)")
    ax.set_ylabel("transfer gain (points, mean over targets)")
    rho = report.correlation
    ax.set_title("Alignment vs transfer gain" + (f" (Spearman ρ = {rho[0]:.2f})" if rho else ""))
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.02, 1.0), title="condition (kind)", title_fontsize=8)
    return _png(fig)


def _panels(n: int, height: float) -> tuple[Figure, np.ndarray]:
    """A figure of N panels, at most 3 a row, each HEIGHT inches high."""
    ncols = min(3, n)
    nrows = -(-n // ncols)
    fig = Figure(layout="constrained", figsize=(min(MAX_WIDTH, 3.9 * ncols + 1.8), height * nrows))
    return fig, fig.subplots(nrows, ncols, squeeze=False).ravel()


def curve_probes(report: StudyReport) -> list[str]:
    """The probe labels scored at more than one layer: a single layer has no curve to draw."""
    return [t for t in report.probe_tasks
            if len({layer for a in report.alignment.values() for layer in a.curves.get(t, {})}) > 1]


def layer_curves(report: StudyReport) -> bytes | None:
    """Probe score by layer, one line per condition, one panel per probe scored at several layers,
    one legend for all."""
    tasks = curve_probes(report)
    if not tasks:
        return None
    colors = _colors(report)
    fig, axes = _panels(len(tasks), 3.4)
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


def _curve_panels(report: StudyReport) -> list[tuple[str, str, list]]:
    """(phase, title, records) per panel: phase 2's own-task dev curves in one panel, phase 3's
    English dev curves one panel per target task; records without a curve are skipped."""
    recs = [r for r in report.learning if len(r.curve) >= 1]
    panels = []
    inter = [r for r in recs if r.phase == "intermediate"]
    if inter:
        panels.append(("intermediate", "Phase 2: own-task dev score", inter))
    for task in dict.fromkeys(r.task for r in recs if r.phase == "finetune"):
        panels.append(("finetune", f"Phase 3: {task}, English dev score",
                       [r for r in recs if r.phase == "finetune" and r.task == task]))
    return panels


def training_curves(report: StudyReport) -> bytes | None:
    """The training curves as PNG bytes (see `curves_figure`)."""
    fig = curves_figure(report)
    return None if fig is None else _png(fig)


def curves_figure(report: StudyReport) -> Figure | None:
    """Dev score against training step per node kind (report.learning): phase 2 each condition's own
    task on its own dev set, phase 3 each target's English dev set, one line per run (colour:
    condition), chance dotted; None when no node recorded a curve."""
    panels = _curve_panels(report)
    if not panels:
        return None
    colors = _colors(report)
    fig, axes = _panels(len(panels), 3.2)
    seen: dict[str, Line2D] = {}
    for ax, (phase, title, recs) in zip(axes, panels):
        for r in recs:
            steps, vals = zip(*r.curve)
            label = f"{r.condition}: {r.task}" if phase == "intermediate" else r.condition
            (line,) = ax.plot(steps, vals, marker="o", markersize=3, linewidth=1.2, alpha=0.85,
                              label=f"{r.condition} {r.task} seed {r.seed}",
                              color=colors.get(r.condition, "black"),
                              linestyle="--" if r.condition == report.baseline else "-")
            seen.setdefault(r.condition, line)
            if phase == "intermediate":
                ax.annotate(label, (steps[-1], vals[-1]), textcoords="offset points", xytext=(3, 0), fontsize=6)
        chances = {r.chance for r in recs if r.chance is not None}
        if len(chances) == 1:
            ax.axhline(chances.pop(), color="grey", linestyle=":", linewidth=1, label="chance")
        metrics = sorted({r.metric for r in recs if r.metric})
        lo, hi = ax.get_ylim()
        if hi - lo < 5.0:  # at least a 5-point span: a flat curve stays flat
            mid = (hi + lo) / 2
            ax.set_ylim(mid - 2.5, mid + 2.5)
        ax.set_xlabel("training step")
        ax.set_ylabel(f"dev {'/'.join(metrics) or 'score'} (points)")
        ax.set_title(title, fontsize=9)
        ax.grid(alpha=0.3)
    for ax in axes[len(panels):]:
        ax.set_visible(False)
    fig.legend(list(seen.values()), list(seen), loc="outside right upper", fontsize=8, title="condition")
    return fig
