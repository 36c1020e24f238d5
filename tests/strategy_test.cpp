// Typed over AllStrategies, so a new strategy is tested for free: the
// lifetime probe (every object freed exactly once, none leaked) under
// cross-thread sharing, and the container guards under concurrent writers.
#include <gtest/gtest.h>

#include "runners/threads.hpp"
#include "runtime/object.hpp"
#include "strategies/all.hpp"
#include "test_support.hpp"

namespace gilbench {
namespace {

template <class List>
struct ToGTest;
template <class... Ts>
struct ToGTest<TypeList<Ts...>> {
  using type = ::testing::Types<Ts...>;
};

template <class S>
class StrategyTest : public ::testing::Test {};
TYPED_TEST_SUITE(StrategyTest, ToGTest<AllStrategies>::type);

// Runs fn(ctx) on `workers` workers attached to one runtime of S, through
// the same pool the benchmarks use; returns the run's allocation ledger.
template <Strategy S, class F>
AllocCounts run_workers(int workers, const RunConfig& base, F&& fn) {
  RunConfig config = base;
  config.workers = workers;
  AllocLedger ledger;
  {
    AllocLedger::Scope main_thread(ledger);
    typename S::Runtime runtime(config);
    WorkerPool pool(workers);
    pool.run([&](int i) {
      AllocLedger::Scope scope(ledger);
      typename S::Runtime::Worker worker(i);
      Attached<S> attached(runtime, worker);
      Context<S> ctx(runtime, worker, i);
      fn(ctx);
    });
  }
  return ledger.total();
}

int workers_for() { return 4; }

TYPED_TEST(StrategyTest, SharedObjectsAreFreedExactlyOnce) {
  using S = TypeParam;
  static_assert(sizeof(typename S::Header) <= 64, "a header must fit a cache line");
  const int n = S::kThreaded ? workers_for() : 1;
  RunConfig config;
  config.switch_interval = std::chrono::microseconds(50);  // many hand-offs under the GIL
  AllocLedger outer;
  AllocCounts inner;
  {
    AllocLedger::Scope main_thread(outer);
    // Built by this thread, then shared: every worker takes and drops
    // references to every object and hands new objects to the others.
    std::vector<AnyRef<S>> shared;
    for (int i = 0; i < 64; ++i) shared.push_back(make<IntObj<S>>(i));
    auto list = make<ListObj<S>>();
    inner = run_workers<S>(n, config, [&](Context<S>& ctx) {
      for (int round = 0; round < 2000; ++round) {
        AnyRef<S> a = shared[static_cast<std::size_t>((round * 7 + ctx.index()) % 64)];
        AnyRef<S> copy = a;
        list_append(*list, make<NodeObj<S>>(std::move(copy), nullptr, round));
        ctx.checkpoint();
      }
    });
    EXPECT_EQ(list_size(*list), static_cast<std::size_t>(2000 * n));
    for (const auto& s : shared) EXPECT_EQ(s.get()->type, Type::kInt);
  }
  AllocCounts total = outer.total();
  total += inner;
  EXPECT_EQ(total.allocated, 64 + 1 + 2000 * n);
  EXPECT_EQ(total.live(), 0) << "allocated " << total.allocated << ", freed " << total.freed;
}

TYPED_TEST(StrategyTest, ContainerUpdatesAreNotLost) {
  using S = TypeParam;
  const int n = S::kThreaded ? workers_for() : 1;
  RunConfig config;
  config.switch_interval = std::chrono::microseconds(50);
  AllocLedger outer;
  AllocCounts inner;
  {
    AllocLedger::Scope main_thread(outer);
    auto dict = make<DictObj<S>>();
    std::vector<Ref<StrObj<S>>> words;
    for (int i = 0; i < 8; ++i) words.push_back(make<StrObj<S>>("w" + std::to_string(i)));
    constexpr int kUpdates = 3000;
    inner = run_workers<S>(n, config, [&](Context<S>& ctx) {
      for (int i = 0; i < kUpdates; ++i) {
        dict_update(*dict, words[static_cast<std::size_t>(i % 8)], [](Object<S>* old) {
          return AnyRef<S>(make<IntObj<S>>((old ? cast<IntObj<S>>(old)->value : 0) + 1));
        });
        ctx.checkpoint();
      }
    });
    std::int64_t sum = 0;
    dict_for_each(*dict, [&](const StrObj<S>&, Object<S>& v) { sum += cast<IntObj<S>>(&v)->value; });
    EXPECT_EQ(sum, std::int64_t{kUpdates} * n);
  }
  AllocCounts total = outer.total();
  total += inner;
  EXPECT_EQ(total.live(), 0);
}

}  // namespace
}  // namespace gilbench
