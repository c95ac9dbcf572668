#!/bin/bash
# SPDX-License-Identifier: MIT
# The daemon and CLI as a user drives them: keys (mode 0600, refused when readable by others,
# with the command to fix it), config validation with file:line:key errors, environment
# overrides, the control socket's mode, SIGHUP reload of a valid and of an invalid
# configuration, and --help for every command.
source "$(dirname "$0")/lib.sh"

# --help and usage errors.
for c in run keygen whoami status links link config reload relays dir; do
	"$UMBRA" "$c" --help | grep -q "Usage: umbra $c" || fail "umbra $c --help"
done
"$UMBRA" --help | grep -q "Commands:" || fail "umbra --help"
"$UMBRA" version | grep -q "^umbra [0-9]" || fail "umbra version"
set +e
"$UMBRA" frobnicate >/dev/null 2>&1
[ $? -eq 2 ] || fail "unknown command must exit 2"
set -e
ok "--help for every command, version, unknown command"

# Keys.
PA=$(free_port)
node a "$PA"
for k in identity link; do
	[ "$(stat -c %a "$T/a/$k.key")" = 600 ] || fail "$k.key is not 0600"
done
id1=$(id_of a)
[ ${#id1} -eq 52 ] || fail "node id is not 52 base32 characters: $id1"
[ "$("$UMBRA" keygen -c "$T/a.conf" 2>/dev/null)" = "$id1" ] || fail "keygen replaced existing keys"
ok "keygen: 0600 key files, id $id1, existing keys kept"
chmod 644 "$T/a/identity.key"
set +e
out=$("$UMBRA" run -c "$T/a.conf" 2>&1)
rc=$?
set -e
[ $rc -ne 0 ] || fail "daemon ran with a 0644 identity key"
echo "$out" | grep -q "chmod 600" || fail "no actionable message: $out"
chmod 600 "$T/a/identity.key"
ok "a key file readable by others is refused: $(echo "$out" | grep -o 'key file.*' | head -1)"

# Config validation.
printf '[link]\nmax_links = lots\n[nosuch]\nx = 1\n' >"$T/bad.conf"
set +e
out=$("$UMBRA" config validate "$T/bad.conf" 2>&1)
rc=$?
set -e
[ $rc -eq 2 ] || fail "config validate of a bad file exited $rc"
echo "$out" | grep -q "bad.conf:2: link.max_links" || fail "no file:line:key error: $out"
echo "$out" | grep -q "bad.conf:3" || fail "second error not reported: $out"
"$UMBRA" config validate "$T/a.conf" | grep -q ": OK" || fail "good file rejected"
# (Captured first: grep -q may exit before a long dump is written, and pipefail would see
# the writer's SIGPIPE.)
shown=$(UMBRA_LINK_MAX_LINKS=77 "$UMBRA" config show -c "$T/a.conf")
echo "$shown" | grep -q "max_links = 77" ||
	fail "environment override not applied"
set +e
UMBRA_LINK_MAX_LINKS=zero "$UMBRA" config validate "$T/a.conf" >/dev/null 2>&1
rc=$?
set -e
[ $rc -eq 2 ] || fail "bad environment value accepted"
ok "config validate reports file:line:key; UMBRA_LINK_MAX_LINKS overrides"

# Exit policies are checked too: the rule at fault is named; an exit must accept some port.
printf '[node]\nroles = exit\n[link]\nlisten = 127.0.0.1:0\n[relay]\nexit_policy = accept *:80, alow *:443\n' >"$T/xp.conf"
set +e
out=$("$UMBRA" config validate "$T/xp.conf" 2>&1)
rc=$?
set -e
[ $rc -eq 2 ] || fail "a bad exit policy was accepted ($rc): $out"
echo "$out" | grep -q "relay.exit_policy: .*alow" || fail "bad rule not named: $out"
printf '[node]\nroles = exit\n[link]\nlisten = 127.0.0.1:0\n[relay]\nexit_policy = accept private:*, reject *:*\n' >"$T/xp.conf"
set +e
out=$("$UMBRA" config validate "$T/xp.conf" 2>&1)
rc=$?
set -e
[ $rc -eq 2 ] && echo "$out" | grep -q "accepts no port" || fail "an exit accepting nothing passed: $out"
ok "exit policies are validated: $(echo "$out" | head -1 | cut -c1-100)"
printf '[node]\nroles = exit\n[link]\nlisten = 127.0.0.1:0\n[relay]\ntier_policy = 0: reject *:25\ntier_policy = 2: alow *:80\n' >"$T/xp.conf"
set +e
out=$("$UMBRA" config validate "$T/xp.conf" 2>&1)
rc=$?
set -e
[ $rc -eq 2 ] && echo "$out" | grep -q "relay.tier_policy: tier 2: .*alow" || fail "a bad tier policy passed: $out"
ok "tier policies are validated: $(echo "$out" | head -1 | cut -c1-100)"

# The daemon, its control socket and status.
start a
[ "$(stat -c %a "$T/a/control.sock")" = 600 ] || fail "control socket is not 0600"
jget a 's["id"]' | grep -q "$id1" || fail "status id"
jget a 's["roles"]' | grep -q middle || fail "status roles"
"$UMBRA" status -c "$T/a.conf" | grep -q "listening: 127.0.0.1:$PA" || fail "status listen"
ok "control socket 0600; umbra status answers"

# SIGHUP: a valid change (a new peer) is applied; an invalid file is refused and the old
# configuration keeps running.
PB=$(free_port)
node b "$PB"
start b
echo "peer = $(peer_of b)" >"$T/peerline"
sed -i "/^\[link\]/r $T/peerline" "$T/a.conf"
kill -HUP "$PID_a"
wait_for 20 "a links to b after SIGHUP" has_open_link a
grep -q "configuration reloaded" "$T/a.log" || fail "no reload log line"
cp "$T/a.conf" "$T/a.conf.good"
echo "max_pending = banana" >>"$T/a.conf"
kill -HUP "$PID_a"
wait_for 10 "a rejects the bad file" grep -q "new configuration rejected" "$T/a.log"
set +e
out=$("$UMBRA" reload -s "$T/a/control.sock" 2>&1)
rc=$?
set -e
[ $rc -eq 1 ] || fail "umbra reload of a bad file exited $rc"
echo "$out" | grep -q "configuration rejected: .*a.conf:[0-9]*: log.max_pending" ||
	fail "umbra reload did not say why: $out"
alive a || fail "a died on a bad reload"
has_open_link a || fail "a lost its link on a bad reload"
cp "$T/a.conf.good" "$T/a.conf"
"$UMBRA" reload -c "$T/a.conf" | grep -q "configuration reloaded" || fail "umbra reload"
ok "SIGHUP and umbra reload apply a valid configuration and reject an invalid one"

# The control API over curl too (any HTTP client works).
if command -v curl >/dev/null; then
	curl -s --unix-socket "$T/a/control.sock" http://umbra/v1/status | grep -q "\"id\"" ||
		fail "curl /v1/status"
	code=$(curl -s -o /dev/null -w '%{http_code}' --unix-socket "$T/a/control.sock" \
		http://umbra/v1/nothing)
	[ "$code" = 404 ] || fail "unknown endpoint gave $code"
	ok "curl --unix-socket reaches the control API"
fi

stop a
stop b
[ ! -e "$T/a/control.sock" ] || true
ok "clean exit"
