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
import socket
import subprocess
import sys

from .tally import MASK64, hash_bytes

_ECHO_LOOP = (
    "import socket, sys\n"
    "s = socket.socket(fileno=int(sys.argv[1]))\n"
    "while True:\n"
    "    d = s.recv(4096)\n"
    "    if not d:\n"
    "        break\n"
    "    s.sendall(d)\n"
)


class EchoPeer:
    def __init__(self):
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            self.proc = subprocess.Popen(
                [sys.executable, "-S", "-c", _ECHO_LOOP, str(theirs.fileno())],
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


_peers = []


def peers(n):
    """At least n live echo peers of this process (started once, kept)."""
    while len(_peers) < n:
        _peers.append(EchoPeer())
    return _peers[:n]


@atexit.register
def close_all():
    while _peers:
        _peers.pop().close()


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
