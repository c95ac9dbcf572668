#!/bin/bash
# SPDX-License-Identifier: MIT
# EXTEND2 carries the next relay's link key (docs/PROTOCOL.md 11.6, 13.4): two relays with no
# directory, so neither has a consensus, and a client (bench_relay_circuits, real NK link,
# CREATE2, then EXTEND2 with the link key as circuit_client.c sends it) builds 2-hop circuits
# r1 -> r2. r1 must open its XK link to r2 from the EXTEND2 alone: before the link-key
# specifier it refused ("not in our consensus") and every build failed with CONNECTFAILED.
# Both relays still exit cleanly.
source "$(dirname "$0")/lib.sh"

BUILD=${UM_BUILD_DIR:-$(cd "$(dirname "$0")/../.." && pwd)/build/debug}
BENCH=$BUILD/bench_relay_circuits
[ -x "$BENCH" ] || fail "no $BENCH (build first)"
role_total() { "$UMBRA" circuits -s "$T/$1/control.sock" --json |
	python3 -c 'import json,sys; print(json.load(sys.stdin)["relay"]["total"])'; }

node r1 "$(free_port)"
sed -i 's/^roles = middle$/roles = entry/' "$T/r1.conf"
node r2 "$(free_port)"
start r1
start r2
wait_for 10 "onion keys" test -s "$T/r1/onion.key" -a -s "$T/r2/onion.key"

"$BENCH" "$(peer_of r1)" "$T/r1/onion.key" 10 4 600 "$(peer_of r2)" "$T/r2/onion.key" \
	>"$T/bench.out" 2>"$T/bench.log" &
BENCH_PID=$!
PIDS+=("$BENCH_PID")
wait_for 60 "every build answered" test -s "$T/bench.out"
python3 - "$T/bench.out" <<'PY' || fail "bench result: $(cat "$T/bench.out" "$T/bench.log"; tail -20 "$T/r1.log")"
import json, sys
r = json.load(open(sys.argv[1]))
assert r["circuits"] == 10 and r["built"] == 10 and r["failed"] == 0, r
PY
grep -q "not in our consensus" "$T/r1.log" && fail "r1 looked r2 up in a consensus: $(grep consensus "$T/r1.log")"
[ "$(role_total r2)" = 10 ] || fail "r2 carries $(role_total r2) circuits, not 10"
ok "2-hop circuits r1 -> r2 built from the EXTEND2's link key, with no consensus on either relay"

kill -TERM "$BENCH_PID"
wait "$BENCH_PID" || true
stop r1
stop r2
ok "both relays exit cleanly"
