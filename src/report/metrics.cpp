#include "report/metrics.hpp"

#include <string>

namespace gilbench {

const std::vector<MetricInfo>& metrics() {
  static const std::vector<MetricInfo> table = {
      {"real_time", "time_unit", Better::kLower,
       "wall time of one run: release of the workers to the end of the last one"},
      {"workers", "count", Better::kNeither, "workers (threads or processes) of the run"},
      {"items_per_second", "items/s", Better::kHigher,
       "work items (see each workload) per second of wall time, summed over workers"},
      {"checksum_ok", "bool", Better::kHigher,
       "1 when the run's checksum equals the serial run's (a mismatch fails the run); "
       "process_startup: 1 when every worker started, answered and exited with status 0"},
      {"checksum", "hash", Better::kNeither, "the run's checksum, low 52 bits"},
      {"live_objects", "objects", Better::kLower, "objects left alive after the run (must be 0)"},
      {"objects_allocated", "objects", Better::kNeither, "objects allocated in one run"},
      {"bytes_per_object", "bytes", Better::kLower,
       "mean allocation size of the run's objects, header included"},
      {"gil_acquisitions", "count", Better::kNeither, "GIL acquisitions in one run"},
      {"gil_contended", "count", Better::kLower, "acquisitions that had to wait"},
      {"gil_drop_requests", "count", Better::kNeither,
       "drop requests posted after a full switch interval without a hand-off"},
      {"gil_switches", "count", Better::kNeither, "hand-offs of the GIL to a different worker"},
      {"gil_forced_switches", "count", Better::kNeither,
       "releases forced by a drop request that waited for another worker to take the GIL"},
      {"gil_wait_ns", "ns", Better::kLower, "total time workers waited for the GIL"},
      {"gil_wait_frac", "fraction", Better::kLower,
       "time waiting for the GIL / (workers x wall time)"},
      {"gil_priority_requests", "count", Better::kNeither,
       "gil_priority: drop requests posted at once by a worker back from a blocking call"},
      {"gil_priority_handoffs", "count", Better::kNeither,
       "gil_priority: waits for the GIL won by an IO-bound worker (ahead of CPU-bound ones)"},
      {"gil_check_releases", "count", Better::kNeither,
       "gil_legacy: releases at the check interval, each followed at once by a retake"},
      {"gil_futile_wakeups", "count", Better::kLower,
       "gil_legacy: waiters woken that found the GIL taken again (the multicore GIL battle)"},
      {"io_rps", "round trips/s", Better::kHigher,
       "convoy: the IO worker's socket round trips per second while the K CPU workers run"},
      {"io_rps_alone", "round trips/s", Better::kHigher,
       "convoy: the same IO worker's round trips per second alone, measured just before in the same run"},
      {"io_rps_ratio", "fraction", Better::kHigher,
       "convoy: io_rps / io_rps_alone (1 = the CPU workers cost the IO worker nothing)"},
      {"io_p50_us", "us", Better::kLower, "convoy: median round-trip latency of the IO worker with K CPU workers"},
      {"io_p99_us", "us", Better::kLower, "convoy: 99th-percentile round-trip latency of the IO worker"},
      {"io_max_us", "us", Better::kLower, "convoy: slowest round trip of the IO worker"},
      {"brc_shared_ops", "count", Better::kNeither,
       "biased_rc: increfs and decrefs by non-owners (atomic RMWs on the shared count)"},
      {"brc_queued", "count", Better::kNeither,
       "biased_rc: objects queued to their owner for a merge (shared count would go below 0)"},
      {"brc_merges", "count", Better::kNeither,
       "biased_rc: merges of an object's local count into its shared count (owner gives it up)"},
      {"brc_actor_merges", "count", Better::kNeither,
       "biased_rc: merges done by a non-owner because the owner was no longer attached"},
      // The process runner (src/runners/processes.hpp) and process_startup.
      {"startup_ms", "ms", Better::kLower,
       "process: time from spawning a worker to its first reply, mean over the pool's workers "
       "(measured once per pool, outside real_time); process_startup/threads: thread creation to "
       "the thread running"},
      {"ipc_bytes", "bytes", Better::kLower,
       "process: bytes through the pipes in the timed region of one run (run requests and "
       "results with their frame headers, both directions, all workers)"},
      {"ipc_frac", "fraction", Better::kLower,
       "process: (real_time - the slowest worker's compute time) / real_time, where compute time "
       "is measured inside the worker around its measured_run calls and W::finish; the rest is "
       "sending the requests, waking the workers, serialising, transferring, parsing and merging "
       "the results"},
      {"merge_frac", "fraction", Better::kLower,
       "process: time the parent spends parsing the result frames and merging the tallies / "
       "real_time (part of ipc_frac)"},
      {"rss_peak_kb", "KiB", Better::kLower,
       "process: the largest peak resident set (getrusage ru_maxrss) of one worker process, "
       "shared library pages included"},
      {"rss_total_kb", "KiB", Better::kLower,
       "process: peak resident sets of all worker processes, summed (what N private heaps and "
       "N copies of the state cost, shared pages counted once per worker)"},
      {"state_copy_kb", "KiB", Better::kLower,
       "process: object bytes of the workload's shared state, which every worker builds for "
       "itself from the Params, summed over workers (threads share one copy)"},
  };
  return table;
}

const MetricInfo* find_metric(std::string_view name) {
  for (const auto& m : metrics())
    if (m.name == name) return &m;
  return nullptr;
}

nlohmann::json metrics_json() {
  nlohmann::json j = nlohmann::json::object();
  for (const auto& m : metrics()) {
    const char* better = m.better == Better::kHigher  ? "higher"
                         : m.better == Better::kLower ? "lower"
                                                      : "neither";
    j[std::string(m.name)] = {
        {"unit", m.unit}, {"better", better}, {"description", m.description}};
  }
  return j;
}

}  // namespace gilbench
