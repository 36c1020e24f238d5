// LatencyHistogram against sample sets whose percentiles are known exactly.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <vector>

#include "runtime/histogram.hpp"

namespace gilbench {
namespace {

// The nearest-rank percentile of a sample set, computed by sorting.
std::uint64_t exact_percentile(std::vector<std::uint64_t> v, double p) {
  std::sort(v.begin(), v.end());
  if (p <= 0) return v.front();
  auto rank = static_cast<std::size_t>(std::ceil(p / 100.0 * static_cast<double>(v.size())));
  rank = std::clamp<std::size_t>(rank, 1, v.size());
  return v[rank - 1];
}

// The histogram's promise: never below the true value, at most one bucket
// (1/64 of the value) above it.
void expect_close(const LatencyHistogram& h, const std::vector<std::uint64_t>& samples, double p) {
  const std::uint64_t exact = exact_percentile(samples, p);
  const std::uint64_t got = h.percentile(p);
  EXPECT_GE(got, exact) << "p" << p;
  EXPECT_LE(static_cast<double>(got), static_cast<double>(exact) * (1.0 + 1.0 / 64) + 1) << "p" << p;
}

TEST(Histogram, SmallValuesAreExact) {
  LatencyHistogram h;
  for (std::uint64_t v = 1; v <= 100; ++v) h.record(v);
  EXPECT_EQ(h.count(), 100u);
  EXPECT_EQ(h.percentile(50), 50u);
  EXPECT_EQ(h.percentile(99), 99u);
  EXPECT_EQ(h.percentile(100), 100u);
  EXPECT_EQ(h.percentile(0), 1u);
  EXPECT_EQ(h.min(), 1u);
  EXPECT_EQ(h.max(), 100u);
  EXPECT_DOUBLE_EQ(h.mean(), 50.5);
}

TEST(Histogram, UniformMicrosecondsInShuffledOrder) {
  // 1 us .. 10 ms in 1 us steps, recorded in random order: the exact
  // nearest-rank p50 is 5000 us, p99 9900 us, p99.9 9990 us.
  std::vector<std::uint64_t> samples;
  for (std::uint64_t us = 1; us <= 10'000; ++us) samples.push_back(us * 1000);
  std::mt19937_64 rng(7);
  std::shuffle(samples.begin(), samples.end(), rng);
  LatencyHistogram h;
  for (auto v : samples) h.record(v);
  EXPECT_EQ(exact_percentile(samples, 50), 5'000'000u);
  for (double p : {1.0, 10.0, 50.0, 90.0, 99.0, 99.9}) expect_close(h, samples, p);
  EXPECT_EQ(h.max(), 10'000'000u) << "the maximum is exact";
  EXPECT_EQ(h.percentile(100), 10'000'000u);
  EXPECT_EQ(h.min(), 1000u);
}

TEST(Histogram, ConvoyShapedTail) {
  // 990 fast round trips of ~30 us and 10 that waited out a 5 ms interval:
  // the median must stay at the fast mode, p99.5 must land in the tail.
  std::vector<std::uint64_t> samples;
  for (int i = 0; i < 990; ++i) samples.push_back(30'000 + static_cast<std::uint64_t>(i % 7) * 100);
  for (int i = 0; i < 10; ++i) samples.push_back(5'000'000 + static_cast<std::uint64_t>(i) * 1000);
  LatencyHistogram h;
  for (auto v : samples) h.record(v);
  for (double p : {50.0, 99.0, 99.5, 99.9}) expect_close(h, samples, p);
  EXPECT_LT(h.percentile(99), 40'000u);
  EXPECT_GE(h.percentile(99.5), 5'000'000u);
  EXPECT_EQ(h.max(), 5'009'000u);
}

TEST(Histogram, RandomLogNormalSet) {
  std::mt19937_64 rng(42);
  std::lognormal_distribution<double> dist(10.0, 2.0);  // ~22 us median, long tail
  std::vector<std::uint64_t> samples;
  LatencyHistogram h;
  for (int i = 0; i < 50'000; ++i) {
    const auto v = static_cast<std::uint64_t>(dist(rng));
    samples.push_back(v);
    h.record(v);
  }
  for (double p : {0.1, 5.0, 25.0, 50.0, 75.0, 95.0, 99.0, 99.99}) expect_close(h, samples, p);
}

TEST(Histogram, BucketsCoverEveryValueOnceAndStayNarrow) {
  std::vector<std::uint64_t> probes = {0, 1, 127, 128, 129, 255, 256, 1000, 4095, 4096, 1'000'000};
  for (int e = 7; e < 64; ++e) {
    const std::uint64_t p2 = std::uint64_t{1} << e;
    probes.insert(probes.end(), {p2 - 1, p2, p2 + 1, p2 + p2 / 3});
  }
  probes.push_back(std::numeric_limits<std::uint64_t>::max());
  for (std::uint64_t v : probes) {
    const std::size_t i = LatencyHistogram::index(v);
    ASSERT_LT(i, LatencyHistogram::kBuckets) << v;
    EXPECT_GE(LatencyHistogram::upper_bound(i), v) << v;
    if (i > 0) {
      EXPECT_LT(LatencyHistogram::upper_bound(i - 1), v) << v;
    }
    // The bucket is at most 1/64 of its values wide.
    const std::uint64_t low = i > 0 ? LatencyHistogram::upper_bound(i - 1) + 1 : 0;
    EXPECT_LE(static_cast<double>(LatencyHistogram::upper_bound(i) - low), static_cast<double>(low) / 64 + 0.5)
        << v;
  }
  EXPECT_EQ(LatencyHistogram::index(std::numeric_limits<std::uint64_t>::max()), LatencyHistogram::kBuckets - 1);
}

TEST(Histogram, EmptyMergeAndReset) {
  LatencyHistogram a;
  EXPECT_EQ(a.count(), 0u);
  EXPECT_EQ(a.percentile(50), 0u);
  EXPECT_EQ(a.max(), 0u);
  EXPECT_EQ(a.min(), 0u);
  LatencyHistogram b;
  for (std::uint64_t v = 1; v <= 50; ++v) a.record(v);
  for (std::uint64_t v = 51; v <= 100; ++v) b.record(v);
  a.merge(b);
  EXPECT_EQ(a.count(), 100u);
  EXPECT_EQ(a.percentile(50), 50u);
  EXPECT_EQ(a.max(), 100u);
  a.reset();
  EXPECT_EQ(a.count(), 0u);
  EXPECT_EQ(a.percentile(99), 0u);
}

}  // namespace
}  // namespace gilbench
