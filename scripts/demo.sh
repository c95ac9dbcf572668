#!/bin/bash
# SPDX-License-Identifier: MIT
# make demo: the main job on an embedded default. For now (issue #2, the foundation): two
# umbra nodes on loopback create their keys, connect over a Noise_XK link, exchange traffic
# both ways with SHA-256 verification, and report handshake time and throughput. Everything
# runs in a temporary directory and is stopped and removed at the end.
# usage: scripts/demo.sh [UMBRA_BINARY]   (DEMO_BYTES=256M to change the transfer size)
set -euo pipefail
U=$(cd "$(dirname "${1:-build/release/umbra}")" && pwd)/$(basename "${1:-umbra}")
BYTES=${DEMO_BYTES:-256M}
T=$(mktemp -d /tmp/umbra-demo.XXXXXX)
PIDS=()
cleanup() {
	for p in "${PIDS[@]:-}"; do [ -n "$p" ] && kill "$p" 2>/dev/null || true; done
	for p in "${PIDS[@]:-}"; do [ -n "$p" ] && wait "$p" 2>/dev/null || true; done
	rm -rf "$T"
}
trap cleanup EXIT
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
say() { printf '\n== %s\n' "$*"; }

mk() {
	local n=$1 p=$2
	shift 2
	mkdir -p "$T/$n" && chmod 700 "$T/$n"
	{
		printf '[node]\nstate_dir = %s\nnickname = %s\nroles = middle\n' "$T/$n" "$n"
		printf '[link]\nlisten = 127.0.0.1:%s\n' "$p"
		for l in "$@"; do echo "$l"; done
		printf '[log]\nlevel = notice\n'
	} >"$T/$n.conf"
}

say "umbra $("$U" version | cut -d' ' -f2): two nodes on loopback ($T)"
mk alice "$(port)"
ALICE=$("$U" keygen -c "$T/alice.conf" 2>/dev/null)
mk bob "$(port)" "peer = $("$U" whoami -c "$T/alice.conf" --peer)"
BOB=$("$U" keygen -c "$T/bob.conf" 2>/dev/null)
echo "alice  $ALICE"
echo "bob    $BOB   (configured to link to alice)"

say "starting both daemons"
"$U" run -c "$T/alice.conf" 2>"$T/alice.log" & PIDS+=($!)
"$U" run -c "$T/bob.conf" 2>"$T/bob.log" & PIDS+=($!)
for _ in $(seq 100); do
	"$U" status -c "$T/bob.conf" --json 2>/dev/null | grep -q '"state": "open"' && break
	sleep 0.1
done
"$U" status -c "$T/bob.conf"
hs=$("$U" status -c "$T/bob.conf" --json |
	python3 -c 'import json,sys; print(json.load(sys.stdin)["link_list"][0]["handshake_us"])')
echo "Noise_XK link handshake (TCP connect to both identities verified): $((hs / 1000)).$(((hs % 1000) / 100)) ms"

say "bob -> alice: $BYTES of records, SHA-256 checked at both ends"
"$U" link test "$ALICE" --bytes "$BYTES" -c "$T/bob.conf"
say "alice -> bob: $BYTES"
"$U" link test "$BOB" --bytes "$BYTES" -c "$T/alice.conf"
say "both directions at once"
"$U" link test "$ALICE" --bytes "$BYTES" -c "$T/bob.conf" >"$T/one" &
"$U" link test "$BOB" --bytes "$BYTES" -c "$T/alice.conf" >"$T/two"
wait $!
sed 's/^/  bob->alice  /' "$T/one"
sed 's/^/  alice->bob  /' "$T/two"

say "alice's view"
"$U" links -c "$T/alice.conf"
say "stopping (SIGTERM: links close cleanly)"
for p in "${PIDS[@]}"; do kill -TERM "$p"; done
for p in "${PIDS[@]}"; do wait "$p"; done
PIDS=()
grep -h "closed\|stopped" "$T"/*.log | sed 's/^/  /' | tail -4
echo
echo "demo finished: two nodes, one authenticated link, traffic verified both ways."
