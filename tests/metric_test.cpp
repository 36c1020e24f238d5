// Counters are declared where they are produced (runtime/metric.hpp): every
// strategy's stats() emits only what its runtime's kMetrics lists, every
// listed counter is in the registry, and no two declarations share a name.
#include <map>
#include <set>
#include <string>

#include <gtest/gtest.h>

#include "matrix.hpp"
#include "strategies/all.hpp"

namespace gilbench {
namespace {

TEST(Metrics, EveryStrategyEmitsWhatItDeclares) {
  const std::vector<const Metric*> registry = all_metrics();
  for_each_type(AllStrategies{}, [&]<Strategy S> {
    SCOPED_TRACE(std::string(S::kName));
    RunConfig config;
    typename S::Runtime rt(config);
    {
      typename S::Runtime::Worker w(0);
      rt.attach(w);
      rt.checkpoint(w);
      rt.release(w);
      rt.reacquire(w);
      rt.detach(w);
    }
    const MetricList declared = metrics_of<S>();
    std::set<const Metric*> emitted;
    for (const auto& [metric, value] : rt.stats().counters) {
      emitted.insert(metric);
      EXPECT_NE(std::find(declared.begin(), declared.end(), metric), declared.end())
          << metric->name << " is emitted but not in " << S::kName << "'s kMetrics";
    }
    for (const Metric* m : declared) {
      EXPECT_TRUE(emitted.count(m)) << m->name << " is declared but never emitted";
      EXPECT_NE(std::find(registry.begin(), registry.end(), m), registry.end()) << m->name;
    }
  });
}

TEST(Metrics, NamesAreUniqueAndDescribed) {
  std::map<std::string, const Metric*> by_name;
  for (const Metric* m : all_metrics()) {
    EXPECT_TRUE(by_name.emplace(std::string(m->name), m).second) << "two metrics named " << m->name;
    EXPECT_FALSE(m->unit.empty()) << m->name;
    EXPECT_FALSE(m->description.empty()) << m->name;
  }
  EXPECT_TRUE(by_name.count("gil_wait_frac"));
  EXPECT_TRUE(by_name.count("io_rps"));
  EXPECT_TRUE(by_name.count("ipc_frac"));
  EXPECT_NE(metrics_markdown().find("| `gil_switches` | count | neither |"), std::string::npos);
}

}  // namespace
}  // namespace gilbench
