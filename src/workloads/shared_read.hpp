// shared_read: every worker walks one shared, read-only tree of tuples,
// taking and dropping a reference on each node it visits.
//
// Nothing is written but reference counts, and that is the point: under the
// GIL the counts are plain adds (and the walks take turns); under atomic
// counting every visit is two RMWs on a cache line the other cores also
// write; a biased count sends every non-owner to the shared counter; a
// process has its own copy and pays memory instead. Tuples are immutable, so
// no container lock is involved: the contention is the counts alone.
// Parameters: depth (the tree has 2^(depth+1)-1 nodes, item = heap index
// 1..), walks (total full walks, split over the shards).
// shared_read_immortal (shared_read_immortal.hpp) walks the same tree made
// immortal (State's `immortal` flag): the same work with no count written.
// Tally: items = nodes visited, sum = walks * (sum of all items).
#pragma once

#include <cstdint>
#include <string_view>

#include "runtime/object.hpp"
#include "workloads/workload.hpp"

namespace gilbench {

struct SharedRead {
  static constexpr std::string_view kName = "shared_read";
  static constexpr std::string_view kKind = "cpu";

  struct Params {
    int depth = 0;
    std::int64_t walks = 0;
    NLOHMANN_DEFINE_TYPE_INTRUSIVE(Params, depth, walks)
  };
  static Params params(Scale s) {
    return s == Scale::kDefault ? Params{12, 1500} : s == Scale::kQuick ? Params{12, 150} : Params{6, 40};
  }

  template <Strategy S>
  struct State {
    explicit State(const Params& p, bool immortal = false)
        : params(p), root(build(p.depth, 1, immortal ? &immortals : nullptr)) {}
    Params params;
    ImmortalSet<S> immortals;  // every node when immortal; frees them after root goes
    AnyRef<S> root;            // built by the main thread before the workers start

    // Children first, so each node joins `immortals` after its children.
    static AnyRef<S> build(int depth, std::int64_t index, ImmortalSet<S>* immortals) {
      AnyRef<S> node = depth == 0 ? make<NodeObj<S>>(nullptr, nullptr, index)
                                  : make<NodeObj<S>>(build(depth - 1, 2 * index, immortals),
                                                     build(depth - 1, 2 * index + 1, immortals), index);
      if (immortals) immortals->add(node);
      return node;
    }
  };

  template <Strategy S>
  static std::uint64_t walk(Context<S>& ctx, NodeObj<S>* node, std::uint64_t& visited) {
    ctx.checkpoint();
    ++visited;
    std::uint64_t sum = static_cast<std::uint64_t>(node->item);
    for (const AnyRef<S>& slot : node->slots) {
      if (!slot) continue;
      AnyRef<S> child = slot;  // incref on a shared object
      sum += walk(ctx, cast<NodeObj<S>>(child.get()), visited);
    }  // decref
    return sum;
  }

  template <Strategy S>
  static Tally run(Context<S>& ctx, State<S>& st, Shard shard) {
    Tally t;
    for (std::int64_t w = shard.begin(st.params.walks); w < shard.end(st.params.walks); ++w) {
      AnyRef<S> root = st.root;
      t.sum += walk(ctx, cast<NodeObj<S>>(root.get()), t.items);
    }
    return t;
  }

  template <Strategy S>
  static Tally finish(State<S>&) {
    return {};
  }
};

}  // namespace gilbench
