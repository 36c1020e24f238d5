"""Tally and Shard: what a run produced, and a worker's slice of the work.

Twins of src/runtime/tally.hpp and Shard in src/workloads/workload.hpp.

A Tally holds items (units of work), sum (mod 2**64) and counts (word ->
count, for shared_dict). Partial tallies merge by addition, so the merged
tally does not depend on how the work was split. checksum() reproduces the
C++ Tally::checksum() bit for bit: FNV-1a-64 over items and sum (8 bytes,
little-endian, each), then for every word in byte order each of its bytes
widened to 8 bytes (the C++ mix() takes a uint64_t per char) followed by the
count (8 bytes).
"""

MASK64 = (1 << 64) - 1
FNV_OFFSET = 1469598103934665603
FNV_PRIME = 1099511628211


def hash_bytes(data):
    """FNV-1a-64 of a bytes object: src/runtime/object.hpp hash_bytes()."""
    h = FNV_OFFSET
    for c in data:
        h ^= c
        h = (h * FNV_PRIME) & MASK64
    return h


class Tally:
    __slots__ = ("items", "sum", "counts")

    def __init__(self, items=0, sum_=0, counts=None):
        self.items = items & MASK64
        self.sum = sum_ & MASK64
        self.counts = dict(counts) if counts else {}

    def merge(self, other):
        self.items = (self.items + other.items) & MASK64
        self.sum = (self.sum + other.sum) & MASK64
        for word, n in other.counts.items():
            self.counts[word] = self.counts.get(word, 0) + n
        return self

    def checksum(self):
        h = FNV_OFFSET

        def mix(h, value):
            value &= MASK64  # int64 counts are mixed as their uint64 bit pattern
            for i in range(8):
                h ^= (value >> (8 * i)) & 0xFF
                h = (h * FNV_PRIME) & MASK64
            return h

        h = mix(h, self.items)
        h = mix(h, self.sum)
        # std::map<std::string, ...> orders keys by their bytes.
        for key in sorted(self.counts, key=lambda k: k.encode("utf-8")):
            for c in key.encode("utf-8"):
                h = mix(h, c)
            h = mix(h, self.counts[key])
        return h

    def to_wire(self):
        """A plain tuple for a pipe (pickles small and fast)."""
        return (self.items, self.sum, self.counts)

    @classmethod
    def from_wire(cls, wire):
        items, sum_, counts = wire
        return cls(items, sum_, counts)

    def __eq__(self, other):
        return (isinstance(other, Tally) and self.items == other.items
                and self.sum == other.sum and self.counts == other.counts)

    def __repr__(self):
        return "Tally(items=%d, sum=%d, words=%d)" % (self.items, self.sum, len(self.counts))


def shard_range(n, index, count):
    """The part of [0, n) that shard `index` of `count` owns (Shard::begin/end)."""
    return n * index // count, n * (index + 1) // count
