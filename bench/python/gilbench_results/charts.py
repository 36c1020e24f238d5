"""Charts of result files (plot.py charts RESULT.json [MORE.json ...] --out DIR).

PNG and SVG charts plus summary.md (also printed). Rows of several files are
combined (e.g. the CPython twin's results beside gilbench's); each row's
speedup is taken against the reference row (`serial`, workers:1) of its own
file. Everything is built from each run's fields (gilbench_runs) and the
file's context: no strategy, workload or worker count is listed here, so a
new strategy or workload needs no edit of this file.

  speedup      per workload: speedup over the reference against worker
               count, one line per strategy, the ideal line, the spread of
               repetitions (band = min..max, dots = repetitions)
  overhead     1-worker time of each strategy / 1-worker reference time
  io_<w>       for workloads with io_* counters (convoy): each io_* counter
               (throughput, latency percentiles) against the worker count,
               per strategy
  sweep_<axis> when runs carry a further varying axis (e.g. interval): IO
               throughput or speedup against it
  gil_stats    every gil_* counter, for the strategies that have them
"""

import io
import json
import math
import os
from dataclasses import dataclass

from . import durations, schema
from .errors import InputError
from .output import write_output
from .render import noise_line
from .stats import median

# The chart's x axis: the workers of each run (convoy: K, its CPU workers).
X_KEY = "workers"
# Counter families drawn as a group: name prefix -> chart.
IO_PREFIX = "io_"
GIL_PREFIX = "gil_"


@dataclass
class Series:
    """The runs of one line of a chart: one strategy (and variant) of one workload."""

    label: str
    workload: str
    runs: list  # Run, sorted by x
    primary: bool  # the variant drawn on the speedup and overhead charts
    is_reference: bool


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
            series.append(Series(label, w, sorted(runs, key=lambda r: r.workers), primary, is_ref))
    return series


def ordered(values, preferred):
    """Unique values, those listed in `preferred` first in its order, then as seen."""
    seen = list(dict.fromkeys(values))
    first = [v for v in dict.fromkeys(preferred) if v in seen]
    return first + [v for v in seen if v not in first]


class Charts:
    """Draws every chart of a set of result files into one directory."""

    def __init__(self, results, out, headline_workers):
        import matplotlib
        matplotlib.use("Agg")
        # Names are drawn as they are: a "$" in a name is no mathtext to parse.
        matplotlib.rcParams["text.parse_math"] = False
        import matplotlib.pyplot as plt
        self.plt = plt
        self.results = results
        self.out = out
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
        self.labels = ordered([s.label for s in self.series], strategy_order)
        palette = plt.get_cmap("tab10").colors + plt.get_cmap("Dark2").colors
        self.colors = {label: palette[i % len(palette)] for i, label in enumerate(self.labels)}
        self.kinds = {}
        for r in results:
            for w, kind in r.kinds.items():
                self.kinds.setdefault(w, kind)
        self.written = []

    # helpers ---------------------------------------------------------------

    def save(self, fig, stem):
        """Writes DIR/stem.png and DIR/stem.svg (through write_output) and closes the figure."""
        try:
            for ext in ("png", "svg"):
                path = os.path.join(self.out, f"{stem}.{ext}")
                image = io.BytesIO()
                fig.savefig(image, format=ext, dpi=110 if ext == "png" else None)
                write_output(path, image.getvalue())
                self.written.append(path)
        finally:
            self.plt.close(fig)

    def grid(self, n, width=4.4, height=3.4):
        """A figure of n panels, up to 4 to a row; returns (figure, the n axes)."""
        cols = min(n, 4 if n > 6 else 3 if n > 2 else n)
        rows = math.ceil(n / cols)
        fig, axes = self.plt.subplots(rows, cols, figsize=(width * cols, height * rows),
                                      squeeze=False)
        for ax in axes.flat[n:]:
            ax.set_visible(False)
        return fig, list(axes.flat[:n])

    def metric_label(self, counter):
        """'io_p99_us (us)': the counter with its unit from gilbench_metrics."""
        unit = self.metrics.get(counter, {}).get("unit")
        return f"{counter} ({unit})" if unit else counter

    @staticmethod
    def speedups(run):
        """(median speedup, per-repetition speedups) over the run's own reference."""
        ref = run.source.reference_run(run.workload)
        if ref is None or ref.failed or run.failed or not run.times:
            return None
        ref_med = median(ref.samples())
        return ref_med / median(run.samples()), [ref_med / t for t in run.samples()]

    def x_axis(self, ax, xs, key):
        """Ticks at the worker counts; log2 scale when they span 4x or more."""
        xs = sorted(set(xs))
        if xs and min(xs) > 0 and max(xs) / min(xs) >= 4:
            ax.set_xscale("log", base=2)
        ax.set_xticks(xs)
        ax.set_xticklabels([str(x) for x in xs])
        ax.set_xlabel(key)

    def line(self, ax, label, xs, med, lo, hi, points):
        """One series: the medians joined, a min..max band (or bar), every repetition a dot."""
        color = self.colors[label]
        ax.plot(xs, med, marker="o", ms=4, color=color, label=label)
        if len(xs) > 1:
            ax.fill_between(xs, lo, hi, color=color, alpha=0.15 if len(self.labels) <= 4 else 0.07,
                            lw=0)
        else:
            ax.errorbar(xs, med, yerr=[[m - l for m, l in zip(med, lo)],
                                       [h - m for m, h in zip(med, hi)]], color=color, capsize=3)
        px = [x for x, ys in zip(xs, points) for _ in ys]
        py = [y for ys in points for y in ys]
        ax.scatter(px, py, s=6, color=color, alpha=0.45, lw=0)

    def finish(self, fig, axes, title=None, legend=True):
        """Suptitle, one shared legend under the panels, and a layout that leaves
        room for both (computed in inches, so saving needs no tight bounding box)."""
        height = fig.get_size_inches()[1]
        top = 1.0
        if title:
            fig.suptitle(title, fontsize=10)
            top = 1 - 0.4 / height
        bottom = 0.0
        if legend:
            handles = {}
            for ax in axes:
                for h, lab in zip(*ax.get_legend_handles_labels()):
                    handles.setdefault(lab, h)
            order = [lab for lab in self.labels if lab in handles] + \
                    [lab for lab in handles if lab not in self.labels]
            ncol = min(len(order), 6) or 1
            fig.legend([handles[lab] for lab in order], order, loc="lower center", ncol=ncol,
                       bbox_to_anchor=(0.5, 0.0), frameon=False)
            bottom = (0.3 * math.ceil(len(order) / ncol) + 0.15) / height
        fig.tight_layout(rect=(0, bottom, 1, top))

    def primary(self, workload, with_reference=False):
        return [s for s in self.series if s.workload == workload and s.primary
                and (with_reference or not s.is_reference)]

    # charts ----------------------------------------------------------------

    def speedup(self):
        """Speedup over the reference against worker count, per workload.

        A workload without a reference row is drawn as wall time instead
        (e.g. a start-up benchmark), unless it has io_* counters: those have
        their own chart.
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
            for s in self.primary(w, with_reference=not relative):
                if relative:
                    pts = [(r.workers, self.speedups(r)) for r in s.runs]
                    pts = [(x, sp[0], sp[1]) for x, sp in pts if sp]
                else:
                    pts = [(r.workers, median(r.samples()) * 1e3, [t * 1e3 for t in r.samples()])
                           for r in s.runs if r.times]
                if not pts:
                    continue
                xs = [x for x, _, _ in pts]
                all_x += xs
                self.line(ax, s.label, xs, [m for _, m, _ in pts], [min(p) for _, _, p in pts],
                          [max(p) for _, _, p in pts], [p for _, _, p in pts])
            key = X_KEY
            if relative:
                if key == "workers" and min(all_x) >= 1:
                    xs = sorted(set(all_x) | {1})
                    ax.plot(xs, xs, ls="--", color="0.4", lw=1, label="ideal")
                ax.axhline(1.0, color="0.7", lw=0.8)
                ax.set_ylabel("speedup over " + self.reference_name(w))
            else:
                ax.set_ylabel("wall time of one run (ms)")
            ax.set_ylim(bottom=0)
            self.x_axis(ax, all_x, key)
            kind = self.kinds.get(w)
            ax.set_title(w + (f" ({kind})" if kind else ""))
            ax.grid(alpha=0.3)
        self.finish(fig, axes, "Speedup over the reference (1 worker) against workers: median, "
                    "band = min..max of repetitions, dots = repetitions")
        self.save(fig, "speedup")

    def reference_name(self, workload):
        for s in self.series:
            if s.workload == workload:
                return s.runs[0].source.reference + " (1 worker)"
        return "reference"

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

    def overhead(self):
        """Grouped bars: 1-worker time relative to the reference, per workload."""
        table = self.one_worker()
        if not table:
            return
        workloads = [w for w in self.workloads if w in table]
        labels = [lab for lab in self.labels if any(lab in table[w] for w in workloads)]
        width_in = min(18, 1.5 + len(workloads) * (0.22 * len(labels) + 0.35))
        fig, ax = self.plt.subplots(figsize=(max(6, width_in), 4.2))
        width = 0.8 / max(1, len(labels))
        for j, lab in enumerate(labels):
            xs, ys, lo, hi = [], [], [], []
            for i, w in enumerate(workloads):
                if lab in table[w]:
                    m, l, h = table[w][lab]
                    xs.append(i + (j - (len(labels) - 1) / 2) * width)
                    ys.append(m)
                    lo.append(m - l)
                    hi.append(h - m)
            ax.bar(xs, ys, width, yerr=[lo, hi], capsize=2, color=self.colors[lab], label=lab,
                   ecolor="0.35")
        ax.axhline(1.0, color="0.3", lw=1, ls="--")
        ax.set_xticks(range(len(workloads)))
        ax.set_xticklabels(workloads, rotation=20, ha="right")
        ax.set_ylabel("t(strategy, 1 worker) / t(reference, 1 worker)")
        ax.set_title("1-worker overhead over the reference (1.0 = no cost; whiskers = "
                     "min..max of repetitions)", fontsize=10)
        ax.grid(axis="y", alpha=0.3)
        ax.legend(fontsize=8, ncol=min(4, len(labels)))
        self.finish(fig, [ax], legend=False)
        self.save(fig, "overhead")

    def counters_with(self, prefix, runs):
        names = {c for r in runs for c in r.counters if c.startswith(prefix)}
        return ordered(sorted(names), list(self.metrics))

    def io(self):
        """Per workload with io_* counters: each counter against worker count."""
        for w in self.workloads:
            series = self.primary(w, with_reference=True)
            counters = self.counters_with(IO_PREFIX, [r for s in series for r in s.runs])
            if not counters:
                continue
            fig, axes = self.grid(len(counters), 4.6, 3.6)
            for ax, c in zip(axes, counters):
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
                    ax.set_yscale("log")
                self.x_axis(ax, all_x, X_KEY)
                ax.set_ylabel(self.metric_label(c))
                better = self.metrics.get(c, {}).get("better")
                ax.set_title(c + (f" ({better} is better)" if better in ("higher", "lower")
                                  else ""), fontsize=10)
                ax.grid(alpha=0.3)
            self.finish(fig, axes, f"{w}: IO counters against {X_KEY}, per "
                        f"strategy (median, band = min..max of repetitions)")
            self.save(fig, f"io_{w}")

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
        for key in [k for k, vals in keys.items() if len(vals) > 1]:
            panels = []
            for w in self.workloads:
                runs = [(s, r) for s in self.series if s.workload == w for r in s.runs
                        if key in dict(r.variant) and not r.failed]
                values = sorted({dict(r.variant)[key] for _, r in runs}, key=sort_value)
                if len(values) < 2:
                    continue
                throughput = next((c for c in self.counters_with(IO_PREFIX, [r for _, r in runs])
                                   if self.metrics.get(c, {}).get("better") == "higher"), None)
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
            for ax, (w, values, throughput, lines) in zip(axes, panels):
                counts = sorted({x for _, x in lines})
                for (label, x), pts in sorted(lines.items(), key=lambda kv: (
                        self.labels.index(kv[0][0]) if kv[0][0] in self.labels else 99, kv[0][1])):
                    pts.sort()
                    color = self.colors.get(label, "0.2")
                    ax.plot([p for p, _ in pts], [median(v) for _, v in pts], marker="o", ms=4,
                            ls=styles[counts.index(x) % len(styles)], color=color,
                            label=f"{label} {X_KEY}:{x}")
                    ax.scatter([p for p, v in pts for _ in v], [y for _, v in pts for y in v],
                               s=6, alpha=0.45, lw=0, color=color)
                ax.set_xticks(range(len(values)))
                ax.set_xticklabels(values)
                ax.set_xlabel(key)
                if throughput:
                    ax.set_ylabel(self.metric_label(throughput))
                    ax.set_yscale("log")
                else:
                    ax.set_ylabel("speedup over " + self.reference_name(w))
                ax.set_title(w, fontsize=10)
                ax.grid(alpha=0.3)
                ax.legend(fontsize=7)
            self.finish(fig, axes, f"Sweep over {key}: IO throughput or speedup (median, "
                        f"dots = repetitions)", legend=False)
            self.save(fig, f"sweep_{key}")

    def gil_stats(self):
        """Every gil_* counter, per workload and strategy, at the largest worker count."""
        runs = [r for s in self.series if s.primary for r in s.runs]
        counters = self.counters_with(GIL_PREFIX, runs)
        if not counters:
            return
        fig, axes = self.grid(len(counters), 4.8, 3.4)
        for ax, c in zip(axes, counters):
            cells = {}
            for s in self.series:
                if not s.primary:
                    continue
                have = [r for r in s.runs if r.counter_samples(c)]
                if have:
                    r = max(have, key=lambda r: r.workers)
                    cells[(s.workload, s.label)] = (r.counter_samples(c), r.workers)
            workloads = [w for w in self.workloads if any(k[0] == w for k in cells)]
            labels = [lab for lab in self.labels if any(k[1] == lab for k in cells)]
            width = 0.8 / max(1, len(labels))
            for j, lab in enumerate(labels):
                xs, ys, lo, hi = [], [], [], []
                for i, w in enumerate(workloads):
                    if (w, lab) in cells:
                        v = cells[(w, lab)][0]
                        xs.append(i + (j - (len(labels) - 1) / 2) * width)
                        ys.append(median(v))
                        lo.append(median(v) - min(v))
                        hi.append(max(v) - median(v))
                ax.bar(xs, ys, width, yerr=[lo, hi], capsize=2, color=self.colors[lab], label=lab,
                       ecolor="0.35")
            flat = [median(v) for v, _ in cells.values() if median(v) > 0]
            if flat and max(flat) / min(flat) > 50:
                ax.set_yscale("log")
            ax.set_xticks(range(len(workloads)))
            ax.set_xticklabels(workloads, rotation=25, ha="right", fontsize=8)
            ax.set_ylabel(self.metric_label(c), fontsize=8)
            ax.set_title(c, fontsize=10)
            ax.grid(axis="y", alpha=0.3)
        self.finish(fig, axes, "GIL statistics per run at each strategy's largest worker count "
                    "(median, whiskers = min..max of repetitions)")
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
    if os.path.exists(out) and not os.path.isdir(out):
        raise InputError(f"{out}: cannot create the output directory: it exists and is "
                         f"not a directory")
    try:
        os.makedirs(out, exist_ok=True)
    except OSError as e:
        raise InputError(f"{out}: cannot create the output directory: {e.strerror}")
    charts = Charts(results, out, headline_workers)
    if not charts.series:
        raise InputError(f"{results[0].path}: no run to draw")
    try:
        charts.speedup()
        charts.overhead()
        charts.io()
        charts.sweeps()
        charts.gil_stats()
    finally:
        charts.plt.close("all")  # a figure a failure left open
    return charts
