// The process runner: every workload reproduces the serial checksum at 1, 2
// and 4 worker processes, and every fault, provoked for real, ends in a clear
// error naming the worker, its pid and how it ended, with no child process
// left behind (checked in /proc). The workers are the gilbench binary
// (GILBENCH_EXE), since this test binary has no worker mode.
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <functional>
#include <iterator>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "hooks.hpp"
#include "runners/process_protocol.hpp"
#include "runners/processes.hpp"
#include "test_support.hpp"
#include "workloads/all.hpp"

namespace gilbench {
namespace {

using ::testing::HasSubstr;
using ::testing::IsEmpty;
using namespace std::chrono_literals;

// The workers are gilbench's; the test hooks travel as worker arguments.
ProcessOptions options(std::string misbehave = "", std::chrono::nanoseconds timeout = 120s, int inject_split = 0) {
  ProcessOptions o;
  o.executable = GILBENCH_EXE;
  o.timeout = timeout;
  o.startup_timeout = 120s;  // a sanitizer build on a loaded machine starts slowly
  o.worker_args = Hooks{inject_split, false, std::move(misbehave)}.worker_args();
  return o;
}

template <Workload W>
RunResult run_processes(ProcessPool& pool, const typename W::Params& params) {
  return process_run_result(pool.run(W::kName, nlohmann::json(params)), pool);
}

bool exists(pid_t pid) { return ::kill(pid, 0) == 0 || errno != ESRCH; }

// ---- checksums ---------------------------------------------------------------

class ProcessChecksum : public ::testing::Test {
 public:
  explicit ProcessChecksum(std::function<void()> body) : body_(std::move(body)) {}
  void TestBody() override { body_(); }

 private:
  std::function<void()> body_;
};

template <Workload W>
void check_workload() {
  const auto params = W::params(Scale::kTiny);
  const Tally expected = serial_tally<W>(params);
  for (int workers : {1, 2, 4}) {
    SCOPED_TRACE("workers:" + std::to_string(workers));
    ProcessPool pool(workers, options());
    ASSERT_EQ(pool.size(), workers);
    ASSERT_EQ(pool.startup_seconds().size(), static_cast<std::size_t>(workers));
    for (double s : pool.startup_seconds()) EXPECT_GT(s, 0);
    for (int round = 0; round < 2; ++round) {  // the pool is reused
      const RunResult r = run_processes<W>(pool, params);
      EXPECT_EQ(r.tally, expected);
      EXPECT_EQ(r.tally.checksum(), expected.checksum());
      EXPECT_EQ(r.allocs.live(), 0) << "allocated " << r.allocs.allocated << ", freed " << r.allocs.freed;
      EXPECT_GT(r.allocs.allocated, 0);
      EXPECT_GT(r.stats.value(kIpcBytes), 0);
      EXPECT_GT(r.stats.value(kRssPeakKb), 0);
      EXPECT_GE(r.stats.value(kRssTotalKb), r.stats.value(kRssPeakKb));
      EXPECT_GE(r.stats.value(kIpcFrac, -1), 0);
      EXPECT_LE(r.stats.value(kIpcFrac), 1);
    }
    pool.shutdown();
  }
  EXPECT_THAT(test::child_pids(), IsEmpty());
}

const bool registered = [] {
  for_each_type(AllWorkloads{}, []<Workload W> {
    if constexpr (requires { W::kThreadsOnly; }) return;  // no process rows (transfer)
    ::testing::RegisterTest("ProcessChecksum", std::string(W::kName).c_str(), nullptr, nullptr, __FILE__,
                            __LINE__, []() -> ::testing::Test* { return new ProcessChecksum(check_workload<W>); });
  });
  return true;
}();

TEST(ProcessRunner, InjectionRedoesWorkButKeepsTheChecksum) {
  const auto params = Countdown::params(Scale::kTiny);
  ProcessPool plain_pool(2, options());
  ProcessPool injected_pool(2, options("", 120s, 2));
  const RunResult plain = run_processes<Countdown>(plain_pool, params);
  const RunResult injected = run_processes<Countdown>(injected_pool, params);
  EXPECT_EQ(plain.tally, serial_tally<Countdown>(params));
  EXPECT_EQ(injected.tally, serial_tally<Countdown>(params));
  EXPECT_EQ(injected.allocs.live(), 0);
  EXPECT_GT(injected.allocs.allocated, plain.allocs.allocated);
  plain_pool.shutdown();  // every worker exits with status 0 (a sanitizer report would not)
  injected_pool.shutdown();
}

TEST(ProcessRunner, SharedDictMergesThePartialDicts) {
  const auto params = SharedDict::params(Scale::kTiny);
  ProcessPool pool(2, options());
  const ProcessRun run = pool.run(SharedDict::kName, nlohmann::json(params));
  EXPECT_EQ(run.tally, serial_tally<SharedDict>(params));
  ASSERT_EQ(run.workers.size(), 2u);
  for (const WorkerReport& w : run.workers) {
    EXPECT_GT(w.state_bytes, 0) << "each worker builds its own words and dict";
    EXPECT_EQ(w.allocs.live(), 0);
  }
  EXPECT_GT(run.ipc_bytes, 0u);
  pool.shutdown();
}

TEST(ProcessRunner, DestroyingThePoolReapsEveryWorker) {
  std::vector<pid_t> pids;
  {
    ProcessPool pool(4, options());
    pids = pool.pids();
    EXPECT_EQ(test::child_pids().size(), 4u);
  }
  EXPECT_THAT(test::child_pids(), IsEmpty());
  for (pid_t p : pids) EXPECT_FALSE(exists(p)) << p;
}

// ---- faults ----------------------------------------------------------------

// Runs countdown on a 2-worker pool whose worker 1 misbehaves; returns the error.
std::string fault_of(const std::string& misbehave, std::chrono::nanoseconds timeout, std::vector<pid_t>& pids) {
  ProcessPool pool(2, options(misbehave, timeout));
  pids = pool.pids();
  try {
    (void)run_processes<Countdown>(pool, Countdown::params(Scale::kTiny));
  } catch (const ProcessError& e) {
    return e.what();
  }
  return "(no error)";
}

void expect_all_gone(const std::vector<pid_t>& pids) {
  EXPECT_THAT(test::child_pids(), IsEmpty());
  for (pid_t p : pids) EXPECT_FALSE(exists(p)) << "pid " << p << " still exists";
}

TEST(ProcessFault, WorkerKilledBySignalMidRun) {
  std::vector<pid_t> pids;
  const std::string e = fault_of("crash", 120s, pids);
  ASSERT_EQ(pids.size(), 2u);
  EXPECT_THAT(e, HasSubstr("worker 1 (pid " + std::to_string(pids[1]) + ") ended in the run phase"));
  EXPECT_THAT(e, HasSubstr("killed by signal 9 (SIGKILL)"));
  expect_all_gone(pids);
}

TEST(ProcessFault, WorkerExitsNonZero) {
  std::vector<pid_t> pids;
  const std::string e = fault_of("exit", 120s, pids);
  EXPECT_THAT(e, HasSubstr("worker 1 (pid " + std::to_string(pids[1]) + ") ended in the run phase"));
  EXPECT_THAT(e, HasSubstr("exited with status " + std::to_string(kMisbehaveExitStatus)));
  expect_all_gone(pids);
}

TEST(ProcessFault, WorkerWritesGarbage) {
  std::vector<pid_t> pids;
  const std::string e = fault_of("garbage", 120s, pids);
  EXPECT_THAT(e, HasSubstr("worker 1 (pid " + std::to_string(pids[1]) + ") sent garbage in the run phase"));
  EXPECT_THAT(e, HasSubstr("bad frame header"));
  EXPECT_THAT(e, HasSubstr("killed it (SIGKILL)"));  // it was still running, reading
  expect_all_gone(pids);
}

TEST(ProcessFault, WorkerStopsAnswering) {
  std::vector<pid_t> pids;
  const std::string e = fault_of("hang", 1s, pids);
  EXPECT_THAT(e, HasSubstr("worker 1 (pid " + std::to_string(pids[1]) +
                           ") did not answer within 1s in the run phase; killed it (SIGKILL)"));
  expect_all_gone(pids);
}

TEST(ProcessFault, WorkerKilledFromOutside) {
  ProcessPool pool(2, options());
  const std::vector<pid_t> pids = pool.pids();
  const auto params = ListSum::params(Scale::kTiny);
  EXPECT_EQ(run_processes<ListSum>(pool, params).tally, serial_tally<ListSum>(params));
  ASSERT_EQ(::kill(pids[0], SIGTERM), 0);
  try {
    (void)run_processes<ListSum>(pool, params);
    FAIL() << "a run with a dead worker succeeded";
  } catch (const ProcessError& e) {
    EXPECT_THAT(e.what(), HasSubstr("worker 0 (pid " + std::to_string(pids[0]) + ") ended in the prepare phase"));
    EXPECT_THAT(e.what(), HasSubstr("killed by signal 15 (SIGTERM)"));
  }
  expect_all_gone(pids);
  EXPECT_THROW((void)run_processes<ListSum>(pool, params), ProcessError) << "the pool is gone";
}

TEST(ProcessFault, WorkerReportsAnError) {
  ProcessPool pool(1, options());
  const pid_t pid = pool.pids().at(0);
  try {
    (void)pool.run("no_such_workload", nlohmann::json::object());
    FAIL() << "an unknown workload ran";
  } catch (const ProcessError& e) {
    EXPECT_THAT(e.what(), HasSubstr("worker 0 (pid " + std::to_string(pid) +
                                    ") failed in the prepare phase: unknown workload 'no_such_workload'"));
    EXPECT_THAT(e.what(), HasSubstr("exited with status 1"));
  }
  expect_all_gone({pid});
}

TEST(ProcessFault, LeakIsNamedAndThePoolSurvives) {
  ProcessPool pool(2, options("leak"));
  const std::vector<pid_t> pids = pool.pids();
  try {
    (void)run_processes<Countdown>(pool, Countdown::params(Scale::kTiny));
    FAIL() << "a leak went unnoticed";
  } catch (const std::runtime_error& e) {
    EXPECT_THAT(e.what(), HasSubstr("worker 1 (pid " + std::to_string(pids[1]) + "): 1 objects leaked"));
  }
  pool.shutdown();  // the leaked object is freed at exit: status 0
  expect_all_gone(pids);
}

TEST(ProcessFault, MissingExecutable) {
  ProcessOptions o = options();
  o.executable = "/nonexistent/gilbench";
  try {
    ProcessPool pool(2, o);
    FAIL() << "a pool started without its binary";
  } catch (const ProcessError& e) {
    EXPECT_THAT(e.what(), HasSubstr("cannot start worker 0 (/nonexistent/gilbench)"));
  }
  EXPECT_THAT(test::child_pids(), IsEmpty());
}

TEST(ProcessFault, AFreshPoolWorksAfterAFault) {
  std::vector<pid_t> pids;
  (void)fault_of("crash", 120s, pids);
  ProcessPool pool(2, options());
  const auto params = BinaryTrees::params(Scale::kTiny);
  EXPECT_EQ(run_processes<BinaryTrees>(pool, params).tally, serial_tally<BinaryTrees>(params));
  pool.shutdown();
}

// ---- wire format -------------------------------------------------------------

TEST(ProcessWire, FramesSurviveAnyChunking) {
  const std::string a = wire::encode({{"op", "a"}, {"n", 1}});
  const std::string b = wire::encode({{"op", "b"}, {"s", std::string(100000, 'x')}});
  const std::string stream = a + b;
  for (std::size_t chunk : {std::size_t{1}, std::size_t{3}, std::size_t{4096}, stream.size()}) {
    wire::FrameReader r;
    std::vector<std::string> got;
    for (std::size_t i = 0; i < stream.size(); i += chunk) {
      r.feed(stream.data() + i, std::min(chunk, stream.size() - i));
      while (auto p = r.next()) got.push_back(*p);
    }
    ASSERT_EQ(got.size(), 2u) << "chunk " << chunk;
    EXPECT_EQ(nlohmann::json::parse(got[0])["op"], "a");
    EXPECT_EQ(nlohmann::json::parse(got[1])["s"].get<std::string>().size(), 100000u);
    EXPECT_EQ(r.pending(), 0u);
  }
}

TEST(ProcessWire, GarbageIsSeenAtItsFirstByte) {
  wire::FrameReader r;
  r.feed("x", 1);
  EXPECT_THROW(r.next(), wire::FrameError);
  wire::FrameReader huge;
  std::string header = "GBF1";
  header += std::string("\xff\xff\xff\xff", 4);
  huge.feed(header.data(), header.size());
  try {
    huge.next();
    FAIL();
  } catch (const wire::FrameError& e) {
    EXPECT_THAT(e.what(), HasSubstr("exceeds the limit"));
  }
}

}  // namespace
}  // namespace gilbench
