// RunSpec: the run-name grammar, both ways.
#include <gtest/gtest.h>

#include "run_spec.hpp"

namespace gilbench {
namespace {

TEST(RunSpec, NamesAndParsesEveryRow) {
  const RunSpec plain{"countdown", "gil", "threads", 2, {}};
  EXPECT_EQ(plain.name(), "countdown/gil/workers:2");
  EXPECT_EQ(RunSpec::parse(plain.name()), plain);
  const RunSpec swept{"convoy", "gil_priority", "threads", 0, {{"interval", "100us"}}};
  EXPECT_EQ(swept.name(), "convoy/gil_priority/workers:0/interval:100us");
  EXPECT_EQ(swept.variant(), "gil_priority/interval:100us");
  EXPECT_EQ(RunSpec::parse(swept.name()), swept);
  const RunSpec process{"list_sum", "process", "process", 4, {}};
  EXPECT_EQ(RunSpec::parse(process.name()), process);
  EXPECT_EQ(process.fields()["runner"], "process");
  EXPECT_EQ(swept.fields()["axes"]["interval"], "100us");
}

TEST(RunSpec, RefusesWhatIsNotARunName) {
  for (const char* bad : {"", "countdown", "countdown/gil", "countdown/gil/threads:2", "countdown/gil/workers:",
                          "countdown/gil/workers:x", "countdown/gil/workers:2/interval", "/gil/workers:1",
                          "countdown//workers:1", "countdown/gil/workers:2/:5ms", "countdown/gil/workers:-1"})
    EXPECT_FALSE(RunSpec::parse(bad)) << bad;
}

}  // namespace
}  // namespace gilbench
