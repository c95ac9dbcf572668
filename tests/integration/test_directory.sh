#!/bin/bash
# SPDX-License-Identifier: MIT
# The directory between real daemons on loopback (issue #3), vote_interval 5 s:
#  1. 3 authorities, 6 relays (2 entry+middle, 2 middle, 2 exit), 1 client: the client's
#     `umbra relays` lists all 6 with the flags their roles and reachability earn;
#     and a relay's country changed by `umbra reload` reaches the consensus;
#  2. GET /v1/consensus with the ETag as If-None-Match is answered 304;
#  3. a real descriptor with one byte changed is refused (400) and never appears;
#  4. a consensus with one byte flipped, served to a client pinned to an authority, is
#     rejected and `umbra dir status` says why;
#  5. a client pinned to other keys refuses the network with a clear error;
#  6. with one authority stopped, the next consensus is produced and accepted (2 of 3);
#  7. a restarted authority keeps its state (serves its stored consensus at once);
#  8. with two authorities stopped, no new consensus: the client keeps the cached one until
#     it expires (3 periods), then reports a clear error.
source "$(dirname "$0")/lib.sh"

command -v curl >/dev/null || {
	echo "skip: curl not installed"
	exit 0
}

IVL=5
AUTHS=(a1 a2 a3)
RELAYS=(g1 g2 m1 m2 x1 x2)
declare -A HPORT

# Link listeners take any free port (relays publish the bound one); only the authorities'
# HTTP ports must be known before they start.
for n in "${AUTHS[@]}"; do
	HPORT[$n]=$(free_port)
done

# conf NAME ROLES [extra lines...]: write $T/NAME.conf (the [directory] section comes later).
conf() {
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
}

for a in "${AUTHS[@]}"; do
	conf "$a" directory
	# The directory role needs its [directory] section, written once every id is known.
	UMBRA_NODE_ROLES=client "$UMBRA" keygen -c "$T/$a.conf" >/dev/null 2>&1
done
AUTH_LINES=()
for a in "${AUTHS[@]}"; do
	AUTH_LINES+=("authorities = $(UMBRA_NODE_ROLES=client id_of "$a")@http://127.0.0.1:${HPORT[$a]}")
done

dir_section() { # NAME [extra directory lines...]
	local name=$1
	shift
	{
		echo "[directory]"
		echo "vote_interval = ${IVL}s"
		for l in "$@"; do echo "$l"; done
	} >>"$T/$name.conf"
}

for a in "${AUTHS[@]}"; do
	dir_section "$a" "listen = 127.0.0.1:${HPORT[$a]}" "${AUTH_LINES[@]}"
done
conf g1 entry,middle "[relay]" "country = DE" "region = eu-central"
conf g2 entry,middle "[relay]" "country = FR"
conf m1 middle "[relay]" "country = DE"
conf m2 middle
conf x1 exit "[relay]" "exit_policy = accept *:80, accept *:443, reject *:*" "country = NL"
conf x2 exit "[relay]" "exit_policy = accept *:*" "country = DE"
for r in "${RELAYS[@]}"; do
	dir_section "$r" "${AUTH_LINES[@]}"
	"$UMBRA" keygen -c "$T/$r.conf" >/dev/null 2>&1
done
conf c1 client
dir_section c1 "${AUTH_LINES[@]}"

"$UMBRA" config validate "$T/a1.conf" >/dev/null || fail "authority config invalid"
"$UMBRA" config validate "$T/x1.conf" >/dev/null || fail "relay config invalid"

for n in "${AUTHS[@]}" "${RELAYS[@]}" c1; do
	start "$n"
done
ok "3 authorities, 6 relays and a client started"

relays_json() { "$UMBRA" relays -s "$T/$1/control.sock" --json; }
n_relays() { relays_json "$1" 2>/dev/null | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))'; }
dir_json() { "$UMBRA" dir status -s "$T/$1/control.sock" --json 2>/dev/null || true; }
dget() { dir_json "$1" | python3 -c "import json,sys; s=json.load(sys.stdin); print($2)"; }

# Every relay Running: reachability tests before the vote, then a consensus signed by 2+.
all_running() {
	relays_json c1 2>/dev/null | python3 -c '
import json, sys
r = json.load(sys.stdin)
sys.exit(0 if len(r) == 6 and all("Running" in x["flags"] for x in r) else 1)'
}
wait_for 120 "the client lists 6 running relays" all_running
relays_json c1 >"$T/relays.json"
python3 - "$T/relays.json" <<'PY' || fail "relay flags"
import json, sys
rs = {r["nickname"]: r for r in json.load(open(sys.argv[1]))}
assert sorted(rs) == ["g1", "g2", "m1", "m2", "x1", "x2"], sorted(rs)
want = {"g": {"Guard", "Middle"}, "m": {"Middle"}, "x": {"Exit"}}
for name, r in rs.items():
    flags = set(r["flags"])
    assert {"Running", "Valid", "Fast"} <= flags, (name, flags)
    role_flags = flags & {"Guard", "Middle", "Exit"}
    assert role_flags == want[name[0]], (name, flags)
    assert "BadExit" not in flags and "Stable" not in flags, (name, flags)
assert rs["g1"]["country"] == "DE" and rs["g1"]["region"] == "eu-central", rs["g1"]
assert rs["x1"]["country"] == "NL", rs["x1"]
assert rs["m2"]["country"] == "ZZ", rs["m2"]
PY
"$UMBRA" relays -s "$T/c1/control.sock" >"$T/relays.txt"
grep -q "^6 relays" "$T/relays.txt" || fail "table: $(cat "$T/relays.txt")"
[ "$("$UMBRA" relays -s "$T/c1/control.sock" --exit --json | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))')" = 2 ] ||
	fail "--exit should list 2"
[ "$("$UMBRA" relays -s "$T/c1/control.sock" --country DE --json | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))')" = 3 ] ||
	fail "--country DE should list 3"
"$UMBRA" dir status -s "$T/c1/control.sock" >"$T/dirstatus.txt" || fail "dir status: $(cat "$T/dirstatus.txt")"
grep -q "consensus: valid" "$T/dirstatus.txt" || fail "dir status text"
ok "the client lists all 6 relays with the right flags; --exit and --country filter"

# `umbra dir pin URL` stores the identities a directory lists.
"$UMBRA" dir pin "http://127.0.0.1:${HPORT[a1]}" -c "$T/c1.conf" >"$T/pin.out" || fail "dir pin: $(cat "$T/pin.out")"
for a in "${AUTHS[@]}"; do
	grep -q "pinned authority $(UMBRA_NODE_ROLES=client id_of "$a")" "$T/pin.out" || fail "dir pin missed $a"
done
"$UMBRA" dir pin "http://127.0.0.1:1" -c "$T/c1.conf" >/dev/null 2>&1 && fail "dir pin of a dead URL succeeded"
ok "umbra dir pin pins the 3 authorities a directory lists"

# 1b. SIGHUP-reloadable relay fields: a new descriptor reaches the consensus.
sed -i 's/^country = DE$/country = SE/' "$T/g1.conf"
"$UMBRA" reload -c "$T/g1.conf" >/dev/null || fail "reload g1"
g1_in_se() {
	relays_json c1 2>/dev/null | python3 -c '
import json, sys
sys.exit(0 if [r for r in json.load(sys.stdin) if r["nickname"] == "g1" and r["country"] == "SE"] else 1)'
}
wait_for 60 "g1's new country in the consensus" g1_in_se
ok "a reloaded relay publishes its new descriptor and the consensus follows"

# 2. 304 when nothing changed.
A1URL="http://127.0.0.1:${HPORT[a1]}"
etag=$(curl -s -D - -o "$T/cons.bin" "$A1URL/v1/consensus" | tr -d '\r' | sed -n 's/^[Ee][Tt][Aa][Gg]: //p')
[ -n "$etag" ] || fail "no ETag on /v1/consensus"
code=$(curl -s -o /dev/null -w '%{http_code}' -H "If-None-Match: $etag" "$A1URL/v1/consensus")
[ "$code" = 304 ] || fail "If-None-Match with the current ETag gave $code"
ok "304 Not Modified for an unchanged consensus"
# 2b. Diffs: from the current document 304; from an older one a diff far smaller than the
#     whole document, which the clients apply (they ask for diffs once they hold one).
hex=$(echo "$etag" | tr -d '"')
code=$(curl -s -o /dev/null -w '%{http_code}' "$A1URL/v1/consensus/diff/$hex")
[ "$code" = 304 ] || fail "diff from the current consensus gave $code"
etag_changed() {
	[ "$(curl -s -D - -o /dev/null "$A1URL/v1/consensus" | tr -d '\r' | sed -n 's/^[Ee][Tt][Aa][Gg]: //p')" != "$etag" ]
}
wait_for $((2 * IVL + 10)) "a newer consensus" etag_changed
curl -s -D "$T/diff.hdr" -o "$T/diff.bin" "$A1URL/v1/consensus/diff/$hex" || fail "GET diff"
grep -qi "^content-type: application/x-umbra-consensus-diff" "$T/diff.hdr" || fail "not a diff: $(cat "$T/diff.hdr")"
curl -sf -o "$T/full.bin" "$A1URL/v1/consensus" || fail "GET /v1/consensus"
dsize=$(stat -c %s "$T/diff.bin")
fsize=$(stat -c %s "$T/full.bin")
[ "$dsize" -lt $((fsize / 2)) ] || fail "diff $dsize bytes vs full $fsize"
code=$(curl -s -o /dev/null -w '%{http_code}' "$A1URL/v1/consensus/diff/$(printf '0%.0s' $(seq 64))")
[ "$code" = 200 ] || fail "diff from an unknown base gave $code (want the whole document)"
code=$(curl -s -o /dev/null -w '%{http_code}' "$A1URL/v1/consensus/diff/xyz")
[ "$code" = 400 ] || fail "diff from a bad digest gave $code"
wait_for 30 "c1 applies a diff" grep -q "consensus diff of" "$T/c1.log"
ok "consensus diffs: $dsize bytes instead of $fsize; 304 from the current one; clients apply them"

# 3. A forged descriptor: a real one with one byte of its nickname changed.
dg=$(python3 -c 'import json,sys; print([r["digest"] for r in json.load(open(sys.argv[1])) if r["nickname"]=="m1"][0])' "$T/relays.json")
curl -sf -o "$T/desc.bin" "$A1URL/v1/desc/$dg" || fail "GET /v1/desc/<digest>"
python3 - "$T/desc.bin" "$T/forged.bin" <<'PY'
import sys
d = bytearray(open(sys.argv[1], "rb").read())
i = d.index(b"m1")
d[i:i + 2] = b"mX"  # same length: the descriptor parses, its signature no longer verifies
open(sys.argv[2], "wb").write(bytes(d))
PY
code=$(curl -s -o "$T/forged.out" -w '%{http_code}' --data-binary @"$T/forged.bin" "$A1URL/v1/desc")
[ "$code" = 400 ] || fail "forged descriptor got HTTP $code: $(cat "$T/forged.out")"
code=$(curl -s -o /dev/null -w '%{http_code}' --data-binary "garbage" "$A1URL/v1/desc")
[ "$code" = 400 ] || fail "garbage descriptor got HTTP $code"
ok "a descriptor with a forged signature is refused (400)"

# 4. One byte flipped in a consensus, served by a stand-in directory.
PYPORT=$(free_port)
mkdir -p "$T/fake/v1"
curl -sf -o "$T/cons.bin" "$A1URL/v1/consensus" || fail "GET /v1/consensus" # a fresh one
# The byte is in a relay entry's descriptor digest: opaque bytes, so the document still
# parses and only the signatures can catch the change.
python3 - "$T/cons.bin" "$T/fake/v1/consensus" "$dg" <<'PY'
import sys
d = bytearray(open(sys.argv[1], "rb").read())
i = d.index(bytes.fromhex(sys.argv[3]))
d[i] ^= 0x01
open(sys.argv[2], "wb").write(bytes(d))
PY
(cd "$T/fake" && exec python3 -m http.server "$PYPORT" --bind 127.0.0.1) >"$T/fake.log" 2>&1 &
PIDS+=($!)
wait_for 10 "stand-in directory" curl -sf -o /dev/null "http://127.0.0.1:$PYPORT/v1/consensus"
conf c2 client
dir_section c2 "authorities = $(id_of a1)@http://127.0.0.1:$PYPORT"
start c2
c2_fetched() { [ "$(dget c2 's["sources"][0]["last_http"]')" = 200 ]; }
wait_for 30 "c2 tried the tampered consensus" c2_fetched
sleep 1
"$UMBRA" dir status -s "$T/c2/control.sock" >"$T/c2.txt" && fail "c2 accepted a tampered consensus"
grep -q "NONE VALID" "$T/c2.txt" || fail "c2 status: $(cat "$T/c2.txt")"
err=$(dget c2 's["sources"][0]["error"]')
echo "$err" | grep -q "bad signature" || fail "tampering not reported as a bad signature: $err"
"$UMBRA" relays -s "$T/c2/control.sock" >/dev/null 2>&1 && fail "c2 lists relays"
ok "a consensus with one flipped byte is rejected ($err)"

# 5. Pinned to other keys: the relays' ids at the real authorities' URLs.
conf c3 client
dir_section c3 "authorities = $(id_of g1)@http://127.0.0.1:${HPORT[a1]}" \
	"authorities = $(id_of g2)@http://127.0.0.1:${HPORT[a2]}"
start c3
wait_for 30 "c3 refuses the network" \
	sh -c "'$UMBRA' dir status -s '$T/c3/control.sock' | grep -q 'do not trust'"
"$UMBRA" relays -s "$T/c3/control.sock" >"$T/c3.out" 2>&1 && fail "c3 lists relays"
grep -q "do not trust" "$T/c3.out" || fail "c3 relays error unclear: $(cat "$T/c3.out")"
ok "a client pinned to other keys refuses the network: $(head -c 120 "$T/c3.out")"

# 6. One authority down: the next consensus still comes, signed by 2 of 3.
stop a3
va0=$(dget c1 's["valid_after"]')
newer_than() { [ "$(dget c1 's["valid_after"]')" -gt "$1" ]; }
wait_for 60 "a newer consensus without a3" newer_than "$((va0 + IVL))"
[ "$(dget c1 's["valid"]')" = True ] || fail "c1 consensus not valid"
[ "$(dget c1 's["n_signed"]')" = 2 ] || fail "expected 2 signatures, got $(dget c1 's["n_signed"]')"
[ "$(n_relays c1)" = 6 ] || fail "relays lost after a3 stopped"
ok "with one authority down a new consensus is produced and accepted (2 of 3)"

# 7. Restart: a3 serves its stored consensus right away.
start a3
# (The control socket of the previous run may still be there: wait for HTTP itself.)
wait_for 10 "a3 serves HTTP again" curl -s -o /dev/null "http://127.0.0.1:${HPORT[a3]}/v1/peers"
code=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:${HPORT[a3]}/v1/consensus" || true)
[ "$code" = 200 ] || fail "restarted a3 has no consensus (HTTP $code)"
code=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:${HPORT[a3]}/v1/desc/$dg" || true)
[ "$code" = 200 ] || fail "restarted a3 lost descriptor $dg (HTTP $code)"
ok "a restarted authority keeps its state (consensus and descriptors from SQLite)"

# 8. Two authorities down: no quorum, no new consensus; the client keeps its cached one
#    while it is valid (3 periods), then reports a clear error.
stop a2
stop a3
stopped_at=$(date +%s)
sleep $((IVL + 3))
va1=$(dget c1 's["valid_after"]')
[ "$va1" -le "$stopped_at" ] || fail "a consensus made after the quorum was lost was accepted"
[ "$(dget c1 's["valid"]')" = True ] || fail "the client dropped its still-valid consensus"
[ "$(n_relays c1)" = 6 ] || fail "relays gone while the cached consensus is valid"
wait_for 30 "a1 logs the split" grep -q "not enough votes" "$T/a1.log"
ok "with two authorities down no consensus is made and the client keeps the valid one"
c1_invalid() { [ "$(dget c1 's["valid"]')" = False ]; }
wait_for $((3 * IVL + 10)) "the cached consensus expires" c1_invalid
"$UMBRA" relays -s "$T/c1/control.sock" >"$T/c1-expired.out" 2>&1 && fail "relays listed after expiry"
grep -q "expired" "$T/c1-expired.out" || fail "unclear error after expiry: $(cat "$T/c1-expired.out")"
ok "then it expires and the client says so: $(head -c 160 "$T/c1-expired.out")"

for n in a1 "${RELAYS[@]}" c1 c2 c3; do
	stop "$n"
done
ok "every daemon exits cleanly"
