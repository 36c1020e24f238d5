#include "report/build_info.hpp"

#include <sched.h>
#include <sys/utsname.h>

#include <fstream>
#include <string>
#include <thread>

#include "git_rev.hpp"  // generated at build time

#ifndef GILBENCH_BENCHMARK_VERSION
#define GILBENCH_BENCHMARK_VERSION "unknown"
#endif

namespace gilbench {

const BuildInfo& build_info() {
  static const BuildInfo info{GILBENCH_GIT_REV,    GILBENCH_GIT_DATE,  GILBENCH_COMPILER,         GILBENCH_CXX_FLAGS,
                              GILBENCH_BUILD_TYPE, GILBENCH_SANITIZER, GILBENCH_BENCHMARK_VERSION};
  return info;
}

namespace {
std::string first_line(const char* path) {
  std::ifstream in(path);
  std::string line;
  std::getline(in, line);
  return line;
}

std::string cpu_model() {
  std::ifstream in("/proc/cpuinfo");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("model name", 0) == 0) {
      const auto colon = line.find(':');
      if (colon != std::string::npos) return line.substr(line.find_first_not_of(' ', colon + 1));
    }
  }
  return "unknown";
}
}  // namespace

MachineInfo machine_info() {
  MachineInfo m;
  cpu_set_t set;
  CPU_ZERO(&set);
  m.nproc = sched_getaffinity(0, sizeof(set), &set) == 0
                ? CPU_COUNT(&set)
                : static_cast<int>(std::thread::hardware_concurrency());
  m.cpu_model = cpu_model();
  utsname u{};
  m.kernel = uname(&u) == 0 ? u.release : "unknown";
  m.cpu_quota = first_line("/sys/fs/cgroup/cpu.max");
  if (m.cpu_quota.empty()) m.cpu_quota = "unknown";
  m.governor = first_line("/sys/devices/system/cpu/cpu0/cpufreq/scaling_governor");
  if (m.governor.empty()) m.governor = "unknown";
  return m;
}

std::vector<std::string> environment_warnings(int max_workers) {
  std::vector<std::string> w;
  const BuildInfo& b = build_info();
  if (b.build_type != "Release" && b.build_type != "RelWithDebInfo")
    w.push_back("gilbench was built as '" + b.build_type +
                "', not Release: times are not representative (cmake -DCMAKE_BUILD_TYPE=Release)");
  if (!b.sanitizer.empty())
    w.push_back("gilbench was built with the " + b.sanitizer +
                " sanitizer: times are not representative");
  const MachineInfo m = machine_info();
  if (max_workers > m.nproc)
    w.push_back("up to " + std::to_string(max_workers) + " workers on " + std::to_string(m.nproc) +
                " CPUs: runs beyond " + std::to_string(m.nproc) +
                " workers measure oversubscription, not parallelism");
  if (m.governor != "unknown" && m.governor != "performance")
    w.push_back("CPU frequency governor is '" + m.governor +
                "': frequency scaling adds noise (use 'performance')");
  return w;
}

}  // namespace gilbench
