"""shared_read: every worker walks one shared, read-only tree of tuples.

Mirrors src/workloads/shared_read.hpp. The tree (2**(depth+1)-1 nodes, node
(left, right, item) with item = heap index 1..) is built before the timed
region by the main thread and walked by every worker; each visit loads the
children, i.e. takes and drops a reference on shared objects. Under CPython's
GIL those counts are plain adds and the walks take turns; in a process each
worker walks its own copy of the tree (built in that process, outside the
timed region), as gilbench's `process` does.

Parameters: depth, walks (total full walks, split over the shards).
Tally: items = nodes visited (walks x nodes: the C++ counts them one by one,
here the count per walk is the tree's size, which is the same number),
sum = walks * (sum of all items).
"""

from .tally import Tally, shard_range

NAME = "shared_read"
KIND = "cpu"


def build(depth, index):
    if depth == 0:
        return (None, None, index)
    return (build(depth - 1, 2 * index), build(depth - 1, 2 * index + 1), index)


class State:
    def __init__(self, params):
        self.walks = params["walks"]
        self.nodes = (1 << (params["depth"] + 1)) - 1
        self.root = build(params["depth"], 1)


def make_state(params, first=0, count=1, local=1):
    return State(params)


def walk(node):
    total = node[2]
    left = node[0]
    if left is not None:
        total += walk(left)
    right = node[1]
    if right is not None:
        total += walk(right)
    return total


def run(state, index, count):
    begin, end = shard_range(state.walks, index, count)
    total = 0
    for _ in range(begin, end):
        root = state.root
        total += walk(root)
    return Tally((end - begin) * state.nodes, total)


def finish(state):
    return Tally()
