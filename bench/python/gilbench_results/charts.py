"""Charts of result files (plot.py charts RESULT.json [MORE.json ...] --out DIR).

PNG and SVG charts plus summary.md (also printed). Rows of several files are
combined (e.g. the CPython twin's results beside gilbench's); each row's
speedup is taken against the reference row (`serial`, workers:1) of its own
file. Everything is built from each run's fields (gilbench_runs) and the
file's context: no strategy, workload or worker count is listed here, so a
new strategy or workload needs no edit of this file.

  speedup      per workload: speedup over the reference against worker
               count, one line per strategy, the ideal line up to the CPU
               count (gilbench_nproc, else num_cpus), which a dotted line
               marks, the spread of repetitions (band = min..max, dots =
               repetitions)
  overhead     1-worker time of each strategy / 1-worker reference time
  instructions 1-worker instruction count of each strategy / the
               reference's (callgrind, the files that hold the counts)
  io_<w>       for workloads with io_* counters (convoy): the throughput
               counters against K (the CPU workers beside the IO worker),
               per strategy, and the latency percentiles at K=1 as bars
               (io_rps_alone, the IO worker measured alone, is no function
               of K and is left out)
  sweep_<axis> when runs carry a further varying axis (e.g. interval): IO
               throughput or speedup against it
  sweep_bytecode  runs at several --bytecode-cost values: 1-worker overhead
               and 2-worker speedup over the reference at the same cost,
               against the cost in ns (a dotted line where the serial time
               per checkpoint reaches the CPython twin's)
  gil_stats    every gil_* counter per second of run (counts per second,
               nanoseconds as seconds per second; fractions as they are),
               at each strategy's largest worker count within the CPU count

Every series has its own colour (PALETTE: neighbours at least 30 apart in
CIE L*a*b*), and the CPython twin's series (its file's gilbench_runtime is
cpython) are drawn dashed with hollow square markers, so that they read
apart from gilbench's even where the colours are close; each is measured
against its own file's reference (serial; the twin: cpython_serial).
Legends go under the panels and titles are wrapped to the figure's width:
layout_problems() checks every figure before it is saved (no text outside
the figure, no legend over an axes, the title over no panel) and
Charts.layout keeps what it found per chart (empty: the tests assert it).
"""

import io
import json
import math
import os
import textwrap
from dataclasses import dataclass

from . import durations, schema
from .errors import InputError
from .output import output_directory, write_output
from .render import noise_line
from .stats import median

# The chart's x axis: the workers of each run (convoy: K, its CPU workers).
X_KEY = "workers"
# Runs that report this counter (convoy) count K, the CPU workers beside one IO worker.
K_COUNTER = "io_rps"
K_LABEL = "K CPU workers (beside the IO worker)"
# Counter families drawn as a group: name prefix -> chart.
IO_PREFIX = "io_"
GIL_PREFIX = "gil_"
# io_* counters left out of the IO chart: measured with the IO worker alone, no function of K.
ALONE_SUFFIX = "_alone"
# io_* latency percentiles (unit us): bars at K=1 rather than lines against K.
LATENCY_UNIT = "us"
# Series colours, in the order labels take them: picked greedily so that each is as far as
# possible (CIE76 distance in L*a*b*) from those before it; the first 14 are at least 33
# apart, all 18 at least 29. Grey is left to the reference lines (ideal, 1.0, CPU count).
PALETTE = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#654522", "#ff1493",
           "#000080", "#e7969c", "#bcbd22", "#17becf", "#c2b280", "#1b9e77", "#a6761d",
           "#b3446c", "#637939", "#393b79", "#882d17"]
# The axis of --bytecode-cost (steps per checkpoint): its own sweep chart.
BYTECODE_AXIS = schema.BYTECODE_AXIS
# The CPython twin's files say so in their context.
RUNTIME_KEY, CPYTHON = "gilbench_runtime", "cpython"


@dataclass
class Series:
    """The runs of one line of a chart: one strategy (and variant) of one workload."""

    label: str
    workload: str
    runs: list  # Run, sorted by x
    primary: bool  # the variant drawn on the speedup and overhead charts
    is_reference: bool
    cpython: bool = False  # from the CPython twin's file: drawn in its own style


def sort_value(text):
    """A key to order axis values: durations and numbers by magnitude, else as text."""
    d = durations.seconds(text)
    if d is not None:
        return (0, d, text)
    try:
        return (0, float(text), text)
    except ValueError:
        return (1, 0.0, text)


def variant_rank(result, variant):
    """Orders a strategy's variants: the one whose values come first in the context
    lists (e.g. gilbench_switch_intervals[0]) is the primary one."""
    rank = []
    lists = []
    for key, text in result.context.items():
        if key.startswith("gilbench_") and isinstance(text, str) and text.startswith("["):
            try:
                lists.append([str(v) for v in json.loads(text)])
            except ValueError:
                pass
    for _, value in variant:
        pos = [lst.index(value) for lst in lists if value in lst]
        rank.append(min(pos) if pos else 10**6)
    return tuple(rank)


def build_series(results):
    """All series of all files, with labels unique across files."""
    series = []
    taken = {}  # (workload, label) -> file index
    for fi, result in enumerate(results):
        groups = {}
        for run in result.runs.values():
            groups.setdefault((run.workload, run.strategy, run.variant), []).append(run)
        variants = {}
        for (w, s, v) in groups:
            variants.setdefault((w, s), []).append(v)
        stem = os.path.splitext(os.path.basename(result.path))[0]
        for (w, s, v), runs in groups.items():
            primary = min(variants[(w, s)], key=lambda vv: variant_rank(result, vv)) == v
            is_ref = s == result.reference
            label = s
            if (w, s) in taken and taken[(w, s)] != fi:
                if is_ref:
                    continue  # each file keeps its own reference; draw the first one
                label = f"{s} ({stem})"
            taken.setdefault((w, s), fi)
            series.append(Series(label, w, sorted(runs, key=lambda r: r.workers), primary, is_ref,
                                 result.context.get(RUNTIME_KEY) == CPYTHON))
    return series


def ordered(values, preferred):
    """Unique values, those listed in `preferred` first in its order, then as seen."""
    seen = list(dict.fromkeys(values))
    first = [v for v in dict.fromkeys(preferred) if v in seen]
    return first + [v for v in seen if v not in first]


def wrap_to_width(text_artist, fig, fraction=0.96):
    """Wraps a text artist (a title) onto more lines until it fits fraction of the
    figure's width."""
    renderer = fig.canvas.get_renderer()
    text = " ".join(text_artist.get_text().split())
    for _ in range(8):
        width = text_artist.get_window_extent(renderer).width
        if width <= fraction * fig.bbox.width:
            return
        longest = max(len(line) for line in text_artist.get_text().split("\n"))
        chars = max(10, int(longest * fraction * fig.bbox.width / width) - 1)
        text_artist.set_text(textwrap.fill(text, chars))


def _outside(box, width, height, slack=1.0):
    return (box.x0 < -slack or box.y0 < -slack or box.x1 > width + slack
            or box.y1 > height + slack)


def _overlap(a, b, slack=1.0):
    return (min(a.x1, b.x1) - max(a.x0, b.x0) > slack
            and min(a.y1, b.y1) - max(a.y0, b.y0) > slack)


def layout_problems(fig):
    """What is wrong with a figure's layout, as lines (empty: nothing): a title, label,
    tick label or legend that reaches outside the figure (clipped when saved), a legend
    over an axes (over the data), a figure title over a panel."""
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    width, height = fig.bbox.width, fig.bbox.height
    axes = [ax for ax in fig.axes if ax.get_visible()]
    legends = list(fig.legends) + [ax.get_legend() for ax in axes if ax.get_legend()]
    texts = [("figure title", fig._suptitle)] + [("legend", leg) for leg in legends]
    for ax in axes:
        texts += [("title", ax.title), ("x label", ax.xaxis.label), ("y label", ax.yaxis.label)]
        for axis in (ax.xaxis, ax.yaxis):  # the ticks drawn: those within the view
            lo, hi = sorted(axis.get_view_interval())
            texts += [("tick label", t.label1) for t in axis.get_major_ticks()
                      if lo <= t.get_loc() <= hi]
    problems = []
    for what, artist in texts:
        if artist is None or not artist.get_visible():
            continue
        if hasattr(artist, "get_text") and not artist.get_text():
            continue
        if _outside(artist.get_window_extent(renderer), width, height):
            name = artist.get_text()[:40] if hasattr(artist, "get_text") else ""
            problems.append(f"{what} {name!r} reaches outside the figure (clipped)".replace(
                " ''", ""))
    boxes = [ax.get_window_extent(renderer) for ax in axes]
    for leg in legends:
        if any(_overlap(leg.get_window_extent(renderer), box) for box in boxes):
            problems.append("a legend lies over an axes (over the data)")
    title = fig._suptitle
    if title is not None and title.get_text():
        box = title.get_window_extent(renderer)
        if any(_overlap(box, ax.get_tightbbox(renderer)) for ax in axes):
            problems.append("the figure title lies over a panel")
    return problems


class Figures:
    """What every chart of the library shares: matplotlib, the palette and the styles,
    panels, the legend and title under and over them, the layout check, and saving."""

    def __init__(self, out, labels=()):
        import matplotlib
        matplotlib.use("Agg")
        # Names are drawn as they are: a "$" in a name is no mathtext to parse.
        matplotlib.rcParams["text.parse_math"] = False
        import matplotlib.pyplot as plt
        self.plt = plt
        self.out = out
        self.labels = list(labels)
        self.colors = {label: PALETTE[i % len(PALETTE)] for i, label in enumerate(self.labels)}
        self.cpython_labels = set()
        self.written = []
        self.layout = {}  # chart stem -> layout_problems() of its figure

    def log_y(self, ax):
        """A log y axis labelled in plain numbers (text.parse_math is off, so the default
        10^n labels, which are mathtext, would show their source)."""
        from matplotlib.ticker import FuncFormatter, NullFormatter
        ax.set_yscale("log")
        ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
        ax.yaxis.set_minor_formatter(NullFormatter())

    def color(self, label):
        return self.colors.get(label, "0.25")

    def style(self, label):
        """Line style of a series: the CPython twin's dashed with hollow square markers."""
        if label in self.cpython_labels:
            return dict(color=self.color(label), ls="--", marker="s", mfc="white", ms=4)
        return dict(color=self.color(label), ls="-", marker="o", ms=4)

    def save(self, fig, stem):
        """Checks the layout, writes DIR/stem.png and DIR/stem.svg (through write_output)
        and closes the figure."""
        try:
            self.layout[stem] = layout_problems(fig)
            for ext in ("png", "svg"):
                path = os.path.join(self.out, f"{stem}.{ext}")
                image = io.BytesIO()
                fig.savefig(image, format=ext, dpi=110 if ext == "png" else None)
                write_output(path, image.getvalue())
                self.written.append(path)
        finally:
            self.plt.close(fig)

    def grid(self, n, width=4.4, height=3.4, cols=None):
        """A figure of n panels, up to 4 to a row (or `cols`); returns (figure, the n axes).
        The figure grows in finish() to hold the title and the legend."""
        cols = cols or min(n, 4 if n > 6 else 3 if n > 2 else n)
        rows = math.ceil(n / cols)
        fig, axes = self.plt.subplots(rows, cols, figsize=(max(6.4, width * cols),
                                                           height * rows), squeeze=False)
        for ax in axes.flat[n:]:
            ax.set_visible(False)
        return fig, list(axes.flat[:n])

    def finish(self, fig, axes, title=None, legend=True):
        """The title (wrapped to the figure's width) over the panels, one shared legend
        under them (as many columns as fit the width), the figure grown by their
        heights, and a layout that leaves room for both."""
        renderer = fig.canvas.get_renderer()
        width_in, panels_in = fig.get_size_inches()
        top_in = bottom_in = 0.0
        if title:
            text = fig.suptitle(title, fontsize=10, y=0.995, va="top")
            wrap_to_width(text, fig)
            top_in = text.get_window_extent(renderer).height / fig.dpi + 0.2
        if legend:
            handles = {}
            for ax in axes:
                for h, lab in zip(*ax.get_legend_handles_labels()):
                    handles.setdefault(lab, h)
            order = [lab for lab in self.labels if lab in handles] + \
                    [lab for lab in handles if lab not in self.labels]
            ncol = min(len(order), 6) or 1
            while True:
                leg = fig.legend([handles[lab] for lab in order], order, loc="lower center",
                                 ncol=ncol, bbox_to_anchor=(0.5, 0.0), frameon=False,
                                 fontsize=9)
                if ncol == 1 or leg.get_window_extent(renderer).width <= 0.97 * fig.bbox.width:
                    break
                leg.remove()
                ncol -= 1
            bottom_in = leg.get_window_extent(renderer).height / fig.dpi + 0.1
        height_in = panels_in + top_in + bottom_in
        fig.set_size_inches(width_in, height_in)
        # tight_layout keeps the panels clear of the figure title by itself
        fig.tight_layout(rect=(0, bottom_in / height_in, 1, 1))


class Charts(Figures):
    """Draws every chart of a set of result files into one directory."""

    def __init__(self, results, out, headline_workers):
        self.results = results
        self.headline_workers = headline_workers
        self.series = build_series(results)
        workload_order = []
        strategy_order = []
        self.metrics = {}
        for r in results:
            workload_order += list(r.kinds)
            strategy_order += list(r.ctx_json(schema.STRATEGIES_KEY, []))
            for k, v in r.metrics.items():
                self.metrics.setdefault(k, v)
        self.workloads = ordered([s.workload for s in self.series], workload_order)
        super().__init__(out, ordered([s.label for s in self.series], strategy_order))
        self.cpython_labels = {s.label for s in self.series if s.cpython}
        self.kinds = {}
        for r in results:
            for w, kind in r.kinds.items():
                self.kinds.setdefault(w, kind)

    # helpers ---------------------------------------------------------------

    def metric_label(self, counter):
        """'io_p99_us (us)': the counter with its unit from gilbench_metrics."""
        unit = self.metrics.get(counter, {}).get("unit")
        return f"{counter} ({unit})" if unit else counter

    @staticmethod
    def cpus(result):
        """The CPU count of the machine that wrote the file (gilbench_nproc, else
        num_cpus), or None."""
        c = result.context
        for key in ("gilbench_nproc", "num_cpus"):
            try:
                n = int(c.get(key))
            except (TypeError, ValueError):
                continue
            if n > 0:
                return n
        return None

    @staticmethod
    def speedups(run):
        """(median speedup, per-repetition speedups) over the run's own reference."""
        ref = run.source.reference_run(run.workload, run)
        if ref is None or ref.failed or run.failed or not run.times:
            return None
        ref_med = median(ref.samples())
        return ref_med / median(run.samples()), [ref_med / t for t in run.samples()]

    def counts_k(self, workload):
        """True when the workload's worker count is K, the CPU workers beside an IO worker
        (its runs report K_COUNTER: convoy)."""
        return any(K_COUNTER in r.counters for s in self.series if s.workload == workload
                   for r in s.runs)

    def x_name(self, workload):
        return "K" if self.counts_k(workload) else X_KEY

    def x_axis(self, ax, xs, label):
        """Ticks at the worker counts; log2 scale when they span 4x or more."""
        xs = sorted(set(xs))
        if xs and min(xs) > 0 and max(xs) / min(xs) >= 4:
            ax.set_xscale("log", base=2)
        ax.set_xticks(xs)
        ax.set_xticklabels([str(x) for x in xs])
        ax.set_xlabel(label)

    def line(self, ax, label, xs, med, lo, hi, points):
        """One series: the medians joined, a min..max band (or bar), every repetition a dot."""
        style = self.style(label)
        color = style["color"]
        ax.plot(xs, med, label=label, **style)
        if len(xs) > 1:
            ax.fill_between(xs, lo, hi, color=color, alpha=0.15 if len(self.labels) <= 4 else 0.07,
                            lw=0)
        else:
            ax.errorbar(xs, med, yerr=[[m - l for m, l in zip(med, lo)],
                                       [h - m for m, h in zip(med, hi)]], color=color, capsize=3)
        px = [x for x, ys in zip(xs, points) for _ in ys]
        py = [y for ys in points for y in ys]
        ax.scatter(px, py, s=6, color=color, alpha=0.45, lw=0)

    def bars(self, ax, groups, labels, cells, whiskers=True):
        """Grouped bars: one group per entry of groups, one bar per label; cells maps
        (group, label) to (median, lo, hi). Returns the groups drawn."""
        width = 0.8 / max(1, len(labels))
        for j, lab in enumerate(labels):
            xs, ys, lo, hi = [], [], [], []
            for i, g in enumerate(groups):
                if (g, lab) in cells:
                    m, low, high = cells[(g, lab)]
                    xs.append(i + (j - (len(labels) - 1) / 2) * width)
                    ys.append(m)
                    lo.append(m - low)
                    hi.append(high - m)
            cpython = lab in self.cpython_labels
            ax.bar(xs, ys, width, yerr=[lo, hi] if whiskers else None, capsize=2,
                   color="white" if cpython else self.color(lab), label=lab, ecolor="0.35",
                   edgecolor=self.color(lab), hatch="//" if cpython else None,
                   lw=1 if cpython else 0)
        ax.set_xticks(range(len(groups)))
        ax.set_xticklabels(groups, rotation=20, ha="right", fontsize=8)
        ax.grid(axis="y", alpha=0.3)

    def primary(self, workload, with_reference=False):
        return [s for s in self.series if s.workload == workload and s.primary
                and (with_reference or not s.is_reference)]

    def reference_name(self, workload):
        """The references of the workload's files: 'serial' or 'serial / cpython_serial'."""
        refs = ordered([s.runs[0].source.reference for s in self.series
                        if s.workload == workload], [])
        return " / ".join(refs) if refs else "the reference"

    # charts ----------------------------------------------------------------

    def speedup(self):
        """Speedup over the reference against worker count, per workload.

        A workload without a reference row is drawn as wall time instead
        (e.g. a start-up benchmark), unless it has io_* counters: those have
        their own chart. The ideal line (speedup = workers) stops at the CPU
        count, which a dotted vertical line marks.
        """
        panels = []
        for w in self.workloads:
            runs = [r for s in self.series if s.workload == w for r in s.runs]
            if any(self.speedups(r) for r in runs):
                panels.append((w, True))
            elif not self.counters_with(IO_PREFIX, runs):
                panels.append((w, False))
        if not panels:
            return
        fig, axes = self.grid(len(panels))
        for ax, (w, relative) in zip(axes, panels):
            all_x = []
            cpus = set()
            for s in self.primary(w, with_reference=not relative):
                if relative:
                    pts = [(r.workers, self.speedups(r)) for r in s.runs]
                    pts = [(x, sp[0], sp[1]) for x, sp in pts if sp]
                else:
                    pts = [(r.workers, median(r.samples()) * 1e3, [t * 1e3 for t in r.samples()])
                           for r in s.runs if r.times]
                if not pts:
                    continue
                cpus.update(n for n in (self.cpus(s.runs[0].source),) if n)
                xs = [x for x, _, _ in pts]
                all_x += xs
                self.line(ax, s.label, xs, [m for _, m, _ in pts], [min(p) for _, _, p in pts],
                          [max(p) for _, _, p in pts], [p for _, _, p in pts])
            if relative:
                self.ideal(ax, all_x, cpus, not self.counts_k(w))
                ax.axhline(1.0, color="0.7", lw=0.8)
                ax.set_ylabel(f"speedup over {self.reference_name(w)} (1 worker)")
            else:
                ax.set_ylabel("wall time of one run (ms)")
            ax.set_ylim(bottom=0)
            self.x_axis(ax, all_x, K_LABEL if self.counts_k(w) else X_KEY)
            kind = self.kinds.get(w)
            ax.set_title(w + (f" ({kind})" if kind else ""))
            ax.grid(alpha=0.3)
        self.finish(fig, axes, "Speedup over each file's reference at 1 worker (gilbench: "
                    "serial; the CPython twin, dashed: cpython_serial) against workers: median, "
                    "band = min..max of repetitions, dots = repetitions; the ideal stops at the "
                    "CPU count")
        self.save(fig, "speedup")

    def ideal(self, ax, all_x, cpus, workers_axis):
        """speedup = workers up to the CPU count (no more CPUs, no more speedup), and a
        dotted line at each CPU count within the axis."""
        if not workers_axis or not all_x or min(all_x) < 1:
            return
        top = max(all_x)
        limit = min(top, max(cpus)) if cpus else top
        xs = sorted({x for x in all_x if x <= limit} | {1, limit})
        ax.plot(xs, xs, ls="--", color="0.4", lw=1, label="ideal (up to the CPU count)")
        for n in sorted(cpus):
            if min(all_x) <= n <= top:
                ax.axvline(n, color="0.55", ls=":", lw=1.2, label=f"{n} CPUs")

    def one_worker(self):
        """{workload: {label: (median ratio, lo, hi)}} of t(strategy, 1) / t(reference, 1)."""
        table = {}
        for w in self.workloads:
            for s in self.primary(w):
                run = next((r for r in s.runs if r.workers == 1), None)
                sp = self.speedups(run) if run else None
                if sp:
                    med, per_rep = sp
                    table.setdefault(w, {})[s.label] = (1 / med, 1 / max(per_rep),
                                                        1 / min(per_rep))
        return table

    def overhead_figure(self, table, stem, ylabel, title, whiskers=True):
        """Grouped bars of {workload: {label: (ratio, lo, hi)}} around 1.0."""
        workloads = [w for w in self.workloads if w in table]
        labels = [lab for lab in self.labels if any(lab in table[w] for w in workloads)]
        width_in = min(18, 1.5 + len(workloads) * (0.22 * len(labels) + 0.35))
        fig, ax = self.plt.subplots(figsize=(max(6.4, width_in), 4.2))
        self.bars(ax, workloads, labels, {(w, lab): v for w in workloads
                                          for lab, v in table[w].items()}, whiskers)
        ax.axhline(1.0, color="0.3", lw=1, ls="--")
        ax.set_ylabel(ylabel)
        self.finish(fig, [ax], title)
        self.save(fig, stem)

    def overhead(self):
        """Grouped bars: 1-worker time relative to the reference, per workload."""
        table = self.one_worker()
        if table:
            self.overhead_figure(table, "overhead", "t(strategy, 1 worker) / t(reference, 1 "
                                 "worker)", "1-worker overhead over the reference (1.0 = no "
                                 "cost; whiskers = min..max of repetitions)")

    def instruction_table(self):
        """{workload: {label: (ratio, ratio, ratio)}}: 1-worker instruction count of each
        strategy / its file's reference count (callgrind; deterministic)."""
        table = {}
        for w in self.workloads:
            for s in self.primary(w):
                run = next((r for r in s.runs if r.workers == 1), None)
                counts = run.source.instructions if run else None
                ref = run.source.reference_run(w, run) if counts else None
                if ref is not None and counts.get(ref.name) and counts.get(run.name):
                    ratio = counts[run.name] / counts[ref.name]
                    table.setdefault(w, {})[s.label] = (ratio, ratio, ratio)
        return table

    def instructions(self):
        """Grouped bars: 1-worker instruction count relative to the reference's."""
        table = self.instruction_table()
        if table:
            self.overhead_figure(table, "instructions", "instructions(strategy, 1 worker) / "
                                 "instructions(reference)", "1-worker instruction overhead over "
                                 "the reference (callgrind, measured region: deterministic; "
                                 "1.0 = no cost)", whiskers=False)

    def counters_with(self, prefix, runs):
        names = {c for r in runs for c in r.counters if c.startswith(prefix)}
        return ordered(sorted(names), list(self.metrics))

    def is_latency(self, counter):
        return self.metrics.get(counter, {}).get("unit") == LATENCY_UNIT

    def io(self):
        """Per workload with io_* counters: each throughput counter against K (lines), and
        the latency percentiles at K=1 (bars)."""
        for w in self.workloads:
            series = self.primary(w, with_reference=True)
            counters = [c for c in self.counters_with(IO_PREFIX, [r for s in series
                                                                  for r in s.runs])
                        if not c.endswith(ALONE_SUFFIX)]
            if not counters:
                continue
            lines = [c for c in counters if not self.is_latency(c)]
            latency = [c for c in counters if self.is_latency(c)]
            x_name = self.x_name(w)
            fig, axes = self.grid(len(lines) + bool(latency), 4.6, 3.6)
            for ax, c in zip(axes, lines):
                all_x = []
                for s in series:
                    pts = [(r.workers, r.counter_samples(c)) for r in s.runs if r.counter_samples(c)]
                    if not pts:
                        continue
                    xs = [x for x, _ in pts]
                    all_x += xs
                    vals = [v for _, v in pts]
                    self.line(ax, s.label, xs, [median(v) for v in vals], [min(v) for v in vals],
                              [max(v) for v in vals], vals)
                flat = [v for s in series for r in s.runs for v in r.counter_samples(c) if v > 0]
                if flat and max(flat) / min(flat) > 30:
                    self.log_y(ax)
                self.x_axis(ax, all_x, K_LABEL if x_name == "K" else X_KEY)
                ax.set_ylabel(self.metric_label(c))
                better = self.metrics.get(c, {}).get("better")
                ax.set_title(c + (f" ({better} is better)" if better in ("higher", "lower")
                                  else ""), fontsize=10)
                ax.grid(alpha=0.3)
            if latency:
                self.latency_bars(axes[-1], series, latency, x_name)
            self.finish(fig, axes, f"{w}: IO counters against {x_name}, per strategy (median, "
                        f"band = min..max of repetitions); latency at {x_name}=1")
            self.save(fig, f"io_{w}")

    def latency_bars(self, ax, series, counters, x_name):
        """The latency percentiles of each strategy's run at K=1 (else its smallest K
        above 0), as bars: one group per percentile."""
        cells, labels, ks = {}, [], set()
        for s in series:
            have = [r for r in s.runs if r.workers > 0 and any(r.counter_samples(c)
                                                                for c in counters)]
            if not have:
                continue
            run = min(have, key=lambda r: (r.workers != 1, r.workers))
            ks.add(run.workers)
            labels.append(s.label)
            for c in counters:
                v = run.counter_samples(c)
                if v:
                    cells[(c, s.label)] = (median(v), min(v), max(v))
        labels.sort(key=lambda lab: self.labels.index(lab) if lab in self.labels else 10**6)
        self.bars(ax, counters, labels, cells)
        if any(m > 0 for m, _, _ in cells.values()):
            self.log_y(ax)
        ax.set_ylabel(f"latency ({LATENCY_UNIT})")
        ax.set_title(f"latency at {x_name}=" + ",".join(str(k) for k in sorted(ks))
                     + " (lower is better)", fontsize=10)

    def sweeps(self):
        """Charts against a varying name key other than the worker count (e.g. interval).

        Per workload whose runs take two or more values of the key: IO
        throughput (its first io_* counter that is better higher) if it has
        one, else speedup over the reference; one line per strategy and worker
        count (for speedups only worker counts above 1 when there are any:
        contention is what a switch interval changes).
        """
        keys = {}
        for s in self.series:
            for r in s.runs:
                for k, v in r.variant:
                    keys.setdefault(k, set()).add(v)
        for key in [k for k, vals in keys.items() if len(vals) > 1 and k != BYTECODE_AXIS]:
            panels = []
            for w in self.workloads:
                runs = [(s, r) for s in self.series if s.workload == w for r in s.runs
                        if key in dict(r.variant) and not r.failed]
                values = sorted({dict(r.variant)[key] for _, r in runs}, key=sort_value)
                if len(values) < 2:
                    continue
                throughput = next((c for c in self.counters_with(IO_PREFIX, [r for _, r in runs])
                                   if self.metrics.get(c, {}).get("better") == "higher"
                                   and not c.endswith(ALONE_SUFFIX)), None)
                contended = not throughput and any(r.workers > 1 for _, r in runs)
                lines = {}
                for s, r in runs:
                    if contended and r.workers <= 1:
                        continue
                    samples = (r.counter_samples(throughput) if throughput
                               else (self.speedups(r) or (None, []))[1])
                    if samples:
                        lines.setdefault((s.label, r.workers), []).append(
                            (values.index(dict(r.variant)[key]), samples))
                if lines:
                    panels.append((w, values, throughput, lines))
            if not panels:
                continue
            fig, axes = self.grid(len(panels), 4.6, 3.6)
            styles = ["-", "--", ":", "-."]
            counts = sorted({x for _, _, _, lines in panels for _, x in lines})
            for ax, (w, values, throughput, lines) in zip(axes, panels):
                x_name = self.x_name(w)
                for (label, x), pts in sorted(lines.items(), key=lambda kv: (
                        self.labels.index(kv[0][0]) if kv[0][0] in self.labels else 99, kv[0][1])):
                    pts.sort()
                    style = dict(self.style(label), ls=styles[counts.index(x) % len(styles)])
                    ax.plot([p for p, _ in pts], [median(v) for _, v in pts],
                            label=f"{label} {x_name}={x}", **style)
                    ax.scatter([p for p, v in pts for _ in v], [y for _, v in pts for y in v],
                               s=6, alpha=0.45, lw=0, color=style["color"])
                ax.set_xticks(range(len(values)))
                ax.set_xticklabels(values)
                ax.set_xlabel(key)
                if throughput:
                    ax.set_ylabel(self.metric_label(throughput))
                    self.log_y(ax)
                else:
                    ax.set_ylabel(f"speedup over {self.reference_name(w)} (1 worker)")
                ax.set_title(w, fontsize=10)
                ax.grid(alpha=0.3)
            self.finish(fig, axes, f"Sweep over {key}: IO throughput or speedup (median, "
                        f"dots = repetitions; line style = worker count)")
            self.save(fig, f"sweep_{key}")

    def bytecode_sweep(self):
        """sweep_bytecode: against the interpretive work per checkpoint (--bytecode-cost,
        in ns where the file has its ns per step), each strategy's 1-worker overhead over
        the reference at the same cost (top row) and its speedup at 2 workers (bottom
        row, the smallest worker count above 1 there is), per workload. A dotted line
        marks the cost at which the C++ serial time per checkpoint reaches CPython's
        (from a twin file given beside it, and the ops_checkpoints counter)."""
        for result in self.results:
            ns_per_step = result.ctx_json(schema.NS_PER_STEP_KEY, 0) or 0
            to_x = (lambda steps: steps * ns_per_step) if ns_per_step > 0 else (lambda steps: steps)
            panels = []
            for w in self.workloads:
                runs = [r for r in result.runs.values() if r.workload == w and not r.failed
                        and BYTECODE_AXIS in r.axes and r.times]
                if len({r.axes[BYTECODE_AXIS] for r in runs}) < 2:
                    continue
                multi = sorted({r.workers for r in runs if r.workers > 1})
                top, bottom = {}, {}
                for r in runs:
                    ref = result.reference_run(w, r)
                    if ref is None or ref.failed or not ref.times or r.strategy == result.reference:
                        continue
                    ref_med = median(ref.samples())
                    x = to_x(int(r.axes[BYTECODE_AXIS]))
                    if r.workers == 1:
                        top.setdefault(r.strategy, []).append(
                            (x, median(r.samples()) / ref_med, [t / ref_med for t in r.samples()]))
                    elif multi and r.workers == multi[0]:
                        bottom.setdefault(r.strategy, []).append(
                            (x, ref_med / median(r.samples()), [ref_med / t for t in r.samples()]))
                panels.append((w, top, bottom, multi[0] if multi else None,
                               self.cpython_equivalent(result, w, ns_per_step)))
            if not panels:
                continue
            cols = len(panels)
            fig, axes = self.grid(2 * cols, 4.4, 3.4, cols=cols)
            for i, (w, top, bottom, n, mark) in enumerate(panels):
                for ax, table, ylabel in ((axes[i], top, "t(1 worker) / t(reference, 1 worker)"),
                                          (axes[cols + i], bottom,
                                           f"speedup at {n} workers over the reference")):
                    for label, pts in table.items():
                        pts.sort(key=lambda p: p[0])
                        self.line(ax, label, [p[0] for p in pts], [p[1] for p in pts],
                                  [min(p[2]) for p in pts], [max(p[2]) for p in pts],
                                  [p[2] for p in pts])
                    ax.axhline(1.0, color="0.3", lw=1, ls="--")
                    if mark is not None:
                        ax.axvline(mark, color="0.4", lw=1, ls=":")
                    ax.set_xlabel("bytecode cost per checkpoint (" + ("ns" if ns_per_step > 0
                                                                       else "steps") + ")")
                    ax.set_ylabel(ylabel, fontsize=8)
                    ax.set_title(w, fontsize=10)
                    ax.grid(alpha=0.3)
            self.finish(fig, axes, "Interpretive work per checkpoint (--bytecode-cost): 1-worker "
                        "overhead (top) and speedup (bottom) against it; dotted: where the C++ "
                        "serial time per checkpoint equals CPython's (the twin)")
            self.save(fig, "sweep_" + BYTECODE_AXIS)

    def cpython_equivalent(self, result, workload, ns_per_step):
        """The bytecode cost (ns, or steps without ns_per_step) at which `result`'s serial
        time per checkpoint equals the CPython twin's: (twin's cpython_serial time -
        serial time at cost 0) / ops_checkpoints. None without a twin file or counts, or
        when the twin ran the workload at other parameters (a twin at default sizes beside a
        quick sweep would divide its time by the quick run's checkpoints)."""
        if ns_per_step <= 0:
            return None
        base = next((r for r in result.runs.values() if r.workload == workload
                     and r.strategy == result.reference and r.workers == 1 and r.times
                     and int(r.axes.get(BYTECODE_AXIS, "0")) == 0), None)
        twin = next((s for s in self.series if s.cpython and s.is_reference
                     and s.workload == workload), None)
        if base is None or twin is None:
            return None
        ops = base.counter_samples("ops_checkpoints")
        twin_run = next((r for r in twin.runs if r.workers == 1 and r.times), None)
        if not ops or ops[0] <= 0 or twin_run is None:
            return None
        mine = result.ctx_json(schema.PARAMS_KEY, {}).get(workload)
        theirs = twin_run.source.ctx_json(schema.PARAMS_KEY, {}).get(workload)
        if mine is not None and theirs is not None and mine != theirs:
            return None
        d = (median(twin_run.samples()) - median(base.samples())) / ops[0] * 1e9
        return d if d > 0 else None

    def per_second(self, run, counter):
        """The counter of each repetition per second of that repetition's wall time
        (unit count: per second; ns: seconds per second); other units as they are.
        Returns (values, unit text)."""
        unit = self.metrics.get(counter, {}).get("unit", "")
        values = run.counters.get(counter, {})
        if unit == "count":
            return [values[i] / run.times[i] for i in sorted(values) if i in run.times], "per s"
        if unit == "ns":
            return [values[i] / 1e9 / run.times[i] for i in sorted(values) if i in run.times], \
                "s per s of run"
        return [values[i] for i in sorted(values)], unit

    def gil_run(self, series, counter):
        """The series' run the GIL chart shows: its largest worker count within its file's
        CPU count (else its smallest) that has the counter."""
        have = [r for r in series.runs if r.counter_samples(counter)]
        if not have:
            return None
        n = self.cpus(have[0].source)
        within = [r for r in have if n is None or r.workers <= n]
        return max(within, key=lambda r: r.workers) if within else min(have,
                                                                        key=lambda r: r.workers)

    def gil_stats(self):
        """Every gil_* counter per second of run, per workload and strategy, at each
        strategy's largest worker count within the CPU count."""
        runs = [r for s in self.series if s.primary for r in s.runs]
        counters = self.counters_with(GIL_PREFIX, runs)
        if not counters:
            return
        fig, axes = self.grid(len(counters), 4.8, 3.4)
        shown = set()
        for ax, c in zip(axes, counters):
            cells, unit = {}, ""
            for s in self.series:
                run = self.gil_run(s, c) if s.primary else None
                values, unit = self.per_second(run, c) if run else ([], unit)
                if values:
                    cells[(s.workload, s.label)] = (median(values), min(values), max(values))
                    shown.add(run.workers)
            workloads = [w for w in self.workloads if any(k[0] == w for k in cells)]
            labels = [lab for lab in self.labels if any(k[1] == lab for k in cells)]
            self.bars(ax, workloads, labels, cells)
            flat = [m for m, _, _ in cells.values() if m > 0]
            if flat and max(flat) / min(flat) > 50:
                self.log_y(ax)
            ax.set_ylabel(unit, fontsize=8)
            ax.set_title(c, fontsize=10)
        self.finish(fig, axes, "GIL statistics per second of run (counts per second; waits in "
                    "seconds per second, summed over workers), at each strategy's largest "
                    "worker count within the CPU count ("
                    + ", ".join(str(n) for n in sorted(shown)) + " workers): median, whiskers = "
                    "min..max of repetitions")
        self.save(fig, "gil_stats")

    def headline(self):
        """The summary's figures: {"workers": N, "workloads": [...], "labels": [...],
        "speedup": {(workload, label): median speedup at N workers},
        "overhead": {workload: {label: (median ratio, lo, hi)}} at 1 worker,
        "failed": {(workload, label) with a failed run}}."""
        n = self.headline_workers
        speed, fails = {}, set()
        for w in self.workloads:
            for s in self.primary(w):
                run = next((r for r in s.runs if r.workers == n), None)
                sp = self.speedups(run) if run else None
                if sp:
                    speed[(w, s.label)] = sp[0]
                if any(r.failed for r in s.runs):
                    fails.add((w, s.label))
        over = self.one_worker()
        return {"workers": n, "speedup": speed, "overhead": over, "failed": fails,
                "workloads": [w for w in self.workloads
                              if any(k[0] == w for k in (*speed, *fails)) or w in over],
                "labels": [lab for lab in self.labels
                           if any(k[1] == lab for k in (*speed, *fails))
                           or any(lab in over.get(w, {}) for w in over)]}

    def summary(self):
        """The headline markdown (headline() rendered), written to DIR/summary.md."""
        h = self.headline()
        n, speed, over, fails = h["workers"], h["speedup"], h["overhead"], h["failed"]
        workloads, labels = h["workloads"], h["labels"]
        head = "| strategy | " + " | ".join(
            w + (f" ({self.kinds[w]})" if w in self.kinds else "") for w in workloads) + " |"
        rule = "|---|" + "---:|" * len(workloads)

        def cell(w, lab, value, fmt):
            if value is not None:
                return fmt(value) + (" (FAIL)" if (w, lab) in fails else "")
            return "FAIL" if (w, lab) in fails else "–"

        lines = ["# gilbench summary", ""]
        for r in self.results:
            noise = noise_line(r)
            lines.append(f"- {r.describe()}" + (f"; {noise}" if noise else ""))
        refs = " / ".join(dict.fromkeys(r.reference for r in self.results))
        lines += ["", f"## Speedup over the reference at {n} workers", "",
                  f"Median wall time of the reference ({refs}, 1 worker, from the same file) / "
                  f"median wall time at {n} workers; higher is better, ideal {n:.2f}x.", "",
                  head, rule]
        for lab in labels:
            lines.append(f"| {lab} | " + " | ".join(
                cell(w, lab, speed.get((w, lab)), lambda v: f"{v:.2f}x") for w in workloads) + " |")
        lines += ["", "## 1-worker overhead", "",
                  "t(strategy, 1 worker) / t(reference, 1 worker), medians; 1.00 = no cost, "
                  "lower is better.", "", head, rule]
        for lab in labels:
            lines.append(f"| {lab} | " + " | ".join(
                cell(w, lab, over.get(w, {}).get(lab, (None,))[0], lambda v: f"{v:.2f}")
                for w in workloads) + " |")
        charts = sorted({os.path.splitext(os.path.basename(p))[0] for p in self.written})
        lines += ["", "Charts (PNG and SVG): " + ", ".join(charts) + "."]
        text = "\n".join(lines) + "\n"
        path = os.path.join(self.out, "summary.md")
        write_output(path, text)
        self.written.append(path)
        return text


def draw(results, out, headline_workers):
    """Draws every chart of the loaded results into out (created if missing); returns
    the Charts (its summary() is the headline markdown). Raises InputError."""
    output_directory(out)
    charts = Charts(results, out, headline_workers)
    if not charts.series:
        raise InputError(f"{results[0].path}: no run to draw")
    try:
        charts.speedup()
        charts.overhead()
        charts.instructions()
        charts.io()
        charts.sweeps()
        charts.bytecode_sweep()
        charts.gil_stats()
    finally:
        charts.plt.close("all")  # a figure a failure left open
    return charts
