"""shared_dict: every worker counts words into one shared dict.

Mirrors src/workloads/shared_dict.hpp: `counts[w] = counts.get(w, 0) + 1`,
one word per loop iteration; the words are shared string objects "w0" ..
"w<vocabulary-1>" and token i is word splitmix64(i) mod vocabulary.

Two differences the language forces, neither of which changes the result:
- `counts[w] = counts.get(w, 0) + 1` is not atomic under the GIL: CPython
  polls its eval breaker after the `counts.get` call, so a switch can land
  between the read and the store and lose an update. The C++ dict_update()
  is one uninterrupted step (under the `gil` strategy the GIL alone guards it;
  the lock-free strategies take the container's lock). The twin does the
  same: with the GIL on, each update is one C call, collections' counting
  helper `_count_elements(counts, (w,))` (what Counter.update runs: dict get,
  int add, dict set, with no eval-breaker poll inside), which the GIL makes
  atomic, no lock needed. Where that helper is missing or the GIL is off
  (free-threaded builds), each update holds a threading.Lock instead, the
  per-container lock of gilbench's free-threaded strategies. UPDATE_MODE
  says which ("count_elements" or "lock"); serial, threads and processes
  run the same code, so speedups compare like with like.
- splitmix64 is a few machine instructions in C++ but ~1 us of big-int
  arithmetic in Python, which would swamp the dict update being measured.
  The token -> word sequence is therefore computed before the timed region
  (cached per process: it is input data, like the word list).
Under cpython_process each process counts its shard into its own dict and the
parent merges the partial counts, as gilbench's `process` does.

Parameters: tokens (total words, split over the shards), vocabulary.
Tally: items = tokens counted, counts = the final dict.
"""

import threading

from .report import gil_enabled
from .tally import MASK64, Tally, shard_range

try:
    from _collections import _count_elements
except ImportError:  # not CPython: the lock below is used instead
    _count_elements = None

NAME = "shared_dict"
KIND = "cpu"


def splitmix64(x):
    x = (x + 0x9E3779B97F4A7C15) & MASK64
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & MASK64
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & MASK64
    return x ^ (x >> 31)


def update_mode():
    """How one word-count update is made atomic here: see the module docstring."""
    return "count_elements" if _count_elements is not None and gil_enabled() else "lock"


_sequences = {}  # (tokens, vocabulary, begin, end, mode) -> list of tokens


def _sequence(words, tokens, vocabulary, begin, end, mode):
    key = (tokens, vocabulary, begin, end, mode)
    seq = _sequences.get(key)
    if seq is None:
        if mode == "count_elements":  # one-word tuples: _count_elements takes an iterable
            singles = [(w,) for w in words]
            seq = [singles[splitmix64(i) % vocabulary] for i in range(begin, end)]
        else:
            seq = [words[splitmix64(i) % vocabulary] for i in range(begin, end)]
        _sequences.clear()  # keep one sequence per process
        _sequences[key] = seq
    return seq


class State:
    def __init__(self, params, first, count, local):
        self.tokens = params["tokens"]
        vocabulary = params["vocabulary"]
        words = ["w%d" % i for i in range(vocabulary)]
        # The tokens of the shards this state serves (first .. first+local-1
        # of count): all of them for threads and serial, one shard's for a
        # process.
        self.first, _ = shard_range(self.tokens, first, count)
        _, last = shard_range(self.tokens, first + local - 1, count)
        self.mode = update_mode()
        self.sequence = _sequence(words, self.tokens, vocabulary, self.first, last, self.mode)
        self.counts = {}
        self.lock = threading.Lock()


def make_state(params, first=0, count=1, local=1):
    return State(params, first, count, local)


def run(state, index, count):
    begin, end = shard_range(state.tokens, index, count)
    sequence = state.sequence
    counts = state.counts
    lock = state.lock
    first = state.first
    if state.mode == "count_elements":
        count_one = _count_elements
        for i in range(begin - first, end - first):
            count_one(counts, sequence[i])  # counts[w] = counts.get(w, 0) + 1, atomically
    else:
        for i in range(begin - first, end - first):
            word = sequence[i]
            with lock:
                counts[word] = counts.get(word, 0) + 1
    return Tally(end - begin)


def finish(state):
    return Tally(0, 0, state.counts)
