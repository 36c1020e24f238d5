// Where a result file goes (gilbench --out), checked before the first
// benchmark runs and written once, at the end.
//
// A regular file is replaced atomically: the contents go to a temp file
// created exclusively (O_CREAT|O_EXCL|O_NOFOLLOW, so a link planted at its
// name is never followed) in the target's own directory, are fsync()ed, and
// the temp file is renamed over the target. Every write, the fsync and the
// close are checked; on any failure the temp file is removed and the
// previous file is left as it was. A symbolic link is followed: its final
// target is replaced (in the target's directory) and the link stays a link;
// but, as the kernel's fs.protected_symlinks does, not another user's link
// in a sticky world-writable directory such as /tmp.
// A character device, a FIFO or a socket is written in place, and
// /dev/stdout, /dev/stderr, /dev/fd/N and /proc/self/fd/N are written to the
// descriptor itself (after what the console wrote there), never replaced.
//
// While the temp file exists its name is kept where the signal handlers of
// install_cleanup_handlers() can remove it: an interrupted write leaves
// nothing behind.
#pragma once

#include <string>
#include <string_view>

namespace gilbench {

class OutputFile {
 public:
  OutputFile() = default;

  // Resolves and checks `path` (as given by the user) before anything runs:
  // a missing parent directory is created, the directory must take a new
  // file (tried with a real, removed, temp file, so a name too long or a
  // directory that is not writable shows now), and the target must not be
  // a directory or a block device.
  // RETURNS "" or the reason the path cannot be written (exit 2).
  std::string check(const std::string& path);

  // Writes `contents` to the checked path.
  // RETURNS "" or the reason it failed (the previous file is intact and no
  // temp file is left).
  std::string write(std::string_view contents) const;

  const std::string& path() const noexcept { return path_; }  // as given
  bool empty() const noexcept { return path_.empty(); }

 private:
  std::string path_;     // as given
  std::string target_;   // links followed: the file written or replaced
  int direct_fd_ = -1;   // >= 0: write to this descriptor (stdout, ...)
  bool in_place_ = false;  // device, FIFO, socket: open and write, no rename
};

// Installs handlers for SIGINT, SIGTERM, SIGHUP, SIGQUIT and SIGABRT that
// remove the temp file of a write in progress, then die of the signal as
// before. A signal ignored when gilbench started (nohup, a background job)
// stays ignored. SIGPIPE is ignored, so a closed stdout cannot kill a run
// whose results go to a file (the writes to it fail instead).
void install_cleanup_handlers();

}  // namespace gilbench
