#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Time 3-hop circuit builds through a tor client's control port (python3 stdlib only).

For each build: `EXTENDCIRCUIT 0` (tor picks a fresh default-length path: guard, middle, exit)
and the time from sending it until `650 CIRC <id> BUILT`, one build at a time; every circuit
is closed (`CLOSECIRCUIT`) after the last build. Prints one
JSON object: {"builds": n, "failed": k, "ms": {"p50", "p90", "min", "max", "n"}}.

usage: tor_ctl.py --port P [--cookie DATADIR/control_auth_cookie] [--builds 25] [--warmup 2]
       tor_ctl.py --port P [--cookie FILE] --paths-of SOCKS_USERNAME
Authentication: the cookie file when given (CookieAuthentication 1), else none.
"""
import argparse
import json
import math
import os
import socket
import statistics
import sys
import time

from proxy_measure import exit_with  # same directory: python puts it on sys.path

TCP_QUICKACK = getattr(socket, "TCP_QUICKACK", 12)


class Ctl:
    def __init__(self, port, cookie, timeout):
        self.s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = b""
        self.events = []
        auth = "AUTHENTICATE"
        if cookie:
            with open(cookie, "rb") as f:
                auth += " " + f.read().hex()
        self.cmd(auth)

    def line(self):
        while b"\r\n" not in self.buf:
            c = self.s.recv(65536)
            self.s.setsockopt(socket.IPPROTO_TCP, TCP_QUICKACK, 1)
            if not c:
                raise EOFError("control connection closed")
            self.buf += c
        ln, self.buf = self.buf.split(b"\r\n", 1)
        return ln.decode(errors="replace")

    def reply(self):
        """Next synchronous reply (lines); asynchronous 650 events are queued on the side."""
        out = []
        while True:
            ln = self.line()
            if ln.startswith("650"):
                self.events.append(ln)
                if ln[3] == "+":  # multi-line event: skip its data up to "."
                    while self.line() != ".":
                        pass
                continue
            out.append(ln)
            if len(ln) >= 4 and ln[3] == "+":  # data block up to a lone "."
                while True:
                    d = self.line()
                    if d == ".":
                        break
                    out.append(d[1:] if d.startswith("..") else d)
            elif len(ln) >= 4 and ln[3] == " ":
                return out

    def cmd(self, c):
        self.s.sendall(c.encode() + b"\r\n")
        r = self.reply()
        if not r[-1].startswith("250"):
            raise RuntimeError("%s -> %s" % (c.split()[0], r[-1]))
        return r

    def event(self):
        if self.events:
            return self.events.pop(0)
        ln = self.line()
        if not ln.startswith("650"):
            raise RuntimeError("unexpected line: " + ln)
        return ln


def build_once(c, timeout):
    t0 = time.perf_counter()
    r = c.cmd("EXTENDCIRCUIT 0")
    cid = r[-1].split()[-1]  # "250 EXTENDED <id>"
    deadline = t0 + timeout
    while time.perf_counter() < deadline:
        f = c.event().split()
        if len(f) >= 4 and f[1] == "CIRC" and f[2] == cid:
            if f[3] == "BUILT":
                ms = (time.perf_counter() - t0) * 1e3
                hops = len(f[4].split(",")) if len(f) > 4 else 0
                return ms, hops, cid
            if f[3] in ("FAILED", "CLOSED"):
                return None, 0, None
    raise TimeoutError("circuit %s not built within %.0f s" % (cid, timeout))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--port", type=int, required=True, help="control port on 127.0.0.1")
    ap.add_argument("--cookie", help="control_auth_cookie file (default: no authentication)")
    ap.add_argument("--builds", type=int, default=25, help="measured builds")
    ap.add_argument("--warmup", type=int, default=2, help="builds not counted")
    ap.add_argument("--timeout", type=float, default=30, help="per build, s")
    ap.add_argument("--pause", type=float, default=0.05, help="between builds, s")
    ap.add_argument("--settle", type=float, default=90,
                    help="at most this long in all, s, retry while tor has no usable exit (551)")
    ap.add_argument("--paths-of", metavar="USER",
                    help="instead: print the paths of built circuits with this SOCKS username")
    ap.add_argument("--owner", type=int, help="exit when process OWNER is gone")
    a = ap.parse_args()
    if a.owner:
        exit_with(a.owner)
    c = Ctl(a.port, a.cookie, a.timeout)
    if a.paths_of:
        # the relays of the circuits that carry streams with SOCKS username PATHS_OF
        paths = []
        for ln in c.cmd("GETINFO circuit-status"):
            f = ln.split()
            if len(f) > 2 and f[1] == "BUILT" and 'SOCKS_USERNAME="%s"' % a.paths_of in ln:
                paths.append([h.split("~")[-1] for h in f[2].split(",")])
        print(json.dumps({"socks_username": a.paths_of, "paths": paths}))
        return 0
    c.cmd("SETEVENTS CIRC")
    ms, failed, hops, built = [], 0, set(), []
    tries = refused = 0
    waited = 0.0
    while len(ms) < a.builds and tries < 3 * (a.builds + a.warmup):
        try:
            t, h, cid = build_once(c, a.timeout)
        except RuntimeError as e:
            # "551 Couldn't start circuit": tor has no usable exit right now. Young private
            # networks flap like this for a minute or two (tiny self-measured bandwidths give
            # exits a zero weight; relays republish descriptors); wait, bounded by --settle.
            if not str(e).startswith("EXTENDCIRCUIT -> 551") or waited >= a.settle:
                raise
            refused += 1
            time.sleep(1.0)
            waited += 1.0
            continue
        tries += 1
        if t is None:
            failed += 1
            continue
        built.append(cid)
        if tries > a.warmup:
            ms.append(t)
            hops.add(h)
        time.sleep(a.pause)
    # Closed only at the end: a DESTROY cell written just before the next build's CREATE
    # stalls that CREATE on Nagle + delayed ACK (~40 ms) and would be measured as build time.
    for cid in built:
        try:
            c.cmd("CLOSECIRCUIT " + cid)
        except RuntimeError:
            pass  # already gone
    if not ms:
        print(json.dumps({"builds": 0, "failed": failed}))
        return 1
    xs = sorted(ms)
    p90 = xs[min(len(xs) - 1, math.ceil(0.9 * len(xs)) - 1)]
    print(json.dumps({"builds": len(ms), "failed": failed, "hops": sorted(hops),
                      "refused_551": refused, "waited_for_exits_s": waited,
                      "ms": {"p50": round(statistics.median(xs), 2), "p90": round(p90, 2),
                             "min": round(xs[0], 2), "max": round(xs[-1], 2), "n": len(xs)}}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
