// Interpretive work: what an interpreter does between two bytecode
// boundaries besides counting references and allocating (decode, dispatch,
// operand stack traffic, the operation itself).
//
// A checkpoint stands for a bytecode boundary, but the C++ work between two
// of them is a few ns, where CPython spends tens of ns per loop iteration.
// With nothing else in the loop, reference counting and container locks
// weigh several times more than they do in an interpreter. `--bytecode-cost`
// puts the missing work back: every checkpoint first runs `steps` steps of
// a dependent integer chain (one multiply and one add per step, each step
// waiting for the previous one, so the CPU cannot overlap the steps with
// each other; it may overlap them with the reference counting around them,
// as it overlaps an interpreter's dispatch).
//
// Not a sleep and not a spin on the clock: the work is real, the same on
// every machine (the instruction lane counts it exactly: about 4
// instructions per step) and it takes what the machine takes, measured by
// calibrate_ns_per_step() and stored in the result's context so a cost in
// ns can be given (`--bytecode-cost=40ns`) and read back.
#pragma once

#include <cstdint>

namespace gilbench {

// The chain; the result only keeps the compiler from dropping it.
[[gnu::always_inline]] inline std::uint64_t interpret(std::uint32_t steps) noexcept {
  std::uint64_t x = steps;
  for (std::uint32_t i = 0; i < steps; ++i) {
    x = x * 0x9E3779B97F4A7C15ull + i;
    asm volatile("" : "+r"(x));  // the chain stays a chain: no folding, no vectorising
  }
  return x;
}

// ns per step on this machine now: the fastest of several timed runs of a
// long chain (interference only adds time). About 20 ms.
double calibrate_ns_per_step();

}  // namespace gilbench
