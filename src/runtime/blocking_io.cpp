#include "runtime/blocking_io.hpp"

#include <sys/prctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <stdexcept>
#include <system_error>

namespace gilbench {

namespace {
[[noreturn]] void throw_errno(const char* what) { throw std::system_error(errno, std::generic_category(), what); }
}  // namespace

void send_all(int fd, std::span<const std::byte> data) {
  while (!data.empty()) {
    const ssize_t n = ::send(fd, data.data(), data.size(), MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EINTR) continue;
      throw_errno("send");
    }
    data = data.subspan(static_cast<std::size_t>(n));
  }
}

void recv_all(int fd, std::span<std::byte> data) {
  while (!data.empty()) {
    const ssize_t n = ::recv(fd, data.data(), data.size(), 0);
    if (n < 0) {
      if (errno == EINTR) continue;
      throw_errno("recv");
    }
    if (n == 0) throw std::runtime_error("recv: the echo peer closed the connection");
    data = data.subspan(static_cast<std::size_t>(n));
  }
}

void sleep_us(long us) {
  timespec left{us / 1'000'000, (us % 1'000'000) * 1000};
  while (::nanosleep(&left, &left) != 0 && errno == EINTR) {
  }
}

EchoPeer::EchoPeer(std::chrono::microseconds reply_delay) {
  int fds[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) != 0) throw_errno("socketpair");
  fd_ = fds[0];
  peer_fd_ = fds[1];
  auto echo = [fd = peer_fd_, delay = reply_delay.count()] {
    // Default slack (50 us) would stretch a 20 us delay to ~70 us.
    if (delay > 0) ::prctl(PR_SET_TIMERSLACK, 1UL, 0UL, 0UL, 0UL);
    std::byte buf[4096];
    for (;;) {
      const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return;  // EOF: the owner is done (or the socket broke)
      if (delay > 0) sleep_us(static_cast<long>(delay));
      try {
        send_all(fd, std::span<const std::byte>(buf, static_cast<std::size_t>(n)));
      } catch (const std::system_error&) {
        return;  // the owner went away mid-echo; its recv reports it
      }
    }
  };
  try {
    thread_ = std::thread(echo);
  } catch (...) {
    ::close(fd_);
    ::close(peer_fd_);
    throw;
  }
}

EchoPeer::~EchoPeer() {
  ::shutdown(fd_, SHUT_RDWR);  // the peer's recv returns 0
  thread_.join();
  ::close(fd_);
  ::close(peer_fd_);
}

}  // namespace gilbench
