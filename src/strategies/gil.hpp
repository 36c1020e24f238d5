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
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <string_view>
#include <vector>

#include "strategies/serial.hpp"
#include "strategies/strategy.hpp"

namespace gilbench {

class GilState {
 public:
  struct Worker {
    explicit Worker(int id) : id(id) {}
    int id;  // the worker index: the GIL's notion of "thread state"
  };

  // One acquisition, as seen by the optional trace (tests only).
  struct TraceEvent {
    int taker;              // who took the lock
    int dropper;            // who released it last (-1: nobody yet)
    bool after_forced_drop; // the release was forced by a drop request
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

  // Test support: record every acquisition. Call before any worker starts.
  void enable_trace() { trace_enabled_ = true; }
  std::vector<TraceEvent> trace() const;
  std::uint64_t drop_requests() const;
  std::uint64_t forced_switches() const;

 private:
  void take(int who);
  void drop(int who, bool final_release);
  void yield(int who);  // honour a drop request at a checkpoint

  const std::chrono::nanoseconds interval_;

  mutable std::mutex mutex_;      // guards the fields down to switch_mutex_
  std::condition_variable cond_;  // waiters for the lock
  bool locked_ = false;
  int last_dropper_ = -1;
  bool last_drop_forced_ = false;
  std::uint64_t acquisitions_ = 0;
  std::uint64_t contended_ = 0;     // acquisitions that had to wait
  std::uint64_t drop_requests_ = 0;
  std::uint64_t wait_ns_ = 0;       // time spent waiting in take()
  bool trace_enabled_ = false;
  std::vector<TraceEvent> trace_;

  // Forced switching. last_holder_ and switch_number_ are written by take()
  // with both mutexes held, so either one is enough to read them.
  mutable std::mutex switch_mutex_;
  std::condition_variable switch_cond_;  // "another thread took the lock"
  int last_holder_ = -1;
  std::uint64_t switch_number_ = 0;      // hand-offs to a different worker
  std::uint64_t forced_switches_ = 0;    // guarded by switch_mutex_

  // Set by a waiter whose timed wait ran out, cleared by the next taker.
  // Atomic because the holder polls it at every checkpoint without a lock;
  // on its own cache line so that polling never shares one with the mutexes.
  alignas(64) std::atomic<bool> drop_request_{false};
};

struct Gil : PlainCount {
  static constexpr std::string_view kName = "gil";
  static constexpr bool kThreaded = true;
  static constexpr bool kUsesSwitchInterval = true;  // one run per --switch-interval
  using Runtime = GilState;
};

static_assert(Strategy<Gil>);

}  // namespace gilbench
