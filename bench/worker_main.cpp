// The worker side of the process runner: gilbench --worker. One worker
// process serves one pool; the conversation is in the Notes of
// src/runners/processes.hpp.
//
// The workload is found by name in AllWorkloads, so every workload added to
// that list runs under `process` with no change here. The work is done only
// through measured_run<Serial, Injected<W>> (the callgrind lane counts
// exactly that; bench/hooks.hpp). The test hooks arrive as arguments.
#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "worker_main.hpp"

#include "hooks.hpp"
#include "runners/process_protocol.hpp"
#include "runners/processes.hpp"
#include "runners/start_gate.hpp"
#include "runtime/cpu_time.hpp"
#include "runtime/blocking_io.hpp"
#include "runtime/object.hpp"
#include "strategies/serial.hpp"
#include "workloads/all.hpp"

namespace gilbench {

namespace {

using Clock = std::chrono::steady_clock;

struct WorkerArgs {
  int index = -1;
  pid_t parent = 0;
  std::string gate;  // the start gate's name (runners/start_gate.hpp)
  std::uint32_t bytecode_steps = 0;  // --bytecode-steps: RunConfig::bytecode_steps of the row
  Hooks hooks;  // test only
};

WorkerArgs parse_worker_args(const std::vector<std::string>& args) {
  WorkerArgs a;
  std::vector<std::string> hooks;
  for (const auto& arg : args) {
    const auto eq = arg.find('=');
    const std::string name = arg.substr(0, eq);
    const std::string value = eq == std::string::npos ? "" : arg.substr(eq + 1);
    if (name == "--index") {
      a.index = std::stoi(value);
    } else if (name == "--parent") {
      a.parent = static_cast<pid_t>(std::stol(value));
    } else if (name == "--gate") {
      a.gate = value;
    } else if (name == "--bytecode-steps") {
      const long long v = std::stoll(value);
      if (v < 0 || v > 1'000'000) throw std::invalid_argument("bad " + arg);
      a.bytecode_steps = static_cast<std::uint32_t>(v);
    } else if (name == "--allocator") {
      // Before the first object: the parent's object heap (runtime/heap.hpp).
      if ((value != "glibc" && value != "mimalloc") ||
          !set_allocator(value == "glibc" ? Allocator::kGlibc : Allocator::kMimalloc))
        throw std::invalid_argument("unknown or unavailable --allocator '" + value + "'");
    } else {
      hooks.push_back(arg);
    }
  }
  a.hooks = Hooks::from_worker_args(hooks);
  if (!a.hooks.misbehave.empty()) {
    bool known = false;
    for (auto m : kMisbehaviours) known |= m == a.hooks.misbehave;
    if (!known) throw std::invalid_argument("unknown --misbehave mode '" + a.hooks.misbehave + "'");
  }
  if (a.index < 0 || a.parent <= 0 || a.gate.empty())
    throw std::invalid_argument("needs --index=N, --parent=PID and --gate=NAME");
  return a;
}

// One prepared run of one workload in this process.
class Job {
 public:
  virtual ~Job() = default;
  // measured_run on the shard, then W::finish on this process's own state.
  virtual Tally run() = 0;
};

template <Workload W>
class WorkloadJob final : public Job {
 public:
  WorkloadJob(const typename W::Params& params, Shard shard, int split, std::uint32_t bytecode_steps)
      : state_({params, split}), shard_(shard), bytecode_steps_(bytecode_steps) {}

  Tally run() override {
    Serial::Runtime runtime{RunConfig{}};
    Serial::Runtime::Worker worker(shard_.index);
    Attached<Serial> attached(runtime, worker);
    Context<Serial> ctx(runtime, worker, shard_.index, bytecode_steps_);
    Tally t = measured_run<Serial, Injected<W>>(ctx, state_, shard_);
    t.merge(Injected<W>::finish(state_));
    return t;
  }

 private:
  typename Injected<W>::template State<Serial> state_;
  Shard shard_;
  std::uint32_t bytecode_steps_;
};

std::unique_ptr<Job> make_job(const std::string& workload, const nlohmann::json& params, Shard shard,
                              int split, std::uint32_t bytecode_steps) {
  std::unique_ptr<Job> job;
  for_each_type(AllWorkloads{}, [&]<Workload W> {
    if (!job && workload == W::kName)
      job = std::make_unique<WorkloadJob<W>>(params.get<typename W::Params>(), shard, split, bytecode_steps);
  });
  if (!job) throw std::runtime_error("unknown workload '" + workload + "'");
  return job;
}

std::int64_t peak_rss_kb() {
  rusage u{};
  ::getrusage(RUSAGE_SELF, &u);
  return u.ru_maxrss;  // KiB on Linux
}

void send(int fd, const nlohmann::json& message) { write_all(fd, wire::encode(message)); }

// The request loop. RETURNS: the exit status.
int serve(const WorkerArgs& a, int in, int out) {
  const StartGate gate = StartGate::open(a.gate);
  std::uint64_t runs = 0;
  send(out, {{"op", "ready"},
             {"pid", ::getpid()},
             {"index", a.index},
             {"clock_ns", std::chrono::nanoseconds(Clock::now().time_since_epoch()).count()}});
  std::unique_ptr<Job> job;
  AllocCounts start;
  std::string misbehave;  // test only: this run's, if this worker is the last of its pool
  std::vector<AnyRef<Serial>> leaked;  // misbehave=leak: kept past the release, freed at exit
  for (;;) {
    const std::optional<std::string> payload = wire::read_frame(in);
    if (!payload) return 0;  // the parent closed our stdin: the pool is over
    const nlohmann::json m = nlohmann::json::parse(*payload);
    const std::string op = m.at("op").get<std::string>();
    if (op == "prepare") {
      if (job) throw std::runtime_error("'prepare' while a run is still prepared");
      start = thread_alloc_counts();
      const auto& shard = m.at("shard");
      const Shard s{shard.at("index").get<int>(), shard.at("count").get<int>()};
      job = make_job(m.at("workload").get<std::string>(), m.at("params"), s, a.hooks.inject_split, a.bytecode_steps);
      misbehave = s.index == s.count - 1 ? a.hooks.misbehave : "";
      send(out, {{"op", "prepared"}, {"state_bytes", (thread_alloc_counts() - start).bytes}});
    } else if (op == "run") {
      if (!job) throw std::runtime_error("'run' before 'prepare'");
      if (misbehave == "crash") ::raise(SIGKILL);
      if (misbehave == "exit") std::_Exit(kMisbehaveExitStatus);
      if (misbehave == "hang")
        for (;;) ::pause();
      if (misbehave == "garbage") {
        write_all(out, "this is not a frame\n");
        continue;  // and wait for a request that never comes
      }
      send(out, {{"op", "armed"}});
      gate.wait_for(++runs);
      const auto t0 = Clock::now();
      const double cpu0 = process_cpu_seconds();
      Tally t = job->run();
      const double cpu = process_cpu_seconds() - cpu0;
      const auto busy = std::chrono::nanoseconds(Clock::now() - t0).count();
      if (misbehave == "leak") leaked.push_back(make<IntObj<Serial>>(0));
      send(out, {{"op", "result"},
                 {"tally", t},
                 {"busy_ns", busy},
                 {"cpu_ns", cpu * 1e9},
                 {"start_ns", std::chrono::nanoseconds(t0.time_since_epoch()).count()}});
    } else if (op == "release") {
      job.reset();
      const AllocCounts d = thread_alloc_counts() - start;
      send(out, {{"op", "released"},
                 {"allocated", d.allocated},
                 {"freed", d.freed},
                 {"bytes", d.bytes},
                 {"rss_kb", peak_rss_kb()}});
    } else if (op == "exit") {
      return 0;
    } else {
      throw std::runtime_error("unknown request '" + op + "'");
    }
  }
}

}  // namespace

int worker_main(const std::vector<std::string>& args) {
  WorkerArgs a;
  try {
    a = parse_worker_args(args);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "gilbench --worker: %s\n", e.what());
    return 2;
  }
  // Die with the parent, not after it (an orphan would hold its CPU); and if
  // it is already gone, do not start at all.
  ::prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (::getppid() != a.parent) return 1;
  // The parent ignores SIGPIPE and we inherited that; a worker whose parent
  // went away may simply die of it.
  ::signal(SIGPIPE, SIG_DFL);
  // The frames get private descriptors, and stdout becomes stderr, so that a
  // stray print anywhere cannot corrupt the protocol.
  const int in = ::fcntl(STDIN_FILENO, F_DUPFD_CLOEXEC, 3);
  const int out = ::fcntl(STDOUT_FILENO, F_DUPFD_CLOEXEC, 3);
  if (in < 0 || out < 0 || ::dup2(STDERR_FILENO, STDOUT_FILENO) < 0) {
    std::perror("gilbench --worker: cannot set up its descriptors");
    return 1;
  }
  try {
    return serve(a, in, out);
  } catch (const std::exception& e) {
    try {
      send(out, {{"op", "error"}, {"message", e.what()}});
    } catch (const std::exception&) {
      std::fprintf(stderr, "gilbench worker %d (pid %d): %s\n", a.index, static_cast<int>(::getpid()),
                   e.what());
    }
    return 1;
  }
}

}  // namespace gilbench
