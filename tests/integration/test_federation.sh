#!/bin/bash
# SPDX-License-Identifier: MIT
# Directory federation between real daemons on loopback (docs/PROTOCOL.md 12):
#  - 3 authorities, peers of each other (a1 pushes nothing: gossip_fanout 0), vote_interval
#    10 s, sync_interval 2 s; relay r1 uploads to all three, relay rs to a1 ONLY: rs still
#    reaches the client's `umbra relays` (a2 and a3 imported it by sync or gossip and voted
#    for it), and a2's bundle holds it at hop 1;
#  - GET /v1/descs with the returned ETag as If-None-Match is answered 304;
#  - a forged descriptor pushed to /v1/gossip/desc is refused (400) and never listed; a push
#    over the hop limit is refused (409);
#  - a 4th directory d4, configured only at a2 and a3, is admitted by a1
#    (discovery_min_operators 2) from the feeds of those two operators; a peer listed by a2
#    alone stays a candidate (`umbra dir status`);
#  - d4 (max_hops 1, syncing from a2 only) imports r1 (hop 0 at a2) but never rs (hop 1 at
#    a2: at its max_hops, so not imported further).
source "$(dirname "$0")/lib.sh"

command -v curl >/dev/null || {
	echo "skip: curl not installed"
	exit 0
}

IVL=10
declare -A HPORT
for n in a1 a2 a3 d4; do
	HPORT[$n]=$(free_port)
done
url() { echo "http://127.0.0.1:${HPORT[$1]}"; }

conf() { # NAME ROLES [extra lines...]
	local name=$1 roles=$2
	shift 2
	mkdir -p "$T/$name"
	chmod 700 "$T/$name"
	{
		echo "[node]"
		echo "state_dir = $T/$name"
		echo "nickname = $name"
		echo "roles = $roles"
		echo "[link]"
		echo "listen = 127.0.0.1:0"
		echo "[client]"
		echo "socks_listen ="
		echo "[log]"
		echo "level = info"
		for l in "$@"; do echo "$l"; done
	} >"$T/$name.conf"
	UMBRA_NODE_ROLES=client "$UMBRA" keygen -c "$T/$name.conf" >/dev/null 2>&1
}
idof() { UMBRA_NODE_ROLES=client id_of "$1"; }

for n in a1 a2 a3 d4; do conf "$n" directory; done
conf r1 middle
conf rs middle
conf c1 client
auth() { echo "authorities = $(idof "$1")@$(url "$1")"; }
peer() { echo "peers = $(idof "$1")@$(url "$1")"; }
AUTHS=("$(auth a1)" "$(auth a2)" "$(auth a3)")
# d5 is a directory nobody runs, listed by a2 alone.
D5="peers = $(idof c1)@http://127.0.0.1:1"

fed() { # NAME [extra directory lines...]
	local name=$1
	shift
	{
		echo "[directory]"
		echo "vote_interval = ${IVL}s"
		echo "sync_interval = 2s"
		for l in "$@"; do echo "$l"; done
	} >>"$T/$name.conf"
}
fed a1 "listen = 127.0.0.1:${HPORT[a1]}" "${AUTHS[@]}" "$(peer a2)" "$(peer a3)" \
	"discovery_min_operators = 2" "gossip_fanout = 0"
fed a2 "listen = 127.0.0.1:${HPORT[a2]}" "${AUTHS[@]}" "$(peer a1)" "$(peer a3)" "$(peer d4)" \
	"$D5" "discovery = off"
fed a3 "listen = 127.0.0.1:${HPORT[a3]}" "${AUTHS[@]}" "$(peer a1)" "$(peer a2)" "$(peer d4)" \
	"discovery = off"
fed d4 "listen = 127.0.0.1:${HPORT[d4]}" "$(auth d4)" "$(peer a2)" "discovery = off" \
	"max_hops = 1"
fed r1 "${AUTHS[@]}"
fed rs "$(auth a1)"
fed c1 "${AUTHS[@]}"
for n in a1 a2 a3 d4 r1 rs c1; do
	"$UMBRA" config validate "$T/$n.conf" >/dev/null || fail "$n config invalid"
done

for n in a1 a2 a3 d4 r1 rs c1; do
	start "$n"
done
ok "4 directories, 2 relays and a client started"

relays_json() { "$UMBRA" relays -s "$T/$1/control.sock" --json 2>/dev/null; }
dir_json() { "$UMBRA" dir status -s "$T/$1/control.sock" --json 2>/dev/null || true; }
# bundle_names NAME: "nickname:hops" of every descriptor in NAME's GET /v1/descs.
bundle_names() {
	curl -sf "$(url "$1")/v1/descs" | python3 -c '
import sys
b = sys.stdin.buffer.read()
assert b[0] == 1
n, off, out = int.from_bytes(b[1:5], "big"), 5, []
for _ in range(n):
    hops, ln = b[off], int.from_bytes(b[off + 1:off + 3], "big")
    d = b[off + 3:off + 3 + ln]
    off += 3 + ln
    out.append("%s:%d" % (d[50:50 + d[49]].decode(), hops))
assert off == len(b)
print(" ".join(sorted(out)))'
}

# 1. rs uploaded to a1 only, yet the client lists it.
has_rs() {
	relays_json c1 | python3 -c '
import json, sys
sys.exit(0 if {"r1", "rs"} <= {r["nickname"] for r in json.load(sys.stdin)} else 1)'
}
wait_for 75 "the client lists rs (uploaded to a1 only) and r1" has_rs
[ "$(bundle_names a1)" = "r1:0 rs:0" ] || fail "a1 bundle: $(bundle_names a1)"
[ "$(bundle_names a2)" = "r1:0 rs:1" ] || fail "a2 bundle: $(bundle_names a2)"
ok "a relay that uploaded to one authority is in the consensus (a2 holds it at hop 1)"

# 2. ETag / 304 on the bundle.
A2=$(url a2)
etag=$(curl -s -D - -o /dev/null "$A2/v1/descs" | tr -d '\r' | sed -n 's/^[Ee][Tt][Aa][Gg]: //p')
[ -n "$etag" ] || fail "no ETag on /v1/descs"
code=$(curl -s -o /dev/null -w '%{http_code}' -H "If-None-Match: $etag" "$A2/v1/descs")
[ "$code" = 304 ] || fail "If-None-Match with the current ETag gave $code"
ok "GET /v1/descs with its ETag gives 304"

# 3. A forged push: r1's descriptor with its nickname changed, signature untouched.
A1=$(url a1)
dg=$(relays_json c1 | python3 -c 'import json,sys; print([r["digest"] for r in json.load(sys.stdin) if r["nickname"]=="r1"][0])')
curl -sf -o "$T/r1.desc" "$A1/v1/desc/$dg" || fail "GET /v1/desc/<digest>"
python3 - "$T/r1.desc" "$T/forged.push" "$T/hop2.push" <<'PY'
import sys
d = bytearray(open(sys.argv[1], "rb").read())
open(sys.argv[3], "wb").write(bytes([2]) + bytes(d))  # hop 2: a1 would store it at 3
i = d.index(b"r1")
d[i:i + 2] = b"rX"
open(sys.argv[2], "wb").write(bytes([0]) + bytes(d))
PY
code=$(curl -s -o "$T/forged.out" -w '%{http_code}' --data-binary @"$T/forged.push" "$A1/v1/gossip/desc")
[ "$code" = 400 ] || fail "forged gossip push got HTTP $code: $(cat "$T/forged.out")"
grep -q "bad signature" "$T/forged.out" || fail "forged push reason: $(cat "$T/forged.out")"
code=$(curl -s -o "$T/hop.out" -w '%{http_code}' --data-binary @"$T/hop2.push" "$A1/v1/gossip/desc")
[ "$code" = 409 ] || fail "push over the hop limit got HTTP $code: $(cat "$T/hop.out")"
grep -q "hop limit" "$T/hop.out" || fail "hop-limit reason: $(cat "$T/hop.out")"
ok "a forged gossip push is refused (400), one over the hop limit too (409)"

# 4. d4 admitted at a1 from two operators' feeds; d5 (one feed) stays a candidate.
D4ID=$(idof d4)
D5ID=$(idof c1)
peer_state() { # NAME ID -> "state operators"
	dir_json "$1" | python3 -c '
import json, sys
j = json.load(sys.stdin)
p = [p for p in j["federation"]["peers"] if p["identity"] == sys.argv[1]]
print("%s %d" % (p[0]["state"], p[0]["operators"]) if p else "absent 0")' "$2"
}
d4_admitted() { [ "$(peer_state a1 "$D4ID")" = "admitted 2" ]; }
wait_for 30 "a1 admits d4 (2 operators)" d4_admitted
[ "$(peer_state a1 "$D5ID")" = "candidate 1" ] || fail "d5 at a1: $(peer_state a1 "$D5ID")"
"$UMBRA" dir status -s "$T/a1/control.sock" >"$T/a1-status.txt" || true
grep -q "admitted  $D4ID" "$T/a1-status.txt" || fail "dir status text: $(cat "$T/a1-status.txt")"
grep -q "candidate $D5ID" "$T/a1-status.txt" || fail "dir status text: $(cat "$T/a1-status.txt")"
curl -sf "$A1/v1/peers" | python3 -c '
import json, sys
j = json.load(sys.stdin)
st = {p["identity"]: p["state"] for p in j["peers"]}
assert st.get(sys.argv[1]) == "admitted" and st.get(sys.argv[2]) == "candidate", st
assert len(j["feed"]) > 128, "no signed feed in the JSON view"' "$D4ID" "$D5ID" || fail "GET /v1/peers JSON view"
ok "a directory known only through feeds is admitted after 2 operators' sightings; 1 is not enough"

# 5. d4 (max_hops 1) holds r1 at hop 1 but never rs (hop 1 at a2 is its limit).
d4_has_r1() { [ "$(bundle_names d4)" = "r1:1" ]; }
wait_for 30 "d4 imports r1" d4_has_r1
sleep 5 # two more sync rounds: rs is still not imported
[ "$(bundle_names d4)" = "r1:1" ] || fail "d4 bundle: $(bundle_names d4)"
refused=$(dir_json d4 | python3 -c 'import json,sys; print(json.load(sys.stdin)["federation"]["refused_hops"])')
[ "$refused" -ge 1 ] || fail "d4 refused nothing at its hop limit"
ok "a descriptor at max_hops is not imported further ($refused refusals at d4)"

# The forged descriptor was never listed anywhere.
for n in a1 a2 a3; do
	bundle_names "$n" | grep -q rX && fail "$n holds the forged descriptor"
done
relays_json c1 | grep -q '"rX"' && fail "the client lists the forged descriptor"

for n in a1 a2 a3 d4 r1 rs c1; do
	stop "$n"
done
ok "every daemon exits cleanly"
