// The GIL's protocol, proven by states, counters and the acquisition trace,
// never by how long something took.
#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "runners/threads.hpp"
#include "strategies/gil.hpp"

namespace gilbench {
namespace {

RunConfig with_interval(std::chrono::nanoseconds interval, int workers) {
  RunConfig c;
  c.switch_interval = interval;
  c.workers = workers;
  return c;
}

double stat(const GilState& gil, const std::string& name) {
  for (const auto& [k, v] : gil.stats().counters)
    if (k->name == name) return v;
  ADD_FAILURE() << "no GIL counter " << name;
  return 0;
}

// Runs body(ctx) on n workers attached to one GIL. Worker i > 0 attaches
// only once worker 0 holds the GIL when `zero_first` is set, so a test can
// know who holds it first.
template <class F>
void on_gil(GilState& gil, int n, F&& body, bool zero_first = false) {
  WorkerPool pool(n);
  std::atomic<bool> zero_attached{false};
  pool.run([&](int i) {
    if (zero_first && i > 0)
      while (!zero_attached.load()) std::this_thread::yield();
    GilState::Worker w(i);
    Attached<Gil> attached(gil, w);
    Context<Gil> ctx(gil, w, i);
    if (i == 0) zero_attached.store(true);
    body(ctx);
  });
}

TEST(Gil, NeverTwoWorkersInside) {
  GilState gil(with_interval(std::chrono::microseconds(20), 4));
  std::atomic<int> inside{0};
  std::atomic<int> max_inside{0};
  std::atomic<bool> done{false};
  on_gil(gil, 4, [&](Context<Gil>& ctx) {
    // Run until the GIL has been forced to change hands many times, so the
    // check covers every kind of hand-off.
    while (!done.load()) {
      const int now = inside.fetch_add(1) + 1;
      int seen = max_inside.load();
      while (now > seen && !max_inside.compare_exchange_weak(seen, now)) {
      }
      inside.fetch_sub(1);
      ctx.checkpoint();
      if (gil.forced_switches() >= 40) done.store(true);
    }
  });
  EXPECT_EQ(max_inside.load(), 1);
  EXPECT_GE(gil.forced_switches(), 40u);
}

TEST(Gil, AfterAForcedDropAnotherWorkerTakesIt) {
  GilState gil(with_interval(std::chrono::microseconds(10), 3));
  gil.enable_trace();
  std::atomic<bool> done{false};
  on_gil(gil, 3, [&](Context<Gil>& ctx) {
    while (!done.load()) {
      ctx.checkpoint();
      if (gil.forced_switches() >= 30) done.store(true);
    }
  });
  int forced = 0;
  for (const auto& e : gil.trace()) {
    if (!e.after_forced_drop) continue;
    ++forced;
    EXPECT_NE(e.taker, e.dropper) << "a forced drop was retaken by the dropper";
  }
  EXPECT_GE(forced, 30);
}

TEST(Gil, BlockingLetsAnotherWorkerRun) {
  GilState gil(with_interval(std::chrono::seconds(10), 2));
  std::atomic<bool> in_blocking{false};
  std::atomic<bool> other_ran{false};
  on_gil(gil, 2, [&](Context<Gil>& ctx) {
    if (ctx.index() == 0) {
      // Holds the GIL until it enters the blocking call, then waits there
      // for worker 1, which can only run if the GIL was released.
      ctx.blocking([&] {
        in_blocking.store(true);
        while (!other_ran.load()) std::this_thread::yield();
      });
    } else {
      // Do not even ask for the GIL before worker 0 may hold it.
      while (!in_blocking.load()) {
        ctx.blocking([] { std::this_thread::yield(); });
      }
      other_ran.store(true);
    }
  });
  EXPECT_TRUE(other_ran.load());
  // The interval (10 s) never ran out: nobody was forced.
  EXPECT_EQ(gil.drop_requests(), 0u);
  EXPECT_EQ(gil.forced_switches(), 0u);
}

TEST(Gil, NoDropRequestBeforeAFullInterval) {
  // Worker 0 holds the GIL and keeps passing checkpoints while worker 1
  // waits; with a 10 s interval the waiter must not ask, so worker 0 is
  // never interrupted and ends by releasing voluntarily.
  GilState gil(with_interval(std::chrono::seconds(10), 2));
  on_gil(
      gil, 2,
      [&](Context<Gil>& ctx) {
        if (ctx.index() == 0) {
          while (stat(gil, "gil_contended") < 1) ctx.checkpoint();  // until worker 1 waits
          for (int i = 0; i < 100000; ++i) ctx.checkpoint();
        }
      },
      /*zero_first=*/true);
  EXPECT_EQ(gil.drop_requests(), 0u);
  EXPECT_EQ(gil.forced_switches(), 0u);
}

TEST(Gil, AWaiterAsksAfterTheIntervalAndGetsIt) {
  // Worker 0 spins on checkpoints and never releases on its own; worker 1
  // can only ever run if its timed wait posts a drop request.
  GilState gil(with_interval(std::chrono::milliseconds(1), 2));
  std::atomic<bool> worker1_ran{false};
  on_gil(
      gil, 2,
      [&](Context<Gil>& ctx) {
        if (ctx.index() == 0) {
          while (!worker1_ran.load()) ctx.checkpoint();
        } else {
          worker1_ran.store(true);
        }
      },
      /*zero_first=*/true);
  EXPECT_GE(gil.drop_requests(), 1u);
  EXPECT_GE(gil.forced_switches(), 1u);
}

TEST(Gil, StatsCountHandOffs) {
  GilState gil(with_interval(std::chrono::microseconds(10), 2));
  std::atomic<bool> done{false};
  on_gil(gil, 2, [&](Context<Gil>& ctx) {
    while (!done.load()) {
      ctx.checkpoint();
      if (gil.forced_switches() >= 10) done.store(true);
    }
  });
  const double acquisitions = stat(gil, "gil_acquisitions");
  const double switches = stat(gil, "gil_switches");
  const double forced = stat(gil, "gil_forced_switches");
  const double requests = stat(gil, "gil_drop_requests");
  EXPECT_GE(forced, 10);
  EXPECT_GE(switches, forced) << "every forced switch is a hand-off";
  EXPECT_GE(acquisitions, switches);
  EXPECT_GE(requests, forced) << "no forced switch without a request";
}

TEST(GilDeathTest, DropWithoutHoldingIsFatal) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_DEATH(
      {
        GilState gil(RunConfig{});
        GilState::Worker w(0);
        gil.release(w);
      },
      "not locked");
}

}  // namespace
}  // namespace gilbench
