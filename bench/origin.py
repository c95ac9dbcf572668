#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""The benchmark origin: one small HTTP/1.1 server on loopback that every system in a comparison
(direct, Tor, umbra) fetches from, so that the origin is never the difference between them.

    GET /bytes/<N>   N bytes of a fixed pseudo-random pattern (1 MiB of SHAKE-256 output of a
                     fixed seed, repeated), with Content-Length and X-Body-SHA256 headers
    GET /health      "ok"
    GET /            a small HTML page (what `make demo` fetches)

Why not `python3 -m http.server`: it writes headers and body separately without TCP_NODELAY,
which stalls ~40 ms on delayed ACK. Here every accepted socket has TCP_NODELAY, a small
response (headers + body <= 64 KiB) goes out in one write, a large one as the headers then
sendfile(2) from a pattern file. One thread per connection; keep-alive is honoured (HTTP/1.1
default, `Connection: close` ends it).

usage: origin.py [--port P] [--precompute N,...] [--exit-with-parent]
Prints "origin listening on http://127.0.0.1:P" on stdout (flushed) once it accepts
connections. Listens on 127.0.0.1 only.
"""
import argparse
import hashlib
import os
import re
import signal
import socket
import socketserver
import sys
import tempfile
import threading
import time

SEED = b"umbra-bench-origin-v1"
PATTERN_LEN = 1 << 20
SMALL = 64 * 1024
MAX_BYTES = 1 << 40


def pattern():
    """The 1 MiB block every body is made of (body[i] = pattern[i % 1 MiB])."""
    return hashlib.shake_256(SEED).digest(PATTERN_LEN)


def body_sha256(pat, n):
    h = hashlib.sha256()
    full, rest = divmod(n, len(pat))
    for _ in range(full):
        h.update(pat)
    h.update(pat[:rest])
    return h.hexdigest()


class Origin:
    def __init__(self):
        self.pat = pattern()
        fd, self.path = tempfile.mkstemp(prefix="umbra-origin-", suffix=".bin")
        os.write(fd, self.pat)
        os.close(fd)
        self.fd = os.open(self.path, os.O_RDONLY)
        os.unlink(self.path)  # the open descriptor keeps it; nothing is left behind
        self.digests = {}
        self.lock = threading.Lock()

    def digest(self, n):
        with self.lock:
            d = self.digests.get(n)
        if d is None:
            d = body_sha256(self.pat, n)
            with self.lock:
                self.digests[n] = d
        return d

    def small_body(self, n):
        reps = n // PATTERN_LEN + 1
        return (self.pat * reps)[:n] if reps > 1 else self.pat[:n]


ORIGIN = None


PAGE = (b"<!doctype html>\n<title>umbra demo</title>\n"
        b"<h1>Hello from a web server on 127.0.0.1</h1>\n"
        b"<p>You reached it through three umbra relays: the entry knew who you are, the exit "
        b"knew where you went, and no relay knew both.</p>\n")


def respond(sock, status, body, keep, ctype=b"text/plain"):
    head = b"HTTP/1.1 %s\r\nContent-Length: %d\r\nContent-Type: %s\r\nConnection: %s\r\n\r\n" % (
        status, len(body), ctype, b"keep-alive" if keep else b"close")
    sock.sendall(head + body)


class Handler(socketserver.BaseRequestHandler):
    def handle(self):
        sock = self.request
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.settimeout(300)
        buf = b""
        while True:
            while b"\r\n\r\n" not in buf:
                try:
                    chunk = sock.recv(65536)
                except OSError:
                    return
                if not chunk:
                    return
                buf += chunk
                if len(buf) > 65536:
                    return
            head, buf = buf.split(b"\r\n\r\n", 1)
            lines = head.split(b"\r\n")
            parts = lines[0].split()
            if len(parts) != 3:
                respond(sock, b"400 Bad Request", b"bad request\n", False)
                return
            method, target, version = parts
            hdrs = {}
            for line in lines[1:]:
                k, _, v = line.partition(b":")
                hdrs[k.strip().lower()] = v.strip().lower()
            conn = hdrs.get(b"connection", b"")
            keep = (version == b"HTTP/1.1" and conn != b"close") or conn == b"keep-alive"
            if not self.serve(sock, method, target, keep):
                return
            if not keep:
                return

    def serve(self, sock, method, target, keep):
        if method not in (b"GET", b"HEAD"):
            respond(sock, b"405 Method Not Allowed", b"GET only\n", keep)
            return True
        if target == b"/health":
            respond(sock, b"200 OK", b"ok\n", keep)
            return True
        if target == b"/":
            respond(sock, b"200 OK", PAGE, keep, b"text/html; charset=utf-8")
            return True
        m = re.fullmatch(rb"/bytes/(\d{1,14})", target)
        if not m or int(m.group(1)) > MAX_BYTES:
            respond(sock, b"404 Not Found", b"try /bytes/<N>\n", keep)
            return True
        n = int(m.group(1))
        head = (b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\nContent-Type: application/octet-stream\r\n"
                b"X-Body-SHA256: %s\r\nConnection: %s\r\n\r\n") % (
                    n, ORIGIN.digest(n).encode(), b"keep-alive" if keep else b"close")
        if method == b"HEAD":
            sock.sendall(head)
            return True
        if n <= SMALL:
            sock.sendall(head + ORIGIN.small_body(n))  # one write: no delayed-ACK stall
            return True
        sock.sendall(head)
        sock.settimeout(None)  # sendfile wants a blocking socket
        left = n
        try:
            while left:
                off = (n - left) % PATTERN_LEN
                sent = os.sendfile(sock.fileno(), ORIGIN.fd, off, min(left, PATTERN_LEN - off))
                if sent <= 0:
                    return False
                left -= sent
        except OSError:
            return False
        sock.settimeout(300)
        return True


class Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 256


def main():
    global ORIGIN
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--port", type=int, default=0, help="TCP port on 127.0.0.1 (0: a free one)")
    ap.add_argument("--precompute", default="1024,268435456",
                    help="body sizes whose SHA-256 to compute before listening (comma-separated)")
    ap.add_argument("--exit-with-parent", action="store_true",
                    help="exit when the process that started this one is gone")
    a = ap.parse_args()
    if a.exit_with_parent:
        parent = os.getppid()

        def watch():
            while os.getppid() == parent:
                time.sleep(0.5)
            os._exit(0)

        threading.Thread(target=watch, daemon=True).start()
    ORIGIN = Origin()
    for s in filter(None, a.precompute.split(",")):
        ORIGIN.digest(int(s))
    srv = Server(("127.0.0.1", a.port), Handler)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    print("origin listening on http://127.0.0.1:%d" % srv.server_address[1], flush=True)
    try:
        srv.serve_forever(poll_interval=0.5)
    except (KeyboardInterrupt, SystemExit):
        pass
    finally:
        srv.server_close()


if __name__ == "__main__":
    main()
