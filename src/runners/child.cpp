#include "runners/child.hpp"

#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <optional>
#include <system_error>

// Boost.Process v1: in boost/process/ up to Boost 1.87, in boost/process/v1/
// from 1.88 on (CMakeLists.txt sets GILBENCH_BOOST_PROCESS_V1_DIR).
#if GILBENCH_BOOST_PROCESS_V1_DIR
#include <boost/process/v1/args.hpp>
#include <boost/process/v1/child.hpp>
#include <boost/process/v1/exe.hpp>
#include <boost/process/v1/extend.hpp>
#include <boost/process/v1/io.hpp>
#include <boost/process/v1/pipe.hpp>
namespace bp = boost::process::v1;
#else
#include <boost/process/args.hpp>
#include <boost/process/child.hpp>
#include <boost/process/exe.hpp>
#include <boost/process/extend.hpp>
#include <boost/process/io.hpp>
#include <boost/process/pipe.hpp>
namespace bp = boost::process;
#endif

#include "runtime/sys_error.hpp"

namespace gilbench {

std::string describe_status(int status) {
  if (WIFEXITED(status)) return "exited with status " + std::to_string(WEXITSTATUS(status));
  if (WIFSIGNALED(status)) {
    const int sig = WTERMSIG(status);
    const char* abbrev = sigabbrev_np(sig);
    return "was killed by signal " + std::to_string(sig) +
           (abbrev ? " (SIG" + std::string(abbrev) + ")" : std::string());
  }
  return "ended with wait status " + std::to_string(status);
}

namespace {

// A pipe whose two descriptors are close-on-exec and above the standard
// three. Boost.Process dup2()s the child's ends onto its 0 and 1, which
// clears the flag there; the parent closes them after the spawn.
bp::pipe make_pipe() {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) throw_errno("pipe2");
  for (int& fd : fds) {
    if (fd > 2) continue;
    const int moved = ::fcntl(fd, F_DUPFD_CLOEXEC, 3);
    const int err = errno;
    ::close(fd);
    if (moved < 0) {
      ::close(fds[0] == fd ? fds[1] : fds[0]);
      throw_errno("fcntl(F_DUPFD_CLOEXEC)", err);
    }
    fd = moved;
  }
  return bp::pipe(fds[0], fds[1]);
}

void set_nonblocking(int fd) {
  const int flags = ::fcntl(fd, F_GETFL);
  if (flags < 0 || ::fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0) throw_errno("fcntl(O_NONBLOCK)");
}

// In the child, between fork and exec: only async-signal-safe calls.
// Marks every inherited descriptor >= 3 close-on-exec (the child's own 0
// and 1 are the dup2()ed pipe ends, 2 is shared), and ties the child's life
// to the spawning thread's.
struct ExecSetup {
  pid_t parent;
  int fd_limit;
  template <class Executor>
  void operator()(Executor&) const {
#ifdef CLOSE_RANGE_CLOEXEC
    if (::close_range(3, ~0U, CLOSE_RANGE_CLOEXEC) != 0)
#endif
      for (int fd = 3; fd < fd_limit; ++fd) ::fcntl(fd, F_SETFD, FD_CLOEXEC);
    if (::prctl(PR_SET_PDEATHSIG, SIGKILL) != 0 || ::getppid() != parent) ::_exit(127);
  }
};

int descriptor_limit() {
  rlimit r{};
  if (::getrlimit(RLIMIT_NOFILE, &r) != 0 || r.rlim_cur == RLIM_INFINITY || r.rlim_cur > (1u << 20))
    return 1 << 20;
  return static_cast<int>(r.rlim_cur);
}

}  // namespace

struct Child::Impl {
  bp::pipe requests;  // the parent writes native_sink(); the child's stdin
  bp::pipe replies;   // the parent reads native_source(); the child's stdout
  bp::child child;
  pid_t pid = 0;

  Impl(const std::string& exe, const std::vector<std::string>& args)
      : requests(make_pipe()), replies(make_pipe()) {
    // With an error_code Boost.Process reports a failed exec instead of
    // throwing, and the on_error hook learns the pid of the child that
    // failed, so it can be reaped rather than left a zombie.
    std::error_code ec;
    pid_t failed = -1;
    child = bp::child(bp::exe = exe, bp::args = args, bp::std_in < requests, bp::std_out > replies, ec,
                      bp::extend::on_exec_setup = ExecSetup{::getpid(), descriptor_limit()},
                      bp::extend::on_error = [&failed](auto& exec, const std::error_code&) {
                        failed = exec.pid;
                      });
    if (ec) {
      if (failed > 0) {
        int status = 0;
        while (::waitpid(failed, &status, 0) < 0 && errno == EINTR) {
        }
      }
      throw std::system_error(ec, "cannot start " + exe);
    }
    pid = child.id();
    child.detach();  // Child reaps it itself (waitpid), never Boost's destructor
    try {
      set_nonblocking(replies.native_source());
      set_nonblocking(requests.native_sink());
    } catch (...) {
      ::kill(pid, SIGKILL);
      int status = 0;
      while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
      }
      throw;
    }
  }
};

Child::Child(const std::string& exe, const std::vector<std::string>& args)
    : impl_(std::make_unique<Impl>(exe, args)) {}

Child::~Child() { kill_and_reap(); }

pid_t Child::pid() const noexcept { return impl_->pid; }
int Child::in_fd() const noexcept { return impl_->replies.native_source(); }
int Child::out_fd() const noexcept { return impl_->requests.native_sink(); }

void Child::note_reaped(pid_t got, int status, const struct rusage& usage) noexcept {
  reaped_ = true;
  // got < 0 (ECHILD): someone else reaped it; report it as killed.
  status_ = got == impl_->pid ? status : (SIGKILL & 0x7f);
  auto seconds = [](const timeval& t) { return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_usec) * 1e-6; };
  cpu_seconds_ = got == impl_->pid ? seconds(usage.ru_utime) + seconds(usage.ru_stime) : 0;
}

bool Child::try_reap() noexcept {
  if (reaped_) return true;
  int status = 0;
  struct rusage usage {};
  pid_t got;
  while ((got = ::wait4(impl_->pid, &status, WNOHANG, &usage)) < 0 && errno == EINTR) {
  }
  if (got == 0) return false;
  note_reaped(got, status, usage);
  return true;
}

void Child::kill_and_reap() noexcept {
  if (try_reap()) return;
  ::kill(impl_->pid, SIGKILL);
  int status = 0;
  struct rusage usage {};
  pid_t got;
  while ((got = ::wait4(impl_->pid, &status, 0, &usage)) < 0 && errno == EINTR) {
  }
  note_reaped(got, status, usage);
}

}  // namespace gilbench
