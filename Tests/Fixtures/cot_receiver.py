#!/usr/bin/env python3
"""Receives Cursor-on-Target events on loopback and parses each with takproto.

A stand-in for a TAK client (UDP mesh SA) or a TAK Server's streaming input (TCP, or TLS with
client certificates), for uasense's CoT tests. Binds 127.0.0.1 on a free port (or, with --group,
joins that multicast group on the loopback interface at --port: for tests inside a network
namespace of their own), writes the port to --ready-file, then receives: UDP until --idle seconds
pass without a datagram (after the first), TCP until the sender closes the connection; either way
at most --max-s seconds. With --tls-cert/--tls-key/--tls-ca the TCP listener presents that
certificate and requires a client certificate signed by that CA. Each event is parsed with
takproto.parse_proto (which takes TAK protocol version 0, i.e. XML starting with "<?xml") and
printed as one JSON object per line:

  {"type", "uid", "how", "lat", "lon", "hae", "ce", "le", "time_ms", "start_ms", "stale_ms",
   "callsign", "course", "speed", "xml_detail", "bytes"}

An event takproto cannot parse prints {"error": ..., "raw": ...} and the exit status is 2.
"""
import argparse
import json
import os
import socket
import ssl
import sys
import time

import takproto


def describe(raw: bytes) -> dict:
    msg = takproto.parse_proto(bytearray(raw))
    if msg is None:
        raise ValueError("takproto.parse_proto returned None (not XML, mesh or stream TAK protocol)")
    e = msg.cotEvent
    d = e.detail
    return {
        "type": e.type, "uid": e.uid, "how": e.how,
        "lat": e.lat, "lon": e.lon, "hae": e.hae, "ce": e.ce, "le": e.le,
        "time_ms": e.sendTime, "start_ms": e.startTime, "stale_ms": e.staleTime,
        "callsign": d.contact.callsign, "course": d.track.course, "speed": d.track.speed,
        "xml_detail": d.xmlDetail, "bytes": len(raw),
    }


def emit(raw: bytes) -> bool:
    try:
        print(json.dumps(describe(raw)), flush=True)
        return True
    except Exception as error:  # report, keep receiving: the test counts what parsed
        print(json.dumps({"error": f"{type(error).__name__}: {error}", "raw": raw[:300].decode("utf-8", "replace")}),
              flush=True)
        return False


def receive_udp(sock, idle_s, deadline) -> bool:
    ok = True
    sock.settimeout(0.2)
    last = None
    while time.monotonic() < deadline:
        try:
            data = sock.recv(65536)
        except socket.timeout:
            if last is not None and time.monotonic() - last > idle_s:
                break
            continue
        last = time.monotonic()
        ok = emit(data) and ok
    return ok


def receive_tcp(sock, deadline, tls=None) -> bool:
    sock.settimeout(max(0.1, deadline - time.monotonic()))
    conn, _ = sock.accept()
    if tls is not None:
        conn.settimeout(5)
        try:
            conn = tls.wrap_socket(conn, server_side=True)
        except (ssl.SSLError, OSError) as error:
            print(json.dumps({"error": f"TLS handshake: {error}"}), flush=True)
            conn.close()
            return False
    conn.settimeout(0.2)
    buffer = b""
    ok = True
    end = b"</event>"
    while time.monotonic() < deadline:
        try:
            data = conn.recv(65536)
        except socket.timeout:
            continue
        if not data:
            break
        buffer += data
        # TAK stream framing: events back to back, split after each "</event>".
        while (k := buffer.find(end)) >= 0:
            event, buffer = buffer[:k + len(end)], buffer[k + len(end):]
            ok = emit(event.lstrip(b"\r\n")) and ok
    conn.close()
    if buffer.strip():
        print(json.dumps({"error": "trailing bytes after the last </event>", "raw": buffer[:300].decode("utf-8", "replace")}))
        ok = False
    return ok


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    mode = parser.add_mutually_exclusive_group(required=True)
    mode.add_argument("--udp", action="store_true")
    mode.add_argument("--tcp", action="store_true")
    parser.add_argument("--ready-file", required=True)
    parser.add_argument("--group", help="UDP: join this IPv4 multicast group on 127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--tls-cert", help="TCP: serve TLS with this certificate (PEM)")
    parser.add_argument("--tls-key", help="its private key (PEM)")
    parser.add_argument("--tls-ca", help="require a client certificate signed by this CA (PEM)")
    parser.add_argument("--idle", type=float, default=1.5, help="UDP: stop this long after the last datagram")
    parser.add_argument("--max-s", type=float, default=30.0, help="stop after this long in any case")
    args = parser.parse_args()

    if args.udp:
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
    else:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    if args.udp and args.group:
        sock.bind(("", args.port))
        membership = socket.inet_aton(args.group) + socket.inet_aton("127.0.0.1")
        sock.setsockopt(socket.IPPROTO_IP, socket.IP_ADD_MEMBERSHIP, membership)
    else:
        sock.bind(("127.0.0.1", args.port))
    if args.tcp:
        sock.listen(1)
    with open(args.ready_file + ".tmp", "w") as f:
        f.write(str(sock.getsockname()[1]))
    # Rename so the test never reads a half-written port.
    os.rename(args.ready_file + ".tmp", args.ready_file)

    deadline = time.monotonic() + args.max_s
    tls = None
    if args.tls_cert:
        tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        tls.load_cert_chain(args.tls_cert, args.tls_key)
        tls.verify_mode = ssl.CERT_REQUIRED
        tls.load_verify_locations(args.tls_ca)
    ok = receive_udp(sock, args.idle, deadline) if args.udp else receive_tcp(sock, deadline, tls)
    sock.close()
    return 0 if ok else 2


if __name__ == "__main__":
    sys.exit(main())
