// One request/response over a socket to an echo peer, as a Python client
// writes it, shared by pipe_io and convoy:
//
//   sock.sendall(request)        # releases the GIL around send()
//   reply = recv_exactly(sock)   # releases the GIL around recv()
//
// Two blocking calls, so under a GIL a round trip pays two re-acquisitions:
// CPython releases the GIL around every socket call, even one that does not
// block (a send into an empty socket buffer), which is what bpo-7946 is about.
// The request for id i is a deterministic byte pattern; the reply must be
// the same bytes, or the run fails.
#pragma once

#include <algorithm>
#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <span>
#include <stdexcept>
#include <string>
#include <utility>

#include "runtime/blocking_io.hpp"
#include "runtime/context.hpp"

namespace gilbench {

inline constexpr std::size_t kMaxMessageBytes = 256;

// The request for id: byte j is byte (j mod 8) of a hash of (id, j / 8).
inline void fill_request(std::uint64_t id, std::span<std::byte> out) noexcept {
  for (std::size_t j = 0; j < out.size(); ++j) {
    std::uint64_t x = id * 0x9e3779b97f4a7c15ULL + (j / 8) + 1;
    x = (x ^ (x >> 31)) * 0xbf58476d1ce4e5b9ULL;
    out[j] = static_cast<std::byte>(x >> (8 * (j % 8)));
  }
}

// FNV-1a of a reply: what the tally keeps of it.
inline std::uint64_t echo_digest(std::span<const std::byte> reply) noexcept {
  std::uint64_t h = 1469598103934665603ULL;
  for (std::byte b : reply) h = (h ^ static_cast<std::uint64_t>(b)) * 1099511628211ULL;
  return h;
}

// How long the blocking calls of some round trips waited, after the system
// call returned, to retake what the strategy released around it (the GIL):
// the convoy's mechanism, measured (two clock reads per call, only where a
// log is given). A retake that waited more than kContendedNs found the lock
// held by another worker: an uncontended one takes a few us, a contended one
// under `gil` at least a switch interval.
struct RetakeLog {
  static constexpr std::uint64_t kContendedNs = 100'000;
  std::uint64_t calls = 0;
  std::uint64_t contended = 0;
  std::uint64_t wait_ns = 0;
  void note(std::chrono::steady_clock::duration waited) noexcept {
    const auto ns = static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(waited).count());
    ++calls;
    wait_ns += ns;
    if (ns > kContendedNs) ++contended;
  }
};

namespace detail {
// The round trip, each blocking call made through blocking(fn).
template <class Blocking>
std::uint64_t echo_round_trip_with(Blocking&& blocking, int fd, std::uint64_t id, std::size_t bytes) {
  if (bytes == 0 || bytes > kMaxMessageBytes) throw std::invalid_argument("echo message size out of range");
  std::array<std::byte, kMaxMessageBytes> request;
  std::array<std::byte, kMaxMessageBytes> reply;
  const std::span<std::byte> out(request.data(), bytes);
  const std::span<std::byte> in(reply.data(), bytes);
  fill_request(id, out);
  blocking([&] { write_all(fd, out); });
  blocking([&] { recv_all(fd, in); });
  if (!std::equal(in.begin(), in.end(), out.begin()))
    throw std::runtime_error("echo mismatch in request " + std::to_string(id));
  return echo_digest(in);
}
}  // namespace detail

// Sends request `id` of `bytes` bytes on fd, waits for the echo and checks
// it. RETURNS a digest of the reply (FNV-1a), for the tally. Throws on a
// socket error or a wrong echo.
template <Strategy S>
std::uint64_t echo_round_trip(Context<S>& ctx, int fd, std::uint64_t id, std::size_t bytes) {
  return detail::echo_round_trip_with([&](auto&& fn) { ctx.blocking(fn); }, fd, id, bytes);
}

// The same, noting in `log` how long each call's retake waited (two clock
// reads per call).
template <Strategy S>
std::uint64_t echo_round_trip(Context<S>& ctx, int fd, std::uint64_t id, std::size_t bytes, RetakeLog& log) {
  return detail::echo_round_trip_with(
      [&](auto&& fn) {
        std::chrono::steady_clock::time_point returned;
        ctx.blocking([&] {
          fn();
          returned = std::chrono::steady_clock::now();
        });
        log.note(std::chrono::steady_clock::now() - returned);
      },
      fd, id, bytes);
}

// What echo_round_trip returns for request `id`, computed without a socket.
inline std::uint64_t expected_echo_digest(std::uint64_t id, std::size_t bytes) noexcept {
  std::array<std::byte, kMaxMessageBytes> request;
  const std::span<std::byte> out(request.data(), bytes);
  fill_request(id, out);
  return echo_digest(out);
}

}  // namespace gilbench
