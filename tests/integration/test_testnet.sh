#!/bin/bash
# SPDX-License-Identifier: MIT
# `umbra testnet` as a user runs it (issue #4's testnet, directory part): `up` generates and
# starts 2 authorities, 3 relays and a client on loopback and returns once the client's
# consensus lists every relay Running; `status` reports every node; a second `up` in the
# same directory is refused; `down` stops exactly the processes `up` started, each exiting
# cleanly, and leaves a process with a recycled-looking PID alone.
source "$(dirname "$0")/lib.sh"

NET="$T/net"
down_on_exit() { "$UMBRA" testnet down --dir "$NET" >/dev/null 2>&1 || true; }
on_exit() {
	local rc=$?
	set +e # under set -e, a failing step here (or `(exit $rc)`) would skip cleanup
	down_on_exit
	(exit $rc)
	cleanup
}
trap on_exit EXIT
# Running and not a zombie (an orphan's zombie lingers where PID 1 does not reap).
running() { [ -e "/proc/$1" ] && ! grep -q '^State:.*Z' "/proc/$1/status" 2>/dev/null; }

"$UMBRA" testnet up --dir "$NET" --relays 3 --authorities 2 --timeout 120 >"$T/up.out" 2>"$T/up.err" ||
	fail "testnet up: $(cat "$T/up.out" "$T/up.err")"
grep -q "testnet up in .*2 authorities, 3 relays (all Running)" "$T/up.out" || fail "up output: $(cat "$T/up.out")"
for f in "$NET"/*.conf "$NET"/*/identity.key "$NET"/*/link.key "$NET"/operator*.key; do
	[ "$(stat -c %a "$f")" = 600 ] || fail "$f is not 0600"
done
ok "testnet up: 2 authorities, 3 relays, a client; every relay Running ($(head -1 "$T/up.out"))"

"$UMBRA" testnet status --dir "$NET" --json >"$T/st.json" || fail "status: $(cat "$T/st.json")"
python3 - "$T/st.json" <<'PY' || fail "status json"
import json, sys
s = json.load(open(sys.argv[1]))
assert len(s["nodes"]) == 7 and all(n["alive"] for n in s["nodes"]), s
assert s["running_relays"] == 3, s
roles = sorted(n["role"] for n in s["nodes"])
assert roles == ["authority"] * 2 + ["client", "issuer"] + ["relay"] * 3, roles
PY
"$UMBRA" relays -s "$NET/client/control.sock" --json >"$T/relays.json"
python3 - "$T/relays.json" <<'PY' || fail "relays: $(cat "$T/relays.json")"
import json, sys
r = json.load(open(sys.argv[1]))
assert len(r) == 3, r
assert any("Exit" in x["flags"] for x in r) and any("Guard" in x["flags"] for x in r), r
assert len({x["country"] for x in r}) == 3, r
PY
ok "status lists 7 live nodes (2 authorities, an issuer, 3 relays, a client); the client's relays include guards and exits in 3 countries"

"$UMBRA" testnet up --dir "$NET" >"$T/up2.out" 2>&1 && fail "a second testnet up in the same dir succeeded"
grep -q "already running" "$T/up2.out" || fail "second up: $(cat "$T/up2.out")"
ok "a second up in the same directory is refused"

# A process that is not ours, recorded under a node's PID, must survive down.
sleep 300 &
DECOY=$!
PIDS+=("$DECOY")
pids=$(python3 -c 'import json,sys; print(" ".join(str(n["pid"]) for n in json.load(open(sys.argv[1]))["nodes"]))' "$T/st.json")
python3 - "$NET/testnet.json" "$DECOY" <<'PY'
import json, sys
s = json.load(open(sys.argv[1]))
s["nodes"].append(dict(s["nodes"][-1], name="decoy", pid=int(sys.argv[2])))
json.dump(s, open(sys.argv[1], "w"))
PY
"$UMBRA" testnet down --dir "$NET" >"$T/down.out" 2>&1 || fail "down: $(cat "$T/down.out")"
for p in $pids; do
	running "$p" && fail "pid $p still running after down"
done
running "$DECOY" || fail "down killed a process it did not start"
for l in "$NET"/*/umbra.log; do
	tail -1 "$l" | grep -q "stopped" || fail "$l does not end with a clean stop: $(tail -3 "$l")"
done
[ ! -e "$NET/testnet.json" ] || fail "state file left after down"
"$UMBRA" testnet status --dir "$NET" >/dev/null 2>&1 && fail "status after down succeeded"
ok "down stopped every node cleanly and nothing else"
