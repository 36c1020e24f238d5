"""The one way the tools write a file, and print a report.

Output files (plot.py compare's --markdown and --json, charts' images and
summary.md, the result file `instructions` writes, the twin's result file,
the fidelity report) go through write_output: a temporary file created
exclusively (O_EXCL, O_NOFOLLOW, random name) in the target's directory,
mode 0666 & ~umask, written, fsynced and renamed over the target; a symlink
target is followed, so its target is replaced and the link stays a link
(except a link of another user in a sticky world-writable directory such as
/tmp, refused as the kernel's protected_symlinks would); a character device,
FIFO or /dev/stdout is written directly. A failed write is an InputError
(plot.py: exit 2) with the OS reason.

Every JSON file the tools write (the twin's result file, the file
`instructions` rewrites, compare --json, export, history.json) is strict
JSON (RFC 8259), through json_text(): a number that is not finite (NaN,
Infinity: Google Benchmark 1.7.1 writes NaN in the _cv rows of counters that
are always 0) is written as null, wherever it is, and json.dumps runs with
allow_nan=False, so that nothing else can slip through. JSON.parse,
serde_json and strict Python parsers read every file.
"""

import contextlib
import errno
import json
import math
import os
import stat
import sys
import tempfile

from .errors import InputError


def finite(value):
    """value with every float that is not finite (NaN, +-Infinity) replaced by None, in
    nested lists, tuples and dicts too: what strict JSON can hold (null)."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [finite(v) for v in value]
    return value


def json_text(value, indent=None, **options):
    """value as strict JSON text: non-finite numbers as null (finite()), never a bare NaN
    or Infinity (allow_nan=False). options go to json.dumps (sort_keys, separators)."""
    return json.dumps(finite(value), indent=indent, allow_nan=False, **options)


def current_umask():
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def writes_in_place(path):
    """True for a target written directly: /dev/stdout and the like, a device, a FIFO."""
    if path in ("/dev/stdout", "/dev/stderr") or path.startswith(("/dev/fd/", "/proc/self/fd/")):
        return True
    try:
        mode = os.stat(path).st_mode
    except OSError:
        return False  # missing (created below) or unreachable (reported below)
    return not stat.S_ISREG(mode) and not stat.S_ISDIR(mode)


def write_in_place(path, payload):
    """Writes to an existing device, FIFO or stream: no temporary file, no rename."""
    sys.stdout.flush()
    fd = os.open(path, os.O_WRONLY | os.O_APPEND)
    try:
        view = memoryview(payload)
        while view:
            view = view[os.write(fd, view):]
    finally:
        os.close(fd)


def write_replacing(target, payload):
    """Writes a regular file atomically: an exclusive temporary in its directory, renamed."""
    directory, name = os.path.split(target)
    stem = name.encode("utf-8", "surrogateescape")[:100].decode("utf-8", "ignore")
    fd, tmp = tempfile.mkstemp(dir=directory or ".", prefix=".%s." % stem, suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            os.fchmod(f.fileno(), 0o666 & ~current_umask())
            f.write(payload)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    with contextlib.suppress(OSError):  # the rename itself survives a crash
        dir_fd = os.open(directory or ".", os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)


def link_target(path):
    """The file a symlink at path finally names (a chain of links followed by hand).

    Refuses a link the kernel's protected_symlinks would not follow either: one in
    a sticky world-writable directory (/tmp) owned by neither this user nor the
    directory's owner, i.e. one another user may have planted there.
    """
    for _ in range(40):
        if not os.path.islink(path):
            return os.path.realpath(path)
        parent = os.path.dirname(os.path.abspath(path))
        link, directory = os.lstat(path), os.stat(parent)
        if (directory.st_mode & stat.S_ISVTX and directory.st_mode & stat.S_IWOTH
                and link.st_uid not in (os.geteuid(), directory.st_uid)):
            raise InputError("%s: refusing to follow a symlink of another user (uid %d) in a "
                             "sticky world-writable directory" % (path, link.st_uid))
        path = os.path.join(parent, os.readlink(path))
    raise OSError(errno.ELOOP, os.strerror(errno.ELOOP), path)


def output_directory(out, why="the output directory"):
    """Makes sure `out` is a directory (created with its parents if missing).
    Raises InputError naming the problem (exit 2)."""
    if os.path.exists(out) and not os.path.isdir(out):
        raise InputError(f"{out}: cannot create {why}: it exists and is not a directory")
    try:
        os.makedirs(out, exist_ok=True)
    except OSError as e:
        raise InputError(f"{out}: cannot create {why}: {e.strerror}")


def write_output(path, data, make_dirs=False):
    """Writes data (str or bytes) to path; raises InputError. make_dirs: create the
    missing directories above it first.

    The temporary file is created exclusively (mkstemp: O_CREAT|O_EXCL|O_NOFOLLOW, a
    random name) in the target's directory, so nobody can plant a link where it will
    be written; it gets mode 0666 & ~umask, is fsynced and renamed over the target,
    and removed on any failure. A symlink is followed: its target is replaced, in
    the target's directory, and the link stays. A device, a FIFO or /dev/stdout is
    written directly. (A target that is a link another user planted in /tmp is
    refused: link_target.)
    """
    payload = data if isinstance(data, bytes) else data.encode("utf-8", "backslashreplace")
    try:
        if make_dirs:
            os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        if writes_in_place(path):
            write_in_place(path, payload)
        else:
            write_replacing(link_target(path), payload)
    except FileNotFoundError as e:
        if not os.path.isdir(os.path.dirname(os.path.abspath(path))):
            raise InputError("%s: cannot write: %s (its directory does not exist)"
                             % (path, e.strerror))
        raise InputError("%s: cannot write: %s" % (path, e.strerror))
    except OSError as e:
        raise InputError("%s: cannot write: %s" % (path, e.strerror or e))


def emit(text):
    """Prints text on stdout now; a failed write is bad environment (InputError)."""
    try:
        sys.stdout.write(text)
        sys.stdout.flush()
    except UnicodeEncodeError:  # a locale that is not UTF-8
        encoding = getattr(sys.stdout, "encoding", None) or "ascii"
        sys.stdout.write(text.encode(encoding, "backslashreplace").decode(encoding))
        sys.stdout.flush()
    except OSError as e:
        with contextlib.suppress(OSError, ValueError, AttributeError):
            # nothing more can reach it; spare the interpreter's own complaint at exit
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        raise InputError("standard output: cannot write: %s" % (e.strerror or e))
