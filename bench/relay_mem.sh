#!/bin/bash
# SPDX-License-Identifier: MIT
# Relay memory per idle circuit (issue #4: "create 100,000 circuits through one relay, measure
# RSS growth; target <= 1 KiB each").
#
# Starts one relay daemon (roles = entry, loopback, log level warn) in a temporary directory,
# reads its VmRSS, has bench_relay_circuits open one NK link to it and build N one-hop
# circuits (real CREATE2 / ntor v1, pipelined), waits until the relay's RSS stops moving
# while the circuits sit idle, reads VmRSS again and prints one JSON line:
#
#   {"circuits":N,"relay_circuits":..,"rss_before_kb":..,"rss_after_kb":..,
#    "bytes_per_circuit":..,"creates_per_s":..,"failed":..}
#
# usage: bench/relay_mem.sh BUILD_DIR [N]   (N defaults to 100000; IN_FLIGHT=256 to change
#        the pipelining). Everything it starts is stopped by PID on every exit path.
set -euo pipefail
B=$(cd "${1:?usage: relay_mem.sh BUILD_DIR [N]}" && pwd)
N=${2:-100000}
IN_FLIGHT=${IN_FLIGHT:-256}
U=$B/umbra
BENCH=$B/bench_relay_circuits
[ -x "$U" ] && [ -x "$BENCH" ] || { echo "relay_mem.sh: build $B first" >&2; exit 2; }

T=$(mktemp -d /tmp/umbra-relaymem.XXXXXX)
RELAY_PID=
BENCH_PID=
stop_pid() {
	local p=$1
	[ -n "$p" ] || return 0
	kill "$p" 2>/dev/null || true
	for _ in $(seq 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
	kill -9 "$p" 2>/dev/null || true
	wait "$p" 2>/dev/null || true
}
cleanup() {
	stop_pid "$BENCH_PID"
	stop_pid "$RELAY_PID"
	rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
fail() {
	echo "relay_mem.sh: $*" >&2
	for f in "$T/relay.log" "$T/bench.err"; do
		[ -s "$f" ] && { echo "--- $f" >&2; tail -20 "$f" >&2; }
	done
	exit 1
}
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
rss_kb() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status"; }
# Wait until the RSS of $1 reads the same twice 0.5 s apart (at most ~15 s); print it.
settled_rss_kb() {
	local prev cur
	prev=$(rss_kb "$1")
	for _ in $(seq 30); do
		sleep 0.5
		cur=$(rss_kb "$1")
		[ "$cur" = "$prev" ] && break
		prev=$cur
	done
	echo "$cur"
}

P=$(port)
mkdir -p "$T/relay" && chmod 700 "$T/relay"
cat >"$T/relay.conf" <<EOF
[node]
state_dir = $T/relay
roles = entry
[link]
listen = 127.0.0.1:$P
idle_timeout = 24h
[relay]
max_circuits = $((N + IN_FLIGHT + 1024))
# One client creating circuits as fast as it can is what abuse control limits: off here.
create_rate = 1000000
create_burst = 1000000
[log]
level = warn
EOF
"$U" keygen -c "$T/relay.conf" >/dev/null 2>&1 || fail "umbra keygen failed"
PEER=$("$U" whoami -c "$T/relay.conf" --peer)
"$U" run -c "$T/relay.conf" 2>"$T/relay.log" &
RELAY_PID=$!

# Ready: the onion key is written and the control API answers.
for _ in $(seq 100); do
	kill -0 "$RELAY_PID" 2>/dev/null || fail "the relay exited"
	[ -s "$T/relay/onion.key" ] && "$U" circuits --json -c "$T/relay.conf" >/dev/null 2>&1 && break
	sleep 0.1
done
[ -s "$T/relay/onion.key" ] || fail "the relay did not start"
sleep 1
before=$(settled_rss_kb "$RELAY_PID")

"$BENCH" "$PEER" "$T/relay/onion.key" "$N" "$IN_FLIGHT" 3600 >"$T/bench.out" 2>"$T/bench.err" &
BENCH_PID=$!
for _ in $(seq 9000); do
	[ -s "$T/bench.out" ] && break
	kill -0 "$BENCH_PID" 2>/dev/null || fail "bench_relay_circuits exited early"
	kill -0 "$RELAY_PID" 2>/dev/null || fail "the relay exited"
	sleep 0.1
done
[ -s "$T/bench.out" ] || fail "no result from bench_relay_circuits"
after=$(settled_rss_kb "$RELAY_PID")
held=$("$U" circuits --json -c "$T/relay.conf" |
	python3 -c 'import json,sys; print(json.load(sys.stdin)["relay"]["total"])')
kill -0 "$BENCH_PID" 2>/dev/null || fail "bench_relay_circuits exited while holding"

python3 - "$N" "$before" "$after" "$held" "$(cat "$T/bench.out")" <<'EOF'
import json, sys
n, before, after, held = (int(x) for x in sys.argv[1:5])
r = json.loads(sys.argv[5])
out = {"circuits": n, "relay_circuits": held, "rss_before_kb": before, "rss_after_kb": after,
       "bytes_per_circuit": round((after - before) * 1024 / held) if held else None,
       "creates_per_s": r["creates_per_s"], "failed": r["failed"]}
print(json.dumps(out, separators=(",", ":")))
sys.exit(0 if r["built"] == n and held == n else 1)
EOF
