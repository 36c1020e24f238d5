// pipe_io: request/response over real sockets, the shape of a threaded
// client talking to a fast local service:
//
//   peer = EchoPeer()                      # this worker's own server
//   for i in my_requests:
//       n = int(i)                         # a little object work
//       digest = round_trip(peer, i)       # sendall + recv, GIL released
//       total += digest
//
// Contention model: each worker has its own echo peer thread over its own
// socketpair, created inside the worker's run (in a blocking call: thread
// start and socketpair are system calls) and inside each process under
// `process`, so no two workers share a socket and the work of a worker
// does not depend on the others. A round trip is ~33 us of kernel and peer
// time (two blocking calls, see echo_round_trip.hpp) against a few objects
// and checkpoints of work under the strategy; N workers scale until the
// cores are busy with the peers and the system calls, GIL or not.
// Parameters: round_trips (total, split over the shards), message_bytes.
// Tally: items = round trips, sum = sum of the digests of every echo.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

#include "runtime/blocking_io.hpp"
#include "runtime/object.hpp"
#include "workloads/echo_round_trip.hpp"
#include "workloads/workload.hpp"

namespace gilbench {

struct PipeIo {
  static constexpr std::string_view kName = "pipe_io";
  static constexpr std::string_view kKind = "io";

  struct Params {
    std::int64_t round_trips = 0;
    std::int64_t message_bytes = 64;
    NLOHMANN_DEFINE_TYPE_INTRUSIVE(Params, round_trips, message_bytes)
  };
  // Default: ~4000 x 33 us, a serial run of ~0.13 s.
  static Params params(Scale s) {
    return s == Scale::kDefault ? Params{4000, 64} : s == Scale::kQuick ? Params{400, 64} : Params{40, 16};
  }

  template <Strategy S>
  struct State {
    explicit State(const Params& p) : params(p) {}
    Params params;
  };

  template <Strategy S>
  static Tally run(Context<S>& ctx, State<S>& st, Shard shard) {
    const Params& p = st.params;
    Tally t;
    std::optional<EchoPeer> peer;
    ctx.blocking([&] { peer.emplace(); });
    for (std::int64_t i = shard.begin(p.round_trips); i < shard.end(p.round_trips); ++i) {
      Ref<IntObj<S>> request = make<IntObj<S>>(i);
      ctx.checkpoint();
      const std::uint64_t digest = echo_round_trip(ctx, peer->fd(), static_cast<std::uint64_t>(request->value),
                                                   static_cast<std::size_t>(p.message_bytes));
      Ref<IntObj<S>> reply = make<IntObj<S>>(static_cast<std::int64_t>(digest >> 1));
      t.sum += static_cast<std::uint64_t>(reply->value);
      ++t.items;
      ctx.checkpoint();
    }
    ctx.blocking([&] { peer.reset(); });
    return t;
  }

  template <Strategy S>
  static Tally finish(State<S>&) {
    return {};
  }
};

}  // namespace gilbench
