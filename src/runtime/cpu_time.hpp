// CPU time of the calling thread and process, in seconds: what cpu_time of a
// result row is made of (each worker's CPU time, summed).
#pragma once

#include <time.h>

namespace gilbench {

inline double cpu_clock_seconds(clockid_t clock) noexcept {
  timespec ts{};
  ::clock_gettime(clock, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}
inline double thread_cpu_seconds() noexcept { return cpu_clock_seconds(CLOCK_THREAD_CPUTIME_ID); }
inline double process_cpu_seconds() noexcept { return cpu_clock_seconds(CLOCK_PROCESS_CPUTIME_ID); }

}  // namespace gilbench
