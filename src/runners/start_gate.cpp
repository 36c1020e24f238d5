#include "runners/start_gate.hpp"

#include <fcntl.h>
#include <sched.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <new>

#include "runtime/sys_error.hpp"

namespace gilbench {

namespace {

constexpr std::size_t kPageBytes = 4096;
static_assert(std::atomic<std::uint64_t>::is_always_lock_free, "the gate word must work across processes");

// A shared memory object's name is "/name"; a file's path has more slashes.
bool is_file(const std::string& name) { return name.find('/', 1) != std::string::npos; }

int open_object(const std::string& name, int flags) {
  return is_file(name) ? ::open(name.c_str(), flags | O_CLOEXEC, 0600) : ::shm_open(name.c_str(), flags, 0600);
}

void* map(int fd) {
  void* page = ::mmap(nullptr, kPageBytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  return page == MAP_FAILED ? nullptr : page;
}

}  // namespace

StartGate::StartGate(std::string name, void* page, bool owner) noexcept
    : name_(std::move(name)), page_(page), owner_(owner) {}

StartGate::StartGate(StartGate&& o) noexcept
    : name_(std::move(o.name_)), page_(o.page_), owner_(o.owner_), linked_(o.linked_) {
  o.page_ = nullptr;
  o.owner_ = false;
}

StartGate::~StartGate() {
  if (owner_) unlink();
  if (page_) ::munmap(page_, kPageBytes);
}

StartGate StartGate::create() {
  static std::atomic<unsigned> serial{0};
  const std::string base = "gilbench-gate-" + std::to_string(::getpid()) + "-" + std::to_string(serial.fetch_add(1));
  std::string name = "/" + base;
  int fd = ::shm_open(name.c_str(), O_RDWR | O_CREAT | O_EXCL, 0600);
  if (fd < 0 && (errno == ENOSYS || errno == ENOENT || errno == EACCES)) {  // no /dev/shm here
    const char* tmp = std::getenv("TMPDIR");
    name = std::string(tmp && *tmp ? tmp : "/tmp") + "/." + base;
    fd = ::open(name.c_str(), O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
  }
  if (fd < 0) throw_errno("start gate: cannot create " + name);
  void* page = nullptr;
  if (::ftruncate(fd, kPageBytes) == 0) page = map(fd);
  const int err = errno;
  ::close(fd);
  StartGate gate(name, page, true);
  if (!page) throw_errno("start gate: cannot map " + name, err);
  new (page) std::atomic<std::uint64_t>(0);
  return gate;
}

StartGate StartGate::open(const std::string& name) {
  const int fd = open_object(name, O_RDWR);
  if (fd < 0) throw_errno("start gate: cannot open " + name);
  void* page = map(fd);
  const int err = errno;
  ::close(fd);
  if (!page) throw_errno("start gate: cannot map " + name, err);
  return StartGate(name, page, false);
}

void StartGate::unlink() noexcept {
  if (!linked_ || !owner_) return;
  if (is_file(name_))
    ::unlink(name_.c_str());
  else
    ::shm_unlink(name_.c_str());
  linked_ = false;
}

std::atomic<std::uint64_t>& StartGate::word() const noexcept { return *static_cast<std::atomic<std::uint64_t>*>(page_); }

void StartGate::open_for(std::uint64_t run) noexcept { word().store(run, std::memory_order_release); }

void StartGate::wait_for(std::uint64_t run) const noexcept {
  for (int spins = 0; word().load(std::memory_order_acquire) < run; ++spins) {
    if (spins >= 64) ::sched_yield();  // the parent may need this CPU to open the gate
  }
}

}  // namespace gilbench
