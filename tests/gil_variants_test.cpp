// gil_legacy and gil_priority, proven by counters, worker states and the
// acquisition trace, never by how long something took.
#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "runners/threads.hpp"
#include "strategies/gil_legacy.hpp"
#include "strategies/gil_priority.hpp"

namespace gilbench {
namespace {

double stat(const RuntimeStats& stats, const std::string& name) {
  for (const auto& [k, v] : stats.counters)
    if (k->name == name) return v;
  ADD_FAILURE() << "no counter " << name;
  return -1;
}

RunConfig config(std::chrono::nanoseconds interval, int check_interval = 100) {
  RunConfig c;
  c.switch_interval = interval;
  c.check_interval = check_interval;
  return c;
}

// Runs body(ctx, worker) for workers 0..n-1 of strategy S on one runtime.
template <Strategy S, class F>
void on_runtime(typename S::Runtime& rt, int n, F&& body) {
  WorkerPool pool(n);
  pool.run([&](int i) {
    typename S::Runtime::Worker w(i);
    Attached<S> attached(rt, w);
    Context<S> ctx(rt, w, i);
    body(ctx, w);
  });
}

// Worker 0 takes the lock and passes checkpoints until worker 1 has run;
// worker 1 attaches only once worker 0 holds it. prepare(worker) runs on
// each worker's state before it attaches.
template <Strategy S, class Prepare>
void zero_holds_until_one_runs(typename S::Runtime& rt, Prepare&& prepare) {
  std::atomic<bool> zero_holds{false};
  std::atomic<bool> one_ran{false};
  WorkerPool pool(2);
  pool.run([&](int i) {
    if (i == 1)
      while (!zero_holds.load()) std::this_thread::yield();
    typename S::Runtime::Worker w(i);
    prepare(w);
    Attached<S> attached(rt, w);
    Context<S> ctx(rt, w, i);
    if (i == 0) {
      zero_holds.store(true);
      while (!one_ran.load()) ctx.checkpoint();
    } else {
      one_ran.store(true);
    }
  });
}

// ---- gil_legacy -----------------------------------------------------------

TEST(GilLegacy, ReleasesEveryNCheckpointsAndNeverForces) {
  constexpr int kN = 10;
  constexpr int kCheckpoints = 5000;
  GilLegacyState gil(config(std::chrono::microseconds(1), kN));  // the interval must not matter
  gil.enable_trace();
  on_runtime<GilLegacy>(gil, 2, [&](Context<GilLegacy>& ctx, GilLegacyState::Worker&) {
    for (int i = 0; i < kCheckpoints; ++i) ctx.checkpoint();
  });
  const RuntimeStats s = gil.stats();
  // Exactly one release per N checkpoints of each worker, whoever waited.
  EXPECT_EQ(stat(s, "gil_check_releases"), 2.0 * kCheckpoints / kN);
  EXPECT_EQ(stat(s, "gil_acquisitions"), 2 + 2.0 * kCheckpoints / kN);
  // No drop request and no forced switch, even with a 1 us "interval".
  EXPECT_EQ(stat(s, "gil_drop_requests"), 0);
  EXPECT_EQ(stat(s, "gil_forced_switches"), 0);
  for (const auto& e : gil.trace()) EXPECT_FALSE(e.after_forced_drop);
}

TEST(GilLegacy, AHolderAloneStillReleasesAndRetakes) {
  // The 3.2+ GIL never releases an uncontended lock; the old one drops and
  // retakes it every check interval regardless: every acquisition after the
  // first is the same worker taking back what it just dropped.
  GilLegacyState gil(config(std::chrono::milliseconds(5), 100));
  gil.enable_trace();
  on_runtime<GilLegacy>(gil, 1, [&](Context<GilLegacy>& ctx, GilLegacyState::Worker&) {
    for (int i = 0; i < 1000; ++i) ctx.checkpoint();
  });
  const auto trace = gil.trace();
  ASSERT_EQ(trace.size(), 11u);
  EXPECT_EQ(trace[0].dropper, -1);
  for (std::size_t i = 1; i < trace.size(); ++i) {
    EXPECT_EQ(trace[i].taker, 0);
    EXPECT_EQ(trace[i].dropper, 0);
    EXPECT_FALSE(trace[i].after_forced_drop);
  }
  EXPECT_EQ(stat(gil.stats(), "gil_switches"), 1);
}

TEST(GilLegacy, AWaiterGetsInOnlyThroughCheckReleases) {
  // Worker 0 spins on checkpoints until worker 1 has run; nobody ever asks
  // it to drop the lock, so worker 1 can only get in by winning the race
  // after one of worker 0's periodic releases.
  GilLegacyState gil(config(std::chrono::microseconds(1), 1));
  zero_holds_until_one_runs<GilLegacy>(gil, [](GilLegacyState::Worker&) {});
  // Worker 1 may have waited or found the lock free between a release and
  // the retake; either way the lock changed hands without a request.
  const RuntimeStats s = gil.stats();
  EXPECT_GE(stat(s, "gil_switches"), 2);
  EXPECT_GE(stat(s, "gil_check_releases"), 1);
  EXPECT_EQ(stat(s, "gil_drop_requests"), 0);
  EXPECT_EQ(stat(s, "gil_forced_switches"), 0);
}

TEST(GilLegacy, BlockingLetsAnotherWorkerRun) {
  GilLegacyState gil(config(std::chrono::seconds(10), 1'000'000));
  std::atomic<bool> in_blocking{false};
  std::atomic<bool> other_ran{false};
  on_runtime<GilLegacy>(gil, 2, [&](Context<GilLegacy>& ctx, GilLegacyState::Worker&) {
    if (ctx.index() == 0) {
      ctx.blocking([&] {
        in_blocking.store(true);
        while (!other_ran.load()) std::this_thread::yield();
      });
    } else {
      while (!in_blocking.load()) ctx.blocking([] { std::this_thread::yield(); });
      other_ran.store(true);
    }
  });
  EXPECT_TRUE(other_ran.load());
  EXPECT_EQ(stat(gil.stats(), "gil_check_releases"), 0);
}

TEST(GilLegacyDeathTest, DropWithoutHoldingIsFatal) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_DEATH(
      {
        GilLegacyState gil(RunConfig{});
        GilLegacyState::Worker w(0);
        gil.release(w);
      },
      "not locked");
}

// ---- gil_priority ---------------------------------------------------------

TEST(GilPriority, AnIoWaiterGetsTheLockBeforeAWaitingCpuWorker) {
  // Worker 0 (CPU) holds the lock and spins on checkpoints. Worker 1 (CPU)
  // starts waiting for it. Only then does worker 2 come back from a
  // blocking call. With a 10 s interval nobody's timed wait can run out, so
  // under gil worker 2 would wait behind worker 0 for 10 s; under
  // gil_priority it asks at once, worker 0 is forced off at its next
  // checkpoint, and worker 2 -- not worker 1, which waited longer -- is the
  // next holder.
  GilPriorityState gil(config(std::chrono::seconds(10)));
  gil.enable_trace();
  std::atomic<bool> io_in_blocking{false};
  std::atomic<bool> zero_holds{false};
  std::atomic<bool> io_done{false};
  std::atomic<bool> io_was_io_bound{false};
  WorkerPool pool(3);
  pool.run([&](int i) {
    if (i == 0)
      while (!io_in_blocking.load()) std::this_thread::yield();
    if (i == 1)
      while (!zero_holds.load()) std::this_thread::yield();
    GilPriorityState::Worker w(i);
    if (i != 2) w.io_bound = false;  // CPU-bound, as after a forced drop
    Attached<GilPriority> attached(gil, w);
    Context<GilPriority> ctx(gil, w, i);
    if (i == 0) {
      zero_holds.store(true);
      while (!io_done.load()) ctx.checkpoint();
    } else if (i == 2) {
      ctx.blocking([&] {
        io_in_blocking.store(true);
        // Worker 1 counts as contended once it waits (with mutex_ released).
        while (stat(gil.stats(), "gil_contended") < 1) std::this_thread::yield();
      });
      io_was_io_bound.store(w.io_bound);
      io_done.store(true);
    }
  });
  const auto trace = gil.trace();
  // Takers in order: 2 (attach), 0 (attach, during 2's blocking call), 2
  // (back from it, ahead of 1), then 0 and 1 in either order.
  ASSERT_GE(trace.size(), 4u);
  EXPECT_EQ(trace[0].taker, 2);
  EXPECT_EQ(trace[1].taker, 0);
  EXPECT_EQ(trace[2].taker, 2) << "the IO-bound waiter must come before the CPU-bound one";
  EXPECT_EQ(trace[2].dropper, 0);
  EXPECT_TRUE(trace[2].after_forced_drop);
  int first_one = -1;
  for (std::size_t i = 0; i < trace.size(); ++i)
    if (trace[i].taker == 1 && first_one < 0) first_one = static_cast<int>(i);
  EXPECT_GT(first_one, 2);
  EXPECT_TRUE(io_was_io_bound.load());
  const RuntimeStats s = gil.stats();
  EXPECT_EQ(stat(s, "gil_priority_requests"), 1);
  // Every request was a priority one: no timed wait ran out.
  EXPECT_EQ(stat(s, "gil_drop_requests"), stat(s, "gil_priority_requests"));
  EXPECT_GE(stat(s, "gil_priority_handoffs"), 1);
}

TEST(GilPriority, AForcedDropMakesAWorkerCpuBound) {
  // Worker 0 comes back from a blocking call (IO-bound), then keeps the lock
  // in a CPU loop. Worker 1 (CPU-bound) gets it only by a timed request,
  // which forces worker 0 off and makes it CPU-bound.
  GilPriorityState gil(config(std::chrono::milliseconds(1)));
  gil.enable_trace();
  std::atomic<bool> zero_holds{false};
  std::atomic<bool> one_ran{false};
  std::atomic<int> io_bound_before{-1};
  std::atomic<int> io_bound_after{-1};
  WorkerPool pool(2);
  pool.run([&](int i) {
    if (i == 1)
      while (!zero_holds.load()) std::this_thread::yield();
    GilPriorityState::Worker w(i);
    if (i == 1) w.io_bound = false;  // CPU-bound, as after a forced drop
    Attached<GilPriority> attached(gil, w);
    Context<GilPriority> ctx(gil, w, i);
    if (i == 0) {
      ctx.blocking([] {});
      io_bound_before.store(w.io_bound);
      zero_holds.store(true);
      while (!one_ran.load()) ctx.checkpoint();
      io_bound_after.store(w.io_bound);
    } else {
      one_ran.store(true);
    }
  });
  EXPECT_EQ(io_bound_before.load(), 1);
  EXPECT_EQ(io_bound_after.load(), 0);
  const RuntimeStats s = gil.stats();
  EXPECT_GE(stat(s, "gil_forced_switches"), 1);
  EXPECT_EQ(stat(s, "gil_priority_requests"), 0) << "a CPU-bound waiter never asks early";
}

TEST(GilPriority, ANewWorkerStartsIoBoundAndPreemptsACpuBoundHolder) {
  // Beazley's scheme starts threads IO-bound. Worker 0, CPU-bound (as after
  // a forced drop), holds the lock in a CPU loop; worker 1, just started,
  // asks at once instead of waiting out the 10 s interval, and worker 0 gives
  // the lock up at its next checkpoint.
  EXPECT_TRUE(GilPriorityState::Worker(0).io_bound);
  GilPriorityState gil(config(std::chrono::seconds(10)));
  gil.enable_trace();
  zero_holds_until_one_runs<GilPriority>(gil, [](GilPriorityState::Worker& w) {
    if (w.id == 0) w.io_bound = false;  // the holder: CPU-bound
  });
  const auto trace = gil.trace();
  ASSERT_GE(trace.size(), 2u);
  EXPECT_EQ(trace[0].taker, 0);
  EXPECT_EQ(trace[1].taker, 1);
  EXPECT_TRUE(trace[1].after_forced_drop);
  const RuntimeStats s = gil.stats();
  EXPECT_EQ(stat(s, "gil_priority_requests"), 1);
  EXPECT_EQ(stat(s, "gil_drop_requests"), 1) << "no timed wait ran out";
}

TEST(GilPriority, CpuWorkersAloneBehaveLikeGil) {
  // No worker ever blocks. Each starts IO-bound, so it may ask early once,
  // until its first forced drop makes it CPU-bound; from then on hand-offs
  // happen only by timed requests and forced switches, as under gil.
  GilPriorityState gil(config(std::chrono::microseconds(20)));
  gil.enable_trace();
  std::atomic<bool> done{false};
  on_runtime<GilPriority>(gil, 3, [&](Context<GilPriority>& ctx, GilPriorityState::Worker&) {
    while (!done.load()) {
      ctx.checkpoint();
      if (gil.forced_switches() >= 20) done.store(true);
    }
  });
  const RuntimeStats s = gil.stats();
  EXPECT_LE(stat(s, "gil_priority_requests"), 3) << "at most one early request per worker";
  EXPECT_GE(stat(s, "gil_forced_switches"), 20);
  for (const auto& e : gil.trace()) {
    if (e.after_forced_drop) {
      EXPECT_NE(e.taker, e.dropper) << "forced switching kept";
    }
  }
}

}  // namespace
}  // namespace gilbench
