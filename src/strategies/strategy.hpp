// The Strategy concept: how a strategy counts references, guards containers
// and schedules workers.
//
// A strategy is a policy class resolved at compile time, so the hot path
// (incref, decref, checkpoint) inlines into the workload loop and pays no
// virtual call. CPython does the same with Py_GIL_DISABLED: a build pays only
// for the scheme it chose.
//
//   S::kName          the token used in run names, JSON, charts and README
//   S::kThreaded      false: runs one worker only (serial)
//   S::Header         the reference-count part of every object header;
//                     default-constructed = one reference, held by its creator
//   S::incref(h)      take a reference                       (hot, noexcept)
//   S::decref(h)      drop one; true = that was the last one, caller frees
//   S::lock(h)        guard for reading or changing a container's contents
//   S::lock(a, b)     guard for two containers, taken in a fixed order
//   S::Runtime        per-run shared state (the GIL, queues, nothing), built
//                     from a RunConfig; its Worker is one worker's state:
//     rt.attach(w)      a worker starts (takes the GIL)
//     rt.checkpoint(w)  a bytecode boundary                   (hot, noexcept)
//     rt.release(w)     entering a blocking call (Py_BEGIN_ALLOW_THREADS)
//     rt.reacquire(w)   leaving it (Py_END_ALLOW_THREADS)
//     rt.detach(w)      a worker ends (final release)
//     rt.stats()        the strategy's counters for the finished run
//   S::make_immortal(h)  PEP 683: from now on incref/decref of h are
//                     no-ops; call before the object is shared. Objects are
//                     made immortal and freed through an ImmortalSet
//                     (runtime/object.hpp). S::is_immortal(h) tells.
//   S::Runtime::kMetrics  optional: the counters its stats() may emit,
//                     declared in the strategy's header (runtime/metric.hpp)
//   S::kCost          optional: what its operations cost beyond serial, in
//                     the machine's unit costs (runtime/cost_model.hpp)
//
// How to add a strategy: write src/strategies/<token>.hpp with a struct that
// satisfies Strategy and a Notes block saying what it models, then add it to
// AllStrategies in src/strategies/all.hpp. Benchmarks and the typed tests
// pick it up from that list; its counters are declared in its header and
// listed in its Runtime's kMetrics.
#pragma once

#include <chrono>
#include <concepts>
#include <cstdint>
#include <string_view>

#include "runtime/cost_model.hpp"
#include "runtime/metric.hpp"

namespace gilbench {

// Settings shared by all strategies of one run.
struct RunConfig {
  int workers = 1;
  // Ideal GIL timeslice: how long a waiter waits before it posts a drop
  // request (sys.setswitchinterval; CPython's default is 5 ms).
  std::chrono::nanoseconds switch_interval = std::chrono::milliseconds(5);
  // gil_legacy: release and retake every this many checkpoints (Python 2's
  // sys.setcheckinterval, default 100 "ticks").
  int check_interval = 100;
  // Interpretive work at every checkpoint, in steps of runtime/bytecode.hpp
  // (--bytecode-cost); 0: none, the C++ work alone.
  std::uint32_t bytecode_steps = 0;
};

// The guard of strategies whose containers need no lock of their own.
struct NoGuard {};

// Per-run state of strategies that schedule nothing: every call is a no-op.
struct NoRuntime {
  struct Worker {
    explicit Worker(int /*worker*/) {}
  };
  explicit NoRuntime(const RunConfig&) {}
  void attach(Worker&) noexcept {}
  void detach(Worker&) noexcept {}
  void checkpoint(Worker&) noexcept {}
  void release(Worker&) noexcept {}
  void reacquire(Worker&) noexcept {}
  RuntimeStats stats() const { return {}; }
};

template <class S>
concept Strategy =
    requires(typename S::Header& a, typename S::Header& b, const typename S::Header& c, typename S::Runtime& rt,
             typename S::Runtime::Worker& w) {
      { S::kName } -> std::convertible_to<std::string_view>;
      { S::kThreaded } -> std::convertible_to<bool>;
      requires std::default_initializable<typename S::Header>;
      { S::incref(a) } noexcept;
      { S::decref(a) } noexcept -> std::same_as<bool>;
      { S::make_immortal(a) } noexcept;
      { S::is_immortal(c) } noexcept -> std::same_as<bool>;
      S::lock(a);
      S::lock(a, b);
      requires std::constructible_from<typename S::Runtime, const RunConfig&>;
      requires std::constructible_from<typename S::Runtime::Worker, int>;
      rt.attach(w);
      rt.detach(w);
      { rt.checkpoint(w) } noexcept;
      rt.release(w);
      rt.reacquire(w);
      { rt.stats() } -> std::convertible_to<RuntimeStats>;
    };

// The counters S's runtime may emit (empty if it declares none).
template <Strategy S>
constexpr MetricList metrics_of() {
  if constexpr (requires { S::Runtime::kMetrics; })
    return S::Runtime::kMetrics;
  else
    return {};
}

}  // namespace gilbench
