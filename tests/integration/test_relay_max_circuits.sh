#!/bin/bash
# SPDX-License-Identifier: MIT
# [relay] max_circuits reaches a real relay's circuit table: a client (bench_relay_circuits,
# real NK link and CREATE2) asks an entry relay capped at 100 circuits for 150; exactly 100
# are built and 50 refused with DESTROY(RESOURCELIMIT); the relay counts 100 and goes back to
# 0 when the client's link closes; the relay still exits cleanly. Also runs the tool that
# bench/relay_mem.sh drives, so it keeps working.
source "$(dirname "$0")/lib.sh"

BUILD=${UM_BUILD_DIR:-$(cd "$(dirname "$0")/../.." && pwd)/build/debug}
BENCH=$BUILD/bench_relay_circuits
[ -x "$BENCH" ] || fail "no $BENCH (build first)"
relay_total() { "$UMBRA" circuits -s "$T/r/control.sock" --json |
	python3 -c 'import json,sys; print(json.load(sys.stdin)["relay"]["total"])'; }
relay_empty() { [ "$(relay_total)" = 0 ]; }

node r "$(free_port)" "[relay]" "max_circuits = 100"
sed -i 's/^roles = middle$/roles = entry/' "$T/r.conf"
start r
wait_for 10 "onion key" test -s "$T/r/onion.key"

"$BENCH" "$(peer_of r)" "$T/r/onion.key" 150 16 600 >"$T/bench.out" 2>"$T/bench.log" &
BENCH_PID=$!
PIDS+=("$BENCH_PID")
wait_for 60 "every build answered" test -s "$T/bench.out"
python3 - "$T/bench.out" <<'PY' || fail "bench result: $(cat "$T/bench.out")"
import json, sys
r = json.load(open(sys.argv[1]))
assert r["circuits"] == 150 and r["built"] == 100 and r["failed"] == 50, r
PY
grep -q "failed: resourcelimit (from the relay)" "$T/bench.log" || fail "refusals are not RESOURCELIMIT: $(cat "$T/bench.log")"
[ "$(relay_total)" = 100 ] || fail "the relay carries $(relay_total) circuits, not 100"
ok "max_circuits = 100: 100 circuits built, 50 refused with RESOURCELIMIT, the relay holds 100"

kill -TERM "$BENCH_PID"
wait "$BENCH_PID" || true
wait_for 10 "the relay to drop the client's circuits" relay_empty
ok "the client's link closed: the relay holds 0 circuits"
stop r
ok "the relay exits cleanly"
