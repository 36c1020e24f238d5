// Notes on gil: CPython 3.2+'s global interpreter lock (Python/ceval_gil.c).
//
// Protocol. One lock, a flag `locked_` guarded by `mutex_`, waiters parked on
// `cond_`. A thread that finds the lock taken waits on `cond_` for at most
// the switch interval (default 5 ms). If the wait timed out, the lock is
// still taken and no hand-off happened meanwhile (`switch_number_`
// unchanged), it posts a drop request. The holder is never preempted: it sees
// the request at its next checkpoint() (a bytecode boundary), releases, and
// -- forced switching -- waits on `switch_cond_` until another thread has
// taken the lock, so on a multi-core machine it cannot win the race to retake
// it. A blocking call releases the lock voluntarily and retakes it through
// the same timed waiting path (the convoy effect of bpo-7946 comes from that).
//
//   state \ event      checkpoint, no req | checkpoint, req | blocking(fn)
//   held by T          nothing (one load) | drop, wait for    drop, fn(), take
//                                           switch, take
//
// Hot path: checkpoint() is one relaxed load of `drop_request_` and a
// predictable branch; incref/decref are plain adds the GIL keeps safe.
//
// Simplifications: one interpreter-wide drop request, as in CPython <= 3.12
// (3.13 moved it into the holder's eval breaker: same effect with one
// holder); no signal, pending-call or GC bits share the flag. Like CPython,
// releasing with a request pending (even around a blocking call) waits for
// the hand-off; a worker's final release does not.
//
// The lock word, hand-off count and statistics are GilCore's
// (gil_core.hpp); gil_priority reuses the steps of take and drop below.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <string_view>

#include "strategies/gil_core.hpp"
#include "strategies/serial.hpp"
#include "strategies/strategy.hpp"

namespace gilbench {

class GilState : public GilCore {
 public:
  struct Worker {
    explicit Worker(int worker) : id(worker) {}
    int id;  // the worker index: the GIL's notion of "thread state"
  };

  explicit GilState(const RunConfig& config);

  void attach(Worker& w) { take(w.id); }
  void detach(Worker& w) { drop(w.id, /*final_release=*/true); }
  void release(Worker& w) { drop(w.id, /*final_release=*/false); }
  void reacquire(Worker& w) { take(w.id); }

  void checkpoint(Worker& w) noexcept {
    // Relaxed: the flag is only a hint to enter the slow path, which
    // synchronises through mutex_ and switch_mutex_.
    if (drop_request_.load(std::memory_order_relaxed)) [[unlikely]] yield(w.id);
  }

  RuntimeStats stats() const;
  static constexpr const Metric* kMetrics[] = {&kGilAcquisitions, &kGilContended,    &kGilSwitches,
                                               &kGilWaitNs,       &kGilWaitFrac,     &kGilDropRequests,
                                               &kGilForcedSwitches};

  std::uint64_t drop_requests() const;
  std::uint64_t forced_switches() const;

 protected:
  // The steps of take_gil and drop_gil, shared with gil_priority (which
  // changes who waits and who is woken, not these). All but
  // wait_for_switch() run with mutex_ held.

  // One timed wait on `cond`: if it ran out, the lock is still taken and
  // nobody got it meanwhile, post a drop request.
  void wait_interval(std::unique_lock<std::mutex>& lock, std::condition_variable& cond);
  void post_drop_request() noexcept {
    drop_request_.store(true, std::memory_order_relaxed);  // relaxed: see checkpoint()
    ++drop_requests_;
  }
  // The lock is free and `who` may have it: take it and void the request.
  void finish_take(int who);
  // Releases the lock held by `who`. RETURNS whether the release is forced
  // (a drop request is pending); the caller wakes a waiter, then, if
  // forced, calls wait_for_switch() without mutex_.
  bool release_locked(int who, bool final_release) noexcept;
  // Forced switching: do not come back before someone else had the lock.
  void wait_for_switch(int who);

  const std::chrono::nanoseconds interval_;
  std::uint64_t drop_requests_ = 0;  // guarded by mutex_

  // Forced switching. switch_mutex_ is taken inside mutex_ (in take) or
  // alone (by a forced dropper); last_holder_ and switch_number_ are written
  // with both held.
  mutable std::mutex switch_mutex_;
  std::condition_variable switch_cond_;  // "another thread took the lock"
  std::uint64_t forced_switches_ = 0;    // guarded by switch_mutex_

  // Set by a waiter whose timed wait ran out, cleared by the next taker.
  // Atomic because the holder polls it at every checkpoint without a lock;
  // on its own cache line so that polling never shares one with the mutexes.
  alignas(64) std::atomic<bool> drop_request_{false};

 private:
  void take(int who);
  void drop(int who, bool final_release);
  void yield(int who);  // honour a drop request at a checkpoint
};

struct Gil : PlainCount {
  // A blocking call releases and retakes the lock.
  static constexpr CostModel kCost{.blocking_mutex = 2, .one_at_a_time = true};
  static constexpr std::string_view kName = "gil";
  static constexpr bool kThreaded = true;
  static constexpr bool kUsesSwitchInterval = true;  // one run per --switch-interval
  using Runtime = GilState;
};

static_assert(Strategy<Gil>);

}  // namespace gilbench
