#include "runners/threads.hpp"

#include <string>
#include <system_error>

namespace gilbench {

WorkerPool::WorkerPool(int workers) {
  threads_.reserve(static_cast<std::size_t>(workers));
  for (int i = 0; i < workers; ++i) {
    try {
      threads_.emplace_back([this, i] { loop(i); });
    } catch (const std::system_error& e) {
      stop();  // the threads already started, or their destructor would terminate()
      throw std::system_error(e.code(), "cannot start worker thread " + std::to_string(i) + " of " +
                                            std::to_string(workers));
    }
  }
}

WorkerPool::~WorkerPool() { stop(); }

void WorkerPool::stop() noexcept {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  work_cond_.notify_all();
  for (auto& t : threads_) t.join();
  threads_.clear();
}

double WorkerPool::run(const std::function<void(int)>& job) {
  std::unique_lock lock(mutex_);
  job_ = &job;
  remaining_ = size();
  error_ = nullptr;
  ++generation_;
  const auto start = std::chrono::steady_clock::now();
  work_cond_.notify_all();
  done_cond_.wait(lock, [this] { return remaining_ == 0; });
  job_ = nullptr;
  if (error_) std::rethrow_exception(error_);
  return std::chrono::duration<double>(last_finish_ - start).count();
}

void WorkerPool::loop(int index) {
  std::uint64_t seen = 0;
  std::unique_lock lock(mutex_);
  for (;;) {
    work_cond_.wait(lock, [&] { return stopping_ || generation_ != seen; });
    if (stopping_) return;
    seen = generation_;
    const auto* job = job_;
    lock.unlock();
    std::exception_ptr error;
    try {
      (*job)(index);
    } catch (...) {
      error = std::current_exception();
    }
    const auto finish = std::chrono::steady_clock::now();
    lock.lock();
    if (error && !error_) error_ = error;
    if (finish > last_finish_ || remaining_ == size()) last_finish_ = finish;
    if (--remaining_ == 0) done_cond_.notify_one();
  }
}

}  // namespace gilbench
