// Notes on gil_priority: the new GIL plus the I/O priority proposed for the
// convoy effect, bpo-7946 (Beazley's patch, Feb 2010; never merged).
//
// Protocol. Everything of gil (timed waits, drop requests, forced
// switching: the steps are GilState's), plus one bit per worker:
// `io_bound`. A worker starts IO-bound, as threads did in Beazley's patch;
// entering a blocking call (a voluntary release) sets it again; a release
// forced by a drop request clears it. So a new thread preempts a CPU-bound
// holder at once, and a CPU-bound thread is one that has been forced off. A worker that wants the lock:
//   - IO-bound, holder CPU-bound: posts the drop request at once instead of
//     waiting out the switch interval; the holder gives the lock up at its
//     next checkpoint (forced, so it is CPU-bound from then on);
//   - IO-bound, holder IO-bound: waits as in gil (the holder will block soon);
//   - CPU-bound: as in gil, but may not take a free lock while an IO-bound
//     worker waits for it.
// A release wakes an IO-bound waiter if there is one (on `io_cond_`), else
// one CPU-bound waiter (on `cond_`). So a thread coming back from I/O runs
// within one checkpoint of a CPU-bound holder instead of one interval: the
// convoy's 2 x 5 ms per round trip becomes 2 hand-offs.
//
//   waiter \ holder      CPU-bound                 | IO-bound     | none
//   IO-bound             request now, wait          | timed wait   | take
//   CPU-bound            timed wait                 | timed wait   | take unless an
//                                                   |              | IO-bound one waits
//
// Hot path: checkpoint() is gil's (one relaxed load); the priority costs
// only in take and drop.
//
// Simplifications: priority is one bit, not the BFS-style scheduler Nir Aides proposed later
// in the same issue; IO-bound waiters are served in the OS's order.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <string_view>

#include "strategies/gil.hpp"
#include "strategies/serial.hpp"
#include "strategies/strategy.hpp"

namespace gilbench {

// Protected inheritance: the steps of GilState are reused, but its
// attach/release/... (which know nothing of priority) are not callable on a
// GilPriorityState.
inline constexpr Metric kGilPriorityRequests{
    "gil_priority_requests", "count", Better::kNeither,
    "gil_priority: drop requests posted at once by a worker back from a blocking call"};
inline constexpr Metric kGilPriorityHandoffs{
    "gil_priority_handoffs", "count", Better::kNeither,
    "gil_priority: waits for the GIL won by an IO-bound worker (ahead of CPU-bound ones)"};

class GilPriorityState : protected GilState {
 public:
  struct Worker : GilState::Worker {
    using GilState::Worker::Worker;
    // Started, or came back from a blocking call, and has not been forced
    // off since. Written and read only by this worker's own thread.
    bool io_bound = true;
  };

  explicit GilPriorityState(const RunConfig& config) : GilState(config) {}

  void attach(Worker& w) { take(w); }
  void detach(Worker& w) { drop(w, /*final_release=*/true); }
  void release(Worker& w) {
    drop(w, /*final_release=*/false);
    w.io_bound = true;  // a voluntary release: this worker does I/O
  }
  void reacquire(Worker& w) { take(w); }

  void checkpoint(Worker& w) noexcept {
    // Relaxed: as in gil, a hint to enter the slow path.
    if (drop_request_.load(std::memory_order_relaxed)) [[unlikely]] yield(w);
  }

  RuntimeStats stats() const;
  static constexpr const Metric* kMetrics[] = {
      &kGilAcquisitions,   &kGilContended,        &kGilSwitches,        &kGilWaitNs, &kGilWaitFrac, &kGilDropRequests,
      &kGilForcedSwitches, &kGilPriorityRequests, &kGilPriorityHandoffs};

  using GilCore::enable_trace;
  using GilCore::trace;
  using GilCore::TraceEvent;
  using GilState::drop_requests;
  using GilState::forced_switches;

 private:
  void take(Worker& w);
  void drop(Worker& w, bool final_release);
  void yield(Worker& w);
  bool must_wait(bool io_bound) const noexcept { return locked_ || (!io_bound && io_waiting_ > 0); }

  // All guarded by mutex_.
  std::condition_variable io_cond_;  // IO-bound waiters
  int io_waiting_ = 0;               // IO-bound workers waiting for the lock
  bool holder_io_bound_ = false;     // the holder took the lock IO-bound
  std::uint64_t priority_requests_ = 0;  // drop requests posted without waiting
  std::uint64_t priority_handoffs_ = 0;  // waits won by an IO-bound worker
};

struct GilPriority : PlainCount {
  static constexpr CostModel kCost{.blocking_mutex = 2, .one_at_a_time = true};  // as gil
  static constexpr std::string_view kName = "gil_priority";
  static constexpr bool kThreaded = true;
  static constexpr bool kUsesSwitchInterval = true;  // one run per --switch-interval
  using Runtime = GilPriorityState;
};

static_assert(Strategy<GilPriority>);

}  // namespace gilbench
