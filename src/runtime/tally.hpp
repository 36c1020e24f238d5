// Tally: what a run produced, reduced to something every strategy, worker
// count and process must agree on.
//
// Workers return partial tallies that merge by addition (mod 2^64), so the
// sum does not depend on how the work was split. checksum() folds the items
// processed, the sum and the sorted word counts into one number, which must
// equal the serial run's for the benchmark to count.
#pragma once

#include <cstdint>
#include <map>
#include <string>

#include <nlohmann/json.hpp>

namespace gilbench {

struct Tally {
  std::uint64_t items = 0;  // units of work done (the items of items_per_second)
  std::uint64_t sum = 0;    // workload-defined, wraps mod 2^64
  std::map<std::string, std::int64_t> counts;  // word -> count (shared_dict)

  Tally& merge(const Tally& o) {
    items += o.items;
    sum += o.sum;
    for (const auto& [k, v] : o.counts) counts[k] += v;
    return *this;
  }

  std::uint64_t checksum() const noexcept {
    std::uint64_t h = 1469598103934665603ULL;
    auto mix = [&h](std::uint64_t v) {
      for (int i = 0; i < 8; ++i) {
        h ^= (v >> (8 * i)) & 0xff;
        h *= 1099511628211ULL;
      }
    };
    mix(items);
    mix(sum);
    for (const auto& [k, v] : counts) {
      for (unsigned char c : k) mix(c);
      mix(static_cast<std::uint64_t>(v));
    }
    return h;
  }

  friend bool operator==(const Tally&, const Tally&) = default;
  NLOHMANN_DEFINE_TYPE_INTRUSIVE(Tally, items, sum, counts)
};

}  // namespace gilbench
