#include "strategies/gil_priority.hpp"

namespace gilbench {

// take_gil with I/O priority.
void GilPriorityState::take(Worker& w) {
  const bool io = w.io_bound;
  std::unique_lock lock(mutex_);
  if (must_wait(io)) {
    WaitClock clock(*this);
    if (io) ++io_waiting_;
    while (must_wait(io)) {
      // bpo-7946: do not wait out the interval of a CPU-bound holder. One
      // request is enough; the holder honours it at its next checkpoint.
      if (io && locked_ && !holder_io_bound_ && !drop_request_.load(std::memory_order_relaxed)) {
        post_drop_request();
        ++priority_requests_;
      }
      wait_interval(lock, io ? io_cond_ : cond_);
    }
    if (io) {
      --io_waiting_;
      ++priority_handoffs_;
    }
  }
  finish_take(w.id);
  holder_io_bound_ = io;
}

// drop_gil: an IO-bound waiter is woken first.
void GilPriorityState::drop(Worker& w, bool final_release) {
  bool forced = false;
  {
    std::lock_guard lock(mutex_);
    forced = release_locked(w.id, final_release);
    (io_waiting_ > 0 ? io_cond_ : cond_).notify_one();
  }
  if (forced) {
    w.io_bound = false;  // made to give the lock up: CPU-bound
    wait_for_switch(w.id);
  }
}

void GilPriorityState::yield(Worker& w) {
  drop(w, /*final_release=*/false);
  take(w);
}

RuntimeStats GilPriorityState::stats() const {
  RuntimeStats s = GilState::stats();
  std::lock_guard lock(mutex_);
  s.add(kGilPriorityRequests, static_cast<double>(priority_requests_));
  s.add(kGilPriorityHandoffs, static_cast<double>(priority_handoffs_));
  return s;
}

}  // namespace gilbench
