// LatencyHistogram: percentiles of a stream of non-negative integer samples
// (nanoseconds here) in fixed memory, with no allocation per sample.
//
// Buckets are log-linear, as in HdrHistogram: values below 2^kSubBits (128)
// get a bucket each and are exact; above that, every power of two is split
// into 2^(kSubBits-1) = 64 equal buckets, so a bucket is never wider than
// 1/64 of its lower bound (relative error <= 1.6%). 64-bit values need
// 128 + 57 * 64 = 3776 buckets: 30 KiB, allocated once with the histogram.
//
// percentile(p) is the nearest-rank percentile: the smallest recorded value
// v such that at least p% of the samples are <= v, reported as the upper
// bound of v's bucket, clamped to the exact min and max seen. So it is never
// below the true value and at most one bucket width above it; p = 100 is the
// exact maximum and p = 0 the exact minimum.
//
// Not thread-safe: one writer (the convoy's IO worker), read after the run.
#pragma once

#include <algorithm>
#include <bit>
#include <cassert>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <vector>

namespace gilbench {

class LatencyHistogram {
 public:
  static constexpr int kSubBits = 7;
  static constexpr std::uint64_t kLinear = std::uint64_t{1} << kSubBits;  // exact below this
  static constexpr std::uint64_t kPerOctave = kLinear / 2;
  static constexpr std::size_t kBuckets = kLinear + (64 - kSubBits) * kPerOctave;

  LatencyHistogram() : counts_(kBuckets, 0) {}

  void record(std::uint64_t v) noexcept {
    ++counts_[index(v)];
    ++count_;
    sum_ += static_cast<double>(v);
    min_ = std::min(min_, v);
    max_ = std::max(max_, v);
  }

  // Adds another histogram's samples (e.g. one per repetition).
  void merge(const LatencyHistogram& o) noexcept {
    for (std::size_t i = 0; i < kBuckets; ++i) counts_[i] += o.counts_[i];
    count_ += o.count_;
    sum_ += o.sum_;
    min_ = std::min(min_, o.min_);
    max_ = std::max(max_, o.max_);
  }

  void reset() noexcept {
    std::fill(counts_.begin(), counts_.end(), 0);
    count_ = 0;
    sum_ = 0;
    min_ = std::numeric_limits<std::uint64_t>::max();
    max_ = 0;
  }

  std::uint64_t count() const noexcept { return count_; }
  std::uint64_t min() const noexcept { return count_ ? min_ : 0; }
  std::uint64_t max() const noexcept { return max_; }
  double mean() const noexcept { return count_ ? sum_ / static_cast<double>(count_) : 0; }

  // p in [0, 100]; 0 when empty.
  std::uint64_t percentile(double p) const noexcept {
    if (count_ == 0) return 0;
    if (p <= 0) return min_;
    if (p >= 100) return max_;
    // Nearest rank: the ceil(p/100 * n)-th smallest sample (1-based).
    auto rank = static_cast<std::uint64_t>(std::ceil(p / 100.0 * static_cast<double>(count_)));
    rank = std::clamp<std::uint64_t>(rank, 1, count_);
    std::uint64_t seen = 0;
    for (std::size_t i = 0; i < kBuckets; ++i) {
      seen += counts_[i];
      if (seen >= rank) return std::clamp(upper_bound(i), min_, max_);
    }
    return max_;  // unreachable: the counts sum to count_
  }

  // The bucket of v, and the largest value that lands in bucket i.
  static std::size_t index(std::uint64_t v) noexcept {
    if (v < kLinear) return static_cast<std::size_t>(v);
    const int exponent = static_cast<int>(std::bit_width(v)) - 1;  // >= kSubBits
    const int shift = exponent - kSubBits + 1;   // bucket width is 2^shift
    const std::uint64_t mantissa = v >> shift;   // in [kPerOctave, kLinear)
    return static_cast<std::size_t>(kLinear + static_cast<std::uint64_t>(exponent - kSubBits) * kPerOctave +
                                    (mantissa - kPerOctave));
  }
  static std::uint64_t upper_bound(std::size_t i) noexcept {
    if (i < kLinear) return i;
    const std::uint64_t octave = (i - kLinear) / kPerOctave;  // exponent - kSubBits
    const std::uint64_t mantissa = kPerOctave + (i - kLinear) % kPerOctave;
    const int shift = static_cast<int>(octave) + 1;
    const std::uint64_t low = mantissa << shift;
    return low + ((std::uint64_t{1} << shift) - 1);
  }

 private:
  std::vector<std::uint64_t> counts_;  // kBuckets entries, sized once
  std::uint64_t count_ = 0;
  double sum_ = 0;
  std::uint64_t min_ = std::numeric_limits<std::uint64_t>::max();
  std::uint64_t max_ = 0;
};

}  // namespace gilbench
