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
#      (bench_circuit_crypto);
#   6. anonymous tier tokens on one core (RFC 9474 blind RSA, 2048-bit key): issued/s,
#      verified/s, client Blind + Finalize/s; capability tokens verified/s; client puzzles:
#      hashes/s, a 16-bit solve, gate checks/s (bench_tokens, about 6 s).
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
	[ -n "${BENCH_KEEP:-}" ] || rm -rf "$T"
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
tk=$("$B/bench_tokens" 0.5)
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

echo
echo "anonymous tier tokens (issue #5): RFC 9474 RSABSSA-SHA384-PSS-Randomized, 2048-bit key, one core"
printf '%-58s %12s\n' "tokens issued/s (issuer BlindSign, verified before release)" "$(get "$tk" tokens_issued_per_s)"
printf '%-58s %12s\n' "tokens verified/s (exit token_verify)" "$(get "$tk" tokens_verified_per_s)"
printf '%-58s %12s\n' "client Blind + Finalize/s (Finalize verifies)" "$(get "$tk" client_blind_finalize_per_s)"
printf '%-58s %12s\n' "  client Blind/s, Finalize/s" "$(get "$tk" client_blind_per_s) / $(get "$tk" client_finalize_per_s)"
printf '%-58s %12s\n' "token size on the wire, bytes" "$(get "$tk" token_bytes)"
printf '%-58s %12s\n' "identified capability tokens verified/s (sig + PoP)" "$(get "$tk" captokens_verified_per_s)"
printf '%-58s %12s\n' "client puzzle: work hashes/s (BLAKE2b)" "$(get "$tk" puzzle_hashes_per_s)"
printf '%-58s %12s\n' "client puzzle: mean time to solve 16 bits, ms" "$(get "$tk" puzzle_solve_16_ms)"
printf '%-58s %12s\n' "client puzzle: gate checks/s (relay or issuer side)" "$(get "$tk" puzzle_gate_checks_per_s)"

# -- 7. anonymity end to end (issue #4): direct, umbra 3-hop and 2-hop, and Tor, one origin -----
# Every system is measured by the same client tool (bench/proxy_measure.py) against the same
# origin (bench/origin.py): bulk MB/s (BENCH_BULK, 256 MiB, SHA-256 checked), time to first
# byte of 1 KiB on a warm circuit, 50 parallel 1 KiB requests, circuit builds (umbra: `umbra
# circuits build`; Tor: EXTENDCIRCUIT 0 on its control port), memory per relay, and start of
# the network to the first successful fetch. Tor runs with its default settings on a private
# network (bench/tor_net.sh; BENCH_TOR=0 skips it).
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BULK=$(bytes_of "${BENCH_BULK:-256M}")
python3 "$ROOT/bench/origin.py" --precompute "1024,$BULK" --exit-with-parent >"$T/origin.out" &
PIDS+=($!)
for _ in $(seq 300); do grep -q listening "$T/origin.out" 2>/dev/null && break; sleep 0.1; done
URL=$(awk '/listening/ {print $4}' "$T/origin.out")
pm() { python3 "$ROOT/bench/proxy_measure.py" --origin "$URL" "$@" 2>>"$T/pm.err"; }
procs() { # name pid ... -> JSON {name: {rss_mb, pss_mb, private_mb}}
	python3 - "$@" <<'PY'
import json, sys
a, out = sys.argv[1:], {}
for name, pid in zip(a[::2], a[1::2]):
    rss = next(int(l.split()[1]) for l in open("/proc/%s/status" % pid) if l.startswith("VmRSS:"))
    roll = {l.split(":")[0]: int(l.split()[1]) for l in open("/proc/%s/smaps_rollup" % pid)
            if l.split(":")[0] in ("Pss", "Private_Clean", "Private_Dirty")}
    out[name] = {"rss_mb": round(rss / 1024, 1), "pss_mb": round(roll["Pss"] / 1024, 1),
                 "private_mb": round((roll["Private_Clean"] + roll["Private_Dirty"]) / 1024, 1)}
print(json.dumps(out))
PY
}
echo >&2
echo "anonymity end to end: direct download, then umbra (testnet), then Tor (private network)..." >&2
pm --only bulk --bulk-bytes "$BULK" >"$T/direct.json"

NET=$T/net
down_net() { "$U" testnet down --dir "$NET" >/dev/null 2>&1 || true; }
trap 'down_net; cleanup' EXIT
[ -z "${BENCH_KEEP:-}" ] || echo "keeping $T (BENCH_KEEP)" >&2
t0=$(date +%s.%N)
"$U" testnet up --dir "$NET" --relays 5 --authorities 3 >"$T/up.out" 2>"$T/up.err" &
UP=$!
for _ in $(seq 300); do [ -s "$NET/client.conf" ] && break; sleep 0.05; done
SOCKS=$(awk -F' = ' '$1 == "socks_listen" {print $2}' "$NET/client.conf")
pm --socks "$SOCKS" --wait-first-fetch 60 --start "$t0" --poll 0.1 --small 1024 >"$T/u_first.json"
wait "$UP" || { cat "$T/up.out" "$T/up.err" >&2; exit 1; }
pm --socks "$SOCKS" --bulk-bytes "$BULK" >"$T/u3.json"
"$U" circuits build --count 25 --json -s "$NET/client/control.sock" >"$T/u3_build.json"
relays=()
while read -r name pid; do relays+=("$name" "$pid"); done < <(
	"$U" testnet status --dir "$NET" --json |
		python3 -c 'import json,sys; [print(n["name"], n["pid"]) for n in json.load(sys.stdin)["nodes"]]')
procs "${relays[@]}" >"$T/u_procs.json"

# The 2-hop fast mode: a second client on the same network with [client] hops = 2.
mkdir -p "$NET/client2" && chmod 700 "$NET/client2"
SOCKS2=127.0.0.1:$(port)
sed -e "s|^state_dir = .*|state_dir = $NET/client2|" -e "s|^socks_listen = .*|socks_listen = $SOCKS2\nhops = 2|" \
	-e "s|^http_connect_listen = .*|http_connect_listen =|" -e "s|^nickname = .*|nickname = client2|" \
	"$NET/client.conf" >"$NET/client2.conf"
"$U" run -c "$NET/client2.conf" 2>"$T/client2.log" &
PIDS+=($!)
pm --socks "$SOCKS2" --wait-first-fetch 60 --poll 0.1 >/dev/null
pm --socks "$SOCKS2" --bulk-bytes "$BULK" >"$T/u2.json"
"$U" circuits build --count 25 --json -s "$NET/client2/control.sock" >"$T/u2_build.json"
kill "${PIDS[-1]}" 2>/dev/null || true
down_net

"$ROOT/bench/relay_mem.sh" "$B" "${BENCH_CIRCUITS:-100000}" >"$T/relay_mem.json" 2>"$T/relay_mem.err" ||
	echo '{}' >"$T/relay_mem.json"

if [ "${BENCH_TOR:-1}" != 0 ] && command -v tor >/dev/null; then
	ORIGIN_URL=$URL BULK_BYTES=$BULK "$ROOT/bench/tor_net.sh" run "$T/tor" >"$T/tor.json" 2>"$T/tor.err" ||
		echo '{}' >"$T/tor.json"
else
	echo '{}' >"$T/tor.json"
fi

echo
echo "anonymity end to end (issue #4); ratios: umbra / Tor, same origin and client tool, this run"
python3 - "$T" <<'PY'
import json, os, statistics, sys
T = sys.argv[1]
def load(n):
    try:
        return json.load(open(os.path.join(T, n)))
    except (OSError, ValueError):
        return {}
d, u3, u2, tor = load("direct.json"), load("u3.json"), load("u2.json"), load("tor.json")
b3, b2, up = load("u3_build.json"), load("u2_build.json"), load("u_procs.json")
first, mem = load("u_first.json"), load("relay_mem.json")
def g(x, *path):
    for p in path:
        x = x.get(p) if isinstance(x, dict) else None
    return x
def pct(v, q):
    v = sorted(v)
    return v[min(len(v) - 1, int(round(q / 100 * (len(v) - 1))))] if v else None
relay_u = [v for k, v in up.items() if k.startswith("relay")]
relay_t = [v for k, v in (tor.get("processes_after_bulk") or {}).items() if k.startswith("relay") and v]
def avg(rows, key):
    xs = [r[key] for r in rows if r.get(key) is not None]
    return round(statistics.mean(xs), 1) if xs else None
rows = [
    ("bulk %d MiB, MB/s (target >= 10x Tor)" % ((g(u3, "bulk", "bytes") or 0) >> 20), g(u3, "bulk", "mb_s"), g(u2, "bulk", "mb_s"), g(tor, "bulk", "mb_s"), "hi"),
    ("1 KiB TTFB on a warm circuit, p50 ms (target <= 1/5)", g(u3, "ttfb", "connect_to_first_byte_ms", "p50"), g(u2, "ttfb", "connect_to_first_byte_ms", "p50"), g(tor, "ttfb_1k_ms", "p50"), "lo"),
    ("circuit build p50 ms (target <= 1/10)", pct(b3.get("build_ms", []), 50), pct(b2.get("build_ms", []), 50), g(tor, "circuit_build_3hop_ms", "ms", "p50"), "lo"),
    ("circuit build p90 ms", pct(b3.get("build_ms", []), 90), pct(b2.get("build_ms", []), 90), g(tor, "circuit_build_3hop_ms", "ms", "p90"), "lo"),
    ("50 parallel 1 KiB requests, s", g(u3, "parallel", "wall_s"), g(u2, "parallel", "wall_s"), g(tor, "parallel_50x1k", "wall_s"), "lo"),
    ("relay RSS after the bulk, MB (target <= 1/10)", avg(relay_u, "rss_mb"), None, avg(relay_t, "rss_mb"), "lo"),
    ("  relay private memory (RSS less shared library pages), MB", avg(relay_u, "private_mb"), None, avg(relay_t, "private_mb"), "lo"),
    ("start of the network to first fetch, s (target <= 5)", first.get("first_fetch_s"), None, tor.get("start_to_first_fetch_s"), "lo"),
]
print("%-58s %9s %9s %9s %8s" % ("measure", "3-hop", "2-hop", "Tor", "ratio"))
for name, a, b, t, _ in rows:
    f = lambda v: "-" if v is None else ("%.2f" % v if isinstance(v, float) else str(v))
    r = "%.3f" % (a / t) if a is not None and t else "-"
    print("%-58s %9s %9s %9s %8s" % (name, f(a), f(b), f(t), r))
dm = g(d, "bulk", "mb_s")
print("%-58s %9s" % ("direct download from the origin (no proxy), MB/s", dm))
if mem:
    print("%-58s %9s" % ("relay memory per idle circuit, %s circuits, bytes (<= 1024)" % mem.get("circuits"), mem.get("bytes_per_circuit")))
if not tor:
    print("(Tor not measured: BENCH_TOR=0, tor missing, or its run failed; see tor.err)")
PY
