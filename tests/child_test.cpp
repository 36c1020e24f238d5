// Child processes (src/runners/child.hpp): descriptors are neither leaked in
// the parent nor inherited by a child, every child is reaped, and its end is
// described. Checked through /proc, by counts and states only.
#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <unistd.h>

#include <chrono>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "runners/child.hpp"
#include "runners/processes.hpp"
#include "test_support.hpp"

namespace gilbench {
namespace {

// The descriptors open in `pid`'s table (this process: "self").
std::set<int> open_fds(const std::string& pid = "self") {
  std::set<int> fds;
  DIR* dir = ::opendir(("/proc/" + pid + "/fd").c_str());
  if (!dir) return fds;
  const int own = pid == "self" ? ::dirfd(dir) : -1;
  while (const dirent* e = ::readdir(dir)) {
    if (e->d_name[0] == '.') continue;
    const int fd = std::atoi(e->d_name);
    if (fd != own) fds.insert(fd);
  }
  ::closedir(dir);
  return fds;
}

std::string link_of(const std::string& path) {
  char buf[256];
  const ssize_t n = ::readlink(path.c_str(), buf, sizeof buf);
  return n > 0 ? std::string(buf, static_cast<std::size_t>(n)) : std::string();
}

ProcessOptions options() {
  ProcessOptions o;
  o.executable = GILBENCH_EXE;
  o.timeout = std::chrono::seconds(120);
  o.startup_timeout = std::chrono::seconds(120);
  return o;
}

TEST(Child, FiveHundredWorkerStartsLeaveTheParentsDescriptorsAsTheyWere) {
  const std::set<int> before = open_fds();
  constexpr int kPools = 125, kWorkers = 4;  // 500 worker starts
  for (int i = 0; i < kPools; ++i) {
    ProcessPool pool(kWorkers, options());
    pool.shutdown();
  }
  EXPECT_EQ(open_fds(), before);
  EXPECT_TRUE(test::child_pids().empty());
}

// A worker holds 0, 1 and 2, and its two protocol pipes: it moves its
// stdin and stdout pipe ends to descriptors 3 and 4 (close-on-exec) and
// points its stdout at stderr (src/runners/process_worker.cpp). Nothing
// else: not the parent's files, not another worker's pipe.
TEST(Child, AWorkerHoldsOnlyItsStdioAndItsOwnTwoPipes) {
  // A descriptor of the parent that is not close-on-exec: no child may get it.
  const int stray = ::open("/dev/null", O_RDONLY);
  ASSERT_GE(stray, 3);
  {
    ProcessPool pool(3, options());  // three workers: none may hold another's pipe
    std::set<std::string> seen;      // pipes held by the workers so far
    for (pid_t pid : pool.pids()) {
      const std::string proc = "/proc/" + std::to_string(pid) + "/fd/";
      std::string what;
      const std::set<int> fds = open_fds(std::to_string(pid));
      for (int fd : fds) what += " " + std::to_string(fd) + "=" + link_of(proc + std::to_string(fd));
      EXPECT_EQ(fds, (std::set<int>{0, 1, 2, 3, 4})) << "worker pid " << pid << ":" << what;
      const std::string in = link_of(proc + "3"), out = link_of(proc + "4");
      EXPECT_EQ(in.rfind("pipe:", 0), 0u) << what;
      EXPECT_EQ(out.rfind("pipe:", 0), 0u) << what;
      EXPECT_EQ(link_of(proc + "0"), in) << what;
      EXPECT_NE(in, out);
      EXPECT_TRUE(seen.insert(in).second) << "two workers share " << in;
      EXPECT_TRUE(seen.insert(out).second) << "two workers share " << out;
    }
    pool.shutdown();
  }
  ::close(stray);
  EXPECT_TRUE(test::child_pids().empty());
}

TEST(Child, ItsPipesAreItsOwnAndItsEndIsDescribed) {
  const std::set<int> before = open_fds();
  {
    Child c("/bin/sh", {"-c", "read line; echo \"got $line\"; exit 3"});
    ASSERT_EQ(::write(c.out_fd(), "x\n", 2), 2);
    std::string got;
    char buf[64];
    while (got.find('\n') == std::string::npos) {
      pollfd p{c.in_fd(), POLLIN, 0};
      ASSERT_EQ(::poll(&p, 1, 60'000), 1);
      const ssize_t n = ::read(c.in_fd(), buf, sizeof buf);
      ASSERT_GT(n, 0);
      got.append(buf, static_cast<std::size_t>(n));
    }
    EXPECT_EQ(got, "got x\n");
    while (!c.try_reap()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
    EXPECT_EQ(describe_status(c.status()), "exited with status 3");
  }
  {
    Child c("/bin/sleep", {"600"});
    EXPECT_FALSE(c.try_reap());
    c.kill_and_reap();
    EXPECT_EQ(describe_status(c.status()), "was killed by signal 9 (SIGKILL)");
  }
  { Child still_running("/bin/sleep", {"600"}); }  // the destructor kills and reaps it
  EXPECT_EQ(open_fds(), before);
  EXPECT_TRUE(test::child_pids().empty());
}

TEST(Child, AProgramThatCannotBeStartedIsAnErrorAndLeavesNothing) {
  const std::set<int> before = open_fds();
  EXPECT_THROW(Child("/nonexistent/program", {}), std::system_error);
  EXPECT_EQ(open_fds(), before);
  EXPECT_TRUE(test::child_pids().empty());
}

}  // namespace
}  // namespace gilbench
