#include "strategies/gil_legacy.hpp"

#include <algorithm>

namespace gilbench {

GilLegacyState::GilLegacyState(const RunConfig& config)
    : check_interval_(std::max(1, config.check_interval)) {}

// PyThread_acquire_lock(interpreter_lock, 1): sleep until the lock is free,
// with no timeout and no way to ask the holder for it.
void GilLegacyState::take(int who) {
  std::unique_lock lock(mutex_);
  if (locked_) {
    WaitClock clock(*this);
    do {
      cond_.wait(lock);
      if (locked_) ++futile_wakeups_;  // lost the race (or a spurious wake-up)
    } while (locked_);
  }
  locked_ = true;
  note_holder(who);
  note_acquired(who);
}

// PyThread_release_lock(interpreter_lock): never forced, never waits.
void GilLegacyState::drop(int who, bool at_check) {
  std::lock_guard lock(mutex_);
  note_release(who, /*forced=*/false);
  if (at_check) ++check_releases_;
  cond_.notify_one();
}

void GilLegacyState::check(Worker& w) {
  w.ticker = check_interval_;
  drop(w.id, /*at_check=*/true);
  // "Other threads may run now" (Python 2's ceval.c) -- but this thread is
  // already running and asks again at once.
  take(w.id);
}

RuntimeStats GilLegacyState::stats() const {
  RuntimeStats s;
  std::lock_guard lock(mutex_);
  add_core_stats(s);
  // This GIL has neither: reported as 0 so the charts compare the variants.
  s.add(kGilDropRequests, 0);
  s.add(kGilForcedSwitches, 0);
  s.add(kGilCheckReleases, static_cast<double>(check_releases_));
  s.add(kGilFutileWakeups, static_cast<double>(futile_wakeups_));
  return s;
}

}  // namespace gilbench
