// The factories of the rows that no strategy instantiates: every workload
// under the process runner, convoy's K burner processes, and start-up; and
// every workload's expected tally.
#include <chrono>
#include <exception>
#include <system_error>
#include <thread>
#include <vector>

#include "bind.hpp"
#include "runners/processes.hpp"
#include "workloads/all.hpp"

namespace gilbench {

namespace {

// The pool's options: the suite's, plus the hooks as worker arguments.
ProcessOptions pool_options(const RowInputs& in) {
  ProcessOptions o = in.process;
  const std::vector<std::string> hooks = in.hooks.worker_args();
  o.worker_args.insert(o.worker_args.end(), hooks.begin(), hooks.end());
  return o;
}

// A workload under `process`: N worker processes running it by name.
class ProcessRunner final : public RowRunner {
 public:
  ProcessRunner(std::string workload, const RowInputs& in)
      : workload_(std::move(workload)), params_(in.params), pool_(in.config.workers, pool_options(in)) {}

  Outcome run() override {
    RunResult r = process_run_result(pool_.run(workload_, params_), pool_);
    return {r.seconds,    r.tally,  static_cast<double>(r.tally.items), pool_.size(),
            r.cpu_seconds, r.allocs, std::move(r.stats)};
  }
  void finish() override { pool_.shutdown(); }

 private:
  std::string workload_;
  nlohmann::json params_;
  ProcessPool pool_;
};

template <Workload W>
std::unique_ptr<RowRunner> make_process_runner(const RowInputs& in) {
  return std::make_unique<ProcessRunner>(std::string(W::kName), in);
}

// convoy under `process`: the IO worker here, K burner processes.
class ConvoyProcessRunner final : public RowRunner {
 public:
  explicit ConvoyProcessRunner(const RowInputs& in)
      : k_(in.config.workers),
        params_(in.params.get<Convoy::Params>()),
        exe_(in.process.executable),
        crash_(in.hooks.misbehave == "crash") {}

  Outcome run() override { return run_convoy_processes(k_, params_, exe_, crash_).outcome(k_ + 1); }

  static std::unique_ptr<RowRunner> make(const RowInputs& in) { return std::make_unique<ConvoyProcessRunner>(in); }

 private:
  int k_;
  Convoy::Params params_;
  std::string exe_;
  bool crash_;
};

// process_startup/process and /threads: spawn-to-exit of N workers, the mean
// of kStartupRounds rounds per repetition; startup_ms = spawn to first reply
// per worker. No checksum: checksum_ok = 1 says every worker started,
// answered and exited with status 0.
inline constexpr int kStartupRounds = 5;

// Spawn-to-exit of `workers` processes (one round). RETURNS: seconds; adds
// each worker's spawn-to-first-reply to startup_sum.
double process_startup_round(int workers, const ProcessOptions& options, double& startup_sum) {
  const auto start = std::chrono::steady_clock::now();
  ProcessPool pool(workers, options);
  pool.shutdown();
  const auto end = std::chrono::steady_clock::now();
  for (double s : pool.startup_seconds()) startup_sum += s;
  return std::chrono::duration<double>(end - start).count();
}

// The same for threads: creation to running is the thread's "first reply".
double thread_startup_round(int workers, double& startup_sum) {
  using Clock = std::chrono::steady_clock;
  std::vector<Clock::time_point> created(static_cast<std::size_t>(workers));
  std::vector<Clock::time_point> running(static_cast<std::size_t>(workers));
  std::vector<std::thread> threads;
  threads.reserve(static_cast<std::size_t>(workers));
  const auto start = Clock::now();
  for (int i = 0; i < workers; ++i) {
    created[static_cast<std::size_t>(i)] = Clock::now();
    try {
      threads.emplace_back([&running, i] { running[static_cast<std::size_t>(i)] = Clock::now(); });
    } catch (const std::system_error& e) {
      for (auto& t : threads) t.join();  // else their destructors would terminate()
      throw std::system_error(e.code(), "cannot start thread " + std::to_string(i) + " of " + std::to_string(workers));
    }
  }
  for (auto& t : threads) t.join();
  const auto end = Clock::now();
  for (int i = 0; i < workers; ++i)
    startup_sum += std::chrono::duration<double>(running[static_cast<std::size_t>(i)] -
                                                 created[static_cast<std::size_t>(i)])
                       .count();
  return std::chrono::duration<double>(end - start).count();
}

template <bool kProcesses>
class StartupRunner final : public RowRunner {
 public:
  explicit StartupRunner(const RowInputs& in) : workers_(in.config.workers), options_(pool_options(in)) {}

  Outcome run() override {
    double total = 0;
    double startup_sum = 0;
    for (int round = 0; round < kStartupRounds; ++round)
      total += kProcesses ? process_startup_round(workers_, options_, startup_sum)
                          : thread_startup_round(workers_, startup_sum);
    Outcome o;
    o.seconds = total / kStartupRounds;
    o.workers = workers_;
    o.stats.add(kStartupMs, startup_sum * 1e3 / (kStartupRounds * workers_));
    return o;
  }

  static std::unique_ptr<RowRunner> make(const RowInputs& in) { return std::make_unique<StartupRunner>(in); }

 private:
  int workers_;
  ProcessOptions options_;
};

Tally convoy_tally(const nlohmann::json& params) { return Convoy::expected_tally(params.get<Convoy::Params>()); }

}  // namespace

void bind_process(Binders& b) {
  const std::string process(kProcessName);
  for_each_type(AllWorkloads{}, [&]<Workload W> {
    b.expected[std::string(W::kName)] = &reference_tally<W>;
    // No process row for kThreadsOnly (transfer): its point is data shared by threads.
    if constexpr (!requires { W::kThreadsOnly; })
      b.cells[{std::string(W::kName), process}] = {&make_process_runner<W>, kProcessFault};
  });
  b.cells[{std::string(Convoy::kName), process}] = {&ConvoyProcessRunner::make, kThreadsFault};
  b.expected[std::string(Convoy::kName)] = &convoy_tally;
  b.cells[{std::string(kStartupWorkload), process}] = {&StartupRunner<true>::make, kProcessFault};
  b.cells[{std::string(kStartupWorkload), "threads"}] = {&StartupRunner<false>::make, kProcessFault};
  b.strategies[process] = {true, false, {}};
  b.strategies["threads"] = {true, false, {}};
}

}  // namespace gilbench
