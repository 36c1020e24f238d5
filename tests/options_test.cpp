// The command line: every bad flag or value is a UsageError naming it.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "options.hpp"

namespace gilbench {
namespace {

using ::testing::HasSubstr;

Options parse(std::vector<std::string> args) {
  args.insert(args.begin(), "gilbench");
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  return parse_options(static_cast<int>(argv.size()), argv.data(), {"serial", "gil", "fine_lock"},
                       {"countdown", "list_sum"});
}

std::string error_of(std::vector<std::string> args) {
  try {
    parse(std::move(args));
  } catch (const UsageError& e) {
    return e.what();
  }
  return "(no error)";
}

TEST(Options, Defaults) {
  const Options o = parse({});
  EXPECT_FALSE(o.quick);
  EXPECT_TRUE(o.workers.empty());
  EXPECT_TRUE(o.switch_intervals.empty());
  EXPECT_EQ(o.check_interval, 100);
}

TEST(Options, ParsesEveryFlag) {
  const Options o = parse({"--quick", "--workers=4,1,2,2", "--switch-interval", "5ms,100us",
                           "--repetitions=7", "--out=r.json", "--strategies=gil,serial",
                           "--workloads=countdown", "--check-interval=50",
                           "--benchmark_filter=gil"});
  EXPECT_TRUE(o.quick);
  EXPECT_EQ(o.workers, (std::vector<int>{1, 2, 4}));
  ASSERT_EQ(o.switch_intervals.size(), 2u);
  EXPECT_EQ(o.switch_intervals[0], std::chrono::milliseconds(5));
  EXPECT_EQ(o.switch_intervals[1], std::chrono::microseconds(100));
  EXPECT_EQ(o.repetitions, 7);
  EXPECT_EQ(o.out, "r.json");
  EXPECT_EQ(o.strategies, (std::vector<std::string>{"gil", "serial"}));
  EXPECT_EQ(o.check_interval, 50);
  EXPECT_EQ(o.filter, "gil");  // applied by gilbench to the clean names
  EXPECT_TRUE(o.benchmark_args.empty());
}

TEST(Options, OneValueOnceAndNoContradictions) {
  // Equal intervals written two ways are one (else one name registered twice).
  EXPECT_EQ(parse({"--switch-interval=5ms,5000us,1ms"}).switch_intervals,
            (std::vector<std::chrono::nanoseconds>{std::chrono::milliseconds(5), std::chrono::milliseconds(1)}));
  EXPECT_THAT(error_of({"--inject-slowdown=countdown,list_sum:0.5"}), HasSubstr("takes one name, not a list"));
  EXPECT_THAT(error_of({"--inject-slowdown=countdown/gil,serial:0.5"}), HasSubstr("takes one name, not a list"));
  EXPECT_THAT(error_of({"--test-corrupt-checksum=countdown,list_sum"}), HasSubstr("takes one name, not a list"));
  EXPECT_THAT(error_of({"--out=a.json", "--benchmark_out=b.json"}), HasSubstr("disagrees with --out=a.json"));
  EXPECT_EQ(parse({"--out=a.json", "--benchmark_out=a.json"}).out, "a.json");
  EXPECT_THAT(error_of({"--repetitions=5", "--benchmark_repetitions=2"}),
              HasSubstr("disagrees with --benchmark_repetitions"));
  EXPECT_EQ(parse({"--benchmark_repetitions=3"}).repetitions, 3);  // what runs is what is recorded
  EXPECT_THAT(error_of({"--benchmark_out_format=xml"}), HasSubstr("is not json, csv or console"));
  EXPECT_EQ(parse({"--benchmark_out_format=csv"}).out_format, "csv");
  EXPECT_TRUE(parse({"--benchmark_list_tests"}).list);
  EXPECT_FALSE(parse({"--benchmark_list_tests=false"}).list);
}

TEST(Options, BenchmarkOutIsTakenOverForAtomicWrites) {
  const Options o = parse({"--benchmark_out=x/y.json"});
  EXPECT_EQ(o.out, "x/y.json");
  EXPECT_TRUE(o.benchmark_args.empty());
}

TEST(Options, ErrorsNameTheFlag) {
  EXPECT_THAT(error_of({"--bogus"}), HasSubstr("'--bogus'"));
  EXPECT_THAT(error_of({"--workers=0"}), HasSubstr("--workers"));
  EXPECT_THAT(error_of({"--workers=two"}), HasSubstr("'two' is not an integer"));
  EXPECT_THAT(error_of({"--workers="}), HasSubstr("--workers"));
  EXPECT_THAT(error_of({"--workers"}), HasSubstr("missing value"));
  EXPECT_THAT(error_of({"--repetitions=0"}), HasSubstr("out of range"));
  EXPECT_THAT(error_of({"--switch-interval=5"}), HasSubstr("needs a unit"));
  EXPECT_THAT(error_of({"--switch-interval=fast"}), HasSubstr("needs a unit"));
  EXPECT_THAT(error_of({"--switch-interval=xms"}), HasSubstr("not a duration"));
  EXPECT_THAT(error_of({"--switch-interval=1ns"}), HasSubstr("out of range"));
  EXPECT_THAT(error_of({"--strategies=gil,nogil"}), HasSubstr("unknown name 'nogil'"));
  EXPECT_THAT(error_of({"--workloads=fib"}), HasSubstr("unknown name 'fib'"));
  EXPECT_THAT(error_of({"--quick=yes"}), HasSubstr("takes no value"));
  EXPECT_THAT(error_of({"--out="}), HasSubstr("empty file name"));
}

TEST(Options, ProcessRunnerFlags) {
  EXPECT_EQ(parse({}).worker_timeout, std::chrono::seconds(60));
  EXPECT_TRUE(parse({}).worker_misbehave.empty());
  const Options o = parse({"--worker-timeout=90s", "--test-worker-misbehave=hang"});
  EXPECT_EQ(o.worker_timeout, std::chrono::seconds(90));
  EXPECT_EQ(o.worker_misbehave, "hang");
  EXPECT_EQ(parse({"--worker-timeout", "250ms"}).worker_timeout, std::chrono::milliseconds(250));
  EXPECT_THAT(error_of({"--worker-timeout=5"}), HasSubstr("needs a unit"));
  EXPECT_THAT(error_of({"--worker-timeout=10us"}), HasSubstr("--worker-timeout: 10us is out of range [1ms, 3600s]"));
  EXPECT_THAT(error_of({"--test-worker-misbehave=explode"}), HasSubstr("unknown mode 'explode'"));
  // Everything after --worker belongs to the worker.
  const Options w = parse({"--worker", "--index=1", "--bogus"});
  EXPECT_TRUE(w.worker_mode);
  EXPECT_EQ(w.worker_args, (std::vector<std::string>{"--index=1", "--bogus"}));
}

TEST(Options, InjectSlowdownTakesAnOptionalStrategy) {
  const Options all = parse({"--inject-slowdown=countdown:0.1"});
  EXPECT_EQ(all.inject_workload, "countdown");
  EXPECT_TRUE(all.inject_strategy.empty());
  EXPECT_DOUBLE_EQ(all.inject_fraction, 0.1);
  const Options one = parse({"--inject-slowdown=list_sum/gil:0.05"});
  EXPECT_EQ(one.inject_workload, "list_sum");
  EXPECT_EQ(one.inject_strategy, "gil");
  EXPECT_DOUBLE_EQ(one.inject_fraction, 0.05);
  EXPECT_THAT(error_of({"--inject-slowdown=countdown"}), HasSubstr("is not WORKLOAD[/STRATEGY]:FRACTION"));
  EXPECT_THAT(error_of({"--inject-slowdown=countdown/nogil:0.1"}), HasSubstr("unknown name 'nogil'"));
  EXPECT_THAT(error_of({"--inject-slowdown=fib:0.1"}), HasSubstr("unknown name 'fib'"));
  EXPECT_THAT(error_of({"--inject-slowdown=countdown:0"}), HasSubstr("not in (0, 1]"));
  EXPECT_THAT(error_of({"--inject-slowdown=countdown:1.5"}), HasSubstr("not in (0, 1]"));
}

TEST(Options, BytecodeCostInStepsOrTime) {
  EXPECT_TRUE(parse({}).bytecode_costs.empty());
  const auto c = parse({"--bytecode-cost=0,16,40ns,0.5us,16"}).bytecode_costs;
  ASSERT_EQ(c.size(), 4u);
  EXPECT_EQ(c[0], (Options::BytecodeCost{0, false}));
  EXPECT_EQ(c[1], (Options::BytecodeCost{16, false}));
  EXPECT_EQ(c[2], (Options::BytecodeCost{40, true}));
  EXPECT_EQ(c[3], (Options::BytecodeCost{500, true}));
  EXPECT_THAT(error_of({"--bytecode-cost=-3"}), HasSubstr("out of range"));
  EXPECT_THAT(error_of({"--bytecode-cost=ns"}), HasSubstr("not a step count or a time in ns or us"));
  EXPECT_THAT(error_of({"--bytecode-cost=-1ns"}), HasSubstr("not a time"));
  EXPECT_THAT(error_of({"--bytecode-cost=2ms"}), HasSubstr("'2ms' is not a step count or a time in ns or us"));
  EXPECT_THAT(error_of({"--bytecode-cost="}), HasSubstr("--bytecode-cost"));
}

TEST(Options, DurationsRoundTrip) {
  for (const char* text : {"5ms", "100us", "10us", "1s", "2500ns"})
    EXPECT_EQ(format_duration(parse_duration(text, "--x")), text);
  EXPECT_EQ(parse_duration("0.005s", "--x"), std::chrono::milliseconds(5));
}

}  // namespace
}  // namespace gilbench
