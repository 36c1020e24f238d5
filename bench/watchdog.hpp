// RunWatchdog: no run hangs the suite. A repetition whose threads deadlock
// (or a worker thread that never returns) would block Google Benchmark's
// thread forever, and threads cannot be stopped from outside. The benchmark
// thread marks each repetition's start and end (begin/end, around the row's
// body); a watchdog thread checks every 50 ms, and when one repetition has
// run longer than the timeout (--run-timeout, default 5 minutes) it calls
// on_hang(name, elapsed) once, holding the lock that end() takes, so the
// benchmark thread cannot go on (and touch what on_hang reads) meanwhile.
// on_hang is expected to write what has been measured and end the process
// (gilbench: the result file with the row marked failed, exit 1).
//
// The process runner has its own per-answer timeout (--worker-timeout) and
// kills its workers; this watchdog is the last resort for in-process rows.
#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <string>
#include <thread>

namespace gilbench {

class RunWatchdog {
 public:
  using OnHang = std::function<void(const std::string& name, std::chrono::nanoseconds elapsed)>;
  RunWatchdog(std::chrono::nanoseconds timeout, OnHang on_hang);
  ~RunWatchdog();  // stops the watch
  RunWatchdog(const RunWatchdog&) = delete;
  RunWatchdog& operator=(const RunWatchdog&) = delete;

  // The benchmark thread, around each repetition: what is running, and since
  // when (recorded whether or not a watchdog is watching).
  static void begin(const std::string& name);
  static void end();

 private:
  void watch();

  const std::chrono::nanoseconds timeout_;
  const OnHang on_hang_;
  bool stop_ = false;  // guarded by the global watch mutex
  std::condition_variable wake_;
  std::thread thread_;  // last: started once the members above are built
};

}  // namespace gilbench
