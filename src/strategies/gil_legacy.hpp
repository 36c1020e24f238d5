// Notes on gil_legacy: the GIL of CPython 2 and 3.0/3.1, before the new GIL
// of 3.2 (the "old GIL" of Beazley's PyCon 2010 talk).
//
// Protocol. One lock: a flag `locked_` guarded by `mutex_`, waiters parked on
// `cond_` with no timeout. The holder counts checkpoints (Python 2's
// `_Py_Ticker`, sys.setcheckinterval, default 100 "ticks"); every
// `check_interval` of them it releases the lock, signals one waiter, and at
// once tries to take it back. There is no switch interval, no drop request
// and no forced switching: whether a waiter ever gets in is a race between
// the releaser, which is running and retakes within nanoseconds, and the
// waiter, which must first be woken and scheduled. On one core the releaser
// wins until its timeslice ends; on several, the waiter wakes on another
// core, usually finds the lock taken again and goes back to sleep -- the
// "GIL battle", in which 2 CPU-bound threads take longer than 1 (15.4 s vs
// 7.8 s in Beazley's measurement). A blocking call releases and retakes the
// lock the same way, without priority.
//
//   state \ event    checkpoint (ticks left) | checkpoint (ticker at 0) | blocking(fn)
//   held by T        --ticks (one decrement)  | drop, signal, take again   drop, fn(), take
//   waiting          --                        | woken: take if free,       --
//                                              | else sleep again (futile)
//
// Hot path: checkpoint() decrements the worker's own ticker (a plain int in
// the Worker, never shared) and tests it; no shared memory is touched.
//
// Simplifications: the ticker is per worker and restarts at each check,
// where Python 2's was one interpreter-wide counter (equivalent, as only the
// holder runs); Python 2 also released at every check whether or not
// anybody waited, as here. Python 2 on Linux used a semaphore for the lock;
// a mutex + condition variable has the same barging behaviour.
#pragma once

#include <cstdint>
#include <string_view>

#include "strategies/gil_core.hpp"
#include "strategies/serial.hpp"
#include "strategies/strategy.hpp"

namespace gilbench {

inline constexpr Metric kGilCheckReleases{
    "gil_check_releases", "count", Better::kNeither,
    "gil_legacy: releases at the check interval, each followed at once by a retake"};
inline constexpr Metric kGilFutileWakeups{
    "gil_futile_wakeups", "count", Better::kLower,
    "gil_legacy: waiters woken that found the GIL taken again (the multicore GIL battle)"};

class GilLegacyState : public GilCore {
 public:
  struct Worker {
    explicit Worker(int worker) : id(worker) {}
    int id;
    int ticker = 0;  // checkpoints left before the next check; this worker's only
  };

  explicit GilLegacyState(const RunConfig& config);

  void attach(Worker& w) {
    w.ticker = check_interval_;
    take(w.id);
  }
  void detach(Worker& w) { drop(w.id, /*at_check=*/false); }
  void release(Worker& w) { drop(w.id, /*at_check=*/false); }
  void reacquire(Worker& w) { take(w.id); }

  void checkpoint(Worker& w) noexcept {
    if (--w.ticker == 0) [[unlikely]] check(w);
  }

  RuntimeStats stats() const;
  static constexpr const Metric* kMetrics[] = {&kGilAcquisitions,   &kGilContended,     &kGilSwitches,
                                               &kGilWaitNs,         &kGilWaitFrac,      &kGilDropRequests,
                                               &kGilForcedSwitches, &kGilCheckReleases, &kGilFutileWakeups};

 private:
  void take(int who);
  void drop(int who, bool at_check);
  void check(Worker& w);  // the periodic release and immediate retake

  const int check_interval_;
  std::uint64_t check_releases_ = 0;  // guarded by mutex_
  // Wake-ups of a waiter that found the lock taken again: the battle's cost.
  std::uint64_t futile_wakeups_ = 0;  // guarded by mutex_
};

struct GilLegacy : PlainCount {
  // Every check interval (100 checkpoints by default) a release and a retake.
  static constexpr CostModel kCost{.checkpoint_mutex = 2.0 / 100, .blocking_mutex = 2, .one_at_a_time = true};
  static constexpr std::string_view kName = "gil_legacy";
  static constexpr bool kThreaded = true;
  // No kUsesSwitchInterval: the old GIL has no interval, only
  // RunConfig::check_interval (--check-interval).
  using Runtime = GilLegacyState;
};

static_assert(Strategy<GilLegacy>);

}  // namespace gilbench
