#!/bin/bash
# SPDX-License-Identifier: MIT
# Provider capability tokens and relay upsert (issue 5, PROTOCOL.md 18), real daemons on
# loopback: an issuer, one authority with [directory] require_provider = yes (vote_interval
# 4 s) and three relays.
#  1. r1's operator (subject op1) holds the provider role: r1 gets a provider token, upserts
#     its descriptor and is in the consensus; the issuance is in the audit trail;
#  2. r2's operator (op2) lacks the role: the issuer refuses it a token (403), r2 stays out;
#     r3 has no provider: its plain upload is refused (403) and it stays out;
#  3. the issuer revokes op1: the authority's next revocation feed lists it and r1 drops out
#     of the consensus within a refresh and a vote.
source "$(dirname "$0")/lib.sh"

IVL=4
HPORT=$(free_port)
IPORT=$(free_port)

conf() { # NAME ROLES [lines...]
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

conf iss issuer "[issuer]" "listen = 127.0.0.1:$IPORT"
conf a1 directory
ISS_ID=$(UMBRA_NODE_ROLES=client id_of iss)
AUTH="authorities = $(UMBRA_NODE_ROLES=client id_of a1)@http://127.0.0.1:$HPORT"
cat >>"$T/a1.conf" <<CONF
[directory]
vote_interval = ${IVL}s
listen = 127.0.0.1:$HPORT
$AUTH
issuers = $ISS_ID@http://127.0.0.1:$IPORT
require_provider = yes
CONF
PROV="provider = $ISS_ID@http://127.0.0.1:$IPORT"
conf r1 middle "[directory]" "$AUTH" "[relay]" "$PROV" "provider_subject = op1"
conf r2 middle "[directory]" "$AUTH" "[relay]" "$PROV" "provider_subject = op2"
conf r3 middle "[directory]" "$AUTH"
for n in a1 r1; do
	"$UMBRA" config validate "$T/$n.conf" >/dev/null || fail "$n config invalid"
done

# The operators' keys, printed as `umbra issuer subject key` wants them (made on first use).
PK1=$("$UMBRA" whoami -c "$T/r1.conf" --provider-key 2>/dev/null) || fail "provider key r1"
PK2=$("$UMBRA" whoami -c "$T/r2.conf" --provider-key 2>/dev/null) || fail "provider key r2"
[ "$(stat -c %a "$T/r1/provider.key")" = 600 ] || fail "provider key mode"
[ "$PK1" = "$("$UMBRA" whoami -c "$T/r1.conf" --provider-key)" ] || fail "provider key changed"

start iss
ICTL="$T/iss/control.sock"
icli() { "$UMBRA" issuer "$@" -s "$ICTL"; }
icli subject set op1 --tier 3 --kind relay --role provider >"$T/set1.out" || fail "subject set op1"
grep -q "roles provider; not revoked" "$T/set1.out" || fail "op1 roles: $(cat "$T/set1.out")"
icli subject key op1 "$PK1" >/dev/null || fail "subject key op1"
icli subject set op2 --tier 1 --kind relay >/dev/null || fail "subject set op2"
icli subject key op2 "$PK2" >/dev/null || fail "subject key op2"
ok "issuer: op1 (relay, provider role) and op2 (relay, no role) registered with their keys"

for n in a1 r1 r2 r3; do
	start "$n"
done
ok "an authority requiring providers and 3 relays started"

# relays: the nicknames in the authority's latest consensus.
relays() {
	python3 - "http://127.0.0.1:$HPORT/v1/relays" <<'PY'
import json, sys, urllib.request
s = json.load(urllib.request.urlopen(sys.argv[1], timeout=5))
print(" ".join(sorted(r["nickname"] for r in s["relays"])))
PY
}
has_relay() { relays | grep -qw "$1"; }
lacks_relay() { ! relays | grep -qw "$1"; }

# 1. r1 is in.
wait_for 20 "r1 holds a provider token" grep -q "provider token held (tier 1)" "$T/r1.log"
wait_for 30 "r1 in the consensus" has_relay r1
icli audit --limit 1000 >"$T/audit.txt"
grep -q "captoken.issue .*op1" "$T/audit.txt" || fail "no captoken.issue row: $(cat "$T/audit.txt")"
grep -q '"role":"provider"' "$T/audit.txt" || fail "audit detail: $(cat "$T/audit.txt")"
ok "r1 (provider op1) is in the consensus through a provider upsert; the issuance is audited"

# 2. r2 and r3 stay out.
wait_for 20 "the issuer refuses op2" grep -q "refused a provider token: HTTP 403.*provider role" "$T/r2.log"
wait_for 20 "the authority refuses r3's plain upload" grep -q "refused our descriptor: HTTP 403" "$T/r3.log"
va0=$(python3 -c "import json,urllib.request; print(json.load(urllib.request.urlopen('http://127.0.0.1:$HPORT/v1/relays'))['consensus']['valid_after'])")
newer() { [ "$(python3 -c "import json,urllib.request; print(json.load(urllib.request.urlopen('http://127.0.0.1:$HPORT/v1/relays'))['consensus']['valid_after'])")" -gt "$va0" ]; }
wait_for 20 "a newer consensus" newer
[ "$(relays)" = "r1" ] || fail "consensus relays: $(relays)"
ok "r2 (no provider role) and r3 (no provider) are refused and left out"

# 3. Revoke op1: r1 drops out within a feed refresh (5 s) and a vote.
t0=$SECONDS
icli subject revoke op1 --reason "abuse case 7" >"$T/rev.out" || fail "revoke op1"
grep -q "revoked" "$T/rev.out" || fail "revoke: $(cat "$T/rev.out")"
python3 - "http://127.0.0.1:$IPORT/v1/revocations" <<'PY' || fail "the feed does not list op1"
import sys, urllib.request
assert b"op1" in urllib.request.urlopen(sys.argv[1], timeout=5).read()
PY
wait_for 30 "r1 drops out of the consensus" lacks_relay r1
ok "after op1 is revoked, r1 left the consensus in $((SECONDS - t0)) s"
grep -q "subject.revoke .*op1" <(icli audit --limit 1000) || fail "no subject.revoke row"

for n in r1 r2 r3 a1 iss; do
	stop "$n"
done
ok "every daemon exits cleanly"
