"""Renderers of the gate's Report (gate.py): markdown for a CI job summary, and JSON.

Both write the same data: markdown() the report plot.py compare prints (and
--markdown writes), as_json() the lanes, rows, verdicts and exit decision
for programs (--json; NaN becomes null).
"""

import math

from .errors import one_line
from .gate import VERDICTS
from .output import json_text
from .stats import median, relative_iqr

VERDICT_TEXT = {"regression": "**REGRESSION**", "failed": "**FAILED**", "improved": "improved",
                "noise": "~ (not significant)", "base failed": "failed in base", "": ""}
VERDICT_ORDER = {v: i for i, v in enumerate(VERDICTS)}


def fmt_num(v, digits=4):
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "–"
    return f"{v:.{digits}g}"


def fmt_change(v):
    return "–" if math.isnan(v) else f"{v * 100:+.1f}%"


def fmt_q(v):
    if math.isnan(v):
        return "–"
    return f"{v:.2g}" if v >= 0.001 else f"{v:.1e}"


def fmt_ms(v):
    return fmt_num(v * 1e3)


def fmt_speedup(v):
    return "–" if math.isnan(v) else fmt_num(v, 3) + "x"


def fmt_count(v):
    return "–" if math.isnan(v) else f"{int(v)}"


# Per lane: (value columns, value format, has a q column).
TABLES = {"time": (["base ms", "new ms"], fmt_ms, True),
          "ratio": (["base", "new"], fmt_speedup, True),
          "instructions": (["base", "new"], fmt_count, False)}


def lane_title(lane, opt):
    if lane.key == "time":
        return (f"Wall time: median of repetitions (Mann-Whitney U, BH q < {opt.alpha}, "
                f"threshold {opt.threshold:.0%})")
    if lane.key == "ratio":
        return (f"In-run ratios: speedup over the reference at 1 worker, median / median within "
                f"each file (bootstrap, BH q < {opt.ratio_alpha}, threshold "
                f"{opt.ratio_threshold:.0%})")
    if not lane.compared:
        return "Instruction counts"
    return (f"Instruction counts: callgrind, measured region of the 1-worker rows "
            f"(deterministic, threshold {opt.instr_threshold:.0%})")


def markdown_table(rows, columns, value_fmt, with_q=True):
    """A markdown table of a lane's rows: flagged rows first, then by name."""
    head = ["benchmark", *columns, "change"] + (["q (BH)"] if with_q else []) + ["verdict"]
    lines = ["| " + " | ".join(head) + " |",
             "|" + "|".join(["---"] + ["---:"] * (len(head) - 2) + ["---"]) + "|"]
    for r in sorted(rows, key=lambda r: (VERDICT_ORDER[r.verdict], r.name)):
        name = one_line(r.name).replace("|", "\\|")
        cells = [f"`{name}`", value_fmt(r.base), value_fmt(r.new), fmt_change(r.change)]
        if with_q:
            cells.append(fmt_q(r.q))
        verdict = VERDICT_TEXT[r.verdict]
        if r.note:
            verdict = one_line(f"{verdict} {r.note}".strip()).replace("|", "\\|")
        cells.append(verdict)
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def noise_line(result):
    """The machine's load when the run started and the typical spread of its repetitions."""
    load = result.context.get("load_avg")
    cpus = result.context.get("gilbench_nproc", result.context.get("num_cpus"))
    spreads = [s for s in (relative_iqr(run.samples()) for run in result.runs.values())
               if s is not None]
    bits = []
    if isinstance(load, list) and load:
        bits.append(f"load {load[0]:.1f}" + (f" on {cpus} CPUs" if cpus else ""))
    if spreads:
        bits.append(f"repetitions spread {median(spreads):.0%} (median IQR / median)")
    return ", ".join(bits)


def verdict_line(report):
    """The report's headline verdict."""
    verdict = (f"REGRESSION ({len(report.regressions)})" if report.regressions
               else "no regression")
    if report.problems:
        verdict = (f"CANNOT JUDGE (a gated lane cannot judge; {verdict} in what it could)"
                   if report.regressions else "CANNOT JUDGE (a gated lane cannot judge)")
    return verdict


def markdown(report):
    """The gate's report as markdown (what plot.py compare prints)."""
    base, new, opt = report.base, report.new, report.options
    body = []
    for lane in report.lanes:
        body += ["", f"### {lane_title(lane, opt)}" + ("" if lane.gated else " — not gated"), ""]
        if lane.rows:
            columns, fmt, with_q = TABLES[lane.key]
            n = {v: lane.count(v) for v in VERDICTS}
            body += [f"{len(lane.rows)} benchmarks: {n['regression']} regressed, {n['failed']} "
                     f"failed, {n['improved']} improved"
                     + (f", {n['noise']} beyond the threshold but not significant."
                        if with_q else "."), ""]
            body += markdown_table(lane.rows, columns, fmt, with_q)
        body += [("\n" if lane.rows else "") + one_line(note) for note in lane.notes]

    head = ["## gilbench compare: " + verdict_line(report), "",
            f"- base: {one_line(base.describe())}", f"- new: {one_line(new.describe())}",
            f"- gated lanes: {', '.join(report.gated)}. Time and "
            f"ratio changes are flagged when beyond the threshold and significant "
            f"(Benjamini-Hochberg q < alpha); instruction counts when beyond the threshold."]
    if report.regressions:
        listed = [f"`{one_line(r.name)}` ({lane} " + (
            f"{fmt_change(r.change)})" if r.verdict == "regression" else "lane: the run failed)")
            for lane, r in report.regressions]
        head.append("- regressions: " + ", ".join(listed[:20])
                    + (f" (+{len(listed) - 20} more)" if len(listed) > 20 else ""))
    for problem in report.problems:
        head.append(f"- **cannot judge:** {problem}")
    if report.only_base or report.only_new:
        head.append(f"- compared the {len(report.names)} common benchmarks; left out: "
                    f"{len(report.only_base)} only in base, {len(report.only_new)} only in new")
    head.append(f"- noise: base {noise_line(base) or 'unknown'}; new "
                f"{noise_line(new) or 'unknown'}")
    for label in ("base", "new"):
        if report.busy.get(label):
            head.append(f"- **{label} ran on a busy machine** (load above the CPU count): its "
                        f"wall times and multi-worker speedups are not trustworthy; the "
                        f"instruction counts are.")
    injected = [r.context.get("gilbench_injected_slowdown") for r in (base, new)]
    if any(injected):
        head.append(one_line(f"- injected slowdown (test only): base {injected[0] or 'none'}, "
                             f"new {injected[1] or 'none'}"))
    if report.power:
        p = report.power
        head += ["", f"> **Warning:** with {p['n1']} vs {p['n2']} repetitions the smallest "
                 f"possible U-test p is {p['pmin']:.2g}, so a regression of a single benchmark "
                 f"among {p['benchmarks']} cannot reach q < {opt.alpha} after the BH correction. "
                 f"Use more repetitions (9 or more, odd)."]
    return "\n".join(head + body) + "\n"


def _number(v):
    return None if isinstance(v, float) and not math.isfinite(v) else v


def as_data(report):
    """The report as plain data (JSON types; NaN is None)."""
    def file(r):
        return {"path": r.path, "describe": r.describe(), "noise": noise_line(r)}

    return {
        "verdict": verdict_line(report),
        "exit_status": report.exit_status,
        "base": file(report.base), "new": file(report.new),
        "options": dict(vars(report.options)),
        "gated": report.gated,
        "compared": list(report.names),
        "only_base": list(report.only_base), "only_new": list(report.only_new),
        "problems": list(report.problems),
        "regressions": [{"lane": lane, "name": r.name, "verdict": r.verdict}
                        for lane, r in report.regressions],
        "power_warning": report.power,
        "same_machine": report.same_machine,
        "busy": dict(report.busy),
        "lanes": [{"key": lane.key, "title": lane_title(lane, report.options),
                   "gated": lane.gated, "compared": lane.compared, "notes": list(lane.notes),
                   "rows": [{"name": r.name, "base": _number(r.base), "new": _number(r.new),
                             "change": _number(r.change), "p": _number(r.p), "q": _number(r.q),
                             "verdict": r.verdict, "note": r.note, "judged": r.judged,
                             "repetitions": list(r.reps)} for r in lane.rows]}
                  for lane in report.lanes],
    }


def as_json(report):
    """as_data(report) as strict JSON text (output.json_text: no NaN, null instead)."""
    return json_text(as_data(report), indent=1) + "\n"
