// What differs between the Google Benchmark versions gilbench builds with
// (1.7.1, Debian 12's, through 1.9.x): 1.8 replaced Run::error_occurred and
// error_message with skipped (an enum) and skip_message (CMakeLists.txt sets
// GILBENCH_GB_SKIPPED_API from the version it finds), and 1.9 moved the
// benchmark class from benchmark::internal::Benchmark to benchmark::Benchmark,
// keeping the old name as a deprecated alias (an error under -Werror). The
// class is named here through what RegisterBenchmark returns, which is right
// in every version without testing one.
#pragma once

#include <string>
#include <type_traits>

#include <benchmark/benchmark.h>

#ifndef GILBENCH_GB_SKIPPED_API
#define GILBENCH_GB_SKIPPED_API 0
#endif

namespace gilbench {

// A registered benchmark (benchmark::internal::Benchmark* before 1.9,
// benchmark::Benchmark* from 1.9 on).
using GbBenchmark = std::remove_pointer_t<decltype(benchmark::RegisterBenchmark("", [](benchmark::State&) {}))>;

// The repetition failed (SkipWithError).
inline bool run_failed(const benchmark::BenchmarkReporter::Run& r) {
#if GILBENCH_GB_SKIPPED_API
  return r.skipped == benchmark::internal::SkippedWithError;
#else
  return r.error_occurred;
#endif
}

inline const std::string& run_message(const benchmark::BenchmarkReporter::Run& r) {
#if GILBENCH_GB_SKIPPED_API
  return r.skip_message;
#else
  return r.error_message;
#endif
}

}  // namespace gilbench
