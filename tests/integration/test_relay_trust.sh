#!/bin/bash
# SPDX-License-Identifier: MIT
# The relay-trust feed end to end (issue 5, PROTOCOL.md 19) on a testnet (3 authorities, one
# issuer, 5 relays of which 2 exits, a client; vote_interval 5 s), driven from the CLI:
#  1. the issuer binds an exit to a relay subject with a bond (`umbra issuer subject relay`):
#     the client's consensus lists it Bonded within a few periods; GET /v1/relaytrust is a
#     signed document;
#  2. a dispute on the subject: the consensus lists it Disputed, and fresh circuits the
#     client builds never end at it;
#  3. a second issuer and trust_threshold = 2 on every authority (restarted): the first
#     issuer's signals alone set neither flag; once the second issuer also vouches for the
#     relay with a bond, Bonded is back (Disputed stays off: one dispute of two issuers).
source "$(dirname "$0")/lib.sh"

NET="$T/net"
on_exit() {
	local rc=$?
	set +e
	"$UMBRA" testnet down --dir "$NET" >/dev/null 2>&1 || true
	if [ $rc -ne 0 ]; then
		for l in "$NET"/auth*/umbra.log "$NET"/issuer1/umbra.log "$T"/iss2.log; do
			[ -f "$l" ] && { echo "== $l"; grep -i "trust\|issuer\|error" "$l" | tail -8; }
		done
	fi
	(exit $rc)
	cleanup
}
trap on_exit EXIT

"$UMBRA" testnet up --dir "$NET" --relays 5 --authorities 3 --timeout 120 >"$T/up.out" 2>"$T/up.err" ||
	fail "testnet up: $(cat "$T/up.out" "$T/up.err")"
CTL="$NET/client/control.sock"
ICTL="$NET/issuer1/control.sock"
ISS1_URL=$("$UMBRA" testnet status --dir "$NET" --json |
	python3 -c 'import json,sys; print([n["url"] for n in json.load(sys.stdin)["nodes"] if n["role"]=="issuer"][0])')

# relays_py EXPR: evaluate EXPR over r (the client's relay list, {nickname: entry}).
relays_py() {
	"$UMBRA" relays --json -s "$CTL" |
		python3 -c "import json,sys; r={x['nickname']: x for x in json.load(sys.stdin)}; print($1)"
}
flags_of() { relays_py "','.join(r['$1']['flags'])"; }
has_flag() { [[ ",$(flags_of "$1")," == *",$2,"* ]]; }

wait_for 60 "two exits in the client's consensus" \
	test "$(relays_py "len([x for x in r.values() if 'Exit' in x['flags']])")" = 2
EXIT=$(relays_py "sorted(n for n, x in r.items() if 'Exit' in x['flags'])[0]")
EXIT_ID=$(relays_py "r['$EXIT']['id']")
has_flag "$EXIT" Bonded && fail "$EXIT is Bonded before any issuer vouched for it"

# 1. Bind the exit to a relay subject with a bond.
"$UMBRA" issuer subject set op-a --kind relay --tier 2 -s "$ICTL" >/dev/null || fail "subject set"
"$UMBRA" issuer subject adjust op-a --bond 500 --reason "posted" -s "$ICTL" >/dev/null ||
	fail "subject adjust"
out=$("$UMBRA" issuer subject relay op-a add "$EXIT_ID" -s "$ICTL") || fail "relay add: $out"
[[ "$out" == *"1 relay bound"*"$EXIT_ID"* ]] || fail "relay add printed: $out"
# A client subject cannot vouch for relays; a node id goes to one subject only.
"$UMBRA" issuer subject set cl --kind client --tier 1 -s "$ICTL" >/dev/null
"$UMBRA" issuer subject relay cl add "$EXIT_ID" -s "$ICTL" >/dev/null 2>&1 &&
	fail "a client subject took a relay"
"$UMBRA" issuer audit --json -s "$ICTL" | grep -q '"relay.bind"' || fail "no relay.bind audit row"
python3 - "$ISS1_URL" "$EXIT_ID" <<'PY' || fail "GET /v1/relaytrust"
import sys, time, urllib.request, base64
# The issuer reads the signals at most once a second: a change shows within a second.
for _ in range(30):
    doc = urllib.request.urlopen(sys.argv[1] + "/v1/relaytrust").read()
    if len(doc) > 123:
        break
    time.sleep(0.2)
node = base64.b32decode(sys.argv[2].upper() + "====")
assert doc[0] == 1 and len(doc) == 59 + 46 + 64, len(doc)
n = int.from_bytes(doc[57:59], "big")
assert n == 1 and doc[59:91] == node
assert int.from_bytes(doc[91:99], "big") == 500  # bond
PY
ok "issuer bound $EXIT to subject op-a (bond 500); /v1/relaytrust lists it"
wait_for 60 "$EXIT Bonded in the client's consensus" has_flag "$EXIT" Bonded
ok "the consensus lists $EXIT as Bonded"

# 2. A dispute: Disputed, and no fresh circuit exits there.
"$UMBRA" issuer dispute open op-a --cap 1 --ttl 1h --case abuse-1 -s "$ICTL" >/dev/null ||
	fail "dispute open"
wait_for 60 "$EXIT Disputed in the client's consensus" has_flag "$EXIT" Disputed
ok "the consensus lists $EXIT as Disputed"
BEFORE=$("$UMBRA" circuits --json -s "$CTL" | python3 -c 'import json,sys; print(max([c["id"] for c in json.load(sys.stdin)["circuits"]] + [0]))')
"$UMBRA" circuits build --count 4 --timeout 30 -s "$CTL" >"$T/build.out" 2>&1 ||
	fail "circuits build: $(cat "$T/build.out")"
"$UMBRA" circuits --json -s "$CTL" | python3 -c '
import json, sys
before, bad = int(sys.argv[1]), sys.argv[2]
new = [c for c in json.load(sys.stdin)["circuits"] if c["id"] > before and c["hops"]]
assert new, "no new circuit"
for c in new:
    assert c["hops"][-1]["id"] != bad, "circuit %d exits at the disputed relay" % c["id"]
print(len(new))
' "$BEFORE" "$EXIT_ID" >"$T/new.out" || fail "a fresh circuit used the disputed exit"
ok "$(cat "$T/new.out") fresh circuits avoid the disputed exit"

# 3. A second issuer and trust_threshold = 2.
IPORT2=$(free_port)
mkdir -p "$T/iss2" && chmod 700 "$T/iss2"
cat >"$T/iss2.conf" <<CONF
[node]
state_dir = $T/iss2
nickname = iss2
roles = issuer
[issuer]
listen = 127.0.0.1:$IPORT2
[client]
socks_listen =
[log]
level = info
CONF
"$UMBRA" keygen -c "$T/iss2.conf" >/dev/null 2>&1
ID2=$("$UMBRA" whoami -c "$T/iss2.conf")
"$UMBRA" run -c "$T/iss2.conf" >>"$T/iss2.log" 2>&1 &
PIDS+=($!)
wait_for 10 "issuer 2 control socket" test -S "$T/iss2/control.sock"
I2CTL="$T/iss2/control.sock"
"$UMBRA" testnet status --dir "$NET" --json | python3 -c '
import json, sys
for n in json.load(sys.stdin)["nodes"]:
    if n["role"] == "authority":
        print(n["name"], n["pid"])' >"$T/auths"
[ "$(wc -l <"$T/auths")" = 3 ] || fail "three authorities in testnet status: $(cat "$T/auths")"
while read -r name pid; do
	conf="$NET/$name.conf"
	kill -TERM "$pid"
	wait_for 10 "$name exits" sh -c "! kill -0 $pid"
	printf '[directory]\nissuers = %s@http://127.0.0.1:%s\ntrust_threshold = 2\n' "$ID2" "$IPORT2" >>"$conf"
	"$UMBRA" config validate "$conf" >"$T/validate.out" 2>&1 || fail "$conf: $(cat "$T/validate.out")"
	"$UMBRA" run -c "$conf" >>"$NET/$name/umbra.log" 2>&1 &
	PIDS+=($!)
done <"$T/auths"
wait_for 90 "flags gone with threshold 2" bash -c "
	f=\$('$UMBRA' relays --json -s '$CTL' | python3 -c \"import json,sys; print(','.join([x for x in json.load(sys.stdin) if x['nickname']=='$EXIT'][0]['flags']))\")
	[[ \",\$f,\" != *,Bonded,* && \",\$f,\" != *,Disputed,* ]]"
ok "with trust_threshold 2, issuer 1 alone sets neither Bonded nor Disputed"
"$UMBRA" issuer subject set op-b --kind relay --tier 1 -s "$I2CTL" >/dev/null || fail "iss2 subject"
"$UMBRA" issuer subject adjust op-b --bond 10 -s "$I2CTL" >/dev/null || fail "iss2 adjust"
"$UMBRA" issuer subject relay op-b add "$EXIT_ID" -s "$I2CTL" >/dev/null || fail "iss2 relay add"
wait_for 60 "$EXIT Bonded with both issuers" has_flag "$EXIT" Bonded
has_flag "$EXIT" Disputed && fail "Disputed with only one of two issuers disputing"
ok "both issuers vouch for $EXIT: Bonded again, and not Disputed (one dispute of two)"
