// Explained overheads: why a row costs what it costs.
//
// A workload's operations are counted once per gilbench run, by running it
// (untimed, one worker on a pool thread, the shared state built by the
// calling thread as in every run) under Counted, a strategy that only counts:
// increfs and decrefs of objects the worker made (local) and of objects
// another thread made (foreign), container accesses (local and foreign),
// checkpoints and blocking calls. With each strategy's cost model
// (runtime/cost_model.hpp) and the machine's unit costs (the fingerprint),
// that predicts, for each row of a CPU workload:
//
//   model_extra_ms       the time the strategy's operations add to the
//                        serial work, over all workers of the run:
//                          (local refs x local_ref_atomic + foreign refs x
//                           foreign_ref_atomic) x atomic_rmw_marginal (an
//                           atomic incref over a plain one, each on another
//                           object, as reference counting runs; the chain on
//                           one object, atomic_rmw, is twice that)
//                          + refs x ref_mutex x mutex
//                          + locked container accesses x container_mutex x mutex
//                            (reads excluded where the strategy reads
//                            without the lock: lock_free_reads)
//                          + checkpoints x checkpoint_mutex x mutex
//                          + blocking calls x blocking_mutex x mutex
//                        under `process`: one result's trip back (half a pipe
//                        round trip) and the parent's wake-up (futex wake)
//   model_contention_ms  at 2+ workers, what sharing costs each worker: every
//                        foreign incref/decref moves the object's cache line
//                        when the strategy writes the header (shared_ref_marginal:
//                        measured with two CPUs working through the same
//                        objects, where transfers overlap with other work; half a
//                        round trip in files from before it), and every locked
//                        access to a shared container hands its lock over from
//                        the CPU that held it last: a round trip each, one at a
//                        time (not divided over the workers; a lower bound, as
//                        the lines the critical section writes move too)
//
// The summary compares them with the measured times (bench/reporter.cpp):
// a 1-worker row's extra time over serial against model_extra_ms, and a
// shared-data row at 2 workers against (serial + extra) / workers +
// contention (or serial + extra under a GIL, which runs one worker at a
// time).
#pragma once

#include <cstdint>
#include <string>

#include <nlohmann/json.hpp>

#include "runners/threads.hpp"
#include "runtime/cost_model.hpp"
#include "runtime/metric.hpp"
#include "runtime/thread_id.hpp"
#include "strategies/strategy.hpp"
#include "workloads/workload.hpp"

namespace gilbench {

inline constexpr Metric kOpsLocalRefs{"ops_local_refs", "count", Better::kNeither,
                                      "increfs and decrefs of objects the worker made, per run (all workers; "
                                      "counted once, untimed)"};
inline constexpr Metric kOpsForeignRefs{"ops_foreign_refs", "count", Better::kNeither,
                                        "increfs and decrefs of objects another thread made (the shared state), "
                                        "per run"};
inline constexpr Metric kOpsContainerAccesses{"ops_container_accesses", "count", Better::kNeither,
                                              "container accesses (list and dict reads and writes), per run"};
inline constexpr Metric kOpsCheckpoints{"ops_checkpoints", "count", Better::kNeither,
                                        "checkpoints (bytecode boundaries), per run"};
inline constexpr Metric kModelExtraMs{"model_extra_ms", "ms", Better::kNeither,
                                      "predicted time the strategy's operations add to the serial work, over all "
                                      "workers (op counts x the strategy's cost model x the machine's unit costs)"};
inline constexpr Metric kModelContentionMs{"model_contention_ms", "ms", Better::kNeither,
                                           "predicted time sharing adds at 2+ workers (cache-line transfers of "
                                           "shared headers, per worker; hand-overs of shared containers' locks, "
                                           "one at a time)"};
inline constexpr const Metric* kExplainMetrics[] = {&kOpsLocalRefs,   &kOpsForeignRefs, &kOpsContainerAccesses,
                                                    &kOpsCheckpoints, &kModelExtraMs,   &kModelContentionMs};

// Operation counts of one run (all workers together).
struct OpCounts {
  double local_refs = 0;
  double foreign_refs = 0;
  double local_accesses = 0;    // containers the worker made
  double foreign_accesses = 0;  // containers another thread made (shared)
  double local_reads = 0;       // of the accesses above, reads (list_get, list_size)
  double foreign_reads = 0;
  double checkpoints = 0;
  double blocking = 0;
};

// The strategy that counts (not one of AllStrategies): plain counts, each
// object remembering which thread made it.
struct Counted {
  static constexpr std::string_view kName = "counted";
  static constexpr bool kThreaded = false;
  static constexpr std::int64_t kImmortal = INT32_MAX;
  struct Header {
    std::int64_t refcnt = 1;
    std::uint32_t maker = current_thread_id();
  };
  struct Guard {};
  static inline thread_local OpCounts tls;

  static void count_ref(const Header& h) noexcept {
    (h.maker == current_thread_id() ? tls.local_refs : tls.foreign_refs) += 1;
  }
  static void incref(Header& h) noexcept {
    if (h.refcnt == kImmortal) return;
    count_ref(h);
    ++h.refcnt;
  }
  static bool decref(Header& h) noexcept {
    if (h.refcnt == kImmortal) return false;
    count_ref(h);
    return --h.refcnt == 0;
  }
  static void make_immortal(Header& h) noexcept { h.refcnt = kImmortal; }
  static bool is_immortal(const Header& h) noexcept { return h.refcnt == kImmortal; }
  static Guard lock(Header& h) noexcept {
    (h.maker == current_thread_id() ? tls.local_accesses : tls.foreign_accesses) += 1;
    return {};
  }
  // A read: counted as an access and as a read (lock-free under strategies
  // with optimistic reads).
  static Guard lock_for_read(Header& h) noexcept {
    (h.maker == current_thread_id() ? tls.local_reads : tls.foreign_reads) += 1;
    return lock(h);
  }
  static Guard lock(Header& a, Header& b) noexcept {
    lock(a);
    lock(b);
    return {};
  }

  // Collects the worker's counts (its thread-local ones, between attach and
  // detach) into the run's.
  class Runtime {
   public:
    struct Worker {
      explicit Worker(int) {}
      OpCounts at_attach;
    };
    explicit Runtime(const RunConfig&) {}
    void attach(Worker& w) noexcept { w.at_attach = tls; }
    void detach(Worker& w) noexcept;
    void checkpoint(Worker&) noexcept { tls.checkpoints += 1; }
    void release(Worker&) noexcept { tls.blocking += 1; }
    void reacquire(Worker&) noexcept {}
    RuntimeStats stats() const;
    static constexpr const Metric* kMetrics[] = {&kOpsLocalRefs, &kOpsForeignRefs, &kOpsContainerAccesses,
                                                 &kOpsCheckpoints};
    OpCounts totals;
  };
};

// W's operation counts at these parameters (computed once per process).
OpCounts count_ops_of(const std::string& workload, const nlohmann::json& params);
template <Workload W>
OpCounts count_ops(const nlohmann::json& params);

// The unit costs a prediction uses, from a fingerprint (ns).
struct UnitCosts {
  double plain = 0, atomic = 0, mutex = 0, mutex_contended = 0, round_trip = 0, futex_wake = 0, pipe_round_trip = 0;
  double atomic_marginal = 0;  // an atomic incref over a plain one, object after object
  double shared_ref = 0;        // what sharing adds to one such incref (two CPUs on the same objects)
  static UnitCosts from(const nlohmann::json& fingerprint);
};

// The predicted counters of a row: the op counts, model_extra_ms and, at 2+
// workers, model_contention_ms. `process`: the runner's cost instead of the
// strategy's.
RuntimeStats explain(const OpCounts& ops, const CostModel& cost, bool process, int workers, const UnitCosts& u);

}  // namespace gilbench
