#include "strategies/gil.hpp"

#include <chrono>
#include <cstdio>
#include <cstdlib>

namespace gilbench {

namespace {
[[noreturn]] void fatal(const char* what) {
  std::fprintf(stderr, "gilbench: fatal GIL error: %s\n", what);
  std::abort();
}
}  // namespace

GilState::GilState(const RunConfig& config)
    : interval_(config.switch_interval < std::chrono::nanoseconds(1000)
                    ? std::chrono::nanoseconds(1000)  // CPython's floor: 1 us
                    : config.switch_interval) {}

// take_gil
void GilState::take(int who) {
  std::unique_lock lock(mutex_);
  if (locked_) {
    const auto start = std::chrono::steady_clock::now();
    ++contended_;
    while (locked_) {
      const std::uint64_t saved_switch_number = switch_number_;
      const bool timed_out = cond_.wait_for(lock, interval_) == std::cv_status::timeout;
      // Ask only if a whole interval passed and nobody got the lock in it;
      // a waiter that saw a hand-off starts a fresh interval instead.
      if (timed_out && locked_ && switch_number_ == saved_switch_number) {
        drop_request_.store(true, std::memory_order_relaxed);
        ++drop_requests_;
      }
    }
    wait_ns_ += static_cast<std::uint64_t>(
        std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now() - start)
            .count());
  }
  {
    std::lock_guard switch_lock(switch_mutex_);
    locked_ = true;
    if (last_holder_ != who) {
      last_holder_ = who;
      ++switch_number_;
    }
    switch_cond_.notify_all();  // the forced dropper may go on
  }
  // A request posted against the previous holder is void now.
  drop_request_.store(false, std::memory_order_relaxed);
  ++acquisitions_;
  if (trace_enabled_) trace_.push_back({who, last_dropper_, last_drop_forced_});
}

// drop_gil
void GilState::drop(int who, bool final_release) {
  bool forced = false;
  {
    std::lock_guard lock(mutex_);
    if (!locked_) fatal("drop: the GIL is not locked");
    if (last_holder_ != who) fatal("drop: the GIL is held by another worker");
    forced = !final_release && drop_request_.load(std::memory_order_relaxed);
    locked_ = false;
    last_dropper_ = who;
    last_drop_forced_ = forced;
    cond_.notify_one();  // wakes one waiter; which one is the OS's choice
  }
  if (forced) {
    // Forced switching: do not come back before someone else had the lock.
    std::unique_lock switch_lock(switch_mutex_);
    if (last_holder_ == who) {
      drop_request_.store(false, std::memory_order_relaxed);
      switch_cond_.wait(switch_lock, [&] { return last_holder_ != who; });
    }
    ++forced_switches_;  // another worker has it now, whether we waited or not
  }
}

void GilState::yield(int who) {
  drop(who, /*final_release=*/false);
  take(who);
}

RuntimeStats GilState::stats() const {
  RuntimeStats s;
  std::scoped_lock lock(mutex_, switch_mutex_);
  s.add("gil_acquisitions", static_cast<double>(acquisitions_));
  s.add("gil_contended", static_cast<double>(contended_));
  s.add("gil_drop_requests", static_cast<double>(drop_requests_));
  s.add("gil_switches", static_cast<double>(switch_number_));
  s.add("gil_forced_switches", static_cast<double>(forced_switches_));
  s.add("gil_wait_ns", static_cast<double>(wait_ns_));
  return s;
}

std::vector<GilState::TraceEvent> GilState::trace() const {
  std::lock_guard lock(mutex_);
  return trace_;
}

std::uint64_t GilState::drop_requests() const {
  std::lock_guard lock(mutex_);
  return drop_requests_;
}

std::uint64_t GilState::forced_switches() const {
  std::lock_guard lock(switch_mutex_);
  return forced_switches_;
}

}  // namespace gilbench
