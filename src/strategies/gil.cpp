#include "strategies/gil.hpp"

#include <chrono>

namespace gilbench {

GilState::GilState(const RunConfig& config)
    : interval_(config.switch_interval < std::chrono::nanoseconds(1000)
                    ? std::chrono::nanoseconds(1000)  // CPython's floor: 1 us
                    : config.switch_interval) {}

// take_gil
void GilState::take(int who) {
  std::unique_lock lock(mutex_);
  if (locked_) {
    WaitClock clock(*this);
    while (locked_) wait_interval(lock, cond_);
  }
  finish_take(who);
}

void GilState::wait_interval(std::unique_lock<std::mutex>& lock, std::condition_variable& cond) {
  const std::uint64_t saved_switch_number = switch_number_;
  const bool timed_out = cond.wait_for(lock, interval_) == std::cv_status::timeout;
  // Ask only if a whole interval passed and nobody got the lock in it;
  // a waiter that saw a hand-off starts a fresh interval instead.
  if (timed_out && locked_ && switch_number_ == saved_switch_number) post_drop_request();
}

void GilState::finish_take(int who) {
  {
    std::lock_guard switch_lock(switch_mutex_);
    locked_ = true;
    note_holder(who);
    switch_cond_.notify_all();  // the forced dropper may go on
  }
  // A request posted against the previous holder is void now.
  drop_request_.store(false, std::memory_order_relaxed);
  note_acquired(who);
}

// drop_gil
void GilState::drop(int who, bool final_release) {
  bool forced = false;
  {
    std::lock_guard lock(mutex_);
    forced = release_locked(who, final_release);
    cond_.notify_one();  // wakes one waiter; which one is the OS's choice
  }
  if (forced) wait_for_switch(who);
}

bool GilState::release_locked(int who, bool final_release) noexcept {
  const bool forced = !final_release && drop_request_.load(std::memory_order_relaxed);
  note_release(who, forced);
  return forced;
}

void GilState::wait_for_switch(int who) {
  std::unique_lock switch_lock(switch_mutex_);
  if (last_holder_ == who) {
    drop_request_.store(false, std::memory_order_relaxed);
    switch_cond_.wait(switch_lock, [&] { return last_holder_ != who; });
  }
  ++forced_switches_;  // another worker has it now, whether we waited or not
}

void GilState::yield(int who) {
  drop(who, /*final_release=*/false);
  take(who);
}

RuntimeStats GilState::stats() const {
  RuntimeStats s;
  std::scoped_lock lock(mutex_, switch_mutex_);
  add_core_stats(s);
  s.add(kGilDropRequests, static_cast<double>(drop_requests_));
  s.add(kGilForcedSwitches, static_cast<double>(forced_switches_));
  return s;
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
