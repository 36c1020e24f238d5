// StartGate: the process runner's start barrier, one shared memory page
// that the parent and its workers map. Each worker, once it has its run
// request, says so over its pipe ("armed") and spins on the page; when
// every worker has, the parent starts the clock and opens the gate for all
// of them at once. So the timed region of a process run starts, as a
// threads run does (runners/threads.hpp), with every worker running.
//
// The page is a POSIX shared memory object (shm_open) named after the pool;
// the parent removes the name once every worker has mapped it, so nothing is
// left in /dev/shm after the pool's start-up. Where shm_open is not
// available, a file in $TMPDIR (or /tmp) serves, removed the same way.
#pragma once

#include <atomic>
#include <cstdint>
#include <string>

namespace gilbench {

class StartGate {
 public:
  // The parent: creates the page (throws std::system_error).
  static StartGate create();
  // A worker: maps the page the parent created (throws std::system_error).
  static StartGate open(const std::string& name);

  StartGate(StartGate&& o) noexcept;
  StartGate& operator=(StartGate&&) = delete;
  StartGate(const StartGate&) = delete;
  ~StartGate();

  const std::string& name() const noexcept { return name_; }
  // The parent, once every worker has mapped the page.
  void unlink() noexcept;

  // The parent: open the gate for run `run` (1, 2, ...).
  void open_for(std::uint64_t run) noexcept;
  // A worker: spin (yielding the CPU) until the gate is open for `run`.
  void wait_for(std::uint64_t run) const noexcept;

 private:
  StartGate(std::string name, void* page, bool owner) noexcept;
  std::atomic<std::uint64_t>& word() const noexcept;

  std::string name_;
  void* page_ = nullptr;
  bool owner_ = false;  // created it: unlinks the name if still there
  bool linked_ = true;
};

}  // namespace gilbench
