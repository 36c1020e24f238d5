"""list_sum: build a list of ints, iterate it taking a reference per element.

Mirrors src/workloads/list_sum.hpp. Each round builds a private list of
`length` ints (r*length + j) by append (one loop back-edge, i.e. one check
point, per element, like the C++ checkpoint per list_append), iterates it
(`for x in lst` takes a new reference per element, like list_get), and drops
the list, which frees every element. Rounds are split over the shards; no
data is shared.

Parameters: rounds (split over the shards), length.
Tally: items = elements summed, sum = sum of 0 .. rounds*length - 1.
"""

from .tally import Tally, shard_range

NAME = "list_sum"
KIND = "cpu"


def make_state(params, first=0, count=1, local=1):
    return params


def run(state, index, count):
    rounds = state["rounds"]
    length = state["length"]
    begin, end = shard_range(rounds, index, count)
    items = 0
    total = 0
    for r in range(begin, end):
        lst = []
        base = r * length
        for j in range(length):
            lst.append(base + j)
        for x in lst:
            total += x
        items += len(lst)
        del lst
    return Tally(items, total)


def finish(state):
    return Tally()
