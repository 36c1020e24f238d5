#include "report/fingerprint.hpp"

#include <pthread.h>
#include <sched.h>
#include <sys/utsname.h>
#include <unistd.h>

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#endif

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "report/sample_stats.hpp"
#include "runners/child.hpp"
#include "runtime/blocking_io.hpp"
#include "runtime/object.hpp"
#include "strategies/atomic_rc.hpp"
#include "strategies/object_mutex.hpp"
#include "strategies/serial.hpp"

namespace gilbench {

namespace {

using Clock = std::chrono::steady_clock;

double ns_since(Clock::time_point t) { return std::chrono::duration<double, std::nano>(Clock::now() - t).count(); }

double median(const std::vector<double>& v) { return median_of(v); }

void cpu_relax() noexcept {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#endif
}

std::string first_line(const std::string& path) {
  std::ifstream in(path);
  std::string line;
  std::getline(in, line);
  return line;
}

std::vector<int> allowed_cpus() {
  std::vector<int> cpus;
  cpu_set_t set;
  CPU_ZERO(&set);
  if (::sched_getaffinity(0, sizeof set, &set) == 0)
    for (int c = 0; c < CPU_SETSIZE; ++c)
      if (CPU_ISSET(c, &set)) cpus.push_back(c);
  return cpus;
}

bool pin_to(int cpu) {
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(cpu, &set);
  return ::pthread_setaffinity_np(::pthread_self(), sizeof set, &set) == 0;
}

// ---- identity -------------------------------------------------------------

nlohmann::json cpu_identity() {
  nlohmann::json cpu = nlohmann::json::object();
  std::string vendor, name;
  int family = -1, model = -1, stepping = -1;
#if defined(__x86_64__) || defined(__i386__)
  unsigned a = 0, b = 0, c = 0, d = 0;
  if (__get_cpuid(0, &a, &b, &c, &d)) {
    char v[13] = {};
    std::memcpy(v, &b, 4);
    std::memcpy(v + 4, &d, 4);
    std::memcpy(v + 8, &c, 4);
    vendor = v;
  }
  if (__get_cpuid(1, &a, &b, &c, &d)) {
    stepping = static_cast<int>(a & 0xf);
    model = static_cast<int>((a >> 4) & 0xf);
    family = static_cast<int>((a >> 8) & 0xf);
    if (family == 0xf) family += static_cast<int>((a >> 20) & 0xff);
    if (family == 0x6 || family >= 0xf) model += static_cast<int>(((a >> 16) & 0xf) << 4);
  }
  if (__get_cpuid(0x80000000, &a, &b, &c, &d) && a >= 0x80000004) {
    char n[49] = {};
    for (unsigned leaf = 0; leaf < 3; ++leaf) {
      __get_cpuid(0x80000002 + leaf, &a, &b, &c, &d);
      std::memcpy(n + 16 * leaf, &a, 4);
      std::memcpy(n + 16 * leaf + 4, &b, 4);
      std::memcpy(n + 16 * leaf + 8, &c, 4);
      std::memcpy(n + 16 * leaf + 12, &d, 4);
    }
    name = n;
    name.erase(0, name.find_first_not_of(' '));
    name.erase(name.find_last_not_of(' ') + 1);
  }
#endif
  if (name.empty()) {  // not x86, or no brand string: what the kernel says
    std::ifstream in("/proc/cpuinfo");
    for (std::string line; std::getline(in, line);) {
      const auto colon = line.find(':');
      if (colon == std::string::npos) continue;
      const std::string key = line.substr(0, line.find_last_not_of(" \t", colon - 1) + 1);
      const std::string value = line.substr(std::min(line.size(), colon + 2));
      if (key == "model name" && name.empty()) name = value;
      if (key == "vendor_id" && vendor.empty()) vendor = value;
    }
  }
  cpu["vendor"] = vendor.empty() ? "unknown" : vendor;
  cpu["family"] = family;
  cpu["model"] = model;
  cpu["stepping"] = stepping;
  cpu["model_name"] = name.empty() ? "unknown" : name;
  cpu["online_cpus"] = ::sysconf(_SC_NPROCESSORS_ONLN);
  cpu["allowed_cpus"] = allowed_cpus();
  const std::string siblings = first_line("/sys/devices/system/cpu/cpu0/topology/thread_siblings_list");
  cpu["smt_siblings"] = siblings.empty() ? "unknown" : siblings;
  nlohmann::json caches = nlohmann::json::array();
  for (int i = 0; i < 8; ++i) {
    const std::string dir = "/sys/devices/system/cpu/cpu0/cache/index" + std::to_string(i) + "/";
    const std::string size = first_line(dir + "size");
    if (size.empty()) break;
    caches.push_back({{"level", first_line(dir + "level")},
                      {"type", first_line(dir + "type")},
                      {"size", size},
                      {"shared_cpus", first_line(dir + "shared_cpu_list")}});
  }
  cpu["caches"] = caches;
  utsname u{};
  cpu["kernel"] = ::uname(&u) == 0 ? u.release : "unknown";
  const std::string clock = first_line("/sys/devices/system/clocksource/clocksource0/current_clocksource");
  cpu["clocksource"] = clock.empty() ? "unknown" : clock;
  return cpu;
}

// ---- unit costs -----------------------------------------------------------

// ns per operation of body(n): the best of `trials` runs (interference only
// adds time).
template <class F>
double best_ns_per_op(F&& body, int n, int trials = 5) {
  double best = 1e300;
  for (int t = 0; t < trials; ++t) {
    const auto start = Clock::now();
    body(n);
    best = std::min(best, ns_since(start) / n);
  }
  return best;
}

double plain_increment_ns() {
  PlainHeader h;
  return best_ns_per_op(
      [&](int n) {
        for (int i = 0; i < n; ++i) {
          Serial::incref(h);
          asm volatile("" : : "r"(&h) : "memory");  // one real load-add-store each
        }
      },
      200'000);
}

double atomic_rmw_ns() {
  AtomicRc::Header h;
  return best_ns_per_op(
      [&](int n) {
        for (int i = 0; i < n; ++i) AtomicRc::incref(h);
        h.refcnt.store(1, std::memory_order_relaxed);
      },
      200'000);
}

// incref on the next of 256 headers in turn, 32 bytes apart as small
// objects are: reference counting touches a different object each time.
template <class S>
double spread_incref_ns() {
  struct alignas(32) Slot {
    typename S::Header h;
  };
  std::array<Slot, 256> slots{};
  return best_ns_per_op(
      [&](int n) {
        for (int i = 0; i < n; ++i) {
          auto& h = slots[static_cast<std::size_t>(i * 7) & 255].h;
          S::incref(h);
          asm volatile("" : : "r"(&h) : "memory");  // one real load-add-store each
        }
      },
      200'000);
}

// What an atomic reference count adds to one incref in reference-counting
// code: AtomicRc::incref minus Serial::incref, each on a different header
// in turn. Atomic RMWs on different lines do not wait on one another as a
// chain on one header does (atomic_rmw: 8.6 ns against 4.2 ns here on a
// 2-vCPU Xeon), and the explained overheads of the atomic_rc rows follow
// this figure (3.3-4.3 ns per reference operation implied by them).
double atomic_rmw_marginal_ns() {
  return std::max(0.01, spread_incref_ns<AtomicRc>() - spread_incref_ns<Serial>());
}

double mutex_uncontended_ns() {
  ObjectMutex m;
  return best_ns_per_op(
      [&](int n) {
        for (int i = 0; i < n; ++i) {
          m.lock();
          m.unlock();
        }
      },
      200'000);
}

double mutex_contended_ns() {
  ObjectMutex m;
  return best_ns_per_op(
      [&](int n) {
        std::atomic<int> ready{0};
        auto work = [&] {
          ready.fetch_add(1);
          while (ready.load() < 2) cpu_relax();
          for (int i = 0; i < n / 2; ++i) {
            m.lock();
            m.unlock();
          }
        };
        std::thread other(work);
        work();
        other.join();
      },
      100'000, 3);
}

struct PairCost {
  int a, b;
  double min_ns, median_ns;
};

// One cache line handed back and forth between threads pinned to CPUs a and
// b: `round_trips` per trial; ns per round trip, best and median of trials.
// A trial that takes too long (a thread descheduled) is dropped.
PairCost cache_line_round_trip(int a, int b) {
  constexpr int kRoundTrips = 2000;
  constexpr int kTrials = 5;
  std::vector<double> per_trial;
  for (int t = 0; t < kTrials; ++t) {
    alignas(64) std::atomic<std::uint64_t> line{0};
    std::atomic<bool> abandon{false};
    double ns = 0;
    std::thread pong([&] {
      pin_to(b);
      for (std::uint64_t i = 0; i < kRoundTrips; ++i) {
        while (line.load(std::memory_order_acquire) != 2 * i + 1)
          if (abandon.load(std::memory_order_relaxed)) return;
        line.store(2 * i + 2, std::memory_order_release);
      }
    });
    std::thread ping([&] {
      pin_to(a);
      const auto start = Clock::now();
      const auto limit = start + std::chrono::milliseconds(50);
      for (std::uint64_t i = 0; i < kRoundTrips; ++i) {
        line.store(2 * i + 1, std::memory_order_release);
        while (line.load(std::memory_order_acquire) != 2 * i + 2) {
          if (Clock::now() > limit) {
            abandon.store(true);
            return;
          }
        }
      }
      ns = ns_since(start) / kRoundTrips;
    });
    ping.join();
    pong.join();
    if (ns > 0) per_trial.push_back(ns);
  }
  if (per_trial.empty()) return {a, b, -1, -1};
  return {a, b, *std::min_element(per_trial.begin(), per_trial.end()), median(per_trial)};
}

// What sharing adds to one atomic reference operation when two CPUs work
// through the same objects at the same time, as the workers of a shared-data
// row do (shared_read: both walk one tree): AtomicRc::incref then decref on
// each of 4096 headers in turn, one per cache line, by one thread alone and
// then by two threads pinned to cpu_a and cpu_b, half the array apart, at the
// same time; ns per operation of the pair over the lone thread's. A trial
// whose two threads did not run together (overlapping less than 90% of the
// longer one: a vCPU descheduled) is dropped; median of the rest, or -1 when
// none ran together. The round trip above waits out each transfer in turn;
// here a line's transfer overlaps with the work on other lines, as in the
// workloads: on a 2-vCPU Xeon VM, 110 to 184 ns a round trip, 0.1 to 1.8 ns
// here.
double shared_ref_marginal_ns(int cpu_a, int cpu_b) {
  constexpr std::size_t kObjects = 4096;
  constexpr int kPasses = 30;
  constexpr int kTrials = 7;
  struct alignas(64) Slot {
    AtomicRc::Header h;
  };
  std::vector<Slot> slots(kObjects);
  using Nanos = std::chrono::duration<double, std::nano>;
  // Timed passes from `start` (an offset into the array); [begin, end) in ns.
  auto walk = [&](std::size_t start, double& begin, double& end) {
    begin = Nanos(Clock::now().time_since_epoch()).count();
    for (int p = 0; p < kPasses; ++p)
      for (std::size_t k = 0; k < kObjects; ++k) {
        AtomicRc::Header& h = slots[(k + start) % kObjects].h;
        AtomicRc::incref(h);
        if (AtomicRc::decref(h)) std::abort();  // the count never leaves 1 + the pair's
      }
    end = Nanos(Clock::now().time_since_epoch()).count();
  };
  constexpr double kOps = 2.0 * kPasses * kObjects;
  double alone = 1e300;
  std::vector<double> together;
  for (int t = 0; t < kTrials; ++t) {
    double b = 0, e = 0;
    std::thread lone([&] {
      pin_to(cpu_a);
      walk(0, b, e);
    });
    lone.join();
    alone = std::min(alone, (e - b) / kOps);
    double b1 = 0, e1 = 0, b2 = 0, e2 = 0;
    std::atomic<int> ready{0};
    auto paired = [&](int cpu, std::size_t start, double& begin, double& end) {
      pin_to(cpu);
      ready.fetch_add(1);
      while (ready.load() < 2) cpu_relax();
      walk(start, begin, end);
    };
    std::thread first(paired, cpu_a, 0, std::ref(b1), std::ref(e1));
    std::thread second(paired, cpu_b, kObjects / 2, std::ref(b2), std::ref(e2));
    first.join();
    second.join();
    const double overlap = std::min(e1, e2) - std::max(b1, b2);
    if (overlap >= 0.9 * std::max(e1 - b1, e2 - b2)) together.push_back(((e1 - b1) + (e2 - b2)) / 2 / kOps);
  }
  if (together.empty()) return -1;
  return std::max(0.01, median(together) - alone);
}

// Notify to running, of a thread parked on a futex on an idle CPU.
std::pair<double, double> futex_wake_ns(const std::vector<int>& cpus) {
  constexpr int kTrials = 15;
  std::atomic<int> flag{0};
  std::atomic<std::int64_t> woke_ns{0};
  std::vector<double> samples;
  std::thread sleeper([&] {
    if (cpus.size() > 1) pin_to(cpus[1]);
    for (int t = 1; t <= kTrials; ++t) {
      flag.wait(2 * t - 2);  // parked until the waker writes 2t - 1
      woke_ns.store(Clock::now().time_since_epoch().count(), std::memory_order_release);
      flag.store(2 * t);
    }
  });
  if (!cpus.empty()) pin_to(cpus[0]);
  for (int t = 1; t <= kTrials; ++t) {
    std::this_thread::sleep_for(std::chrono::milliseconds(2));  // let the sleeper's CPU go idle
    const auto start = Clock::now();
    flag.store(2 * t - 1);
    flag.notify_one();
    while (flag.load() != 2 * t) std::this_thread::yield();
    samples.push_back(static_cast<double>(woke_ns.load(std::memory_order_acquire) -
                                          start.time_since_epoch().count()));
  }
  sleeper.join();
  cpu_set_t all;
  CPU_ZERO(&all);
  for (int c : cpus) CPU_SET(c, &all);
  ::pthread_setaffinity_np(::pthread_self(), sizeof all, &all);
  return {median(samples), *std::max_element(samples.begin(), samples.end())};
}

double pipe_round_trip_ns() {
  int to[2], from[2];
  if (::pipe(to) != 0) return -1;
  if (::pipe(from) != 0) {
    ::close(to[0]);
    ::close(to[1]);
    return -1;
  }
  std::thread echo([&] {
    std::byte b[1];
    while (read_full(to[0], b) == 1) write_all(from[1], b);
  });
  std::vector<double> samples;
  for (int i = 0; i < 200; ++i) {
    std::byte b[1] = {std::byte{1}};
    const auto start = Clock::now();
    write_all(to[1], b);
    recv_all(from[0], b);
    samples.push_back(ns_since(start));
  }
  ::close(to[1]);  // the echo thread reads end of file
  echo.join();
  ::close(to[0]);
  ::close(from[0]);
  ::close(from[1]);
  return median(samples);
}

double thread_start_ns() {
  std::vector<double> samples;
  for (int i = 0; i < 20; ++i) {
    const auto start = Clock::now();
    std::thread t([] {});
    t.join();
    samples.push_back(ns_since(start));
  }
  return median(samples);
}

double process_start_ns() {
  std::vector<double> samples;
  for (int i = 0; i < 10; ++i) {
    try {
      const auto start = Clock::now();
      Child c("/bin/true", {});
      while (!c.try_reap()) std::this_thread::sleep_for(std::chrono::microseconds(20));
      samples.push_back(ns_since(start));
    } catch (const std::exception&) {
      return -1;
    }
  }
  return median(samples);
}

// The same object-model loop (a new int per step), ~3 ms, 21 times.
nlohmann::json speed_spread() {
  auto loop = [](std::int64_t steps) {
    Ref<IntObj<Serial>> n = make<IntObj<Serial>>(0);
    for (std::int64_t i = 0; i < steps; ++i) n = make<IntObj<Serial>>(n->value + 1);
    return n->value;
  };
  std::int64_t steps = 10'000;
  for (;;) {  // calibrate to ~3 ms
    const auto start = Clock::now();
    if (loop(steps) != steps) return nullptr;
    const double ms = ns_since(start) * 1e-6;
    if (ms > 1 || steps > (std::int64_t{1} << 30)) {
      steps = static_cast<std::int64_t>(static_cast<double>(steps) * 3.0 / std::max(ms, 1e-3));
      break;
    }
    steps *= 4;
  }
  std::vector<double> ms;
  for (int r = 0; r < 21; ++r) {
    const auto start = Clock::now();
    if (loop(steps) != steps) return nullptr;
    ms.push_back(ns_since(start) * 1e-6);
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  std::vector<double> s = ms;
  std::sort(s.begin(), s.end());
  const bool bimodal = is_bimodal(ms);
  return {{"runs", ms.size()},
          {"loop_ms_min", s.front()},
          {"loop_ms_median", median(ms)},
          {"loop_ms_max", s.back()},
          {"max_over_min", s.back() / s.front()},
          {"bimodal", bimodal}};
}

std::string fmt_ns(double ns) {
  char buf[32];
  if (ns < 0) return "n/a";
  if (ns < 1e3)
    std::snprintf(buf, sizeof buf, "%.3g ns", ns);
  else if (ns < 1e6)
    std::snprintf(buf, sizeof buf, "%.3g us", ns / 1e3);
  else
    std::snprintf(buf, sizeof buf, "%.3g ms", ns / 1e6);
  return buf;
}

}  // namespace

nlohmann::json machine_fingerprint() {
  const auto start = Clock::now();
  nlohmann::json fp;
  fp["cpu"] = cpu_identity();
  std::vector<int> cpus = allowed_cpus();
  nlohmann::json costs;
  costs["plain_increment"] = plain_increment_ns();
  costs["atomic_rmw"] = atomic_rmw_ns();
  costs["atomic_rmw_marginal"] = atomic_rmw_marginal_ns();
  costs["mutex_uncontended"] = mutex_uncontended_ns();
  costs["mutex_contended"] = mutex_contended_ns();
  nlohmann::json pairs = nlohmann::json::array();
  std::vector<double> mins, medians;
  const std::size_t n = std::min<std::size_t>(cpus.size(), 8);
  for (std::size_t i = 0; i < n; ++i)
    for (std::size_t j = i + 1; j < n; ++j) {
      const PairCost p = cache_line_round_trip(cpus[i], cpus[j]);
      pairs.push_back({{"cpu_a", p.a}, {"cpu_b", p.b}, {"min_ns", p.min_ns}, {"median_ns", p.median_ns}});
      if (p.min_ns > 0) {
        mins.push_back(p.min_ns);
        medians.push_back(p.median_ns);
      }
    }
  costs["cache_line_round_trip_min"] = mins.empty() ? -1 : *std::min_element(mins.begin(), mins.end());
  costs["cache_line_round_trip_median"] = medians.empty() ? -1 : median(medians);
  costs["shared_ref_marginal"] = cpus.size() >= 2 ? shared_ref_marginal_ns(cpus[0], cpus[1]) : -1.0;
  const auto [wake, wake_max] = futex_wake_ns(cpus);
  costs["futex_wake"] = wake;
  costs["futex_wake_max"] = wake_max;
  costs["pipe_round_trip"] = pipe_round_trip_ns();
  costs["thread_start"] = thread_start_ns();
  costs["process_start"] = process_start_ns();
  fp["unit_costs_ns"] = costs;
  fp["cache_line_pairs"] = pairs;
  fp["speed_spread"] = speed_spread();
  fp["seconds"] = ns_since(start) * 1e-9;
  return fp;
}

std::string describe_fingerprint(const nlohmann::json& fp) {
  const auto& cpu = fp["cpu"];
  const auto& c = fp["unit_costs_ns"];
  auto cost = [&](const char* k) { return fmt_ns(c.value(k, -1.0)); };
  char buf[512];
  std::string s = "machine: " + cpu.value("model_name", std::string("?")) + " (" +
                  cpu.value("vendor", std::string("?")) + " family " + std::to_string(cpu.value("family", -1)) +
                  " model " + std::to_string(cpu.value("model", -1)) + " stepping " +
                  std::to_string(cpu.value("stepping", -1)) + "), " +
                  std::to_string(cpu["allowed_cpus"].size()) + " CPUs usable, SMT siblings of cpu0: " +
                  cpu.value("smt_siblings", std::string("?")) + ", kernel " + cpu.value("kernel", std::string("?")) +
                  ", clock " + cpu.value("clocksource", std::string("?")) + "\n";
  s += "unit costs: plain increment " + cost("plain_increment") + ", atomic RMW " + cost("atomic_rmw") +
       " (on one object; " + cost("atomic_rmw_marginal") + " more than a plain one, object after object)" +
       ", cache-line round trip " + cost("cache_line_round_trip_min") + " (min) " +
       cost("cache_line_round_trip_median") + " (median; " + cost("shared_ref_marginal") +
       " more per atomic incref on objects the other CPU works on too), mutex " + cost("mutex_uncontended") +
       " / contended " +
       cost("mutex_contended") + ",\n            futex wake-up " + cost("futex_wake") + " (max " +
       cost("futex_wake_max") + "), pipe round trip " + cost("pipe_round_trip") + ", thread start " +
       cost("thread_start") + ", process start " + cost("process_start") + "\n";
  if (const auto& sp = fp["speed_spread"]; sp.is_object()) {
    std::snprintf(buf, sizeof buf, "speed: %d runs of the same loop, %.2f..%.2f ms, max/min %.2f%s\n",
                  sp.value("runs", 0), sp.value("loop_ms_min", 0.0), sp.value("loop_ms_max", 0.0),
                  sp.value("max_over_min", 0.0),
                  sp.value("bimodal", false) ? ": BIMODAL (two speeds run to run: use more repetitions)" : "");
    s += buf;
  }
  return s;
}

}  // namespace gilbench
