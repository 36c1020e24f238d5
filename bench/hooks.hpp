// Test hooks: the ways a run can be made to go wrong on purpose, to prove
// that the suite notices. They travel as one value on each row of the
// matrix (bench/row.hpp) and to worker processes as command-line arguments,
// never through the runners' signatures or the wire protocol.
//
//   inject_split   --inject-slowdown: every worker also redoes 1/split of its
//                  own share, on a separate copy of the workload's state,
//                  result thrown away (0: none). The fraction is exact when
//                  the workload's units divide evenly (countdown, list_sum,
//                  shared_dict), approximate otherwise.
//   corrupt        --test-corrupt-checksum: every run's sum is off by one.
//   hang           --test-hang: one worker of a threads run at 2 or more
//                  workers never returns (RunWatchdog must end the suite).
//   misbehave      --test-worker-misbehave: the last worker of a process
//                  pool acts it out (crash, exit, garbage, hang, leak); the
//                  last CPU burner of convoy/process crashes.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "runtime/context.hpp"
#include "runtime/tally.hpp"
#include "workloads/workload.hpp"

namespace gilbench {

// The misbehaviours of --test-worker-misbehave, acted out by the last worker
// of a process pool in the run phase instead of answering:
//   crash    kills itself with SIGKILL          exit     exits with status 3
//   garbage  writes bytes that are not a frame, then keeps reading
//   hang     stops answering (sleeps until killed)
//   leak     answers, but one object of the run is never freed
inline constexpr std::string_view kMisbehaviours[] = {"crash", "exit", "garbage", "hang", "leak"};
inline constexpr int kMisbehaveExitStatus = 3;

struct Hooks {
  int inject_split = 0;
  bool corrupt = false;
  std::string misbehave;
  bool hang = false;  // --test-hang: a threads run at 2+ workers never ends (not for worker processes)

  // As worker arguments ("--inject-split=2", "--misbehave=hang"), and back.
  std::vector<std::string> worker_args() const;
  static Hooks from_worker_args(const std::vector<std::string>& args);  // throws std::invalid_argument
};

// W with the injection hook: its state and, when `split` > 0, a second
// copy on which every worker redoes shard {i, n * split}. With split 0 it
// is W itself plus one branch per run, so every row runs through it and
// needs no second instantiation. Its tally is W's (the copy's is dropped),
// and the copy's objects are freed with the state, so the ledger balances.
template <Workload W>
struct Injected {
  static constexpr std::string_view kName = W::kName;
  using Work = W;
  struct Params {
    typename W::Params work;
    int split = 0;
  };
  template <Strategy S>
  struct State {
    explicit State(const Params& p) : main(p.work), split(p.split) {
      if (split > 0) extra.emplace(p.work);
    }
    typename W::template State<S> main;
    std::optional<typename W::template State<S>> extra;
    int split;
  };
  template <Strategy S>
  static Tally run(Context<S>& ctx, State<S>& st, Shard shard) {
    Tally t = W::run(ctx, st.main, shard);
    if (st.extra) (void)W::run(ctx, *st.extra, Shard{shard.index, shard.count * st.split});
    return t;
  }
  template <Strategy S>
  static Tally finish(State<S>& st) {
    return W::finish(st.main);
  }
};

}  // namespace gilbench
