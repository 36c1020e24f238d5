// Helpers shared by the tests.
#pragma once

#include <dirent.h>
#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <functional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "runtime/heap.hpp"
#include "runtime/object.hpp"

namespace gilbench::test {

// Runs fn(i) on n threads at once and joins them; every thread's
// allocations are added to `ledger`.
inline void run_threads(int n, AllocLedger& ledger, const std::function<void(int)>& fn) {
  std::vector<std::thread> threads;
  std::atomic<int> ready{0};
  for (int i = 0; i < n; ++i)
    threads.emplace_back([&, i] {
      AllocLedger::Scope scope(ledger);
      ready.fetch_add(1);
      while (ready.load() < n) std::this_thread::yield();
      fn(i);
    });
  for (auto& t : threads) t.join();
}

// The start of a /proc file (up to 4 KiB), or "" if it cannot be read: a
// process may exit between being listed and being read, and read() then
// fails with ESRCH (which std::filebuf would throw).
inline std::string read_proc(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return {};
  char buf[4096];
  const ssize_t got = ::read(fd, buf, sizeof buf);
  ::close(fd);
  return got > 0 ? std::string(buf, static_cast<std::size_t>(got)) : std::string();
}

// Every process whose parent is this one, zombies included.
inline std::vector<pid_t> child_pids() {
  std::vector<pid_t> found;
  DIR* dir = ::opendir("/proc");
  if (!dir) return found;
  const pid_t self = ::getpid();
  while (const dirent* e = ::readdir(dir)) {
    char* end = nullptr;
    const long pid = std::strtol(e->d_name, &end, 10);
    if (*end != '\0' || pid <= 0) continue;
    const std::string stat = read_proc("/proc/" + std::string(e->d_name) + "/stat");
    const auto paren = stat.rfind(')');  // the command name may hold spaces and parentheses
    if (paren == std::string::npos) continue;
    std::istringstream fields(stat.substr(paren + 1));
    char state = 0;
    long ppid = 0;
    if (fields >> state >> ppid && ppid == self) found.push_back(static_cast<pid_t>(pid));
  }
  ::closedir(dir);
  return found;
}

}  // namespace gilbench::test

namespace gilbench {

// d[key] as a new reference, or null (the workloads only update dicts in
// place: dict_update).
template <Strategy S>
AnyRef<S> dict_get(DictObj<S>& d, const StrObj<S>& key) {
  [[maybe_unused]] auto guard = S::lock(d.header);
  return detail::dict_find(d, key).value;
}

// d[key] = value. The old value is dropped after the lock is released.
template <Strategy S>
void dict_set(DictObj<S>& d, const Ref<StrObj<S>>& key, std::type_identity_t<AnyRef<S>> value) {
  dict_update(d, key, [&](Object<S>*) { return std::move(value); });
}

}  // namespace gilbench
