// Statistics of a sample of repetitions (times), for the adaptive
// repetitions (bench/adaptive.hpp), the summary and the fingerprint's speed
// spread.
#pragma once

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

namespace gilbench {

inline double median_of(std::vector<double> s) {
  if (s.empty()) return 0;
  std::sort(s.begin(), s.end());
  const std::size_t n = s.size();
  return n % 2 ? s[n / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
}

// The median's distribution-free 95% confidence interval, as its
// half-width relative to the median: (x(u) - x(l)) / 2 / median, with the
// ranks l and u from the binomial(n, 1/2) (normal approximation, rounded
// outwards). No assumption about the shape of the times, which on a shared
// VM are skewed and at times bimodal. Infinity below 6 samples.
inline double median_ci_relative(std::vector<double> s) {
  const std::size_t n = s.size();
  if (n < 6) return std::numeric_limits<double>::infinity();
  std::sort(s.begin(), s.end());
  const double med = median_of(s);
  if (med <= 0) return std::numeric_limits<double>::infinity();
  const double half = 1.96 * std::sqrt(static_cast<double>(n)) / 2;
  const auto lo = static_cast<std::size_t>(std::max(1.0, std::floor(static_cast<double>(n) / 2 - half)));
  const auto hi =
      static_cast<std::size_t>(std::min(static_cast<double>(n), std::ceil(static_cast<double>(n) / 2 + 1 + half)));
  return (s[hi - 1] - s[lo - 1]) / 2 / med;
}

// Two clusters: a jump of more than 15% between neighbouring sorted
// samples, with at least three on each side, in a spread of more than 25%
// (the same code at two speeds, run to run, as some VMs do).
inline bool is_bimodal(std::vector<double> s) {
  if (s.size() < 6) return false;
  std::sort(s.begin(), s.end());
  if (!(s.back() > 1.25 * s.front())) return false;
  for (std::size_t i = 2; i + 3 < s.size(); ++i)
    if (s[i + 1] > 1.15 * s[i]) return true;
  return false;
}

}  // namespace gilbench
