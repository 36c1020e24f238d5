// CostModel: what one operation of the object model costs a strategy beyond
// what serial pays, in the machine's unit costs (src/report/fingerprint.hpp).
// Each strategy declares its own (S::kCost) beside its hot path; the driver
// counts a workload's operations once (bench/explain.hpp) and predicts each
// row's extra time from the two, so a result says why it is what it is.
//
//   local_ref_atomic    atomic RMWs per incref/decref of an object the worker made
//   foreign_ref_atomic  atomic RMWs per incref/decref of an object another thread made
//   ref_mutex           object-mutex lock+unlock pairs per incref/decref
//   container_mutex     lock+unlock pairs per container access (S::lock)
//   lock_free_reads     container reads take no lock (optimistic reads,
//                       OptimisticReads in runtime/object.hpp): container_mutex
//                       applies to writes only
//   checkpoint_mutex    lock+unlock pairs per checkpoint (a GIL released and retaken)
//   blocking_mutex      lock+unlock pairs per blocking call (release + reacquire)
//   shares_header       a foreign incref/decref writes the object's header, so
//                       threads that share objects move its cache line
//   one_at_a_time       its workers never run object code at the same time (a GIL)
#pragma once

namespace gilbench {

struct CostModel {
  double local_ref_atomic = 0;
  double foreign_ref_atomic = 0;
  double ref_mutex = 0;
  double container_mutex = 0;
  bool lock_free_reads = false;
  double checkpoint_mutex = 0;
  double blocking_mutex = 0;
  bool shares_header = false;
  bool one_at_a_time = false;
};

// S's cost model: S::kCost, or nothing beyond serial.
template <class S>
constexpr CostModel cost_of() {
  if constexpr (requires { S::kCost; })
    return S::kCost;
  else
    return {};
}

}  // namespace gilbench
