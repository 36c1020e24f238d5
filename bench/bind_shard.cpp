// The threads factories of one strategy: compiled once per strategy
// (CMakeLists.txt: GILBENCH_SHARD = 0 .. GILBENCH_SHARDS - 1, one per entry of
// AllStrategies), so the heaviest instantiations of the build are spread over
// parallel compiles and no strategy's code shares a unit (and the compiler's
// inlining budget) with another's.
#include "bind.hpp"
#include "strategies/all.hpp"
#include "workloads/all.hpp"

#if !defined(GILBENCH_SHARD) || !defined(GILBENCH_SHARDS)
#error "compile with -DGILBENCH_SHARD=i -DGILBENCH_SHARDS=n"
#endif

namespace gilbench {

static_assert([]<class... Ts>(TypeList<Ts...>) { return sizeof...(Ts); }(AllStrategies{}) == GILBENCH_SHARDS,
              "GILBENCH_SHARDS must equal the number of strategies in AllStrategies (CMakeLists.txt reads it "
              "from src/strategies/all.hpp: keep `using AllStrategies = TypeList<...>;` on one line)");

template <class S>
constexpr std::string_view only_workload() {
  if constexpr (requires { S::kOnlyWorkload; })
    return S::kOnlyWorkload;
  else
    return {};
}

template <>
void bind_shard<GILBENCH_SHARD>(Binders& b) {
  for_each_type_indexed(AllStrategies{}, [&]<Strategy S, std::size_t I> {
    if constexpr (I % GILBENCH_SHARDS == GILBENCH_SHARD) {
      const std::string s(S::kName);
      // A strategy with kOnlyWorkload (fine_lock_naive) runs that workload only.
      constexpr bool kEvery = !requires { S::kOnlyWorkload; };
      for_each_type(AllWorkloads{}, [&]<Workload W> {
        // A kGilOnly workload (c_call) runs under serial and the GILs only.
        constexpr bool kAllowed = !requires { W::kGilOnly; } || cost_of<S>().one_at_a_time || !S::kThreaded;
        if constexpr (kAllowed && (kEvery || W::kName == only_workload<S>()))
          b.cells[{std::string(W::kName), s}] = {&ThreadsRunner<S, W>::make, kThreadsFault};
      });
      if constexpr (kEvery) b.cells[{std::string(Convoy::kName), s}] = {&ConvoyThreadsRunner<S>::make, kThreadsFault};
      b.strategies[s] = {S::kThreaded, requires { S::kUsesSwitchInterval; }, cost_of<S>()};
    }
  });
}

}  // namespace gilbench
