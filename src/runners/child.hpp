// Notes on child processes (every process gilbench starts: the process
// runner's workers, convoy's CPU burners).
//
// One lifecycle for all of them, on Boost.Process v1:
//   spawn    this binary (or a test's) with arguments; its stdin and stdout
//            are pipes to the parent, its stderr is the parent's. The pipes
//            are created close-on-exec and above descriptor 2, and before the
//            exec every descriptor >= 3 the child inherited is marked
//            close-on-exec too (close_range, or fcntl where that is missing),
//            so a child holds exactly 0, 1 and 2: never another child's pipe
//            (which would keep that pipe open after its owner closed it) nor
//            the parent's files. The child also gets PR_SET_PDEATHSIG
//            (SIGKILL) before the exec, so it dies with the thread that
//            spawned it; if the parent is already gone it exits at once.
//   talk     in_fd() reads its stdout, out_fd() writes its stdin; both are
//            non-blocking (callers poll).
//   reap     try_reap() never blocks; kill_and_reap() sends SIGKILL and waits.
//            The destructor kills and reaps a child that is still running,
//            so no Child ever leaves a zombie or an orphan behind.
//   describe describe_status() turns a wait status into "exited with
//            status 3" or "was killed by signal 9 (SIGKILL)".
//
// Descriptor budget: a Child holds two descriptors in the parent (its two
// pipe ends) and releases both when it is destroyed.
#pragma once

#include <sys/resource.h>
#include <sys/types.h>

#include <memory>
#include <string>
#include <vector>

namespace gilbench {

// "exited with status 3", "was killed by signal 9 (SIGKILL)".
std::string describe_status(int wait_status);

class Child {
 public:
  // Starts `exe` with `args` (argv[1..]). Throws std::system_error (nothing
  // is left behind: no process, no descriptor) if it cannot be started.
  Child(const std::string& exe, const std::vector<std::string>& args);
  ~Child();  // kill_and_reap(); closes the pipes
  Child(const Child&) = delete;
  Child& operator=(const Child&) = delete;

  pid_t pid() const noexcept;
  int in_fd() const noexcept;   // the child's stdout, read end (non-blocking)
  int out_fd() const noexcept;  // the child's stdin, write end (non-blocking)

  // Collects the exit status if the child has ended; never blocks.
  // RETURNS: true once it is reaped.
  bool try_reap() noexcept;
  // SIGKILL unless already reaped, then waits for it.
  void kill_and_reap() noexcept;
  bool reaped() const noexcept { return reaped_; }
  int status() const noexcept { return status_; }  // wait status, once reaped
  double cpu_seconds() const noexcept { return cpu_seconds_; }  // user + system, once reaped

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  bool reaped_ = false;
  int status_ = 0;
  double cpu_seconds_ = 0;
  void note_reaped(pid_t got, int status, const struct rusage& usage) noexcept;
};

}  // namespace gilbench
