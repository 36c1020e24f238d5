"""countdown: `while n > low: n -= 1`, the loop every GIL talk starts with.

Mirrors src/workloads/countdown.hpp. The C++ loop makes a new boxed int per
step and drops the old one (CPython does exactly that for ints above 256) and
passes a checkpoint per step; here the interpreter does both for real: the
`while` back-edge is where CPython 3.10+ polls its eval breaker. No shared
data at all: under the GIL N threads still run one at a time.

Parameter: n, the total number of steps; shard i counts its own range
[n*i/N, n*(i+1)/N) down. Tally: items = steps, sum = every value reached
(high-1 down to low), n(n-1)/2 in total.
"""

from .tally import Tally, shard_range

NAME = "countdown"
KIND = "cpu"


def make_state(params, first=0, count=1, local=1):
    return params


def run(state, index, count):
    low, high = shard_range(state["n"], index, count)
    n = high
    total = 0
    while n > low:
        n -= 1
        total += n
    return Tally(high - low, total)


def finish(state):
    return Tally()
