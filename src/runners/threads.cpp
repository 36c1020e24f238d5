#include "runners/threads.hpp"

#include <sched.h>

#include <algorithm>
#include <string>
#include <system_error>

#include "runtime/cpu_time.hpp"

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

void WorkerPool::spin_until(const std::atomic<std::uint64_t>& word, std::uint64_t value) noexcept {
  // Acquire: what the releasing thread wrote before the release (the job)
  // is visible after it.
  for (int spins = 0; word.load(std::memory_order_acquire) < value; ++spins) {
    if (spins < 64) {
#if defined(__x86_64__) || defined(__i386__)
      __builtin_ia32_pause();
#elif defined(__aarch64__)
      asm volatile("yield");
#endif
    } else {
      ::sched_yield();  // the thread that releases us may need this CPU
    }
  }
}

WorkerPool::Timing WorkerPool::run(const std::function<void(int)>& job) {
  const auto n = static_cast<std::size_t>(size());
  std::unique_lock lock(mutex_);
  job_ = &job;
  remaining_ = size();
  error_ = nullptr;
  started_.assign(n, {});
  cpu_seconds_.assign(n, 0.0);
  const std::uint64_t generation = ++generation_;
  // Workers count themselves in with arrived_, which ends at n * generation
  // for this run (each run adds n).
  work_cond_.notify_all();
  lock.unlock();
  spin_until(arrived_, n * generation);
  const auto start = std::chrono::steady_clock::now();
  release_.store(generation, std::memory_order_release);
  lock.lock();
  done_cond_.wait(lock, [this] { return remaining_ == 0; });
  job_ = nullptr;
  if (error_) std::rethrow_exception(error_);
  Timing t;
  t.seconds = std::chrono::duration<double>(last_finish_ - start).count();
  const auto [first, last] = std::minmax_element(started_.begin(), started_.end());
  t.skew_seconds = std::chrono::duration<double>(*last - *first).count();
  t.worker_cpu_seconds = cpu_seconds_;
  for (double c : cpu_seconds_) t.cpu_seconds += c;
  return t;
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
    // The start barrier: in, then spin until every worker is in and the
    // main thread releases them.
    arrived_.fetch_add(1, std::memory_order_acq_rel);
    spin_until(release_, seen);
    const auto started = std::chrono::steady_clock::now();
    const double cpu_before = thread_cpu_seconds();
    std::exception_ptr error;
    try {
      (*job)(index);
    } catch (...) {
      error = std::current_exception();
    }
    const double cpu = thread_cpu_seconds() - cpu_before;
    const auto finish = std::chrono::steady_clock::now();
    lock.lock();
    started_[static_cast<std::size_t>(index)] = started;
    cpu_seconds_[static_cast<std::size_t>(index)] = cpu;
    if (error && !error_) error_ = error;
    if (finish > last_finish_ || remaining_ == size()) last_finish_ = finish;
    if (--remaining_ == 0) done_cond_.notify_one();
  }
}

}  // namespace gilbench
