// The machine fingerprint: what a result needs to be explained on the
// machine it came from, measured by every run before its first benchmark
// (well under 3 s) and stored in the context (gilbench_fingerprint), or
// alone with `gilbench --fingerprint`.
//
// Two machines of one kind can differ where it matters: two 2-vCPU EPYC VMs
// gave shared_read/atomic_rc/workers:2 at 1.17x and at 0.02x serial, because
// moving a cache line between the vCPUs cost a few ns on one and about 70 ns
// on the other. So the fingerprint holds the identity of the CPU and the unit
// costs the workloads are made of, each measured with the suite's own code
// (the strategies' incref, the object mutex, the child-process lifecycle):
//
//   plain_increment      Serial::incref on one object, dependent chain
//   atomic_rmw           AtomicRc::incref on one object, uncontended
//   atomic_rmw_marginal  AtomicRc::incref minus Serial::incref, each on the
//                        next of 256 objects in turn (what the explained
//                        overheads charge per atomic reference operation)
//   cache_line_round_trip_min / _median
//                        one line handed back and forth between two threads
//                        pinned to two CPUs (every pair of the first 8 CPUs
//                        the process may use); a round trip is two transfers
//   mutex_uncontended    ObjectMutex lock + unlock, one thread
//   mutex_contended      the same from two threads on one mutex, per operation
//   futex_wake           notify to running, of a thread parked on an idle CPU
//   pipe_round_trip      one byte to an echo thread over pipes and back
//   thread_start         std::thread start + join
//   process_start        spawn, exit and reap of a child (runners/child.hpp)
//
// and the machine's speed right now: the same single-threaded loop run 21
// times, its spread and whether it falls in two clusters (bimodal: some
// VMs run the same code at two speeds 2x apart, run to run).
#pragma once

#include <nlohmann/json.hpp>

namespace gilbench {

// Measures the fingerprint (about 0.1-1 s). The JSON:
//   {"cpu": {vendor, family, model, stepping, model_name, online_cpus,
//            allowed_cpus, smt_siblings, caches: [{level, type, size_kb,
//            shared_cpus}], kernel, clocksource},
//    "unit_costs_ns": {plain_increment, atomic_rmw, atomic_rmw_marginal, cache_line_round_trip_min,
//            cache_line_round_trip_median, mutex_uncontended, mutex_contended,
//            futex_wake, futex_wake_max, pipe_round_trip, thread_start,
//            process_start},
//    "cache_line_pairs": [{cpu_a, cpu_b, min_ns, median_ns}],
//    "speed_spread": {runs, loop_ms_min, loop_ms_median, loop_ms_max,
//            max_over_min, bimodal},
//    "seconds": the time it took}
nlohmann::json machine_fingerprint();

// A few lines for the console: the CPU, the unit costs, the speed spread.
std::string describe_fingerprint(const nlohmann::json& fp);

}  // namespace gilbench
