// binary_trees: build and tear down perfect binary trees of tuples, the
// Benchmarks Game shape (allocation- and refcount-heavy, no sharing).
//
// For depth d = min_depth, min_depth+2, ..., max_depth it builds
// 2^(max_depth - d + min_depth) trees of depth d, walks each one taking a
// reference to every child (as Python's `check(tree[0])` does), and drops it.
// The trees of each depth are split over the shards, so the work per shard
// stays balanced. Tally: items = nodes built, sum = nodes counted by the walks.
#pragma once

#include <cstdint>
#include <string_view>

#include "runtime/object.hpp"
#include "workloads/workload.hpp"

namespace gilbench {

struct BinaryTrees {
  static constexpr std::string_view kName = "binary_trees";
  static constexpr std::string_view kKind = "cpu";

  struct Params {
    int min_depth = 4;
    int max_depth = 0;
    NLOHMANN_DEFINE_TYPE_INTRUSIVE(Params, min_depth, max_depth)
  };
  static Params params(Scale s) {
    return {4, s == Scale::kDefault ? 14 : s == Scale::kQuick ? 10 : 6};
  }

  template <Strategy S>
  struct State {
    explicit State(const Params& p) : params(p) {}
    Params params;
  };

  template <Strategy S>
  static AnyRef<S> build(Context<S>& ctx, int depth) {
    ctx.checkpoint();
    if (depth == 0) return make<NodeObj<S>>(nullptr, nullptr, 0);
    return make<NodeObj<S>>(build(ctx, depth - 1), build(ctx, depth - 1), depth);
  }

  template <Strategy S>
  static std::uint64_t check(Context<S>& ctx, NodeObj<S>* node) {
    ctx.checkpoint();
    if (!node->slots[0]) return 1;
    AnyRef<S> left = node->slots[0];  // a new reference, as LOAD of tree[0]
    AnyRef<S> right = node->slots[1];
    return 1 + check(ctx, cast<NodeObj<S>>(left.get())) + check(ctx, cast<NodeObj<S>>(right.get()));
  }

  template <Strategy S>
  static Tally run(Context<S>& ctx, State<S>& st, Shard shard) {
    const Params& p = st.params;
    Tally t;
    for (int d = p.min_depth; d <= p.max_depth; d += 2) {
      const std::int64_t trees = std::int64_t{1} << (p.max_depth - d + p.min_depth);
      for (std::int64_t i = shard.begin(trees); i < shard.end(trees); ++i) {
        AnyRef<S> tree = build(ctx, d);
        t.sum += check(ctx, cast<NodeObj<S>>(tree.get()));
        t.items += (std::uint64_t{2} << d) - 1;
      }
    }
    return t;
  }

  template <Strategy S>
  static Tally finish(State<S>&) {
    return {};
  }
};

}  // namespace gilbench
