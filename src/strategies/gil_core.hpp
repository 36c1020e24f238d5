// GilCore: the lock word and the bookkeeping that every GIL of the suite
// shares (gil, gil_priority, gil_legacy). It holds no policy: when a waiter
// may take the lock, when a holder must give it up and who is woken are each
// GIL's own, in its own file. What is here is what they all mean by "the
// lock was taken / released": the `locked_` flag under `mutex_`, the holder
// and hand-off count CPython keeps (`last_holder`, `switch_number`), the
// suite's own statistics (CPython keeps none), and the acquisition trace the
// tests read.
//
// Every helper expects `mutex_` to be held by the caller; a GIL that guards
// `last_holder_` with a second mutex as well (gil's forced switching) holds
// both around note_holder().
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <vector>

#include "strategies/strategy.hpp"

namespace gilbench {

// The counters of every GIL (GilCore::add_core_stats).
inline constexpr Metric kGilAcquisitions{"gil_acquisitions", "count", Better::kNeither, "GIL acquisitions in one run"};
inline constexpr Metric kGilContended{"gil_contended", "count", Better::kLower, "acquisitions that had to wait"};
inline constexpr Metric kGilSwitches{"gil_switches", "count", Better::kNeither,
                                     "hand-offs of the GIL to a different worker"};
inline constexpr Metric kGilWaitNs{"gil_wait_ns", "ns", Better::kLower, "total time workers waited for the GIL"};
inline constexpr Metric kGilWaitFrac{"gil_wait_frac", "fraction", Better::kLower,
                                     "time waiting for the GIL / (workers x wall time)", /*per_worker_time=*/true};
// Posted by gil and gil_priority; gil_legacy reports them as 0 so the
// charts compare the variants.
inline constexpr Metric kGilDropRequests{"gil_drop_requests", "count", Better::kNeither,
                                         "drop requests posted after a full switch interval without a hand-off"};
inline constexpr Metric kGilForcedSwitches{
    "gil_forced_switches", "count", Better::kNeither,
    "releases forced by a drop request that waited for another worker to take the GIL"};

class GilCore {
 public:
  // One acquisition, as seen by the optional trace (tests only).
  struct TraceEvent {
    int taker;              // who took the lock
    int dropper;            // who released it last (-1: nobody yet)
    bool after_forced_drop; // the release was forced by a drop request
  };

  // Test support: record every acquisition. Call before any worker starts.
  void enable_trace() { trace_enabled_ = true; }
  std::vector<TraceEvent> trace() const;

 protected:
  GilCore() = default;
  GilCore(const GilCore&) = delete;
  GilCore& operator=(const GilCore&) = delete;

  // Broken invariants (a release by a worker that does not hold the lock)
  // abort with a message, as CPython's Py_FatalError does.
  [[noreturn]] static void fatal(const char* what);

  // Counts one contended acquisition and the time it waited; lives for the
  // wait, with mutex_ held at construction and destruction.
  class WaitClock {
   public:
    explicit WaitClock(GilCore& gil) : gil_(gil), start_(std::chrono::steady_clock::now()) {
      ++gil_.contended_;
    }
    ~WaitClock() {
      gil_.wait_ns_ += static_cast<std::uint64_t>(
          std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now() - start_)
              .count());
    }
    WaitClock(const WaitClock&) = delete;
    WaitClock& operator=(const WaitClock&) = delete;

   private:
    GilCore& gil_;
    std::chrono::steady_clock::time_point start_;
  };

  // `who` now holds the lock: a hand-off to a different worker bumps
  // switch_number_ (CPython's definition of a switch).
  void note_holder(int who) noexcept {
    if (last_holder_ != who) {
      last_holder_ = who;
      ++switch_number_;
    }
  }
  // The acquisition is complete: count it and trace it.
  void note_acquired(int who) {
    ++acquisitions_;
    if (trace_enabled_) trace_.push_back({who, last_dropper_, last_drop_forced_});
  }
  // `who` releases the lock; aborts if it does not hold it.
  void note_release(int who, bool forced) noexcept {
    if (!locked_) fatal("drop: the GIL is not locked");
    if (last_holder_ != who) fatal("drop: the GIL is held by another worker");
    locked_ = false;
    last_dropper_ = who;
    last_drop_forced_ = forced;
  }
  // gil_acquisitions, gil_contended, gil_switches, gil_wait_ns, gil_wait_frac.
  void add_core_stats(RuntimeStats& s) const;
  static constexpr const Metric* kCoreMetrics[] = {&kGilAcquisitions, &kGilContended, &kGilSwitches,
                                                   &kGilWaitNs, &kGilWaitFrac};

  mutable std::mutex mutex_;      // guards everything below
  std::condition_variable cond_;  // waiters for the lock
  bool locked_ = false;
  // The worker that holds the lock or held it last (CPython's last_holder),
  // and the number of hand-offs to a different worker (switch_number). gil
  // writes them with its switch_mutex_ held too, so its forced-switch path
  // may read them under that mutex alone.
  int last_holder_ = -1;
  std::uint64_t switch_number_ = 0;
  int last_dropper_ = -1;
  bool last_drop_forced_ = false;
  std::uint64_t acquisitions_ = 0;
  std::uint64_t contended_ = 0;  // acquisitions that had to wait
  std::uint64_t wait_ns_ = 0;    // time spent waiting for the lock
  bool trace_enabled_ = false;
  std::vector<TraceEvent> trace_;
};

}  // namespace gilbench
