#include "output_file.hpp"

#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <random>

namespace gilbench {

namespace {

// The temp file of the write in progress ("" when there is none), for the
// signal handlers. Written only by the main thread, before and after the
// window in which a handler may read it.
char g_temp_path[PATH_MAX + 1];

extern "C" void remove_temp_and_die(int sig) {
  if (g_temp_path[0]) ::unlink(g_temp_path);
  ::signal(sig, SIG_DFL);
  ::raise(sig);
}

std::string os_error(int err) { return std::strerror(err); }

// /dev/stdout, /dev/stderr, /dev/fd/N, /proc/self/fd/N, /proc/<our pid>/fd/N:
// the descriptor N, else -1.
int descriptor_path(const std::string& p) {
  if (p == "/dev/stdout") return STDOUT_FILENO;
  if (p == "/dev/stderr") return STDERR_FILENO;
  const std::string ours = "/proc/" + std::to_string(::getpid()) + "/fd/";
  for (const std::string& prefix : {std::string("/dev/fd/"), std::string("/proc/self/fd/"), ours}) {
    if (p.rfind(prefix, 0) != 0) continue;
    const std::string n = p.substr(prefix.size());
    if (n.empty() || n.size() > 6 || n.find_first_not_of("0123456789") != std::string::npos) return -1;
    return std::stoi(n);
  }
  return -1;
}

std::string parent_of(const std::string& p) {
  const std::filesystem::path parent = std::filesystem::path(p).parent_path();
  return parent.empty() ? "." : parent.string();
}

// A new temp file beside `target`, created exclusively, never through a
// link; mode 0666 less the umask. RETURNS its descriptor, or -1 with errno.
int create_temp(const std::string& target, std::string& temp_path) {
  static std::mt19937_64 rng{std::random_device{}()};
  const std::string dir = parent_of(target);
  const std::string name = std::filesystem::path(target).filename().string();
  for (int attempt = 0; attempt < 100; ++attempt) {
    char suffix[24];
    std::snprintf(suffix, sizeof suffix, "%06llx", static_cast<unsigned long long>(rng() & 0xffffff));
    temp_path = dir + "/." + name + ".tmp." + std::to_string(::getpid()) + "." + suffix;
    if (temp_path.size() > PATH_MAX) {
      errno = ENAMETOOLONG;
      return -1;
    }
    const int fd = ::open(temp_path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0666);
    if (fd >= 0 || errno != EEXIST) return fd;
  }
  errno = EEXIST;
  return -1;
}

// Writes all of `data` to `fd`. RETURNS 0 or errno.
int write_all(int fd, std::string_view data) {
  while (!data.empty()) {
    const ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return errno;
    }
    if (n == 0) return EIO;
    data.remove_prefix(static_cast<std::size_t>(n));
  }
  return 0;
}

}  // namespace

std::string OutputFile::check(const std::string& path) {
  path_ = path;
  if (path.empty()) return "empty file name";
  // Follow links one hop at a time, stopping at a descriptor path.
  std::string p = path;
  for (int hops = 0;; ++hops) {
    if (const int fd = descriptor_path(p); fd >= 0) {
      if (::fcntl(fd, F_GETFD) < 0) return p + ": descriptor " + std::to_string(fd) + " is not open";
      direct_fd_ = fd;
      target_ = p;
      return "";
    }
    if (hops == 40) return "too many levels of symbolic links";
    struct stat st {};
    if (::lstat(p.c_str(), &st) != 0) {
      if (errno == ENOENT) break;
      return p + ": " + os_error(errno);
    }
    if (!S_ISLNK(st.st_mode)) break;
    // As the kernel's fs.protected_symlinks: in a sticky world-writable
    // directory (/tmp), follow only links of our own or of the directory's
    // owner; another user's link there is how a root run is made to
    // replace a file it never meant to.
    struct stat dir {};
    if (::stat(parent_of(p).c_str(), &dir) == 0 && (dir.st_mode & S_ISVTX) && (dir.st_mode & S_IWOTH) &&
        st.st_uid != ::geteuid() && st.st_uid != dir.st_uid)
      return p + " is a link of another user (uid " + std::to_string(st.st_uid) +
             ") in a sticky world-writable directory: not followed";
    char buf[PATH_MAX + 1];
    const ssize_t n = ::readlink(p.c_str(), buf, PATH_MAX);
    if (n < 0) return p + ": " + os_error(errno);
    std::string link(buf, static_cast<std::size_t>(n));
    p = link.front() == '/' ? link : parent_of(p) + "/" + link;
  }
  target_ = p;
  struct stat st {};
  if (::stat(target_.c_str(), &st) == 0) {
    if (S_ISDIR(st.st_mode)) return target_ + " is a directory";
    if (S_ISBLK(st.st_mode)) return target_ + " is a block device (results are not written onto a disk)";
    if (!S_ISREG(st.st_mode)) {  // character device, FIFO, socket: written in place
      in_place_ = true;
      if (::access(target_.c_str(), W_OK) != 0) return target_ + ": " + os_error(errno);
      return "";
    }
  } else if (errno != ENOENT) {
    return target_ + ": " + os_error(errno);
  }
  const std::string dir = parent_of(target_);
  std::error_code ec;
  if (!std::filesystem::exists(dir, ec)) {
    if (target_ != path) return "the link's target directory " + dir + " does not exist";
    std::filesystem::create_directories(dir, ec);
    if (ec) return "cannot create directory " + dir + ": " + ec.message();
  } else if (!std::filesystem::is_directory(dir, ec)) {
    return dir + " is not a directory";
  }
  // The real test: create (and remove) a temp file as the write will.
  std::string probe;
  const int fd = create_temp(target_, probe);
  if (fd < 0) {
    if (errno == ENAMETOOLONG)
      return "the file name is too long: the temp file written beside it (." +
             std::filesystem::path(target_).filename().string() +
             ".tmp.PID.XXXXXX) would exceed the system's limit of " + std::to_string(NAME_MAX) +
             " bytes per name";
    return "cannot create a file in " + dir + ": " + os_error(errno);
  }
  ::close(fd);
  ::unlink(probe.c_str());
  return "";
}

std::string OutputFile::write(std::string_view contents) const {
  const std::string what = "cannot write " + path_ + (target_ != path_ ? " (" + target_ + ")" : "") + ": ";
  if (direct_fd_ >= 0) {
    std::cout.flush();
    std::fflush(stdout);
    std::cerr.flush();
    std::fflush(stderr);
    if (const int err = write_all(direct_fd_, contents)) return what + os_error(err);
    return "";
  }
  if (in_place_) {
    const int fd = ::open(target_.c_str(), O_WRONLY | O_CLOEXEC | O_NOCTTY);
    if (fd < 0) return what + os_error(errno);
    const int err = write_all(fd, contents);
    const int close_err = ::close(fd) != 0 ? errno : 0;
    if (err || close_err) return what + os_error(err ? err : close_err);
    return "";
  }
  std::string temp;
  const int fd = create_temp(target_, temp);
  if (fd < 0) return what + "cannot create the temp file: " + os_error(errno);
  std::strncpy(g_temp_path, temp.c_str(), PATH_MAX);
  auto fail = [&](int err) {
    ::unlink(temp.c_str());
    g_temp_path[0] = '\0';
    return what + os_error(err);
  };
  struct stat old {};
  if (::stat(target_.c_str(), &old) == 0 && S_ISREG(old.st_mode)) (void)::fchmod(fd, old.st_mode & 07777);
  int err = write_all(fd, contents);
  if (!err && ::fsync(fd) != 0) err = errno;
  if (::close(fd) != 0 && !err) err = errno;
  if (err) return fail(err);
  if (::rename(temp.c_str(), target_.c_str()) != 0) return fail(errno);
  g_temp_path[0] = '\0';
  // Make the rename itself durable (best effort: not every file system can).
  if (const int dfd = ::open(parent_of(target_).c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC); dfd >= 0) {
    (void)::fsync(dfd);
    ::close(dfd);
  }
  return "";
}

void install_cleanup_handlers() {
  for (const int sig : {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGABRT}) {
    struct sigaction old {};
    if (::sigaction(sig, nullptr, &old) != 0 || old.sa_handler == SIG_IGN) continue;
    struct sigaction act {};
    act.sa_handler = remove_temp_and_die;
    sigemptyset(&act.sa_mask);
    ::sigaction(sig, &act, nullptr);
  }
  struct sigaction old {};
  if (::sigaction(SIGPIPE, nullptr, &old) == 0 && old.sa_handler == SIG_DFL) ::signal(SIGPIPE, SIG_IGN);
}

}  // namespace gilbench
