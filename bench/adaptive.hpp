// How many repetitions a row gets.
//
// Fixed (--repetitions=N): N, in one round. Adaptive (--repetitions=auto,
// the default): every row runs `min` repetitions; then, round after round,
// the rows whose statistic is not yet known to `target` get as many again
// (at most `max` in all), until every row is, or the time budget is spent.
// Each round is one pass of Google Benchmark over the rows that need more,
// their repetitions interleaved at random (a drift of the machine spreads
// over all of them).
//
// The statistic is the median of the repetitions, and "known to target"
// means its distribution-free 95% confidence interval (two order
// statistics, from the binomial distribution: no assumption about the shape
// of the times, which on a shared VM are skewed and at times bimodal) is
// narrower than target x median on each side. Interference only adds time,
// so the median is pulled by it only when more than half the repetitions
// are disturbed; it also suits the gate's rank test. A row whose times fall
// in two clusters (bimodal) is flagged: its median is whichever cluster
// holds the majority, and more repetitions are the remedy.
#pragma once

#include <chrono>
#include <string>
#include <vector>

#include "report/sample_stats.hpp"  // median_ci_relative, is_bimodal

namespace gilbench {

struct RepetitionPlan {
  bool adaptive = true;
  int fixed = 5;          // --repetitions=N
  int min = 5;            // adaptive: every row's first round
  int max = 41;           // adaptive: most repetitions of one row
  double target = 0.03;   // half-width of the median's 95% CI / median
  std::chrono::duration<double> budget{600};  // adaptive: stop starting rounds after this
};


}  // namespace gilbench
