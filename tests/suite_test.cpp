// The benchmark bodies' failure paths (bench/suite.hpp): a repetition that
// fails before its timed loop fails that benchmark only, and a worker pool
// that cannot start its threads is an error, not std::terminate().
#include <pwd.h>
#include <sys/resource.h>
#include <unistd.h>

#include <atomic>
#include <memory>
#include <string>
#include <system_error>
#include <vector>

#include <benchmark/benchmark.h>
#include <gtest/gtest.h>

#include "runners/threads.hpp"
#include "gb_compat.hpp"
#include "row.hpp"

namespace gilbench {
namespace {

// Records what Google Benchmark reports, printing nothing.
class Recorder : public benchmark::BenchmarkReporter {
 public:
  bool ReportContext(const Context&) override { return true; }
  void ReportRuns(const std::vector<Run>& runs) override {
    for (const auto& r : runs) {
      if (r.run_type != Run::RT_Iteration) continue;
      (run_failed(r) ? failed : passed) += 1;
    }
  }
  int passed = 0;
  int failed = 0;
};

// A body whose repetitions pass or fail, in order, as `plan` says: 'b'
// fails before its loop, 'i' inside it, 'p' passes. gilbench_way: fail as
// the suite does (fail_run, skip_before_loop), else with Google Benchmark
// alone.
void planned(benchmark::State& state, const std::string& plan, std::atomic<int>& calls,
             bool gilbench_way) {
  const char step = plan[static_cast<std::size_t>(calls.fetch_add(1)) % plan.size()];
  if (step == 'b') {
    if (gilbench_way) {
      skip_before_loop(state, "failed before the loop");
    } else {
      state.SkipWithError("failed before the loop");
    }
    return;
  }
  for (auto _ : state) {
    if (step == 'i') {
      if (gilbench_way) {
        fail_run(state, "failed in the loop");
      } else {
        state.SkipWithError("failed in the loop");
      }
      break;
    }
    state.SetIterationTime(1e-3);
  }
}

// Runs `plan` as one benchmark of plan.size() repetitions, registered as
// gilbench registers (register_run) or directly.
Recorder run_plan(const std::string& plan, bool gilbench_way) {
  static int serial = 0;
  const std::string name = "suite_test_" + std::to_string(++serial);
  auto calls = std::make_shared<std::atomic<int>>(0);
  auto body = [plan, calls, gilbench_way](benchmark::State& s) { planned(s, plan, *calls, gilbench_way); };
  if (gilbench_way) {

    register_benchmark(RunSpec{name, "test", "threads", 1, {}}, body);
  } else {
    benchmark::RegisterBenchmark(name.c_str(), body)->UseManualTime()->Iterations(1);
  }
  std::string arg0 = "suite_test";
  std::string arg1 = "--benchmark_repetitions=" + std::to_string(plan.size());
  char* argv[] = {arg0.data(), arg1.data(), nullptr};
  int argc = 2;
  benchmark::Initialize(&argc, argv);
  Recorder recorder;
  benchmark::RunSpecifiedBenchmarks(&recorder, "^" + name + "/");  // (decorated names)
  return recorder;
}

// A repetition that fails (before its loop or in it) fails its benchmark:
// it and every later repetition are reported failed, the earlier ones
// passed, and the process goes on (nothing aborts).
TEST(SuiteBody, AFailedRepetitionFailsItsBenchmarkAndNothingElse) {
  for (const std::string plan : {"bpppp", "ippp", "ppbpp", "ppipp", "pbp", "bbbbb", "ppppi"}) {
    SCOPED_TRACE(plan);
    const Recorder r = run_plan(plan, true);
    const auto first_fail = static_cast<int>(plan.find_first_of("bi"));
    EXPECT_EQ(r.passed, first_fail);
    EXPECT_EQ(r.failed, static_cast<int>(plan.size()) - first_fail);
  }
}

// What register_run and skip_before_loop prevent, shown on Google Benchmark
// itself: a repetition whose loop never started beside one whose loop did
// aborts the process (ComputeStats: run_iterations == run.iterations), and
// a first repetition that failed before passing ones crashes it (the failed
// run has no statistics list).
TEST(SuiteBodyDeathTest, GoogleBenchmarkAloneLosesTheWholeRun) {
  // Debian's 1.7.1, built without NDEBUG, checks and dies; a release build
  // of 1.9 compiles the check out (and guards its statistics).
  if (GILBENCH_GB_SKIPPED_API) GTEST_SKIP() << "shown on Google Benchmark 1.7.1";
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_DEATH((void)run_plan("pbp", false), "run_iterations");
  EXPECT_DEATH((void)run_plan("ippp", false), "");
}

// RLIMIT_NPROC caps the threads of one user; root is exempt from it, so the
// child drops to an unprivileged user first.
bool limit_threads_to(rlim_t n) {
  if (::geteuid() == 0) {
    const passwd* nobody = ::getpwnam("nobody");
    if (!nobody || ::setgid(nobody->pw_gid) != 0 || ::setuid(nobody->pw_uid) != 0) return false;
  }
  const rlimit r{n, n};
  return ::setrlimit(RLIMIT_NPROC, &r) == 0;
}

TEST(SuiteBodyDeathTest, AWorkerPoolThatCannotStartItsThreadsThrowsAndJoinsTheOthers) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_EXIT(
      {
        // A few threads start (this process counts too), then one cannot.
        if (!limit_threads_to(4)) std::_Exit(3);
        try {
          WorkerPool pool(64);
        } catch (const std::system_error& e) {
          const std::string what = e.what();
          std::_Exit(what.find("cannot start worker thread ") != std::string::npos &&
                             what.find(" of 64") != std::string::npos &&
                             what.find("Resource temporarily unavailable") != std::string::npos
                         ? 0
                         : 4);
        }
        std::_Exit(5);
      },
      ::testing::ExitedWithCode(0), "");
}

}  // namespace
}  // namespace gilbench
