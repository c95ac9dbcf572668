#!/bin/bash
# SPDX-License-Identifier: MIT
# make bench: measure umbra against baselines in this same run and print ratios.
#   1. one link's throughput (two umbra daemons, XK link, `umbra link test --no-hash`)
#      vs raw TCP over loopback between two processes (bench_tcp);
#   2. full link handshakes per second on one core (bench_handshake), both sides in one
#      process and the responder's share alone;
#   3. the per-record AEAD cost that bounds (1) (bench_crypto);
#   4. consensus build/sign and verify time for 1,000 and 10,000 relays (bench_consensus);
#   5. circuit crypto on one core: ntor v1 handshakes and relay crypto v1 cells
#      (bench_circuit_crypto).
# usage: scripts/bench.sh BUILD_DIR   (BENCH_BYTES=2G BENCH_SECONDS=3 to change the sizes)
set -euo pipefail
B=$(cd "${1:-build/release}" && pwd)
U=$B/umbra
BYTES=${BENCH_BYTES:-2G}
SECS=${BENCH_SECONDS:-3}
T=$(mktemp -d /tmp/umbra-bench.XXXXXX)
PIDS=()
cleanup() {
	for p in "${PIDS[@]:-}"; do [ -n "$p" ] && kill "$p" 2>/dev/null || true; done
	for p in "${PIDS[@]:-}"; do [ -n "$p" ] && wait "$p" 2>/dev/null || true; done
	rm -rf "$T"
}
trap cleanup EXIT
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
bytes_of() { python3 -c "import sys; s=sys.argv[1]; m={'K':1<<10,'M':1<<20,'G':1<<30}; print(int(s[:-1])*m[s[-1]] if s[-1] in m else int(s))" "$1"; }

echo "umbra benchmark on $(nproc) cores: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
echo "build: $B"
echo

# -- 1. link throughput vs raw TCP ------------------------------------------------------------
raw=$("$B/bench_tcp" "$(bytes_of "$BYTES")")
mk() {
	local n=$1 p=$2
	shift 2
	mkdir -p "$T/$n" && chmod 700 "$T/$n"
	printf '[node]\nstate_dir = %s\nroles = middle\n[link]\nlisten = 127.0.0.1:%s\n%s\n[log]\nlevel = warn\n' \
		"$T/$n" "$p" "$*" >"$T/$n.conf"
	"$U" keygen -c "$T/$n.conf" >/dev/null 2>&1
}
mk a "$(port)"
mk b "$(port)" "peer = $("$U" whoami -c "$T/a.conf" --peer)"
"$U" run -c "$T/a.conf" 2>"$T/a.log" & PIDS+=($!)
"$U" run -c "$T/b.conf" 2>"$T/b.log" & PIDS+=($!)
for _ in $(seq 100); do
	"$U" status -c "$T/b.conf" --json 2>/dev/null | grep -q '"state": "open"' && break
	sleep 0.1
done
A=$("$U" whoami -c "$T/a.conf")
link=$("$U" link test "$A" --bytes "$BYTES" --no-hash --json -c "$T/b.conf" |
	python3 -c 'import json,sys; t=json.load(sys.stdin); print("%.1f" % (t["bytes"]/t["ms"]/1000))')
linkh=$("$U" link test "$A" --bytes "$BYTES" --json -c "$T/b.conf" |
	python3 -c 'import json,sys; t=json.load(sys.stdin); print("%.1f" % (t["bytes"]/t["ms"]/1000))')
hs_us=$("$U" status -c "$T/b.conf" --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["link_list"][0]["handshake_us"])')

# -- 2. handshakes, 3. record crypto ------------------------------------------------------------
hs=$("$B/bench_handshake" "$SECS")
cr=$("$B/bench_crypto")
cs=$("$B/bench_consensus")
cc=$("$B/bench_circuit_crypto" "$SECS")
get() { echo "$1" | awk -v k="$2" '$1 == k { print $2 }'; }

ratio() { python3 -c "print('%.2f' % ($1 / $2))"; }
printf '%-58s %12s %12s %8s\n' "measure" "umbra" "baseline" "ratio"
printf '%-58s %12s %12s %8s\n' "one link, $BYTES, MB/s (baseline: raw TCP loopback)" "$link" "$raw" "$(ratio "$link" "$raw")"
printf '%-58s %12s %12s %8s\n' "one link with SHA-256 of every byte at both ends, MB/s" "$linkh" "$raw" "$(ratio "$linkh" "$raw")"
printf '%-58s %12s %12s %8s\n' "XK handshakes/s, one core, responder side (target 5000)" "$(get "$hs" xk_responder_per_s)" 5000 "$(ratio "$(get "$hs" xk_responder_per_s)" 5000)"
printf '%-58s %12s %12s %8s\n' "XK handshakes/s, one core, both sides in one process" "$(get "$hs" xk_full_per_s)" 5000 "$(ratio "$(get "$hs" xk_full_per_s)" 5000)"
printf '%-58s %12s\n' "XK handshakes/s, responder, certificate cache off" "$(get "$hs" xk_nocache_responder_per_s)"
printf '%-58s %12s\n' "NK handshakes/s, responder side" "$(get "$hs" nk_responder_per_s)"
printf '%-58s %12s\n' "XK handshake over loopback TCP between daemons, us" "$hs_us"
printf '%-58s %12s\n' "record seal (514-byte cell -> 530), one core, MB/s" "$(get "$cr" seal_514_mb_s)"
printf '%-58s %12s\n' "record seal + open, one core, MB/s" "$(get "$cr" seal_open_514_mb_s)"

echo
echo "directory (issue #3; target: verify a 10,000-relay consensus in < 50 ms)"
printf '%-58s %12s\n' "consensus build + sign, 1,000 relays, ms" "$(get "$cs" consensus_1000_build_sign_ms)"
printf '%-58s %12s\n' "consensus parse + verify, 1,000 relays, ms" "$(get "$cs" consensus_1000_parse_verify_ms)"
printf '%-58s %12s\n' "consensus build + sign, 10,000 relays, ms" "$(get "$cs" consensus_10000_build_sign_ms)"
printf '%-58s %12s\n' "consensus parse + verify, 10,000 relays, ms" "$(get "$cs" consensus_10000_parse_verify_ms)"
printf '%-58s %12s\n' "consensus size, 10,000 relays, bytes" "$(get "$cs" consensus_10000_bytes)"
printf '%-58s %12s\n' "  next period (1% changed, 0.5% gone): whole, bytes" "$(get "$cs" consensus_10000_next_bytes)"
printf '%-58s %12s\n' "  next period: diff, bytes" "$(get "$cs" consensus_10000_diff_bytes)"
printf '%-58s %12s\n' "  next period: 304 when unchanged, body bytes" 0
printf '%-58s %12s\n' "  diff make (directory) / apply (client), ms" "$(get "$cs" consensus_10000_diff_make_ms) / $(get "$cs" consensus_10000_diff_apply_ms)"

echo
echo "circuits (issue #4): ntor v1 handshakes and relay crypto v1 on 509-byte bodies, one core"
printf '%-58s %12s\n' "ntor handshakes/s, client + relay in one process" "$(get "$cc" ntor_full_per_s)"
printf '%-58s %12s\n' "ntor handshakes/s, relay side alone" "$(get "$cc" ntor_server_per_s)"
printf '%-58s %12s\n' "relay crypto, one layer, cells/s" "$(get "$cc" relay_layer_cells_per_s)"
printf '%-58s %12s\n' "relay crypto, one layer, MB/s" "$(get "$cc" relay_layer_mb_s)"
printf '%-58s %12s\n' "middle relay forward (layer + recognition filter), cells/s" "$(get "$cc" relay_forward_cells_per_s)"
printf '%-58s %12s\n' "endpoint (layer + running digest, recognized), cells/s" "$(get "$cc" relay_endpoint_cells_per_s)"
printf '%-58s %12s\n' "client origination to hop 3 of 3, cells/s" "$(get "$cc" client_3hop_cells_per_s)"
printf '%-58s %12s\n' "client origination to hop 3 of 3, MB/s" "$(get "$cc" client_3hop_mb_s)"
