// fine_lock's per-object locks: mutual exclusion, and deadlock freedom when
// threads take the same pairs of objects in opposite orders.
#include <gtest/gtest.h>

#include "runtime/object.hpp"
#include "strategies/fine_lock.hpp"
#include "test_support.hpp"

namespace gilbench {
namespace {

TEST(ObjectMutex, MutualExclusion) {
  ObjectMutex m;
  std::int64_t counter = 0;  // guarded by m; TSan checks the claim
  AllocLedger ledger;
  test::run_threads(4, ledger, [&](int) {
    for (int i = 0; i < 20000; ++i) {
      m.lock();
      ++counter;
      m.unlock();
    }
  });
  EXPECT_EQ(counter, 4 * 20000);
}

TEST(FineLock, OppositeOrderPairsDoNotDeadlock) {
  using S = FineLock;
  constexpr int kObjects = 6;
  std::vector<Ref<ListObj<S>>> objects;
  for (int i = 0; i < kObjects; ++i) objects.push_back(make<ListObj<S>>());
  std::vector<std::int64_t> moves(kObjects * kObjects, 0);  // guarded by both objects' locks
  AllocLedger ledger;
  constexpr int kRounds = 20000;
  test::run_threads(4, ledger, [&](int t) {
    for (int r = 0; r < kRounds; ++r) {
      int a = (r + t) % kObjects;
      int b = (r * 5 + 1) % kObjects;
      if (a == b) b = (b + 1) % kObjects;
      if (t % 2) std::swap(a, b);  // half the threads ask in the opposite order
      auto guard = S::lock(objects[a]->header, objects[b]->header);
      ++moves[static_cast<std::size_t>(std::min(a, b) * kObjects + std::max(a, b))];
    }
  });
  std::int64_t total = 0;
  for (auto m : moves) total += m;
  EXPECT_EQ(total, 4 * kRounds);
}

TEST(FineLock, PairWithItselfLocksOnce) {
  auto a = make<ListObj<FineLock>>();
  { auto guard = FineLock::lock(a->header, a->header); }
  EXPECT_TRUE(a->header.mutex.try_lock()) << "the pair guard released the lock";
  a->header.mutex.unlock();
}

TEST(FineLock, RefcountUnderContention) {
  using S = FineLock;
  auto shared = make<IntObj<S>>(1);
  AllocLedger ledger;
  test::run_threads(4, ledger, [&](int) {
    for (int i = 0; i < 20000; ++i) {
      Ref<IntObj<S>> copy = shared;
      Ref<IntObj<S>> again = copy;
    }
  });
  EXPECT_EQ(shared->header.refcnt, 1u);
}

}  // namespace
}  // namespace gilbench
