#include "runtime/blocking_io.hpp"

#include <sys/prctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <stdexcept>
#include <system_error>

#include "runtime/sys_error.hpp"

namespace gilbench {

void write_all(int fd, std::span<const std::byte> data) {
  bool socket = true;  // until send() says otherwise
  while (!data.empty()) {
    const ssize_t n = socket ? ::send(fd, data.data(), data.size(), MSG_NOSIGNAL) : ::write(fd, data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == ENOTSOCK && socket) {
        socket = false;
        continue;
      }
      throw_errno(socket ? "send" : "write");
    }
    data = data.subspan(static_cast<std::size_t>(n));
  }
}

std::size_t read_full(int fd, std::span<std::byte> data) {
  std::size_t got = 0;
  while (got < data.size()) {
    const ssize_t n = ::read(fd, data.data() + got, data.size() - got);
    if (n == 0) break;
    if (n < 0) {
      if (errno == EINTR) continue;
      throw_errno("read");
    }
    got += static_cast<std::size_t>(n);
  }
  return got;
}

void recv_all(int fd, std::span<std::byte> data) {
  if (read_full(fd, data) < data.size()) throw std::runtime_error("recv: the echo peer closed the connection");
}

void sleep_us(long us) {
  timespec left{us / 1'000'000, (us % 1'000'000) * 1000};
  while (::nanosleep(&left, &left) != 0 && errno == EINTR) {
  }
}

void echo_loop(int fd, long delay_us) noexcept {
  // Default slack (50 us) would stretch a 20 us delay to ~70 us.
  if (delay_us > 0) ::prctl(PR_SET_TIMERSLACK, 1UL, 0UL, 0UL, 0UL);
  std::byte buf[4096];
  for (;;) {
    const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;  // EOF: the owner is done (or the socket broke)
    if (delay_us > 0) sleep_us(delay_us);
    try {
      write_all(fd, std::span<const std::byte>(buf, static_cast<std::size_t>(n)));
    } catch (const std::system_error&) {
      return;  // the owner went away mid-echo; its recv reports it
    }
  }
}

EchoPeer::EchoPeer(std::chrono::microseconds reply_delay) {
  int fds[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) != 0) throw_errno("socketpair");
  fd_ = fds[0];
  peer_fd_ = fds[1];
  auto echo = [fd = peer_fd_, delay = static_cast<long>(reply_delay.count())] { echo_loop(fd, delay); };
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
