#!/bin/bash
# SPDX-License-Identifier: MIT
# make demo: umbra's main job on an embedded default. A whole network on loopback
# (`umbra testnet up`: authorities, relays in several countries and operators, a client),
# a local web server, and curl fetching a page from it through the client's SOCKS5 port over
# a 3-hop circuit; then the circuit path (relay ids and countries), the timings, a bulk
# download with its SHA-256 checked, the same through the HTTP CONNECT port, and a clean
# teardown. Everything lives in a temporary directory and is stopped and removed at the end.
# usage: scripts/demo.sh [UMBRA_BINARY]   (DEMO_RELAYS=5 DEMO_AUTHORITIES=3 DEMO_BYTES=64M)
set -euo pipefail
U=$(cd "$(dirname "${1:-build/release/umbra}")" && pwd)/$(basename "${1:-umbra}")
ROOT=$(cd "$(dirname "$0")/.." && pwd)
RELAYS=${DEMO_RELAYS:-5}
AUTHS=${DEMO_AUTHORITIES:-3}
BYTES=$(python3 -c "import sys; s=sys.argv[1]; m={'K':1<<10,'M':1<<20,'G':1<<30}; print(int(s[:-1])*m[s[-1]] if s[-1] in m else int(s))" "${DEMO_BYTES:-64M}")
T=$(mktemp -d /tmp/umbra-demo.XXXXXX)
NET=$T/net
ORIGIN_PID=
cleanup() {
	local rc=$?
	set +e # every step below must run, whatever failed before or fails here
	if [ "$rc" -ne 0 ] && [ -d "$NET" ]; then
		echo "demo failed; the last lines of each node's log:" >&2
		for l in "$NET"/*/umbra.log; do
			[ -f "$l" ] && { echo "-- $l" >&2; tail -5 "$l" >&2; }
		done
	fi
	"$U" testnet down --dir "$NET" >/dev/null 2>&1 || true
	if [ -n "$ORIGIN_PID" ]; then
		kill "$ORIGIN_PID" 2>/dev/null || true
		wait "$ORIGIN_PID" 2>/dev/null || true
	fi
	rm -rf "$T"
	exit "$rc"
}
trap cleanup EXIT
say() { printf '\n== %s\n' "$*"; }
ms() { python3 -c "print('%.1f ms' % (float('$1') * 1000))"; }

say "umbra $("$U" version | cut -d' ' -f2): a private network on loopback ($T)"
t0=$(date +%s.%N)
"$U" testnet up --dir "$NET" --relays "$RELAYS" --authorities "$AUTHS"
SOCKS=$("$U" testnet status --dir "$NET" --json |
	python3 -c 'import json,sys; print([n["socks"] for n in json.load(sys.stdin)["nodes"] if n.get("socks")][0])')
HTTP=$("$U" testnet status --dir "$NET" --json |
	python3 -c 'import json,sys; print([n.get("http_connect","") for n in json.load(sys.stdin)["nodes"] if n.get("socks")][0])')
CTL=$NET/client/control.sock

say "a local web server"
python3 "$ROOT/bench/origin.py" --precompute "$BYTES" --exit-with-parent >"$T/origin.out" &
ORIGIN_PID=$!
for _ in $(seq 100); do
	grep -q "listening" "$T/origin.out" 2>/dev/null && break
	sleep 0.1
done
URL=$(awk '/listening/ {print $4}' "$T/origin.out")
echo "serving $URL/ (and $URL/bytes/N), on 127.0.0.1 only"

say "curl --socks5-hostname $SOCKS $URL/"
W='%{http_code} %{time_connect} %{time_appconnect} %{time_pretransfer} %{time_starttransfer} %{time_total}\n'
curl -sS --fail --max-time 30 --socks5-hostname "$SOCKS" -o "$T/page.html" -w "$W" "$URL/" >"$T/timing"
t1=$(date +%s.%N)
sed -e 's/<[^>]*>//g' -e '/^$/d' "$T/page.html" | sed 's/^/  | /'
read -r code _ _ pre first total <"$T/timing"
echo "HTTP $code; proxy connected and stream opened through the circuit in $(ms "$pre"), first byte after $(ms "$first"), done in $(ms "$total")"
echo "from \`testnet up\` to this page: $(python3 -c "print('%.1f s' % ($t1 - $t0))")"

say "the circuit it took (umbra circuits)"
"$U" circuits -s "$CTL"

say "$((BYTES >> 20)) MiB through the same circuit, SHA-256 checked"
want=$(curl -sS --max-time 30 --socks5-hostname "$SOCKS" -I "$URL/bytes/$BYTES" | tr -d '\r' |
	awk -F': ' 'tolower($1) == "x-body-sha256" {print $2}')
s=$(date +%s.%N)
got=$(curl -sS --fail --max-time 300 --socks5-hostname "$SOCKS" "$URL/bytes/$BYTES" | sha256sum | cut -d' ' -f1)
e=$(date +%s.%N)
[ "$got" = "$want" ] || { echo "SHA-256 mismatch: got $got, want $want" >&2; exit 1; }
echo "SHA-256 $got matches; $(python3 -c "print('%.1f MB/s' % ($BYTES / ($e - $s) / 1e6))") (3 hops, every cell encrypted 3 times at the client)"

if [ -n "$HTTP" ]; then
	say "the same through the HTTP CONNECT port: curl --proxy http://$HTTP"
	got=$(curl -sS --fail --max-time 300 --proxy "http://$HTTP" -p "$URL/bytes/$BYTES" | sha256sum | cut -d' ' -f1)
	[ "$got" = "$want" ] || { echo "SHA-256 mismatch over HTTP CONNECT" >&2; exit 1; }
	echo "SHA-256 matches"
fi

say "what the relays carried (umbra circuits on each relay)"
for c in "$NET"/relay*/control.sock; do
	printf '%-8s ' "$(basename "$(dirname "$c")")"
	"$U" circuits -s "$c" | grep '^relay:' || true
done

say "trust tiers: tier-1 tokens from the testnet's issuer, spent one per circuit at its exit"
CTL="$NET/client/control.sock"
"$U" tokens fetch --tier 1 --count 5 -s "$CTL"
"$U" circuits build --count 1 -s "$CTL" | tail -1
sleep 0.5
"$U" circuits -s "$CTL" --json | python3 -c 'import json, sys
c = [x for x in json.load(sys.stdin)["circuits"] if x["token"] != "none"]
print("newest circuit: token %s by its exit, tier %d" % (c[-1]["token"], c[-1]["tier"]) if c else "no circuit spent a token")'
"$U" tokens -s "$CTL" | head -3

say "tearing down"
"$U" testnet down --dir "$NET"
