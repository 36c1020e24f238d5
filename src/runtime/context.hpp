// Context<S>: what a workload sees of the worker it runs on.
//
//   checkpoint()   a bytecode boundary. Under the GIL this is where a pending
//                  drop request is honoured; workloads call it every few
//                  "bytecodes" (one iteration of a small loop body). With
//                  --bytecode-cost it first does that many steps of
//                  interpretive work (runtime/bytecode.hpp).
//   blocking(fn)   runs a blocking system call; under the GIL the lock is
//                  released around it, as Py_BEGIN/END_ALLOW_THREADS do.
#pragma once

#include <cstdint>
#include <utility>

#include "runtime/bytecode.hpp"
#include "strategies/strategy.hpp"

namespace gilbench {

template <Strategy S>
class Context {
 public:
  using Runtime = typename S::Runtime;

  Context(Runtime& rt, typename Runtime::Worker& worker, int index, std::uint32_t bytecode_steps = 0) noexcept
      : rt_(rt), worker_(worker), index_(index), bytecode_steps_(bytecode_steps) {}

  void checkpoint() noexcept {
    if (bytecode_steps_ != 0) (void)interpret(bytecode_steps_);
    rt_.checkpoint(worker_);
  }

  template <class F>
  decltype(auto) blocking(F&& fn) {
    rt_.release(worker_);
    struct Reacquire {
      Context& ctx;
      ~Reacquire() { ctx.rt_.reacquire(ctx.worker_); }
    } reacquire{*this};
    return std::forward<F>(fn)();
  }

  int index() const noexcept { return index_; }  // this worker, in [0, workers of the run)

 private:
  Runtime& rt_;
  typename Runtime::Worker& worker_;
  int index_;
  std::uint32_t bytecode_steps_;  // RunConfig::bytecode_steps
};

}  // namespace gilbench
