// c_call: long calls with no check point, as a C function that loops without
// returning to the eval loop (`sum(range(10**8))`, a regex match, a C
// extension's number crunching).
//
// CPython's GIL is only dropped at a check point (the eval breaker, between
// bytecodes) or around a blocking call: a waiter's drop request waits until
// the holder's call returns, whatever the switch interval (behaviour 7 of the
// fidelity report). Each section here runs `steps` steps of the dependent
// chain of runtime/bytecode.hpp with no check point, boxes its result (a C
// function returning a new object) and passes one check point. Under `gil` at
// 2 workers every contended acquisition then waits about one section (10 ms
// at --quick on a 1 ns-per-step machine), not one switch interval (5 ms):
// gil_wait_ns / gil_contended against the serial time per section.
//
// Parameters: sections, the total calls, split over the shards; steps, the
// length of each. Tally: items = sections; sum = each section's chain result
// xor its index, low 32 bits (the same for every split).
//
// Runs under serial and the GILs only (kGilOnly), on threads: its point is
// who holds the one lock, and at 1 ns per step its 1-worker rows would cost
// the instruction lane seconds each under every strategy.
#pragma once

#include <cstdint>
#include <string_view>

#include "runtime/bytecode.hpp"
#include "runtime/object.hpp"
#include "workloads/workload.hpp"

namespace gilbench {

struct CCall {
  static constexpr std::string_view kName = "c_call";
  static constexpr std::string_view kKind = "cpu";
  static constexpr bool kThreadsOnly = true;
  static constexpr bool kGilOnly = true;

  struct Params {
    std::int64_t sections = 0;
    std::int64_t steps = 0;
    NLOHMANN_DEFINE_TYPE_INTRUSIVE(Params, sections, steps)
  };
  static Params params(Scale s) {
    return s == Scale::kDefault ? Params{10, 20'000'000}
           : s == Scale::kQuick ? Params{6, 10'000'000}
                                : Params{4, 20'000};
  }

  template <Strategy S>
  struct State {
    explicit State(const Params& p) : params(p) {}
    Params params;
  };

  template <Strategy S>
  static Tally run(Context<S>& ctx, State<S>& st, Shard shard) {
    const Params& p = st.params;
    Tally t;
    for (std::int64_t i = shard.begin(p.sections); i < shard.end(p.sections); ++i) {
      // The call: no check point inside.
      const auto x = interpret(static_cast<std::uint32_t>(p.steps));
      Ref<IntObj<S>> result = make<IntObj<S>>(static_cast<std::int64_t>((x ^ static_cast<std::uint64_t>(i)) & 0xffffffffu));
      t.sum += static_cast<std::uint64_t>(result->value);
      ++t.items;
      ctx.checkpoint();
    }
    return t;
  }

  template <Strategy S>
  static Tally finish(State<S>&) {
    return {};
  }
};

}  // namespace gilbench
