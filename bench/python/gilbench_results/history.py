"""The suite's headline metrics against commit order (plot.py history FILES|DIR --out DIR).

Reads result files (directories are searched for *.json, e.g. the folder
bench/record_history.sh appends to), groups them by commit (the context's
gilbench_git_revision; files of one commit are one point, the median of
their values) and orders the commits by their commit date when the context
has one (gilbench_git_commit_date or gilbench_git_date), else by the date of
their first run. For each headline metric (HEADLINES) it draws one chart
(history_<metric>.png/svg: a panel per workload, a line per strategy,
detected change points marked) and finds the change points of each series
(stats.change_points: an exact penalised least-squares step fit with a noise
scale estimated from the series, then the metric's threshold). It writes
history.md (the changes found first, then the commits and the method; also
printed) and history.json (the same as data, strict JSON).

  metric        series value per file                                better  threshold
  speedup       median t(reference, 1 worker) / median t(run) at      higher  10%
                --headline-workers N (default 2)
  overhead      median t(run) / median t(reference) at 1 worker       lower   10%
  instructions  callgrind count of each 1-worker row                  lower   1%
  convoy        median io_rps_ratio at K = N                          higher  20%

Every file must be of one gilbench_mode (sizes differ between modes: exit
2). A change point is reported, never failed: history exits 0 (the CI gate
is compare). Speedups and ratios are measured inside each file, so they
survive a change of machine; history.md says when the files come from
more than one host.
"""

import os
from dataclasses import dataclass, field

from . import schema
from .charts import Figures, ordered
from .errors import InputError, one_line
from .gate import speedup_samples
from .load import load_result
from .output import json_text, output_directory, write_output
from .stats import PENALTY, change_points, median


@dataclass
class Headline:
    key: str
    title: str  # {n}: the headline worker count
    better: str  # higher or lower
    threshold: float  # the smallest relative step reported
    unit: str
    noise_floor: float = 0.0  # the smallest noise scale, relative to the series' level


HEADLINES = [
    Headline("speedup", "speedup over the reference at {n} workers", "higher", 0.10, "x"),
    Headline("overhead", "1-worker overhead: t(strategy) / t(reference)", "lower", 0.10, "x"),
    Headline("instructions", "1-worker instruction count (callgrind)", "lower", 0.01,
             "instructions", noise_floor=0.0005),
    Headline("convoy", "convoy: io_rps_ratio at K={n} CPU workers", "higher", 0.20,
             "fraction"),
]
# The context keys that may hold the commit's date (else the run's date orders it).
COMMIT_DATE_KEYS = ("gilbench_git_commit_date", "gilbench_git_date")
CONVOY_COUNTER = "io_rps_ratio"


@dataclass
class Found:
    results: list
    skipped: list = field(default_factory=list)  # "path: why" of files left out


def result_files(inputs):
    """The files named, and the *.json files under the directories named (sorted)."""
    files = []
    for path in inputs:
        if os.path.isdir(path):
            for root, dirs, names in os.walk(path):
                dirs.sort()
                files += [os.path.join(root, n) for n in sorted(names) if n.endswith(".json")]
        elif os.path.exists(path):
            files.append(path)
        else:
            raise InputError(f"{path}: no such file or directory")
    return files


def collect(inputs, skip_bad=False):
    """Loads every result file of inputs; raises InputError for a bad one (unless
    skip_bad: then it is listed in Found.skipped), for none, or for mixed modes."""
    found = Found([])
    for path in result_files(inputs):
        try:
            found.results.append(load_result(path))
        except InputError as e:
            if not skip_bad:
                raise
            found.skipped.append(one_line(e))
    if not found.results:
        raise InputError(f"{', '.join(inputs)}: no gilbench result file found")
    modes = {r.context.get(schema.MODE_KEY) for r in found.results}
    if len(modes) > 1:
        by = {}
        for r in found.results:
            by.setdefault(r.context.get(schema.MODE_KEY), r.path)
        raise InputError("the files are of different modes (sizes differ): " + ", ".join(
            f"{m!r} ({p})" for m, p in by.items()) + "; give one mode's files")
    return found


@dataclass
class Commit:
    revision: str
    date: str  # the commit's date if known, else its first run's
    results: list


def commits(results):
    """The files grouped by commit, in commit order."""
    groups = {}
    for r in results:
        rev = r.context.get("gilbench_git_revision")
        key = rev if rev and rev != "unknown" else r.path
        groups.setdefault(key, []).append(r)

    def date(r):
        for k in COMMIT_DATE_KEYS:
            if isinstance(r.context.get(k), str) and r.context[k]:
                return r.context[k]
        return r.context.get("date", "") if isinstance(r.context.get("date"), str) else ""

    out = [Commit(key, min(date(r) for r in rs), rs) for key, rs in groups.items()]
    return sorted(out, key=lambda c: (c.date, c.revision))


def label(run):
    """The series label of a run: its strategy and further axes."""
    return "/".join([run.strategy] + [f"{k}:{v}" for k, v in run.axes.items()])


def file_values(result, n):
    """{(metric, workload, label): value} of one file."""
    out = {}
    counts = result.instructions or {}
    for run in result.runs.values():
        if run.failed or not run.times:
            continue
        lab = label(run)
        pair = speedup_samples(result, run)
        if pair is not None and run.strategy != result.reference:
            ratio = median(pair[0]) / median(pair[1])
            if run.workers == n:
                out[("speedup", run.workload, lab)] = ratio
            if run.workers == 1:
                out[("overhead", run.workload, lab)] = 1 / ratio
        if run.workers == 1 and counts.get(run.name):
            out[("instructions", run.workload, lab)] = float(counts[run.name])
        if run.workers == n and run.counter_samples(CONVOY_COUNTER):
            out[("convoy", run.workload, lab)] = median(run.counter_samples(CONVOY_COUNTER))
    return out


@dataclass
class Change:
    metric: str
    workload: str
    label: str
    index: int  # the commit where the new level starts
    before: float
    after: float

    @property
    def change(self):
        return self.after / self.before - 1 if self.before else float("inf")

    def verdict(self, better):
        worse = self.after < self.before if better == "higher" else self.after > self.before
        return "regression" if worse else "improvement"


class History:
    """The series and change points of a set of result files; write() draws and writes."""

    def __init__(self, results, headline_workers=2):
        self.n = headline_workers
        self.commits = commits(results)
        self.results = results
        self.series = {}  # (metric, workload, label) -> [value or None per commit]
        for i, commit in enumerate(self.commits):
            per_file = [file_values(r, self.n) for r in commit.results]
            for key in {k for values in per_file for k in values}:
                have = [values[key] for values in per_file if key in values]
                self.series.setdefault(key, [None] * len(self.commits))[i] = median(have)
        self.headlines = {h.key: h for h in HEADLINES}
        self.changes = []
        for key in sorted(self.series):
            h = self.headlines[key[0]]
            points = [(i, v) for i, v in enumerate(self.series[key]) if v is not None]
            for at, before, after in change_points([v for _, v in points], h.threshold,
                                                   h.noise_floor):
                self.changes.append(Change(*key, points[at][0], before, after))
        self.written = []
        self.markdown = ""

    def hosts(self):
        return sorted({r.context.get("host_name", "?") for r in self.results})

    def as_data(self):
        return {
            "headline_workers": self.n,
            "commits": [{"index": i, "revision": c.revision, "date": c.date,
                         "files": [r.path for r in c.results]}
                        for i, c in enumerate(self.commits)],
            "metrics": {h.key: {"title": h.title.format(n=self.n), "better": h.better,
                                "threshold": h.threshold, "unit": h.unit} for h in HEADLINES},
            "series": [{"metric": m, "workload": w, "label": lab, "values": values}
                       for (m, w, lab), values in sorted(self.series.items())],
            "changes": [{"metric": c.metric, "workload": c.workload, "label": c.label,
                         "commit": self.commits[c.index].revision, "index": c.index,
                         "previous_commit": self.commits[c.index - 1].revision if c.index else None,
                         "before": c.before, "after": c.after, "change": c.change,
                         "verdict": c.verdict(self.headlines[c.metric].better)}
                        for c in self.changes],
            "method": {"penalty": PENALTY, "hosts": self.hosts()},
        }

    def render(self):
        """history.md: the changes found, the commits, the method."""
        c0, c1 = self.commits[0], self.commits[-1]
        lines = ["# gilbench history", "",
                 f"{len(self.commits)} commits ({len(self.results)} result files), from "
                 f"{c0.revision} ({c0.date[:16]}) to {c1.revision} ({c1.date[:16]}); mode "
                 f"{self.results[0].context.get(schema.MODE_KEY, '?')}; hosts: "
                 f"{', '.join(self.hosts())}.", ""]
        if len(self.hosts()) > 1:
            lines += ["The files come from more than one machine: speedups and ratios are "
                      "measured within each file and compare; instruction counts need the "
                      "same compiler and libraries.", ""]
        lines += ["## Changes found", ""]
        if not self.changes:
            lines += ["None: every series is flat within its noise and its metric's threshold "
                      "(or too short: 3 commits or more are needed).", ""]
        else:
            lines += ["| metric | workload | strategy | commit (previous) | before | after | "
                      "change | verdict |", "|---|---|---|---|---:|---:|---:|---|"]
            order = sorted(self.changes, key=lambda c: (
                c.verdict(self.headlines[c.metric].better) != "regression", c.index, c.metric))
            for c in order:
                h = self.headlines[c.metric]
                prev = self.commits[c.index - 1].revision if c.index else "-"
                verdict = c.verdict(h.better)
                lines.append(f"| {c.metric} | {c.workload} | {c.label} | "
                             f"{self.commits[c.index].revision} ({prev}) | {c.before:.4g} | "
                             f"{c.after:.4g} | {c.change * 100:+.1f}% | "
                             + ("**regression**" if verdict == "regression" else verdict) + " |")
            lines.append("")
        lines += ["## Commits", "", "| # | commit | date | files |", "|---:|---|---|---|"]
        for i, c in enumerate(self.commits):
            lines.append(f"| {i} | {c.revision} | {c.date[:19]} | "
                         + ", ".join(os.path.basename(os.path.dirname(r.path)) + "/"
                                     + os.path.basename(r.path) for r in c.results) + " |")
        lines += ["", "## Method", "",
                  "Each series (one metric of one workload and strategy, one value per commit: "
                  "the median over that commit's files) is fitted with a piecewise-constant "
                  "function by exact penalised least squares (every segmentation, dynamic "
                  f"programming), {PENALTY:g} x sigma^2 x ln(n) per change point, sigma the "
                  "noise scale from the median absolute successive difference; a segment "
                  "spans two commits or more, except the newest; steps below the metric's "
                  "threshold are merged away. Thresholds: " + ", ".join(
                      f"{h.key} {h.threshold:.0%} ({h.better} is better)" for h in HEADLINES)
                  + ".", ""]
        return "\n".join(lines)

    def write(self, out):
        """Draws the charts and writes history.md and history.json into out."""
        output_directory(out)
        figures = HistoryCharts(self, out)
        try:
            for h in HEADLINES:
                figures.metric(h)
        finally:
            figures.plt.close("all")
        self.written = list(figures.written)
        self.layout = figures.layout
        self.markdown = self.render()
        for name, text in (("history.md", self.markdown),
                           ("history.json", json_text(self.as_data(), indent=1) + "\n")):
            write_output(os.path.join(out, name), text)
            self.written.append(os.path.join(out, name))
        return self


class HistoryCharts(Figures):
    """history_<metric>: a panel per workload, a line per strategy, x = commit order."""

    MARKS = {"regression": ("v", "#d62728"), "improvement": ("^", "#2ca02c")}

    def __init__(self, history, out):
        strategies = []
        for r in history.results:
            strategies += list(r.ctx_json(schema.STRATEGIES_KEY, []))
        labels = ordered([k[2] for k in history.series], strategies)
        super().__init__(out, labels)
        self.history = history
        self.cpython_labels = {lab for lab in labels if lab.startswith("cpython_")}

    def metric(self, h):
        hist = self.history
        keys = [k for k in hist.series if k[0] == h.key]
        if not keys:
            return
        workloads = ordered([k[1] for k in keys], [w for r in hist.results for w in r.kinds])
        fig, axes = self.grid(len(workloads), 4.6, 3.4)
        revisions = [c.revision[:12] for c in hist.commits]
        step = max(1, len(revisions) // 16)
        for ax, w in zip(axes, workloads):
            for key in sorted((k for k in keys if k[1] == w),
                              key=lambda k: self.labels.index(k[2])):
                pts = [(i, v) for i, v in enumerate(hist.series[key]) if v is not None]
                ax.plot([i for i, _ in pts], [v for _, v in pts], label=key[2],
                        **self.style(key[2]))
            for c in hist.changes:
                if c.metric == h.key and c.workload == w:
                    marker, color = self.MARKS[c.verdict(h.better)]
                    ax.axvline(c.index - 0.5, color=color, ls=":", lw=1)
                    ax.scatter([c.index], [c.after], marker=marker, s=90, color=color,
                               zorder=5, label=f"change point: {c.verdict(h.better)}")
            ax.set_xticks(range(0, len(revisions), step))
            ax.set_xticklabels(revisions[::step], rotation=45, ha="right", fontsize=7)
            ax.set_xlim(-0.5, len(revisions) - 0.5)
            ax.set_title(w, fontsize=10)
            ax.set_ylabel(h.unit)
            ax.grid(alpha=0.3)
        self.finish(fig, axes, f"{h.title.format(n=hist.n)} against commit order ({h.better} "
                    f"is better); change points: a step of {h.threshold:.0%} or more beyond "
                    f"the noise")
        self.save(fig, f"history_{h.key}")
