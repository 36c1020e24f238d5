"""binary_trees: build and tear down perfect binary trees of tuples.

Mirrors src/workloads/binary_trees.hpp (the Benchmarks Game shape:
allocation- and refcount-heavy, nothing shared). A node is the tuple
(left, right, item), a leaf (None, None, 0). For depth d = min_depth,
min_depth+2, ..., max_depth it builds 2**(max_depth - d + min_depth) trees of
depth d, walks each one (`check(tree[0])` takes a reference to each child,
as the C++ walk does) and drops it. The trees of each depth are split over
the shards. Every recursive call is a check point in CPython (RESUME), as
the C++ build/check call ctx.checkpoint() on entry.

Parameters: min_depth, max_depth.
Tally: items = nodes built, sum = nodes counted by the walks.
"""

from .tally import Tally, shard_range

NAME = "binary_trees"
KIND = "cpu"


def make_state(params, first=0, count=1, local=1):
    return params


def build(depth):
    if depth == 0:
        return (None, None, 0)
    return (build(depth - 1), build(depth - 1), depth)


def check(node):
    left = node[0]
    if left is None:
        return 1
    return 1 + check(left) + check(node[1])


def run(state, index, count):
    min_depth = state["min_depth"]
    max_depth = state["max_depth"]
    items = 0
    total = 0
    for d in range(min_depth, max_depth + 1, 2):
        trees = 1 << (max_depth - d + min_depth)
        begin, end = shard_range(trees, index, count)
        for _ in range(begin, end):
            tree = build(d)
            total += check(tree)
            items += (2 << d) - 1
            del tree
    return Tally(items, total)


def finish(state):
    return Tally()
