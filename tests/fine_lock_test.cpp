// fine_lock's per-object locks: mutual exclusion, and deadlock freedom when
// threads take the same pairs of objects in opposite orders, when a list
// holds itself, and when containers that hold each other are read at once.
#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <future>

#include "runtime/object.hpp"
#include "strategies/fine_lock.hpp"
#include "strategies/fine_lock_naive.hpp"
#include "workloads/transfer.hpp"
#include "runners/threads.hpp"
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

// Runs fn on a thread; if it has not returned within a minute it is taken
// to be deadlocked: the test fails and the process exits, so a deadlock is a
// failure, never a hang.
void completes(const std::function<void()>& fn) {
  std::packaged_task<void()> task(fn);
  auto done = task.get_future();
  std::thread t(std::move(task));
  if (done.wait_for(std::chrono::minutes(1)) != std::future_status::ready) {
    std::fprintf(stderr, "deadlock: the work did not finish within a minute\n");
    std::_Exit(1);
  }
  t.join();
  done.get();
}

TEST(SplitLock, CountAndContentsLocksExcludeIndependently) {
  // Two threads per bit; each lock guards its own counter (TSan checks the
  // claim), and holding one bit never blocks the other.
  SplitLock m;
  std::int64_t counted = 0;   // guarded by the count lock
  std::int64_t contents = 0;  // guarded by the contents lock
  AllocLedger ledger;
  test::run_threads(4, ledger, [&](int t) {
    for (int i = 0; i < 20000; ++i) {
      if (t % 2) {
        m.lock_count();
        ++counted;
        m.unlock_count();
      } else {
        m.lock();
        ++contents;
        m.lock_count();  // the count lock inside the contents lock: the list_get nesting
        ++counted;
        m.unlock_count();
        m.unlock();
      }
    }
  });
  EXPECT_EQ(counted, 4 * 20000);
  EXPECT_EQ(contents, 2 * 20000);
  EXPECT_EQ(m.bits(), 0u) << "every lock released, no sleeper left marked";
}

TEST(FineLock, ListHoldingItselfCanBeRead) {
  // l.append(l); l[0]: reading takes a reference to l while l's contents
  // are locked. With one lock for count and contents this locked l twice
  // and never returned.
  using S = FineLock;
  AllocLedger ledger;
  {
    AllocLedger::Scope scope(ledger);
    auto l = make<ListObj<S>>();
    list_append(*l, AnyRef<S>(l));
    completes([&] {
      AnyRef<S> first = list_get(*l, 0);
      EXPECT_EQ(first.get(), l.get());
      EXPECT_EQ(list_size(*l), 1u);
    });
    // Break the cycle (no garbage collector here) so the ledger balances.
    auto guard = S::lock(l->header);
    l->items.clear();
  }
  EXPECT_EQ(ledger.total().live(), 0);
}

TEST(FineLock, ContainersHoldingEachOtherReadFromTwoThreads) {
  // a = [b], b = [a]; one thread reads a[0] while another reads b[0]: each
  // locks one container and takes a reference to the other, the nesting that
  // deadlocked in opposite orders when the count shared the contents lock.
  using S = FineLock;
  AllocLedger ledger;
  {
    AllocLedger::Scope scope(ledger);
    auto a = make<ListObj<S>>();
    auto b = make<ListObj<S>>();
    list_append(*a, AnyRef<S>(b));
    list_append(*b, AnyRef<S>(a));
    completes([&] {
      test::run_threads(2, ledger, [&](int t) {
        ListObj<S>& from = t == 0 ? *a : *b;
        for (int i = 0; i < 50000; ++i) {
          AnyRef<S> other = list_get(from, 0);
          ASSERT_TRUE(other);
        }
      });
    });
    EXPECT_EQ(a->header.refcnt.load(), 2u);  // `a` and b's item
    { auto guard = S::lock(a->header); a->items.clear(); }
    { auto guard = S::lock(b->header); b->items.clear(); }
  }
  EXPECT_EQ(ledger.total().live(), 0);
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

// fine_lock_naive: two workers each hold one lock of a pair and want the
// other, for certain (both take their first before either asks for its
// second). The wait-for check finds the cycle, one worker backs off, both
// get both locks, and the run's counters say so.
TEST(FineLockNaive, AnOppositeOrderDeadlockIsDetectedAndBroken) {
  SplitLock a;
  SplitLock b;
  NaiveLockRuntime runtime{RunConfig{}};
  std::atomic<int> holding{0};
  std::int64_t both = 0;  // guarded by a and b together
  AllocLedger ledger;
  completes([&] {
    test::run_threads(2, ledger, [&](int t) {
      SplitLock& first = t == 0 ? a : b;
      SplitLock& second = t == 0 ? b : a;
      first.lock();
      holding.fetch_add(1);
      while (holding.load() < 2) std::this_thread::yield();
      NaivePairGuard::acquire_second(first, second, /*may_back_off=*/true);
      ++both;
      second.unlock();
      first.unlock();
    });
  });
  EXPECT_EQ(both, 2);
  EXPECT_EQ(a.bits(), 0u);
  EXPECT_EQ(b.bits(), 0u);
  const RuntimeStats s = runtime.stats();
  EXPECT_EQ(s.value(kDeadlocked), 1.0);
  EXPECT_GE(s.value(kDeadlocks), 1.0);
  EXPECT_GT(s.value(kDeadlockDetectMs), 0.0);
}

TEST(FineLockNaive, OneWorkerNeverDeadlocks) {
  // The same pair, one worker, any order: no wait, nothing recorded.
  using S = FineLockNaive;
  NaiveLockRuntime runtime{RunConfig{}};
  auto x = make<ListObj<S>>();
  auto y = make<ListObj<S>>();
  list_append(*x, make<IntObj<S>>(1));
  EXPECT_TRUE(list_move_last(*x, *y));
  EXPECT_TRUE(list_move_last(*y, *x));
  EXPECT_FALSE(list_move_last(*y, *x)) << "y is empty";
  EXPECT_EQ(runtime.stats().value(kDeadlocks), 0.0);
}

TEST(Transfer, EveryStrategyKeepsEveryItemAtTwoWorkers) {
  // Moves only change where items are: the tally at 2 workers (one moving
  // each way) equals the serial one under fine_lock and fine_lock_naive.
  const Transfer::Params p = Transfer::params(Scale::kTiny);
  const Tally serial = serial_tally<Transfer>(p);
  EXPECT_EQ(serial.items, static_cast<std::uint64_t>(p.moves));
  WorkerPool pool(2);
  RunConfig config;
  config.workers = 2;
  for (int round = 0; round < 5; ++round) {
    const RunResult ordered = run_threads<FineLock, Transfer>(pool, config, p);
    EXPECT_EQ(ordered.tally, serial);
    const RunResult naive = run_threads<FineLockNaive, Transfer>(pool, config, p);
    EXPECT_EQ(naive.tally, serial);
    EXPECT_EQ(naive.allocs.live(), 0);
  }
}

}  // namespace
}  // namespace gilbench
