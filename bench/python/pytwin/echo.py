"""Echo peers for the twin's socket workloads (pipe_io, convoy).

gilbench's EchoPeer (src/runtime/blocking_io.hpp) is a native thread at the
other end of an AF_UNIX socketpair, attached to no strategy: the GIL never
delays it, like the server of an echo benchmark. A Python thread would need
the GIL for every recv and send it makes, so here the peer is a small
separate interpreter process (`python -S`) running the same echo loop: it
competes for CPU but never for this process's GIL.

Peers are started outside the timed region and kept for the life of the
process (start-up is ~10 ms of interpreter start, far more than the C++
thread start it stands for, and would swamp a quick run); each worker of an
address space has its own. request(i, n) and digest() reproduce
echo_round_trip.hpp's fill_request and echo_digest bit for bit.
"""

import atexit
import os
import socket
import subprocess
import sys

from .tally import MASK64, hash_bytes

_ECHO_LOOP = (
    "import socket, sys, time\n"
    "s = socket.socket(fileno=int(sys.argv[1]))\n"
    "delay = int(sys.argv[2]) / 1e6\n"
    "if delay > 0:\n"
    "    try:  # 1 ns timer slack: the default 50 us would stretch a 20 us delay\n"
    "        import ctypes\n"
    "        ctypes.CDLL(None, use_errno=True).prctl(29, 1, 0, 0, 0)  # PR_SET_TIMERSLACK\n"
    "    except Exception:\n"
    "        pass\n"
    "while True:\n"
    "    d = s.recv(4096)\n"
    "    if not d:\n"
    "        break\n"
    "    if delay > 0:\n"
    "        time.sleep(delay)\n"
    "    s.sendall(d)\n"
)


class EchoPeer:
    """The far end of a socketpair, echoing each read after `delay_us` (the
    peer's service time: gilbench's EchoPeer reply_delay, 0 for pipe_io)."""

    def __init__(self, delay_us=0):
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            self.proc = subprocess.Popen(
                [sys.executable, "-S", "-c", _ECHO_LOOP, str(theirs.fileno()), str(int(delay_us))],
                pass_fds=(theirs.fileno(),), stdin=subprocess.DEVNULL)
        except BaseException:
            ours.close()
            theirs.close()
            raise
        theirs.close()
        self.sock = ours

    def close(self):
        try:
            self.sock.shutdown(socket.SHUT_RDWR)  # the peer's recv returns b""
        except OSError:
            pass
        self.sock.close()
        try:
            self.proc.wait(5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


class TcpEchoPeer:
    """gilbench's own echo peer process (`gilbench --echo-peer PID DELAY_US`) over TCP
    loopback: the very peer of gilbench's --convoy-peer=tcp, so both sides of the
    convoy comparison talk to the same program over the same kind of socket."""

    def __init__(self, delay_us, gilbench):
        try:
            self.proc = subprocess.Popen([gilbench, "--echo-peer", str(os.getpid()), str(int(delay_us))],
                                         stdin=subprocess.DEVNULL, stdout=subprocess.PIPE)
        except OSError as e:
            raise RuntimeError("cannot start the echo peer %s --echo-peer: %s"
                               % (gilbench, e.strerror or e))
        line = self.proc.stdout.readline()  # its port; EOF if it exited
        try:
            port = int(line)
        except ValueError:
            status = self.proc.wait()
            raise RuntimeError("the echo peer %s --echo-peer said no port (exit status %s)"
                               % (gilbench, status))
        self.sock = socket.create_connection(("127.0.0.1", port))
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    close = EchoPeer.close


GILBENCH = "gilbench"  # the binary of TcpEchoPeer; twin.py sets it from --gilbench
_peers = {}  # (kind, delay_us) -> [EchoPeer or TcpEchoPeer]


def peers(n, delay_us=0, kind="thread"):
    """n live echo peers of this process with this reply delay (started once, kept):
    kind "thread" (a python -S process over a socketpair, standing in for gilbench's
    peer thread) or "tcp" (TcpEchoPeer)."""
    if kind not in ("thread", "tcp"):
        raise ValueError("echo peer kind %r is not thread or tcp" % (kind,))
    pool = _peers.setdefault((kind, delay_us), [])
    while len(pool) < n:
        pool.append(EchoPeer(delay_us) if kind == "thread" else TcpEchoPeer(delay_us, GILBENCH))
    return pool[:n]


@atexit.register
def close_all():
    for pool in _peers.values():
        while pool:
            pool.pop().close()


def request(request_id, size):
    """The request bytes for id: byte j is byte (j mod 8) of a hash of (id, j/8)."""
    out = bytearray(size)
    for j in range(size):
        x = (request_id * 0x9E3779B97F4A7C15 + (j // 8) + 1) & MASK64
        x = ((x ^ (x >> 31)) * 0xBF58476D1CE4E5B9) & MASK64
        out[j] = (x >> (8 * (j % 8))) & 0xFF
    return bytes(out)


def digest(reply):
    """FNV-1a of a reply (echo_digest)."""
    return hash_bytes(reply)


def recv_exactly(sock, size):
    data = sock.recv(size)
    while len(data) < size:
        if not data:
            raise ConnectionError("recv: the echo peer closed the connection")
        more = sock.recv(size - len(data))
        if not more:
            raise ConnectionError("recv: the echo peer closed the connection")
        data += more
    return data
