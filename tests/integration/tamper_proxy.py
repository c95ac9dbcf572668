#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
# A TCP proxy for tests: listen on 127.0.0.1:LISTEN, forward to 127.0.0.1:TARGET, and in the
# FIRST connection only flip one bit of the client-to-server byte at offset FLIP_AT. Later
# connections pass through untouched. Prints one line per event.
import socket
import sys
import threading

listen_port, target_port, flip_at = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
first = [True]
lock = threading.Lock()


def pump(src, dst, flip):
    seen = 0
    try:
        while True:
            data = src.recv(65536)
            if not data:
                break
            if flip is not None and seen <= flip < seen + len(data):
                b = bytearray(data)
                b[flip - seen] ^= 0x01
                data = bytes(b)
                print(f"flipped byte {flip}", flush=True)
            seen += len(data)
            dst.sendall(data)
    except OSError:
        pass
    for s in (src, dst):
        try:
            s.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass


srv = socket.socket()
srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind(("127.0.0.1", listen_port))
srv.listen(16)
print("ready", flush=True)
while True:
    c, _ = srv.accept()
    u = socket.create_connection(("127.0.0.1", target_port))
    with lock:
        flip = flip_at if first[0] else None
        first[0] = False
    threading.Thread(target=pump, args=(c, u, flip), daemon=True).start()
    threading.Thread(target=pump, args=(u, c, None), daemon=True).start()
