"""sleep_io: tasks that compute a little and then wait.

Mirrors src/workloads/sleep_io.hpp, whose header is this very loop:

    for task in my_tasks:
        xs = [task * burst + j for j in range(burst)]   # the CPU burst
        total += sum(xs)
        time.sleep(sleep_us / 1e6)                       # releases the GIL

(written with append and a for loop, one check point per element, like the
C++ checkpoint per list_append / list_get). time.sleep releases the GIL, as
the C++ ctx.blocking() does, so N threads overlap their sleeps: the "IO-bound
threads are fine" half of the GIL story.

Parameters: tasks (split over the shards), burst, sleep_us.
Tally: items = tasks, sum = every element of every list.
"""

import time

from .tally import Tally, shard_range

NAME = "sleep_io"
KIND = "io"


def make_state(params, first=0, count=1, local=1):
    return params


def run(state, index, count):
    burst = state["burst"]
    pause = state["sleep_us"] / 1e6
    begin, end = shard_range(state["tasks"], index, count)
    total = 0
    for task in range(begin, end):
        xs = []
        base = task * burst
        for j in range(burst):
            xs.append(base + j)
        for x in xs:
            total += x
        del xs
        time.sleep(pause)
    return Tally(end - begin, total)


def finish(state):
    return Tally()
