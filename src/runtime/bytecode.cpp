#include "runtime/bytecode.hpp"

#include <algorithm>
#include <chrono>
#include <limits>

namespace gilbench {

double calibrate_ns_per_step() {
  using Clock = std::chrono::steady_clock;
  constexpr std::uint32_t kSteps = 1'000'000;
  double best = std::numeric_limits<double>::infinity();
  std::uint64_t sink = 0;
  for (int run = 0; run < 15; ++run) {
    const auto t0 = Clock::now();
    sink += interpret(kSteps);
    const double ns = std::chrono::duration<double, std::nano>(Clock::now() - t0).count();
    best = std::min(best, ns / kSteps);
  }
  asm volatile("" : : "r"(sink));
  return best;
}

}  // namespace gilbench
