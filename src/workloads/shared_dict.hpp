// shared_dict: every worker counts words into one shared dict,
// `counts[w] = counts.get(w, 0) + 1`, one word per checkpoint.
//
// Write contention on one container: each update takes the dict's lock
// (where the strategy has one) and replaces the boxed count with a new int.
// The words are shared string objects, so the strategies also fight over
// their reference counts. Under `process` each process counts its shard into
// its own dict and the parent merges the partial dicts.
// Parameters: tokens (total words, split over the shards), vocabulary (words
// "w0" .. "w<vocabulary-1>"; token i is word splitmix64(i) mod vocabulary).
// Tally: items = tokens counted, counts = the final dict.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "runtime/object.hpp"
#include "workloads/workload.hpp"

namespace gilbench {

struct SharedDict {
  static constexpr std::string_view kName = "shared_dict";
  static constexpr std::string_view kKind = "cpu";

  struct Params {
    std::int64_t tokens = 0;
    std::int64_t vocabulary = 0;
    NLOHMANN_DEFINE_TYPE_INTRUSIVE(Params, tokens, vocabulary)
  };
  static Params params(Scale s) {
    return s == Scale::kDefault ? Params{2'000'000, 1000}
           : s == Scale::kQuick ? Params{200'000, 1000}
                                : Params{5'000, 50};
  }

  static constexpr std::uint64_t splitmix64(std::uint64_t x) noexcept {
    x += 0x9e3779b97f4a7c15ULL;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
    return x ^ (x >> 31);
  }

  template <Strategy S>
  struct State {
    explicit State(const Params& p) : params(p), dict(make<DictObj<S>>()) {
      words.reserve(static_cast<std::size_t>(p.vocabulary));
      for (std::int64_t i = 0; i < p.vocabulary; ++i)
        words.push_back(make<StrObj<S>>("w" + std::to_string(i)));
    }
    Params params;
    std::vector<Ref<StrObj<S>>> words;  // read-only once built
    Ref<DictObj<S>> dict;
  };

  template <Strategy S>
  static Tally run(Context<S>& ctx, State<S>& st, Shard shard) {
    const Params& p = st.params;
    const auto vocabulary = static_cast<std::uint64_t>(p.vocabulary);
    Tally t;
    for (std::int64_t i = shard.begin(p.tokens); i < shard.end(p.tokens); ++i) {
      Ref<StrObj<S>> word = st.words[splitmix64(static_cast<std::uint64_t>(i)) % vocabulary];
      dict_update(*st.dict, word, [](Object<S>* old) {
        const std::int64_t n = old ? cast<IntObj<S>>(old)->value : 0;
        return AnyRef<S>(make<IntObj<S>>(n + 1));
      });
      ++t.items;
      ctx.checkpoint();
    }
    return t;
  }

  template <Strategy S>
  static Tally finish(State<S>& st) {
    Tally t;
    dict_for_each(*st.dict, [&t](const StrObj<S>& key, Object<S>& value) {
      t.counts[std::string(key.view())] += cast<IntObj<S>>(&value)->value;
    });
    return t;
  }
};

}  // namespace gilbench
