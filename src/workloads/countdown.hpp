// countdown: `while n > 0: n -= 1`, the loop every GIL talk starts with.
//
// Each step makes a new boxed int and drops the old one (ints above 256 are
// not cached in CPython), then passes a checkpoint. No shared data at all:
// under the GIL N workers still run one at a time; without it they scale.
// Parameter: n, the total number of steps; shard i counts its own range down.
// Tally: items = steps, sum = sum of every value reached = n(n-1)/2.
#pragma once

#include <cstdint>
#include <string_view>

#include "runtime/object.hpp"
#include "workloads/workload.hpp"

namespace gilbench {

struct Countdown {
  static constexpr std::string_view kName = "countdown";
  static constexpr std::string_view kKind = "cpu";

  struct Params {
    std::int64_t n = 0;
    NLOHMANN_DEFINE_TYPE_INTRUSIVE(Params, n)
  };
  static Params params(Scale s) {
    return {s == Scale::kDefault ? 4'000'000 : s == Scale::kQuick ? 400'000 : 20'000};
  }

  template <Strategy S>
  struct State {
    explicit State(const Params& p) : params(p) {}
    Params params;
  };

  template <Strategy S>
  static Tally run(Context<S>& ctx, State<S>& st, Shard shard) {
    const std::int64_t low = shard.begin(st.params.n);
    const std::int64_t high = shard.end(st.params.n);
    Tally t;
    Ref<IntObj<S>> n = make<IntObj<S>>(high);
    while (n->value > low) {
      n = make<IntObj<S>>(n->value - 1);
      t.sum += static_cast<std::uint64_t>(n->value);
      ctx.checkpoint();
    }
    t.items = static_cast<std::uint64_t>(high - low);
    return t;
  }

  template <Strategy S>
  static Tally finish(State<S>&) {
    return {};
  }
};

}  // namespace gilbench
