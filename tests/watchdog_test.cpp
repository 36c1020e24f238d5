// RunWatchdog (bench/watchdog.hpp): fires once for a repetition that
// outlives the timeout, never for one that ended. States only: the timeouts
// are 1 ms (it must fire, waited for up to a minute) and 1 hour (it must not).
#include <gtest/gtest.h>

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "watchdog.hpp"

namespace gilbench {
namespace {

TEST(RunWatchdog, FiresOnceForARunThatDoesNotEnd) {
  std::mutex m;
  std::condition_variable cv;
  std::vector<std::string> fired;
  {
    RunWatchdog dog(std::chrono::milliseconds(1), [&](const std::string& name, std::chrono::nanoseconds elapsed) {
      EXPECT_GE(elapsed, std::chrono::milliseconds(1));
      std::lock_guard lock(m);
      fired.push_back(name);
      cv.notify_all();
    });
    RunWatchdog::begin("countdown/gil/workers:2");
    std::unique_lock lock(m);
    EXPECT_TRUE(cv.wait_for(lock, std::chrono::minutes(1), [&] { return !fired.empty(); }));
    lock.unlock();
    std::this_thread::sleep_for(std::chrono::milliseconds(200));  // more checks: no second call
    RunWatchdog::end();
  }
  ASSERT_EQ(fired, std::vector<std::string>{"countdown/gil/workers:2"});
}

TEST(RunWatchdog, NeverFiresForARunThatEnded) {
  bool fired = false;
  {
    RunWatchdog dog(std::chrono::hours(1), [&](const std::string&, std::chrono::nanoseconds) { fired = true; });
    RunWatchdog::begin("a");
    RunWatchdog::end();
  }
  EXPECT_FALSE(fired);
  RunWatchdog::begin("without a watchdog");  // no-ops
  RunWatchdog::end();
}

}  // namespace
}  // namespace gilbench
