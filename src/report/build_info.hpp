// Facts about this build and machine that travel with every result file.
#pragma once

#include <string>
#include <vector>

namespace gilbench {

struct BuildInfo {
  std::string git_revision;
  std::string git_commit_date;  // ISO 8601, of the commit built
  std::string compiler;
  std::string cxx_flags;
  std::string build_type;  // of gilbench's own code (Google Benchmark's
                           // library_build_type describes the library)
  std::string sanitizer;
  std::string benchmark_library;  // Google Benchmark version linked
};

const BuildInfo& build_info();

struct MachineInfo {
  int nproc = 0;            // hardware threads the process may use
  std::string cpu_model;    // /proc/cpuinfo "model name"
  std::string kernel;       // uname -r
  std::string cpu_quota;    // cgroup v2 cpu.max, "max" = none
  std::string governor;     // cpufreq governor of cpu0, or "unknown"
};

MachineInfo machine_info();

// Warnings about the environment (debug build, fewer cores than workers...):
// printed on stderr and recorded in the result file, never fatal.
std::vector<std::string> environment_warnings(int max_workers);

}  // namespace gilbench
