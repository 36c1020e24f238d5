"""Machine fingerprints: what two machines' unit costs say about the gate's rows.

gilbench stores a fingerprint of the machine in the context key
gilbench_fingerprint (a JSON string holding an object):

    {"cpu": {...},
     "unit_costs_ns": {"plain_increment": x, "atomic_rmw": x, "atomic_rmw_marginal": x,
                       "cache_line_round_trip_min": x, "cache_line_round_trip_median": x,
                       "shared_ref_marginal": x,
                       "mutex_uncontended": x, "mutex_contended": x, "futex_wake": x,
                       "pipe_round_trip": x, "thread_start": x, "process_start": x},
     "speed_spread": {...}}

compare prints both files' fingerprints side by side (markdown and JSON)
and, for each unit cost that differs by more than FACTOR between them, names
the rows it moves: a machine whose cache-line transfers cost 70 ns instead
of 20 ns slows the shared-data rows under atomic reference counts for real,
and the gate cannot tell that from a regression of the code. UNIT_COSTS is
the one table of which cost moves which rows (keyed by the fingerprint's
section and field, so that a renamed field is one edit); a number under
speed_spread without an entry of its own maps to the entry whose field is
None, and NOT_COSTS lists the numbers that are no cost (a count of runs). A
field the table does not know is still compared and shown, with "rows
unknown". The cpu section, and the speed_spread values that are not numbers
(bimodal), are shown side by side as text.
"""

import json
import math
from dataclasses import dataclass, field

from .load import is_finite

FACTOR = 1.5  # a unit cost that differs by more than this between the files is named
COSTS_SECTION, SPREAD_SECTION, CPU_SECTION = "unit_costs_ns", "speed_spread", "cpu"
# The rows the table names, by their fields.
SHARED_DATA = ("shared_read", "shared_dict", "shared_read_immortal", "transfer")
SYNCHRONISED_RC = ("atomic_rc", "fine_lock", "biased_rc", "fine_lock_naive")  # every incref is synchronised
GIL_STRATEGIES = ("gil", "gil_priority", "gil_legacy")


@dataclass
class Cost:
    title: str  # what the cost is
    affects: str  # the rows it moves, in words
    moves: object  # predicate on a load.Run: True for a row the cost moves
    # Below this (both values, ns) the cost is too small to move a row, whatever the
    # ratio: a unit that reads 0.1 ns in one run and 1.8 ns in the next on one machine
    # would otherwise be reported 18x different.
    floor: float = 0.0


def _process(run):
    return run.runner == "process" or run.workload == "process_startup"


# (section, field) -> Cost. field None: every number of the section.
UNIT_COSTS = {
    (COSTS_SECTION, "plain_increment"): Cost(
        "plain increment (the core's speed)", "every time-lane row (wall times; ratios "
        "within a file survive)", lambda r: True),
    (COSTS_SECTION, "atomic_rmw"): Cost(
        "atomic read-modify-write", "atomic_rc, biased_rc and fine_lock rows",
        lambda r: r.strategy in SYNCHRONISED_RC),
    (COSTS_SECTION, "atomic_rmw_marginal"): Cost(
        "atomic incref over a plain one, object after object (the explained overheads' "
        "unit)", "atomic_rc, biased_rc and fine_lock rows",
        lambda r: r.strategy in SYNCHRONISED_RC),
    (COSTS_SECTION, "cache_line_round_trip_min"): Cost(
        "cache-line round trip between two cores (min)", "shared-data rows (shared_read, "
        "shared_dict, shared_read_immortal, transfer) at 2+ workers under atomic_rc, fine_lock, "
        "biased_rc", lambda r: r.workload in SHARED_DATA and r.strategy in SYNCHRONISED_RC
        and r.workers >= 2),
    (COSTS_SECTION, "cache_line_round_trip_median"): Cost(
        "cache-line round trip between two cores (median)", "shared-data rows (shared_read, "
        "shared_dict, shared_read_immortal, transfer) at 2+ workers under atomic_rc, fine_lock, "
        "biased_rc", lambda r: r.workload in SHARED_DATA and r.strategy in SYNCHRONISED_RC
        and r.workers >= 2),
    (COSTS_SECTION, "shared_ref_marginal"): Cost(
        "an atomic incref on objects another CPU works on at the same time, over one "
        "alone (the explained overheads' unit for sharing)", "shared-data rows (shared_read, "
        "shared_dict, shared_read_immortal, transfer) at 2+ workers under atomic_rc, fine_lock, "
        "biased_rc", lambda r: r.workload in SHARED_DATA and r.strategy in SYNCHRONISED_RC
        and r.workers >= 2, floor=2.0),
    (COSTS_SECTION, "mutex_uncontended"): Cost(
        "uncontended mutex lock and unlock", "fine_lock rows and the GIL strategies' rows",
        lambda r: r.strategy in ("fine_lock", "fine_lock_naive") or r.strategy in GIL_STRATEGIES),
    (COSTS_SECTION, "mutex_contended"): Cost(
        "contended mutex hand-off", "fine_lock and GIL rows at 2+ workers",
        lambda r: (r.strategy == "fine_lock" or r.strategy in GIL_STRATEGIES)
        and r.workers >= 2),
    (COSTS_SECTION, "futex_wake"): Cost(
        "futex wake-up", "multi-worker rows (2+ workers; convoy: K of 1+)",
        lambda r: r.workers >= 2 or (r.workload == "convoy" and r.workers >= 1)),
    (COSTS_SECTION, "futex_wake_max"): Cost(
        "futex wake-up (max)", "multi-worker rows (2+ workers; convoy: K of 1+)",
        lambda r: r.workers >= 2 or (r.workload == "convoy" and r.workers >= 1)),
    (COSTS_SECTION, "thread_start"): Cost(
        "thread start", "multi-worker rows (2+ workers) and process_startup/threads",
        lambda r: r.workers >= 2 or r.workload == "process_startup"),
    (COSTS_SECTION, "pipe_round_trip"): Cost(
        "pipe round trip", "process rows (the process runner, process_startup)", _process),
    (COSTS_SECTION, "process_start"): Cost(
        "process start", "process rows (the process runner, process_startup)", _process),
    (SPREAD_SECTION, "max_over_min"): Cost(
        "speed spread: slowest / fastest run of a fixed loop", "every time-lane row",
        lambda r: True),
    (SPREAD_SECTION, None): Cost(
        "speed spread", "every time-lane row", lambda r: True),
}
# Numbers of the sections that are no cost (not compared).
NOT_COSTS = {(SPREAD_SECTION, "runs")}
UNKNOWN = Cost("", "rows unknown (not in fingerprint.UNIT_COSTS)", lambda r: False)


@dataclass
class Difference:
    """One unit cost of the two fingerprints, side by side."""

    section: str
    name: str
    base: float
    new: float
    cost: Cost
    rows: list = field(default_factory=list)  # the compared rows it moves

    @property
    def ratio(self):
        """new / base (inf when base is 0 and new is not)."""
        if self.base == self.new:
            return 1.0
        return self.new / self.base if self.base else math.inf

    @property
    def differs(self):
        r = self.ratio
        return (r > FACTOR or r < 1 / FACTOR) and max(self.base, self.new) > self.cost.floor


def cost_of(section, name):
    return UNIT_COSTS.get((section, name)) or UNIT_COSTS.get((section, None)) or UNKNOWN


def numbers(fingerprint, section):
    """{field: value} of the positive finite numbers of one section of a fingerprint."""
    values = (fingerprint or {}).get(section)
    if not isinstance(values, dict):
        return {}
    return {k: float(v) for k, v in values.items()
            if is_finite(v) and v > 0 and (section, k) not in NOT_COSTS}


def compare(base_fp, new_fp, runs):
    """Every unit cost both fingerprints hold, side by side: [Difference]; rows lists
    the names of `runs` (load.Run, the rows compared) each cost moves."""
    out = []
    for section in (COSTS_SECTION, SPREAD_SECTION):
        a, b = numbers(base_fp, section), numbers(new_fp, section)
        for name in [k for k in a if k in b]:
            cost = cost_of(section, name)
            out.append(Difference(section, name, a[name], b[name], cost,
                                  [r.name for r in runs if cost.moves(r)]))
    return out


def text(value, limit=60):
    """A fingerprint value as a table cell shows it: strings as they are, the rest as
    compact JSON, cut to limit characters."""
    shown = value if isinstance(value, str) else json.dumps(value, separators=(",", ":"))
    return shown if len(shown) <= limit else shown[:limit - 3] + "..."


def described(base_fp, new_fp):
    """[(section field, base text, new text)]: the cpu section, and the values of the
    speed_spread section that are not numbers (e.g. bimodal), side by side."""
    out = []
    for section, keep in ((CPU_SECTION, lambda v: True),
                          (SPREAD_SECTION, lambda v: not is_finite(v))):
        a = (base_fp or {}).get(section)
        b = (new_fp or {}).get(section)
        a, b = (x if isinstance(x, dict) else {} for x in (a, b))
        for k in dict.fromkeys(list(a) + list(b)):
            if keep(a.get(k)) and keep(b.get(k)):
                out.append((f"{section} {k}", text(a.get(k)), text(b.get(k))))
    return out
