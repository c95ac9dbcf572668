#!/bin/bash
# SPDX-License-Identifier: MIT
# Circuits between real daemons (issue #4): `umbra testnet up` with 5 relays returns once the
# client has built a circuit; the client's circuits are 3 distinct relays of its consensus,
# a Guard first and an Exit last; the relays count the circuits they carry; killing the middle
# relay of a circuit (that PID only) makes the client drop the circuit and build new ones
# that avoid the dead relay; every daemon still exits cleanly.
source "$(dirname "$0")/lib.sh"

NET="$T/net"
on_exit() {
	local rc=$?
	set +e # under set -e, a failing step here (or `(exit $rc)`) would skip cleanup
	"$UMBRA" testnet down --dir "$NET" >/dev/null 2>&1 || true
	if [ $rc -ne 0 ]; then
		for l in "$NET"/*/umbra.log; do
			[ -f "$l" ] && { echo "== $l"; grep -i "circ\|EXTEND\|guard" "$l" | tail -15; }
		done
	fi
	(exit $rc)
	cleanup
}
trap on_exit EXIT

circuits() { "$UMBRA" circuits -s "$NET/$1/control.sock" --json; }

"$UMBRA" testnet up --dir "$NET" --relays 5 --timeout 120 >"$T/up.out" 2>"$T/up.err" ||
	fail "testnet up: $(cat "$T/up.out" "$T/up.err")"
grep -Eq "^  circuit: +relay[0-9]+ \([A-Z]{2}\) -> relay[0-9]+ \([A-Z]{2}\) -> relay[0-9]+ \([A-Z]{2}\) \(built in [0-9]+ ms\)" "$T/up.out" ||
	fail "up output has no circuit line: $(cat "$T/up.out")"
ok "testnet up waits for the client's first circuit: $(grep circuit: "$T/up.out" | sed 's/^ *//')"

"$UMBRA" testnet status --dir "$NET" --json >"$T/st.json"
"$UMBRA" relays -s "$NET/client/control.sock" --json >"$T/relays.json"
circuits client >"$T/c1.json"
# check_paths CIRCUITS.JSON [DEAD-ID]: every built circuit is Guard -> ... -> Exit over
# distinct relays of the consensus (none of them DEAD-ID); prints the first built circuit as
# "id middle-id"; fails when none is built.
check_paths() {
	python3 - "$T/relays.json" "$1" "${2:-}" <<'PY'
import json, sys
relays = {r["id"]: r for r in json.load(open(sys.argv[1]))}
c = json.load(open(sys.argv[2]))
dead = sys.argv[3]
built = [x for x in c["circuits"] if x["state"] == "built"]
assert built, c
for x in built:
    ids = [h["id"] for h in x["hops"]]
    assert len(ids) == 3 and len(set(ids)) == 3, x
    assert all(i in relays for i in ids), x
    assert "Guard" in relays[ids[0]]["flags"], (x, relays[ids[0]])
    assert "Exit" in relays[ids[-1]]["flags"], (x, relays[ids[-1]])
    assert dead not in ids, ("uses the dead relay", x)
    assert x["build_ms"] >= 0 and x["age_ms"] >= 0, x
print(built[0]["id"], built[0]["hops"][1]["id"], built[0]["hops"][0]["id"])
PY
}
read -r CID MID GID < <(check_paths "$T/c1.json") || fail "client circuits: $(cat "$T/c1.json")"
ok "the client's circuits are Guard -> middle -> Exit over distinct consensus relays"

# The relays carry them: the guard as entry, and some relay as middle and exit.
node_of() {
	python3 -c 'import json,sys; s=json.load(open(sys.argv[1]))
print(*[(n["name"], n["pid"]) for n in s["nodes"] if n["id"] == sys.argv[2]][0])' "$T/st.json" "$1"
}
read -r GNAME _ < <(node_of "$GID")
read -r MNAME MPID < <(node_of "$MID")
circuits "$GNAME" | python3 -c 'import json,sys; r=json.load(sys.stdin)["relay"]; assert r["entry"] >= 1, r' ||
	fail "guard $GNAME: $(circuits "$GNAME")"
total=0
for n in relay1 relay2 relay3 relay4 relay5; do
	t=$(circuits "$n" | python3 -c 'import json,sys; r=json.load(sys.stdin)["relay"]; print(r["middle"] + r["exit"])')
	total=$((total + t))
done
[ "$total" -ge 2 ] || fail "relays carry only $total middle/exit circuit ends"
ok "the relays report the circuits they carry ($GNAME as entry, $total middle/exit positions)"

# `umbra circuits build`: fresh circuits on demand, each reported with its build time, each
# then listed among the client's circuits.
before=$(circuits client | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["circuits"]))')
"$UMBRA" circuits build --count 3 --json -s "$NET/client/control.sock" >"$T/build.json" ||
	fail "circuits build: $(cat "$T/build.json")"
python3 - "$T/build.json" <<'PY' || fail "circuits build output: $(cat "$T/build.json")"
import json, sys
b = json.load(open(sys.argv[1]))
assert len(b["build_ms"]) + b["failed"] == 3 and len(b["build_ms"]) >= 2, b
assert all(0 < x < 10000 for x in b["build_ms"]), b
PY
after=$(circuits client | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["circuits"]))')
[ "$after" -ge $((before + 2)) ] || fail "built circuits not listed: $before -> $after"
"$UMBRA" circuits build --count 0 -s "$NET/client/control.sock" >/dev/null 2>&1 &&
	fail "--count 0 accepted"
ok "umbra circuits build: $(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["build_ms"])' "$T/build.json") ms"

# Kill the middle relay of circuit $CID (that PID only).
kill "$MPID"
gone_and_rebuilt() {
	circuits client >"$T/c2.json" || return 1
	python3 - "$T/c2.json" "$CID" <<'PY' || return 1
import json, sys
c = json.load(open(sys.argv[1]))
assert all(str(x["id"]) != sys.argv[2] for x in c["circuits"])
PY
	check_paths "$T/c2.json" "$MID" >/dev/null
}
wait_for 60 "circuit $CID dropped and rebuilt avoiding $MNAME" gone_and_rebuilt
ok "killing $MNAME (pid $MPID) dropped circuit $CID; the client rebuilt without it: $("$UMBRA" circuits -s "$NET/client/control.sock" | head -3 | tail -2 | tr -s ' ' | paste -sd';')"

"$UMBRA" testnet down --dir "$NET" >"$T/down.out" 2>&1 || fail "down: $(cat "$T/down.out")"
for l in "$NET"/*/umbra.log; do
	tail -1 "$l" | grep -q "stopped" || fail "$l does not end with a clean stop: $(tail -3 "$l")"
done
ok "every daemon exited cleanly (the killed middle included)"
