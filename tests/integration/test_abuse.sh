#!/bin/bash
# SPDX-License-Identifier: MIT
# Entry abuse control (issue #5) on a real testnet: one source (127.0.0.3) opens connections
# to every relay's link port as fast as it can for a few seconds; each relay rate-limits it
# and then bans it (RST before any handshake work: `umbra status` counts the refusals and the
# ban), while the testnet's client (leaving from 127.0.0.2) keeps building circuits through
# those relays with at least 99% success. A banned source is still refused after the flood.
source "$(dirname "$0")/lib.sh"

NET="$T/net"
on_exit() {
	local rc=$?
	set +e # under set -e, a failing step here (or `(exit $rc)`) would skip cleanup
	"$UMBRA" testnet down --dir "$NET" >/dev/null 2>&1 || true
	if [ $rc -ne 0 ]; then
		for l in "$NET"/relay*/umbra.log; do
			[ -f "$l" ] && { echo "== $l"; tail -15 "$l"; }
		done
	fi
	(exit $rc)
	cleanup
}
trap on_exit EXIT

"$UMBRA" testnet up --dir "$NET" --relays 3 --authorities 1 --timeout 120 >"$T/up.out" 2>"$T/up.err" ||
	fail "testnet up: $(cat "$T/up.out" "$T/up.err")"
CTL="$NET/client/control.sock"
PORTS=()
for r in relay1 relay2 relay3; do
	PORTS+=("$("$UMBRA" status -s "$NET/$r/control.sock" --json |
		python3 -c 'import json,sys; print(json.load(sys.stdin)["listen"][0])')")
done

# The flood: connect, send a few bytes of would-be handshake, close; as fast as possible, to
# every relay in turn, for FLOOD_S seconds. It reports what happened to its connections.
FLOOD_S=6
python3 - "$FLOOD_S" "${PORTS[@]}" >"$T/flood.json" 2>"$T/flood.err" <<'PY' &
import json, socket, sys, time
secs = float(sys.argv[1])
targets = [(a.rsplit(":", 1)[0], int(a.rsplit(":", 1)[1])) for a in sys.argv[2:]]
end = time.monotonic() + secs
n = reset = 0
while time.monotonic() < end:
    for host, port in targets:
        s = socket.socket()
        s.settimeout(1)
        try:
            s.bind(("127.0.0.3", 0))
            s.connect((host, port))
            s.sendall(b"\x00" * 64)
            if s.recv(1) == b"":
                pass
        except (ConnectionResetError, BrokenPipeError):
            reset += 1
        except OSError:
            pass
        finally:
            n += 1
            s.close()
print(json.dumps({"connections": n, "reset": reset}))
PY
FLOOD_PID=$!
PIDS+=("$FLOOD_PID")

# Meanwhile the client builds fresh circuits through the same relays.
sleep 0.5
"$UMBRA" circuits build --count 100 --json -s "$CTL" >"$T/build.json" 2>"$T/build.err" ||
	fail "circuits build during the flood: $(cat "$T/build.json" "$T/build.err")"
wait "$FLOOD_PID" || fail "flood tool: $(cat "$T/flood.err")"
python3 - "$T/build.json" <<'PY' || fail "circuits during the flood: $(cat "$T/build.json")"
import json, sys
b = json.load(open(sys.argv[1]))
built = len(b["build_ms"])
assert built + b["failed"] == 100 and built >= 99, b
PY
ok "the client built $(python3 -c 'import json,sys; print(len(json.load(open(sys.argv[1]))["build_ms"]))' "$T/build.json")/100 circuits during the flood"

# Every relay refused the flooder and banned it.
for r in relay1 relay2 relay3; do
	"$UMBRA" status -s "$NET/$r/control.sock" --json >"$T/$r.status.json"
	python3 - "$T/$r.status.json" "$T/flood.json" <<'PY' || fail "$r: $(cat "$T/$r.status.json")"
import json, sys
s = json.load(open(sys.argv[1]))
f = json.load(open(sys.argv[2]))
a = s["abuse"]
assert a["bans"] >= 1 and a["banned"] >= 1, a
assert a["handshakes_refused_rate"] >= 1 and a["handshakes_refused_banned"] >= 1, a
assert s["links"]["refused_abuse"] == (a["handshakes_refused_rate"] + a["handshakes_refused_banned"] +
                                      a["handshakes_refused_busy"]), (s["links"], a)
# Most of the flood never reached a handshake: at most the burst plus the refill got in.
assert a["handshakes_refused_banned"] > 10 * a["bans"], a
PY
done
ok "each relay rate-limited and banned the flooding source ($(python3 -c 'import json,sys; print(json.load(open(sys.argv[1])))' "$T/flood.json"))"

# The ban outlives the flood: a new connection from the flooder is reset at once, before it
# sends a byte, while one from another address is left open, waiting for its handshake.
python3 - "${PORTS[0]}" <<'PY' || fail "after the flood"
import socket, sys
host, port = sys.argv[1].rsplit(":", 1)
def attempt(src):
    s = socket.socket()
    s.settimeout(1)
    s.bind((src, 0))
    try:
        s.connect((host, int(port)))
        return "closed" if s.recv(1) == b"" else "data"
    except ConnectionResetError:
        return "reset"
    except socket.timeout:
        return "open"
    finally:
        s.close()
r3, r4 = attempt("127.0.0.3"), attempt("127.0.0.4")
assert r3 == "reset" and r4 == "open", (r3, r4)
PY
ok "the banned source is still refused; another source is not"
"$UMBRA" status -s "$NET/relay1/control.sock" | grep -q "^abuse control: .* bans so far" ||
	fail "umbra status shows no abuse control line"
ok "umbra status shows the abuse counters"

# Circuit creations: a client (bench_relay_circuits: a real NK link and CREATE2 cells) asking
# an entry with create_burst = 20, create_rate = 1 for 60 circuits at once gets about 20
# built and the rest refused with DESTROY(RESOURCELIMIT) before any ntor work; the source is
# then banned; the relay itself is unharmed.
BUILD=${UM_BUILD_DIR:-$(cd "$(dirname "$0")/../.." && pwd)/build/debug}
BENCH=$BUILD/bench_relay_circuits
[ -x "$BENCH" ] || fail "no $BENCH (build first)"
node e "$(free_port)" "[relay]" "create_rate = 1" "create_burst = 20" "ban_after = 10"
sed -i 's/^roles = middle$/roles = entry/' "$T/e.conf"
start e
wait_for 10 "onion key" test -s "$T/e/onion.key"
"$BENCH" "$(peer_of e)" "$T/e/onion.key" 60 60 600 >"$T/bench.out" 2>"$T/bench.log" &
BENCH_PID=$!
PIDS+=("$BENCH_PID")
wait_for 60 "every build answered" test -s "$T/bench.out"
kill -TERM "$BENCH_PID"
wait "$BENCH_PID" || true
python3 - "$T/bench.out" <<'PY' || fail "creations: $(cat "$T/bench.out")"
import json, sys
r = json.load(open(sys.argv[1]))
assert r["circuits"] == 60 and 20 <= r["built"] <= 22 and r["built"] + r["failed"] == 60, r
PY
grep -q "failed: resourcelimit (from the relay)" "$T/bench.log" ||
	fail "refusals are not RESOURCELIMIT: $(tail -5 "$T/bench.log")"
"$UMBRA" status -s "$T/e/control.sock" --json >"$T/e.status.json"
python3 - "$T/e.status.json" <<'PY' || fail "entry: $(cat "$T/e.status.json")"
import json, sys
a = json.load(open(sys.argv[1]))["abuse"]
assert 20 <= a["creates_admitted"] <= 22 and a["bans"] == 1, a
assert a["creates_refused_rate"] + a["creates_refused_banned"] >= 38, a
PY
ok "create_burst = 20: $(python3 -c 'import json,sys; r=json.load(open(sys.argv[1])); print(r["built"], "built,", r["failed"], "refused (RESOURCELIMIT)")' "$T/bench.out"); the source is banned"
stop e
ok "the entry exits cleanly"
