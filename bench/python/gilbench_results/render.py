"""Renderers of the gate's Report (gate.py): markdown for a CI job summary, and JSON.

Both write the same data: markdown() the report plot.py compare prints (and
--markdown writes), as_json() the lanes, rows, verdicts and exit decision
for programs (--json; NaN becomes null). The markdown puts a one-line
verdict first (what decides the exit status), then the files, the flagged
rows of every lane in one table, both machine fingerprints side by side
(when the files hold them) with the rows each differing unit cost moves,
and folds every lane's full table under <details>. annotations() gives the
GitHub Actions `::error` commands of the flagged rows of gated lanes
(plot.py prints them on stderr when GITHUB_ACTIONS=true; the runner reads
workflow commands from both streams).
"""

import math

from .errors import one_line
from . import fingerprint
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


FLAGGED = ("regression", "failed")


def flagged_rows(report):
    """[(lane, Row)] of every lane's rows that regressed or failed (gated or not)."""
    return [(lane, r) for lane in report.lanes for r in lane.rows if r.verdict in FLAGGED]


def summary_line(report):
    """The one-line verdict: what decides the exit status, in one sentence."""
    gated = [(lane, r) for lane, r in flagged_rows(report) if lane.gated]
    other = [(lane, r) for lane, r in flagged_rows(report) if not lane.gated]
    counts = {}
    for lane, _ in gated:
        counts[lane.key] = counts.get(lane.key, 0) + 1
    text = verdict_line(report)
    if gated:
        text += ": " + ", ".join(f"{n} in {k}" for k, n in counts.items())
    if other:
        text += f"; {len(other)} flagged in lanes that do not gate"
    return text + f" (exit status {report.exit_status})"


def value_text(lane_key):
    """A lane's value format with its unit (time: ms)."""
    fmt = TABLES[lane_key][1]
    return (lambda v: fmt(v) + " ms" if fmt(v) != "–" else fmt(v)) if lane_key == "time" else fmt


def flagged_table(report, flagged):
    """The flagged rows of every lane in one table."""
    lines = ["| lane | benchmark | base | new | change | q (BH) | verdict |",
             "|---|---|---:|---:|---:|---:|---|"]
    for lane, r in flagged:
        fmt = value_text(lane.key)
        name = one_line(r.name).replace("|", "\\|")
        verdict = VERDICT_TEXT[r.verdict] + ("" if lane.gated else " (not gated)")
        if r.note:
            verdict = one_line(f"{verdict} {r.note}").replace("|", "\\|")
        lines.append(f"| {lane.key} | `{name}` | {fmt(r.base)} | {fmt(r.new)} | "
                     f"{fmt_change(r.change)} | {fmt_q(r.q)} | {verdict} |")
    return lines


def fmt_cost(v):
    """A unit cost: 4 significant digits, whole numbers with thousands separators."""
    return f"{v:,.0f}" if abs(v) >= 1000 else f"{v:.4g}"


def fingerprint_lines(report):
    """Both machines' fingerprints side by side, and the rows each differing cost moves."""
    base, new = report.fingerprints.get("base"), report.fingerprints.get("new")
    if base is None and new is None:
        return []
    lines = ["", "### Machine fingerprints", ""]
    if base is None or new is None:
        missing = "base" if base is None else "new"
        return lines + [f"Only one file has a machine fingerprint (none in {missing}): the "
                        f"machines cannot be compared cost by cost.", ""]
    lines += ["| | base | new | new / base | moves |", "|---|---:|---:|---:|---|"]
    for key, a, b in fingerprint.described(base, new):
        cells = (one_line(x).replace("|", "\\|") for x in (key, a, b))
        lines.append("| {} | {} | {} | | |".format(*cells))
    for d in report.unit_costs:
        mark = " **(differs)**" if d.differs else ""
        lines.append(f"| {d.section} {one_line(d.name)} | {fmt_cost(d.base)} | "
                     f"{fmt_cost(d.new)} | {d.ratio:.2f}x{mark} | {d.cost.affects} |")
    differing = [d for d in report.unit_costs if d.differs]
    lines.append("")
    if not differing:
        lines.append(f"No unit cost differs by more than {fingerprint.FACTOR}x.")
    flagged = {r.name for _, r in flagged_rows(report)}
    for d in differing:
        hit = [n for n in d.rows if n in flagged]
        lines.append(f"- **{one_line(d.name)}** differs {d.ratio:.2f}x (base {fmt_cost(d.base)}, "
                     f"new {fmt_cost(d.new)}): it moves {d.cost.affects}: {len(d.rows)} compared rows"
                     + (f", of which flagged: {name_list_md(hit)}" if hit else
                        ", none of them flagged") + ".")
    return lines + [""]


def name_list_md(names, limit=6):
    text = ", ".join(f"`{one_line(n)}`" for n in names[:limit])
    return text + (f" (+{len(names) - limit} more)" if len(names) > limit else "")


def markdown(report):
    """The gate's report as markdown (what plot.py compare prints): the one-line verdict
    first, then the files, the flagged rows, the machine fingerprints, and every lane's
    full table folded under <details>."""
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

    head = ["## gilbench compare: " + summary_line(report), "",
            f"- base: {one_line(base.describe())}", f"- new: {one_line(new.describe())}",
            f"- gated lanes: {', '.join(report.gated)}; thresholds: time {opt.threshold:.0%} "
            f"(q < {opt.alpha}), ratio {opt.ratio_threshold:.0%} (q < {opt.ratio_alpha}), "
            f"instructions {opt.instr_threshold:.0%}. Time and ratio changes are flagged when "
            f"beyond the threshold and significant (Benjamini-Hochberg q < alpha); instruction "
            f"counts when beyond the threshold."]
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
    flagged = flagged_rows(report)
    if flagged:
        head += ["", "### Flagged rows", ""] + flagged_table(report, flagged)
    head += fingerprint_lines(report)
    rows = sum(len(lane.rows) for lane in report.lanes)
    fold = ["", "<details><summary>Full tables: " + ", ".join(
        f"{lane.key} ({len(lane.rows)} rows)" for lane in report.lanes)
        + f", {rows} rows in all</summary>", ""] + body + ["", "</details>"]
    return "\n".join(head + fold) + "\n"


def annotation_text(text, property_value=False):
    """Escapes text for a GitHub Actions workflow command (%, CR, LF; in a property
    value also : and ,)."""
    text = str(text).replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")
    return text.replace(":", "%3A").replace(",", "%2C") if property_value else text


def annotations(report):
    """`::error` workflow commands (GitHub Actions), one per flagged row of a gated lane,
    and one per problem that keeps a gated lane from judging."""
    lines = []
    for lane, r in flagged_rows(report):
        if not lane.gated:
            continue
        fmt = value_text(lane.key)
        what = (f"{lane.key} lane: {fmt(r.base)} -> {fmt(r.new)} ({fmt_change(r.change)})"
                if r.verdict == "regression" else f"{lane.key} lane: failed: {r.note}")
        title = annotation_text(f"gilbench {r.verdict}: {r.name}", True)
        lines.append(f"::error title={title}::{annotation_text(one_line(r.name + ': ' + what))}")
    for problem in report.problems:
        lines.append(f"::error title=gilbench compare cannot judge::"
                     f"{annotation_text(one_line(problem))}")
    return lines


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
        "summary": summary_line(report),
        "thresholds": {"time": report.options.threshold, "time_alpha": report.options.alpha,
                       "ratio": report.options.ratio_threshold,
                       "ratio_alpha": report.options.ratio_alpha,
                       "instructions": report.options.instr_threshold},
        "flagged": [{"lane": lane.key, "name": r.name, "verdict": r.verdict,
                     "gated": lane.gated} for lane, r in flagged_rows(report)],
        "power_warning": report.power,
        "same_machine": report.same_machine,
        "busy": dict(report.busy),
        "fingerprints": {"base": report.fingerprints.get("base"),
                         "new": report.fingerprints.get("new")},
        "unit_costs": [{"section": d.section, "name": d.name, "base": d.base, "new": d.new,
                        "ratio": _number(d.ratio), "differs": d.differs,
                        "moves": d.cost.affects, "rows": list(d.rows)}
                       for d in report.unit_costs],
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
