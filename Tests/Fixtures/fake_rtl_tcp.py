#!/usr/bin/env python3
"""Fake rtl_tcp server for the IQ test suite (Python 3 stdlib only).

Protocol (osmocom rtl_tcp): on accept the server sends a 12-byte header
("RTL0", tuner type u32 BE, gain step count u32 BE) and then streams raw cu8
IQ bytes (I,Q interleaved, unsigned 8-bit) with no framing; the client sends
5-byte commands (1 byte id + u32 BE parameter).

Sample content: either the bytes of --file (looped), or a deterministic ramp
where global sample number s has I = s % 256 and Q = (s // 256) % 256. The
sample counter starts at --start-index and runs across all clients of this
process, so a client can detect gaps exactly. Data is paced in real time at
--rate samples/s (0 = unpaced) against time.monotonic() from the start of
each connection.

Usage:
  python3 fake_rtl_tcp.py --port PORT [--host 127.0.0.1] [--file PATH.cu8]
      [--rate 2400000] [--header-magic RTL0] [--close-after-samples N]
      [--commands-log PATH] [--ready-file PATH] [--start-index K]
"""

import argparse
import ipaddress
import os
import select
import signal
import socket
import struct
import sys
import time

TUNER_R820T = 5
GAIN_STEPS = 29
CHUNK_SAMPLES = 16384
RAMP_PERIOD = 65536  # samples
POLL = 0.1  # seconds; max latency for noticing a stop request

_stop = False


def _on_signal(signum, frame):
    global _stop
    _stop = True


def log(msg):
    print(f"fake_rtl_tcp[{os.getpid()}]: {msg}", file=sys.stderr, flush=True)


def build_ramp():
    """Ramp pattern of RAMP_PERIOD samples (I = s & 0xff, Q = s >> 8)."""
    ba = bytearray(RAMP_PERIOD * 2)
    ba[0::2] = bytes(range(256)) * (RAMP_PERIOD // 256)
    ba[1::2] = b"".join(bytes([q]) * 256 for q in range(256))
    return bytes(ba)


class Source:
    """Cyclic byte source; chunks are slices of a pre-extended buffer."""

    def __init__(self, period_data):
        self.period = len(period_data)
        reps = 1 + -(-(CHUNK_SAMPLES * 2) // self.period)  # ceil + 1
        self.buf = memoryview(period_data * reps)

    def chunk(self, sample_index, nsamples):
        start = (sample_index * 2) % self.period
        return self.buf[start:start + nsamples * 2]


def resolve_loopback(host):
    if host == "localhost":
        host = "127.0.0.1"
    try:
        addr = ipaddress.ip_address(host)
    except ValueError:
        sys.exit(f"--host must be a loopback IP address, got {host!r}")
    if not addr.is_loopback:
        sys.exit(f"refusing to bind to non-loopback address {host}")
    family = socket.AF_INET6 if addr.version == 6 else socket.AF_INET
    return family, str(addr)


def write_ready_file(path, port):
    tmp = f"{path}.tmp.{os.getpid()}"
    with open(tmp, "w") as f:
        f.write(f"{port}\n")
        f.flush()
        os.fsync(f.fileno())
    os.rename(tmp, path)


class Server:
    def __init__(self, args):
        self.args = args
        self.counter = args.start_index  # global sample counter
        if args.file:
            with open(args.file, "rb") as f:
                data = f.read()
            data = data[: len(data) // 2 * 2]
            if not data:
                sys.exit(f"--file {args.file} holds no complete IQ sample")
            self.source = Source(data)
        else:
            self.source = Source(build_ramp())
        self.header = (args.header_magic.encode("latin-1")
                       + struct.pack(">II", TUNER_R820T, GAIN_STEPS))
        self.cmdlog = open(args.commands_log, "a") if args.commands_log else None
        self.cmdbuf = b""

    # -- commands ---------------------------------------------------------
    def handle_input(self, data):
        self.cmdbuf += data
        while len(self.cmdbuf) >= 5:
            cmd = self.cmdbuf[0]
            (param,) = struct.unpack(">I", self.cmdbuf[1:5])
            self.cmdbuf = self.cmdbuf[5:]
            if self.cmdlog:
                self.cmdlog.write(f"cmd=0x{cmd:02x} param={param}\n")
                self.cmdlog.flush()

    def read_input(self, conn):
        """Returns False when the client has closed its side."""
        try:
            data = conn.recv(4096)
        except (BlockingIOError, InterruptedError):
            return True
        if not data:
            return False
        self.handle_input(data)
        return True

    # -- one client -------------------------------------------------------
    def serve_client(self, conn):
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        conn.sendall(self.header)
        conn.setblocking(False)
        self.cmdbuf = b""
        rate = self.args.rate
        limit = self.args.close_after_samples
        t0 = time.monotonic()
        client_samples = 0
        pending = None  # memoryview of the unsent part of the current chunk
        pending_sent = 0  # bytes of current chunk already sent
        chunk_n = 0
        try:
            while not _stop:
                if pending is None:
                    if limit is not None and client_samples >= limit:
                        log(f"closing after {client_samples} samples")
                        self.close_gracefully(conn)
                        return
                    due = t0 + client_samples / rate if rate > 0 else 0.0
                    now = time.monotonic()
                    if now >= due:
                        chunk_n = CHUNK_SAMPLES
                        if limit is not None:
                            chunk_n = min(chunk_n, limit - client_samples)
                        pending = self.source.chunk(self.counter, chunk_n)
                        pending_sent = 0
                        continue
                    r, _, _ = select.select([conn], [], [], min(due - now, POLL))
                    if r and not self.read_input(conn):
                        return
                    continue
                r, w, _ = select.select([conn], [conn], [], POLL)
                if r and not self.read_input(conn):
                    return
                if w:
                    try:
                        n = conn.send(pending[pending_sent:])
                    except (BlockingIOError, InterruptedError):
                        n = 0
                    pending_sent += n
                    if pending_sent == len(pending):
                        self.counter += chunk_n
                        client_samples += chunk_n
                        pending = None
        except (BrokenPipeError, ConnectionResetError, ConnectionAbortedError,
                TimeoutError):
            pass
        finally:
            if pending is not None:
                self.counter += pending_sent // 2
            conn.close()

    def close_gracefully(self, conn):
        """Half-close, then drain briefly so the client gets all data (no RST)."""
        try:
            conn.shutdown(socket.SHUT_WR)
            end = time.monotonic() + 0.5
            while not _stop and time.monotonic() < end:
                r, _, _ = select.select([conn], [], [], POLL)
                if r and not self.read_input(conn):
                    break
        except OSError:
            pass

    # -- accept loop ------------------------------------------------------
    def run(self):
        family, host = resolve_loopback(self.args.host)
        lsock = socket.socket(family, socket.SOCK_STREAM)
        lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        lsock.bind((host, self.args.port))
        lsock.listen(1)
        port = lsock.getsockname()[1]
        log(f"listening on {host}:{port}")
        if self.args.ready_file:
            write_ready_file(self.args.ready_file, port)
        try:
            while not _stop:
                r, _, _ = select.select([lsock], [], [], POLL)
                if not r:
                    continue
                try:
                    conn, peer = lsock.accept()
                except (BlockingIOError, InterruptedError, ConnectionAbortedError):
                    continue
                log(f"client connected from {peer[0]}:{peer[1]}")
                try:
                    self.serve_client(conn)
                except OSError as e:
                    log(f"client error: {e}")
                log(f"client gone; next sample index {self.counter}")
        finally:
            lsock.close()
            if self.cmdlog:
                self.cmdlog.close()
        log("exiting")


def main():
    p = argparse.ArgumentParser(description="Fake rtl_tcp server for tests.")
    p.add_argument("--port", type=int, required=True, help="TCP port (0 = any)")
    p.add_argument("--host", default="127.0.0.1", help="loopback address only")
    p.add_argument("--file", help="cu8 file to loop over instead of the ramp")
    p.add_argument("--rate", type=float, default=2_400_000,
                   help="samples/s (0 = as fast as possible)")
    p.add_argument("--header-magic", default="RTL0")
    p.add_argument("--close-after-samples", type=int, default=None)
    p.add_argument("--commands-log")
    p.add_argument("--ready-file")
    p.add_argument("--start-index", type=int, default=0)
    args = p.parse_args()
    if args.rate < 0:
        p.error("--rate must be >= 0")
    if args.close_after_samples is not None and args.close_after_samples < 0:
        p.error("--close-after-samples must be >= 0")
    if args.start_index < 0:
        p.error("--start-index must be >= 0")

    signal.signal(signal.SIGTERM, _on_signal)
    signal.signal(signal.SIGINT, _on_signal)
    Server(args).run()


if __name__ == "__main__":
    main()
