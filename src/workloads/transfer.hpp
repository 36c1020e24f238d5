// transfer: move items between two shared lists, half of the workers in
// each direction: `b.append(a.pop())` against `a.append(b.pop())`.
//
// Each move locks both lists (S::lock(a, b), the two-object critical section
// of PEP 703) and moves the last item of one to the end of the other. This is
// the seed's claim that per-object locks risk deadlock, as a result: under
// fine_lock the pair is locked in address order and every run completes;
// under fine_lock_naive the pair is locked in call order, so two workers
// moving in opposite directions can each hold one list and wait for the
// other. That deadlock is detected and reported (src/strategies/fine_lock_naive.hpp).
//
// Parameters: items, the items each list starts with; moves, the total
// moves, split over the shards. Move m of shard i goes a -> b if m + i is
// even, else b -> a: each worker alternates, so the lists stay full (every
// move moves an item, also on one worker), and at any step two neighbouring
// workers lock the pair in opposite orders. Tally: items = moves; sum = the
// sum of every item's value
// plus 2^40 per item, found in the lists at the end (a lost or doubled item
// changes it): moves change where items are, never which, so the tally is the
// same for every interleaving and worker count.
//
// Threads only: a worker process would move items between lists of its own.
#pragma once

#include <cstdint>
#include <string_view>

#include "runtime/object.hpp"
#include "workloads/workload.hpp"

namespace gilbench {

struct Transfer {
  static constexpr std::string_view kName = "transfer";
  static constexpr std::string_view kKind = "cpu";
  static constexpr bool kThreadsOnly = true;  // its point is two lists shared by threads

  struct Params {
    std::int64_t items = 0;
    std::int64_t moves = 0;
    NLOHMANN_DEFINE_TYPE_INTRUSIVE(Params, items, moves)
  };
  static Params params(Scale s) {
    return s == Scale::kDefault ? Params{1000, 2'000'000} : s == Scale::kQuick ? Params{1000, 100'000} : Params{50, 4000};
  }

  template <Strategy S>
  struct State {
    explicit State(const Params& p) : params(p), a(make<ListObj<S>>()), b(make<ListObj<S>>()) {
      for (std::int64_t i = 0; i < p.items; ++i) {
        list_append(*a, make<IntObj<S>>(i));
        list_append(*b, make<IntObj<S>>(p.items + i));
      }
    }
    Params params;
    Ref<ListObj<S>> a;
    Ref<ListObj<S>> b;
  };

  template <Strategy S>
  static Tally run(Context<S>& ctx, State<S>& st, Shard shard) {
    Tally t;
    for (std::int64_t m = shard.begin(st.params.moves); m < shard.end(st.params.moves); ++m) {
      const bool forward = (m + shard.index) % 2 == 0;
      list_move_last(forward ? *st.a : *st.b, forward ? *st.b : *st.a);
      ctx.checkpoint();
    }
    t.items = static_cast<std::uint64_t>(shard.end(st.params.moves) - shard.begin(st.params.moves));
    return t;
  }

  template <Strategy S>
  static Tally finish(State<S>& st) {
    Tally t;
    for (ListObj<S>* list : {st.a.get(), st.b.get()}) {
      const std::size_t n = list_size(*list);
      for (std::size_t i = 0; i < n; ++i)
        t.sum += (std::uint64_t{1} << 40) + static_cast<std::uint64_t>(cast<IntObj<S>>(list_get(*list, i).get())->value);
    }
    return t;
  }
};

}  // namespace gilbench
