#include "watchdog.hpp"

#include <utility>

namespace gilbench {

namespace {

using Clock = std::chrono::steady_clock;

// What the benchmark thread is running now, and since when.
struct Current {
  std::mutex mutex;
  bool running = false;
  std::string name;
  Clock::time_point since;
};

Current& current() {
  static Current c;
  return c;
}

}  // namespace

RunWatchdog::RunWatchdog(std::chrono::nanoseconds timeout, OnHang on_hang)
    : timeout_(timeout), on_hang_(std::move(on_hang)), thread_([this] { watch(); }) {}

RunWatchdog::~RunWatchdog() {
  {
    std::lock_guard lock(current().mutex);
    stop_ = true;
  }
  wake_.notify_all();
  thread_.join();
}

void RunWatchdog::begin(const std::string& name) {
  Current& c = current();
  std::lock_guard lock(c.mutex);
  c.running = true;
  c.name = name;
  c.since = Clock::now();
}

void RunWatchdog::end() {
  Current& c = current();
  std::lock_guard lock(c.mutex);
  c.running = false;
}

void RunWatchdog::watch() {
  Current& c = current();
  std::unique_lock lock(c.mutex);
  bool fired = false;
  while (!stop_) {
    wake_.wait_for(lock, std::chrono::milliseconds(50));
    if (stop_ || fired || !c.running) continue;
    const auto elapsed = Clock::now() - c.since;
    if (elapsed > timeout_) {
      fired = true;  // once: on_hang ends the process, or the run stays marked
      on_hang_(c.name, std::chrono::duration_cast<std::chrono::nanoseconds>(elapsed));
    }
  }
}

}  // namespace gilbench
