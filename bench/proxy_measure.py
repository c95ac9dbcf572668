#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Client-side measurements through a SOCKS5 proxy (Tor, umbra) or direct, all the same way.

Prints one JSON object on stdout (progress on stderr). Every request opens a new TCP connection
(to the SOCKS port, or to the origin when direct) with TCP_NODELAY and sends one
`GET /bytes/<N> HTTP/1.1` with `Connection: close`; SOCKS5 is done here (RFC 1928/1929), with
the same username/password on every request, so a proxy that isolates by SOCKS credentials
(Tor's IsolateSOCKSAuth, the default) puts them all on one warm circuit. Methods offered:
username/password, then none (a proxy without authentication picks none); --no-auth offers
only none. The destination goes as an IPv4 address (ATYP 1) when the origin's host is one.

Measures (each can be skipped with --only):
  ttfb      --warmup requests, then --count requests of --small bytes, one at a time, each
            after --gap idle seconds (so that one request's teardown does not delay the next):
            connect_to_first_byte_ms: from connect() to the SOCKS port to the first body byte
              (SOCKS handshake + stream open through the circuit + request + response);
            request_to_first_byte_ms: from the request sent (SOCKS already open) to the first
              body byte; stream_open_ms: connect() to the SOCKS success reply; p50/p90/min/max.
  parallel  --parallel requests of --small bytes at once (one thread each); wall time from the
            first connect to the last body byte, and how many failed. The same credentials for
            all (default), or --parallel-isolation each: new credentials per request.
  bulk      one download of --bulk-bytes; MB/s (10^6 bytes/s) from connect to the last byte,
            and from first byte to last; length checked always, SHA-256 against the origin's
            X-Body-SHA256 header with --verify sha256 (the default).

Wait mode: --wait-first-fetch TIMEOUT polls with real fetches of --small bytes (a new one every
--poll s, each allowed --attempt-timeout s, overlapping) until one succeeds and prints
{"first_fetch_s": seconds since --start (a Unix timestamp, default now), "attempts": n, ...};
exit status 1 when TIMEOUT seconds pass without a success.

usage:
  proxy_measure.py --origin http://127.0.0.1:8080 [--socks [HOST:]PORT] [options]
  proxy_measure.py --origin URL --socks PORT --wait-first-fetch 180 --start 1700000000.123
"""
import argparse
import copy
import hashlib
import json
import math
import os
import socket
import statistics
import struct
import sys
import threading
import time
import urllib.parse


class FetchError(Exception):
    pass


def log(*a):
    print("proxy_measure:", *a, file=sys.stderr, flush=True)


def recv_exact(s, n):
    b = b""
    while len(b) < n:
        c = s.recv(n - len(b))
        if not c:
            raise FetchError("connection closed during SOCKS reply")
        b += c
    return b


SOCKS_ERR = {1: "general failure", 2: "not allowed by ruleset", 3: "network unreachable",
             4: "host unreachable", 5: "connection refused", 6: "TTL expired",
             7: "command not supported", 8: "address type not supported"}


class Target:
    def __init__(self, origin, socks, user, password):
        u = urllib.parse.urlsplit(origin)
        if u.scheme != "http" or not u.hostname:
            raise SystemExit("--origin must be http://HOST:PORT")
        self.host, self.port = u.hostname, u.port or 80
        self.socks = None
        if socks:
            h, _, p = socks.rpartition(":")
            self.socks = (h or "127.0.0.1", int(p))
        self.user, self.password = user.encode(), password.encode()
        self.no_auth = False

    def open(self, timeout):
        """Connect (through SOCKS when set); returns (socket, t_connect_start, t_open)."""
        t0 = time.perf_counter()
        dst = self.socks or (self.host, self.port)
        s = socket.create_connection(dst, timeout=timeout)
        try:
            s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            if self.socks:
                self._socks5(s)
        except BaseException:
            s.close()
            raise
        return s, t0, time.perf_counter()

    def _socks5(self, s):
        # methods offered: username/password (the isolation key), then none (--no-auth: none)
        s.sendall(b"\x05\x01\x00" if self.no_auth else b"\x05\x02\x02\x00")
        ver, method = recv_exact(s, 2)
        if ver != 5 or method not in ((0,) if self.no_auth else (2, 0)):
            raise FetchError("SOCKS5 server accepted none of our methods (reply %d %d)" % (ver, method))
        if method == 2:
            s.sendall(b"\x01" + bytes([len(self.user)]) + self.user + bytes([len(self.password)]) +
                      self.password)
            if recv_exact(s, 2)[1] != 0:
                raise FetchError("SOCKS5 authentication failed")
        try:
            addr = b"\x01" + socket.inet_aton(self.host)
        except OSError:
            h = self.host.encode()
            addr = b"\x03" + bytes([len(h)]) + h
        s.sendall(b"\x05\x01\x00" + addr + struct.pack(">H", self.port))
        ver, rep, _, atyp = recv_exact(s, 4)
        if ver != 5 or rep != 0:
            raise FetchError("SOCKS5 CONNECT failed: %s" % SOCKS_ERR.get(rep, "reply %d" % rep))
        alen = {1: 4, 4: 16}.get(atyp)
        if alen is None:
            alen = recv_exact(s, 1)[0]
        recv_exact(s, alen + 2)

    def request(self, n):
        return ("GET /bytes/%d HTTP/1.1\r\nHost: %s:%d\r\nConnection: close\r\n"
                "User-Agent: umbra-proxy-measure\r\n\r\n" % (n, self.host, self.port)).encode()


def fetch(t, n, timeout, verify="length", bufsize=1 << 20):
    """One GET of n bytes. Returns a dict of times (perf_counter seconds) and sizes."""
    view = memoryview(bytearray(min(bufsize, n + 65536)))  # allocated before the clock starts
    s, t0, t_open = t.open(timeout)
    try:
        t_req = time.perf_counter()
        s.sendall(t.request(n))
        head = b""
        t_first = None
        while b"\r\n\r\n" not in head:
            k = s.recv_into(view)
            if k == 0:
                raise FetchError("connection closed before the response headers")
            head += bytes(view[:k])
            if len(head) > 65536 and b"\r\n\r\n" not in head[:65536 + 4]:
                raise FetchError("response headers too long")
        head, body0 = head.split(b"\r\n\r\n", 1)
        lines = head.split(b"\r\n")
        if b" 200 " not in lines[0] + b" ":
            raise FetchError("HTTP status: %s" % lines[0].decode(errors="replace"))
        hdrs = {}
        for line in lines[1:]:
            k, _, v = line.partition(b":")
            hdrs[k.strip().lower()] = v.strip().decode()
        length = int(hdrs.get(b"content-length", "-1"))
        if length != n:
            raise FetchError("Content-Length %d, wanted %d" % (length, n))
        h = hashlib.sha256() if verify == "sha256" else None
        got = len(body0)
        if got:
            t_first = time.perf_counter()
            if h:
                h.update(body0)
        while got < n:
            k = s.recv_into(view, min(len(view), n - got))
            if k == 0:
                raise FetchError("connection closed after %d of %d body bytes" % (got, n))
            if t_first is None:
                t_first = time.perf_counter()
            if h:
                h.update(view[:k])
            got += k
        t_end = time.perf_counter()
        if t_first is None:  # n == 0
            t_first = t_end
        if h and h.hexdigest() != hdrs.get(b"x-body-sha256"):
            raise FetchError("SHA-256 mismatch")
        return {"t0": t0, "open": t_open, "req": t_req, "first": t_first, "end": t_end, "bytes": got}
    finally:
        s.close()


def pct(xs, p):
    """Nearest-rank percentile."""
    xs = sorted(xs)
    return xs[max(0, min(len(xs) - 1, math.ceil(p / 100.0 * len(xs)) - 1))]


def summary(xs):
    return {"p50": round(statistics.median(xs), 2), "p90": round(pct(xs, 90), 2),
            "min": round(min(xs), 2), "max": round(max(xs), 2), "n": len(xs)}


def measure_ttfb(t, a):
    for i in range(a.warmup):
        fetch(t, a.small, a.timeout)
    c2f, r2f, opn = [], [], []
    for i in range(a.count):
        time.sleep(a.gap)
        r = fetch(t, a.small, a.timeout)
        c2f.append((r["first"] - r["t0"]) * 1e3)
        r2f.append((r["first"] - r["req"]) * 1e3)
        opn.append((r["open"] - r["t0"]) * 1e3)
    return {"bytes": a.small, "warmup": a.warmup, "gap_s": a.gap,
            "connect_to_first_byte_ms": summary(c2f),
            "request_to_first_byte_ms": summary(r2f),
            "stream_open_ms": summary(opn)}


def measure_parallel(t, a):
    res = [None] * a.parallel
    start = threading.Barrier(a.parallel + 1)

    targets = [t] * a.parallel
    if a.parallel_isolation == "each":  # new SOCKS credentials: a new circuit each (Tor)
        targets = []
        for i in range(a.parallel):
            ti = copy.copy(t)
            ti.user = ("%s-%d-%d" % (t.user.decode(), os.getpid(), i)).encode()
            targets.append(ti)

    def one(i):
        start.wait()
        try:
            res[i] = fetch(targets[i], a.small, a.timeout)
        except (OSError, FetchError) as e:
            res[i] = e

    th = [threading.Thread(target=one, args=(i,)) for i in range(a.parallel)]
    for x in th:
        x.start()
    start.wait()
    t0 = time.perf_counter()
    for x in th:
        x.join()
    t1 = time.perf_counter()
    ok = [r for r in res if isinstance(r, dict)]
    bad = [r for r in res if not isinstance(r, dict)]
    if bad:
        log("parallel: %d failed, first: %s" % (len(bad), bad[0]))
    return {"requests": a.parallel, "bytes": a.small, "isolation": a.parallel_isolation,
            "failed": len(bad),
            "wall_s": round((max(r["end"] for r in ok) if ok else t1) - t0, 3),
            "slowest_ms": round(max((r["end"] - r["t0"]) * 1e3 for r in ok), 1) if ok else None}


def measure_bulk(t, a):
    r = fetch(t, a.bulk_bytes, a.timeout, verify=a.verify)
    n = r["bytes"]
    return {"bytes": n, "verify": a.verify,
            "seconds": round(r["end"] - r["t0"], 3),
            "mb_s": round(n / (r["end"] - r["t0"]) / 1e6, 2),
            "mb_s_from_first_byte": round(n / max(r["end"] - r["first"], 1e-9) / 1e6, 2)}


def wait_first_fetch(t, a):
    """A new attempt every --poll seconds, each allowed --attempt-timeout, several in flight at
    once: a request that a proxy holds (no circuit yet) or that hangs on a bad circuit does not
    hide a later one that succeeds. The time of the first success counts."""
    start = a.start if a.start is not None else time.time()
    deadline = start + a.wait_first_fetch
    done = threading.Event()
    lock = threading.Lock()
    st = {"attempts": 0, "errors": {}, "success": None}

    def attempt(i):
        t_try = time.time()
        try:
            fetch(t, a.small, max(1.0, min(a.attempt_timeout, deadline - t_try)))
            now = time.time()
            with lock:
                if st["success"] is None:
                    st["success"] = (now, now - t_try, i)
            done.set()
        except (OSError, FetchError) as e:
            with lock:
                if str(e) not in st["errors"]:
                    log("first fetch: attempt %d: %s" % (i, e))
                st["errors"][str(e)] = st["errors"].get(str(e), 0) + 1

    while not done.is_set() and time.time() < deadline:
        st["attempts"] += 1
        threading.Thread(target=attempt, args=(st["attempts"],), daemon=True).start()
        done.wait(max(0.0, min(a.poll, deadline - time.time())))
    if st["success"] is None:
        log("first fetch: no success within %.0f s (%d attempts; errors: %s)" %
            (a.wait_first_fetch, st["attempts"], st["errors"]))
        return None
    now, took, i = st["success"]
    return {"first_fetch_s": round(now - start, 2), "attempts": st["attempts"],
            "successful_attempt": i, "successful_attempt_s": round(took, 2)}


def exit_with(pid):
    """Exit (status 3) once process PID is gone: no orphan outlives a killed caller."""
    def watch():
        while True:
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                os._exit(3)
            except PermissionError:
                pass
            time.sleep(0.5)
    threading.Thread(target=watch, daemon=True).start()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--origin", required=True, help="http://127.0.0.1:PORT (bench/origin.py)")
    ap.add_argument("--socks", help="SOCKS5 proxy [HOST:]PORT (default: direct, no proxy)")
    ap.add_argument("--user", default="umbra-bench", help="SOCKS5 username (isolation key)")
    ap.add_argument("--password", default="warm-circuit", help="SOCKS5 password")
    ap.add_argument("--no-auth", action="store_true",
                    help="offer only SOCKS5 method 0 (no authentication, so no isolation key)")
    ap.add_argument("--only", default="ttfb,parallel,bulk",
                    help="comma-separated subset of ttfb,parallel,bulk (run in that order)")
    ap.add_argument("--small", type=int, default=1024, help="small request size, bytes")
    ap.add_argument("--warmup", type=int, default=3, help="TTFB warm-up requests")
    ap.add_argument("--count", type=int, default=20, help="TTFB measured requests")
    ap.add_argument("--gap", type=float, default=0.2,
                    help="TTFB: idle seconds before each measured request (0: back to back)")
    ap.add_argument("--parallel", type=int, default=50, help="parallel requests")
    ap.add_argument("--parallel-isolation", choices=("same", "each"), default="same",
                    help="parallel: the same SOCKS credentials for all (one warm circuit), or "
                         "different ones for each request (a fresh circuit each, on Tor)")
    ap.add_argument("--bulk-bytes", type=int, default=256 << 20, help="bulk object size")
    ap.add_argument("--verify", choices=("sha256", "length"), default="sha256",
                    help="bulk check: SHA-256 against the origin's header, or length only")
    ap.add_argument("--timeout", type=float, default=120, help="socket timeout, s")
    ap.add_argument("--wait-first-fetch", type=float, metavar="TIMEOUT",
                    help="poll until a fetch succeeds (at most TIMEOUT s after --start)")
    ap.add_argument("--start", type=float, help="Unix time the wait counts from (default: now)")
    ap.add_argument("--poll", type=float, default=1.0,
                    help="wait mode: seconds between the starts of attempts")
    ap.add_argument("--attempt-timeout", type=float, default=30, help="wait mode: per attempt, s")
    ap.add_argument("--owner", type=int, help="exit when process OWNER is gone")
    a = ap.parse_args()
    if a.owner:
        exit_with(a.owner)
    t = Target(a.origin, a.socks, a.user, a.password)
    t.no_auth = a.no_auth

    if a.wait_first_fetch is not None:
        r = wait_first_fetch(t, a)
        if r is None:
            print(json.dumps({"first_fetch_s": None}))
            return 1
        print(json.dumps(r))
        return 0

    out = {"via": "socks5 %s:%d" % t.socks if t.socks else "direct",
           "origin": a.origin}
    steps = {"ttfb": measure_ttfb, "parallel": measure_parallel, "bulk": measure_bulk}
    for name in ("ttfb", "parallel", "bulk"):
        if name in a.only.split(","):
            log("%s ..." % name)
            try:
                out[name] = steps[name](t, a)
            except (OSError, FetchError) as e:
                log("%s failed: %s" % (name, e))
                out[name] = {"error": str(e)}
    print(json.dumps(out))
    return 1 if any("error" in v for v in out.values() if isinstance(v, dict)) else 0


if __name__ == "__main__":
    sys.exit(main())
