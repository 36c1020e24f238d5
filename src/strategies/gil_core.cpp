#include "strategies/gil_core.hpp"

#include <cstdio>
#include <cstdlib>

namespace gilbench {

void GilCore::fatal(const char* what) {
  std::fprintf(stderr, "gilbench: fatal GIL error: %s\n", what);
  std::abort();
}

std::vector<GilCore::TraceEvent> GilCore::trace() const {
  std::lock_guard lock(mutex_);
  return trace_;
}

void GilCore::add_core_stats(RuntimeStats& s) const {
  s.add(kGilAcquisitions, static_cast<double>(acquisitions_));
  s.add(kGilContended, static_cast<double>(contended_));
  s.add(kGilSwitches, static_cast<double>(switch_number_));
  s.add(kGilWaitNs, static_cast<double>(wait_ns_));
  s.add(kGilWaitFrac, static_cast<double>(wait_ns_));
}

}  // namespace gilbench
