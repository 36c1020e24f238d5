// Blocking socket I/O for the IO workloads: a socketpair to an echo peer
// thread, and send/receive loops that really sleep in the kernel.
//
// EchoPeer owns an AF_UNIX stream socketpair and a plain thread (not a
// worker: it is attached to no strategy, like the client process of an echo
// benchmark) that echoes whatever it reads until the other end closes.
// A round trip over it costs 10-35 us on the 2-vCPU machines (33 us in
// the design's cost table, 10-15 us measured by pipe_io when idle); convoy adds a
// reply delay to bring it to the ~30 us of the published 1-byte localhost
// echo (the convoy measurements of bpo-7946).
// Its sockets are close-on-exec, so process-runner children never inherit
// them, and sends use MSG_NOSIGNAL, so a dead peer is an error, not SIGPIPE.
#pragma once

#include <chrono>
#include <cstddef>
#include <span>
#include <string_view>
#include <thread>

namespace gilbench {

// The one set of blocking-I/O loops (sockets and pipes alike; EINTR is
// retried).
//
// Writes all of `data`; a closed peer is EPIPE, never SIGPIPE (send() with
// MSG_NOSIGNAL on a socket). Throws std::system_error.
void write_all(int fd, std::span<const std::byte> data);
inline void write_all(int fd, std::string_view data) { write_all(fd, std::as_bytes(std::span(data))); }
// Reads until `data` is full or the peer closed. RETURNS the bytes read.
// Throws std::system_error.
std::size_t read_full(int fd, std::span<std::byte> data);
// Reads exactly data.size() bytes; throws std::system_error, or
// std::runtime_error if the other end closed first.
void recv_all(int fd, std::span<std::byte> data);
// Sleeps for `us` microseconds (nanosleep, resumed after a signal).
void sleep_us(long us);
// An echo peer's loop: echoes whatever fd reads, each read after sleeping
// `delay_us` (with 1 ns timer slack for the calling thread), until EOF or a
// broken socket. EchoPeer's thread and the --echo-peer process run it.
void echo_loop(int fd, long delay_us) noexcept;

class EchoPeer {
 public:
  // socketpair + the echo thread, which waits `reply_delay` (sleeping, with
  // 1 ns timer slack) before each echo: the service or network time of a
  // remote peer. 0: echo at once.
  explicit EchoPeer(std::chrono::microseconds reply_delay = std::chrono::microseconds(0));
  ~EchoPeer();  // shuts our end down; the thread sees EOF and is joined
  EchoPeer(const EchoPeer&) = delete;
  EchoPeer& operator=(const EchoPeer&) = delete;

  int fd() const noexcept { return fd_; }  // our end: write a request, read the echo

 private:
  int fd_ = -1;
  int peer_fd_ = -1;
  std::thread thread_;
};

}  // namespace gilbench
