// list_sum: `lst = [i for i in range(...)]; total = sum(x for x in lst)`.
//
// Each round builds a private list of `length` boxed ints, then iterates it
// taking a reference per element (list_get, under the list's lock where the
// strategy has one), and drops the list, which frees every element. Rounds
// are split over the shards; no data is shared.
// Tally: items = elements summed, sum = sum of 0 .. rounds*length - 1.
#pragma once

#include <cstdint>
#include <string_view>

#include "runtime/object.hpp"
#include "workloads/workload.hpp"

namespace gilbench {

struct ListSum {
  static constexpr std::string_view kName = "list_sum";
  static constexpr std::string_view kKind = "cpu";

  struct Params {
    std::int64_t rounds = 0;
    std::int64_t length = 0;
    NLOHMANN_DEFINE_TYPE_INTRUSIVE(Params, rounds, length)
  };
  static Params params(Scale s) {
    return s == Scale::kDefault ? Params{2000, 1000} : s == Scale::kQuick ? Params{200, 1000} : Params{20, 100};
  }

  template <Strategy S>
  struct State {
    explicit State(const Params& p) : params(p) {}
    Params params;
  };

  template <Strategy S>
  static Tally run(Context<S>& ctx, State<S>& st, Shard shard) {
    const Params& p = st.params;
    Tally t;
    for (std::int64_t r = shard.begin(p.rounds); r < shard.end(p.rounds); ++r) {
      Ref<ListObj<S>> list = make<ListObj<S>>();
      for (std::int64_t j = 0; j < p.length; ++j) {
        list_append(*list, make<IntObj<S>>(r * p.length + j));
        ctx.checkpoint();
      }
      const auto n = static_cast<std::int64_t>(list_size(*list));
      for (std::int64_t j = 0; j < n; ++j) {
        AnyRef<S> x = list_get(*list, static_cast<std::size_t>(j));
        t.sum += static_cast<std::uint64_t>(cast<IntObj<S>>(x.get())->value);
        ctx.checkpoint();
      }
      t.items += static_cast<std::uint64_t>(n);
    }
    return t;
  }

  template <Strategy S>
  static Tally finish(State<S>&) {
    return {};
  }
};

}  // namespace gilbench
