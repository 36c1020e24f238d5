// The Workload concept: one piece of work, written once against the runtime
// API and instantiated for every strategy.
//
//   W::kName             token used in run names ("countdown")
//   W::kKind             "cpu" or "io": how the charts and summary group it
//   W::Params            the sizes; JSON-convertible (it travels to worker
//                        processes and into the result file's context)
//   W::params(scale)     the sizes for a Scale
//   W::State<S>          what the workers of one address space share (a
//                        graph, a dict); built before the timed region
//   W::run(ctx, st, sh)  the worker's shard of the work -> partial Tally
//   W::finish(st)        Tally of the shared state after all workers are done
//
// Strong scaling: the total work is fixed by Params and split into shards,
// so the merged tally (and its checksum) is the same for any worker count.
//
// How to add a workload: write src/workloads/<token>.hpp and add it to
// AllWorkloads in src/workloads/all.hpp.
#pragma once

#include <concepts>
#include <cstdint>
#include <string_view>

#include <nlohmann/json.hpp>

#include "runtime/context.hpp"
#include "runtime/tally.hpp"
#include "strategies/serial.hpp"

namespace gilbench {

// kDefault: the suite (~0.1 s per serial run); kQuick: CI (~10x smaller);
// kTiny: the unit tests (every path exercised, fast under ThreadSanitizer).
enum class Scale { kDefault, kQuick, kTiny };

// A worker's slice of the work: shard `index` of `count`.
struct Shard {
  int index = 0;
  int count = 1;

  // The part of [0, n) this shard owns: contiguous, sizes differ by <= 1.
  constexpr std::int64_t begin(std::int64_t n) const noexcept { return n * index / count; }
  constexpr std::int64_t end(std::int64_t n) const noexcept { return n * (index + 1) / count; }
};

// What a runner needs of a workload (or of a wrapper around one, such as
// the driver's test hooks): its State, run and finish.
template <class W>
concept Runnable = requires(const typename W::Params& p, Context<Serial>& ctx,
                            typename W::template State<Serial>& st) {
  requires std::constructible_from<typename W::template State<Serial>, const typename W::Params&>;
  { W::run(ctx, st, Shard{}) } -> std::same_as<Tally>;
  { W::finish(st) } -> std::same_as<Tally>;
};

template <class W>
concept Workload = Runnable<W> &&
    requires(const typename W::Params& p, Context<Serial>& ctx,
             typename W::template State<Serial>& st, nlohmann::json& j) {
      { W::kName } -> std::convertible_to<std::string_view>;
      { W::kKind } -> std::convertible_to<std::string_view>;
      { W::params(Scale::kDefault) } -> std::same_as<typename W::Params>;
      j = p;
      { j.get<typename W::Params>() } -> std::same_as<typename W::Params>;
      requires std::constructible_from<typename W::template State<Serial>, const typename W::Params&>;
      { W::run(ctx, st, Shard{}) } -> std::same_as<Tally>;
      { W::finish(st) } -> std::same_as<Tally>;
    };

}  // namespace gilbench
