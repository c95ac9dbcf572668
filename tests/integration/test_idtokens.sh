#!/bin/bash
# SPDX-License-Identifier: MIT
# Identified tokens at exits (issue #5, docs/PROTOCOL.md 18.5) on a testnet with its issuer:
# the issuer's admin gives the client's subject tier 2, registers its key and grants it the
# access role; the client, restarted with [client] identified_token = yes, holds an access
# token and a new circuit's identified TOKEN is accepted by the exit at the subject's tier
# (counted as identified in the exit's `umbra status`); after `umbra issuer subject revoke
# client`, within a refresh of the exits (2 s on the testnet) a new circuit's token is refused
# as a revoked subject.
source "$(dirname "$0")/lib.sh"

NET="$T/net"
on_exit() {
	local rc=$?
	set +e # under set -e, a failing step here would skip cleanup
	"$UMBRA" testnet down --dir "$NET" >/dev/null 2>&1 || true
	if [ $rc -ne 0 ]; then
		for l in "$NET"/client/umbra.log "$NET"/issuer1/umbra.log "$NET"/relay*/umbra.log; do
			[ -f "$l" ] && { echo "== $l"; grep -i "token\|tier\|issuer" "$l" | tail -8; }
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
cli() { "$UMBRA" "$@" -s "$CTL"; }

# The exit's verdict on the newest circuit that sent a token ("accepted 2", "refused 0").
last_token() {
	local v i
	for i in $(seq 50); do
		v=$(cli circuits --json | python3 -c 'import json,sys
c = [x for x in json.load(sys.stdin)["circuits"] if x["token"] != "none"]
print(c[-1]["token"], c[-1]["tier"]) if c else print("none 0")')
		[ "${v%% *}" = sent ] || break
		sleep 0.1
	done
	echo "$v"
}
# The sum of a tokens counter over every relay's `umbra status`.
exit_count() {
	local sum=0 s n
	for s in "$NET"/relay*/control.sock; do
		n=$("$UMBRA" status -s "$s" --json | python3 -c "import json,sys
t = json.load(sys.stdin).get('tokens')
print(t['$1'] if t else 0)")
		sum=$((sum + n))
	done
	echo "$sum"
}

# -- the issuer's admin: subject "client" at tier 2, its key registered, the access role --
KEY=$(cli tokens | awk '/^subject/ {print $4}' | tr -d ,)
[ -n "$KEY" ] || fail "the client prints no subject key"
"$UMBRA" issuer subject set client --tier 2 -s "$ICTL" >/dev/null || fail "subject set"
"$UMBRA" issuer subject key client "$KEY" -s "$ICTL" >/dev/null || fail "subject key"
"$UMBRA" issuer subject role client access -s "$ICTL" >"$T/role.out" || fail "role access"
grep -q access "$T/role.out" || fail "role access not shown: $(cat "$T/role.out")"
ok "the issuer grants subject client the access role"

# -- the client, restarted with identified_token = yes --
CPID=$("$UMBRA" testnet status --dir "$NET" --json | python3 -c '
import json, sys
print([n["pid"] for n in json.load(sys.stdin)["nodes"] if n["role"] == "client"][0])')
CONF="$NET/client.conf"
[ -f "$CONF" ] || CONF="$NET/client/umbra.conf"
kill -TERM "$CPID"
wait_for 10 "the client exits" sh -c "! kill -0 $CPID"
sed -i 's/^\[client\]$/[client]\nidentified_token = yes/' "$CONF"
grep -q '^identified_token = yes' "$CONF" || fail "could not enable identified_token in $CONF"
"$UMBRA" config validate "$CONF" >"$T/validate.out" 2>&1 || fail "$CONF: $(cat "$T/validate.out")"
"$UMBRA" run -c "$CONF" >>"$NET/client/umbra.log" 2>&1 &
PIDS+=($!)
wait_for 10 "client control socket" test -S "$CTL"
wait_for 20 "the client holds an access token" grep -q "access token held (tier 2)" "$NET/client/umbra.log"
grep -q "each exit will learn this client's subject" "$NET/client/umbra.log" ||
	fail "no notice that exits learn the subject"
cli tokens | grep -q "^identified access token: tier 2, expires at [0-9]" ||
	fail "umbra tokens shows no access token: $(cli tokens)"
ok "the restarted client holds an access token of tier 2 (umbra tokens shows it)"

# -- a new circuit: the identified token is accepted at the subject's tier --
wait_for 30 "a circuit" cli circuits build --count 1
[ "$(last_token)" = "accepted 2" ] || fail "identified token: $(last_token)"
[ "$(exit_count identified_accepted)" -ge 1 ] || fail "no exit counts an identified token"
for s in "$NET"/relay*/control.sock; do "$UMBRA" status -s "$s"; done >"$T/status.txt"
grep -q "tier tokens: .* accepted ([1-9][0-9]* identified)" "$T/status.txt" ||
	fail "umbra status shows no identified count: $(grep 'tier tokens' "$T/status.txt")"
# The exit learns the subject; it must not write it to its log at info level or above.
grep -h "client" "$NET"/relay*/umbra.log | grep -qi "subject.*client\|client.*subject" &&
	fail "an exit logged the subject"
ok "a new circuit's identified token is accepted with tier 2; exits count it and log no subject"

# -- revoked: within one refresh, a new circuit's token is refused --
"$UMBRA" issuer subject revoke client -s "$ICTL" >/dev/null || fail "revoke"
refused=0
for i in $(seq 20); do
	sleep 1
	cli circuits build --count 1 >/dev/null || continue
	if [ "$(last_token)" = "refused 0" ]; then
		refused=1
		break
	fi
done
[ "$refused" = 1 ] || fail "a revoked subject's token still accepted: $(last_token)"
[ "$(exit_count refused_revoked_subject)" -ge 1 ] || fail "no exit counts a revoked subject"
grep -q "refused our token (revoked subject)" "$NET/client/umbra.log" ||
	fail "the client did not see TOKEN_ACK status 7 (revoked subject)"
ok "after revoke, a new circuit's identified token is refused (revoked subject) within ${i}s"
