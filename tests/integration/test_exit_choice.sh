#!/bin/bash
# SPDX-License-Identifier: MIT
# Exit choice for streams (issue #4: "exits whose policy allows the request", "retry across
# ranked candidates"; docs/PATHS.md 1.8, PROTOCOL.md 15.4). A testnet with 5 relays has two
# exits with different policies (src/app/cmd_testnet.c exit_policy_of()): every exit rejects
# 2828; only the first exit (X) accepts 2525; X rejects 2626 on loopback although its summary
# allows it (the other exit, Y, accepts it).
#   - a SOCKS request to 127.0.0.1:2525 succeeds, and `umbra circuits --json` shows the
#     circuit carrying it ends at X, for several isolation keys (each on a fresh circuit);
#   - a request to port 2828 gets SOCKS 02 at once (well under a second), the client logs
#     "no exit in the consensus allows port 2828" and builds no circuit for it;
#   - requests to 127.0.0.1:2626 (fresh circuits, random exits) all succeed through Y; when
#     one lands on X first, X's END(EXITPOLICY) sends it to Y (counted in streams_retried)
#     and X is then avoided for 2626;
#   - every exit refuses loopback port 2727 behind summaries that allow it: a request there
#     is refused by both exits in turn (one retry) and gets SOCKS 02; the next request to
#     2727 is refused at once from the remembered refusals, without a circuit.
source "$(dirname "$0")/lib.sh"

NET="$T/net"
WWW="$T/www"
CURLS=()
on_exit() {
	local rc=$?
	set +e
	for p in "${CURLS[@]:-}"; do
		[ -n "$p" ] && kill "$p" 2>/dev/null
	done
	"$UMBRA" testnet down --dir "$NET" >/dev/null 2>&1
	if [ $rc -ne 0 ]; then
		for l in "$NET"/*/umbra.log; do
			[ -f "$l" ] && { echo "== $l"; grep -iv "descriptor\|consensus\|vote" "$l" | tail -15; }
		done
	fi
	(exit $rc)
	cleanup
}
trap on_exit EXIT

port_free() { python3 -c 'import socket,sys; s=socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); s.bind(("127.0.0.1", int(sys.argv[1])))' "$1" 2>/dev/null; }
for p in 2525 2626; do
	port_free "$p" || { echo "skip - port $p on 127.0.0.1 is in use here"; exit 0; }
done

"$UMBRA" testnet up --dir "$NET" --relays 5 --timeout 120 >"$T/up.out" 2>"$T/up.err" ||
	fail "testnet up: $(cat "$T/up.out" "$T/up.err")"
SOCKS=$(sed -n 's/^  socks: *\([0-9.:]*\) .*/\1/p' "$T/up.out")
[ -n "$SOCKS" ] || fail "up prints no SOCKS port: $(cat "$T/up.out")"
CLOG="$NET/client/umbra.log"
[ -f "$CLOG" ] || fail "no client log at $CLOG"

# Which exit is which, from the generated configurations.
X="" Y=""
for conf in $(grep -rl '^exit_policy' "$NET" --include='*.conf' | sort); do
	nick=$(sed -n 's/^nickname = //p' "$conf")
	if grep -q 'reject \*:2525' "$conf"; then Y=$nick; else X=$nick; fi
done
[ -n "$X" ] && [ -n "$Y" ] || fail "expected two exits with different policies (X=$X Y=$Y)"
ok "testnet exits: $X accepts 2525 and rejects loopback:2626, $Y rejects 2525; both reject 2828 and loopback:2727"

mkdir -p "$WWW"
head -c $((16 * 1024 * 1024)) /dev/urandom >"$WWW/big"
echo hello >"$WWW/small"
for p in 2525 2626; do
	(cd "$WWW" && exec python3 -m http.server "$p" --bind 127.0.0.1) >"$T/www$p.log" 2>&1 &
	PIDS+=("$!")
	wait_for 10 "the origin on $p" curl -sf -o /dev/null "http://127.0.0.1:$p/small"
done

circuits() { "$UMBRA" circuits -s "$NET/client/control.sock" --json; }
stat_of() { circuits | python3 -c "import json,sys; print(json.load(sys.stdin)['client'][sys.argv[1]])" "$1"; }

# exit_of_stream: the exit nickname of the one circuit carrying streams (fails otherwise).
exit_of_stream() {
	circuits >"$T/c.json" 2>/dev/null || return 1
	python3 - "$T/c.json" >"$T/exit.out" <<'PY'
import json, sys
c = [c for c in json.load(open(sys.argv[1]))["circuits"] if c["streams"] > 0]
assert len(c) == 1
print(c[0]["hops"][-1]["nickname"])
PY
}

# via PORT USER: a slow download to 127.0.0.1:PORT as USER, the exit of its circuit in $T/exit.out.
via() {
	curl -sS --limit-rate 500K --max-time 60 --socks5-hostname "$SOCKS" --proxy-user "$2:pw" \
		"http://127.0.0.1:$1/big" -o "$T/dl.$2" 2>"$T/dl.$2.err" &
	local pid=$!
	CURLS+=("$pid")
	wait_for 30 "the stream to $1 on a circuit" exit_of_stream
	kill "$pid" 2>/dev/null || true
	wait "$pid" 2>/dev/null || true
	CURLS=()
	# The next probe must see this stream gone.
	wait_for 10 "the stream to close" no_streams
}
no_streams() {
	circuits | python3 -c 'import json,sys; sys.exit(any(c["streams"] > 0 for c in json.load(sys.stdin)["circuits"]))'
}

# -- a port only X allows --
for u in a1 a2 a3; do
	via 2525 "$u"
	[ "$(cat "$T/exit.out")" = "$X" ] || fail "stream to 2525 (user $u) went through $(cat "$T/exit.out"), not $X"
	out=$(curl -sS --max-time 30 --socks5-hostname "$SOCKS" --proxy-user "$u:pw" "http://127.0.0.1:2525/small") ||
		fail "request to 2525 as $u failed"
	[ "$out" = hello ] || fail "request to 2525: $out"
done
ok "port 2525 (only $X allows it): 3 isolation keys, each stream on a circuit ending at $X"

# -- a port no exit allows --
cat >"$T/socks.py" <<'PY'
import socket, struct, sys, time
port = int(sys.argv[1].rsplit(":", 1)[1])
s = socket.create_connection(("127.0.0.1", port), timeout=30)
s.sendall(b"\x05\x01\x00")
assert s.recv(2) == b"\x05\x00"
t = time.monotonic()
s.sendall(bytes([5, 1, 0, 1, 127, 0, 0, 1]) + struct.pack(">H", int(sys.argv[2])))
r = s.recv(22)
print(r[:2].hex(), int((time.monotonic() - t) * 1000))
PY
built0=$(stat_of built)
noexit0=$(stat_of streams_no_exit)
read -r code ms < <(python3 "$T/socks.py" "$SOCKS" 2828)
[ "$code" = 0502 ] || fail "port 2828: SOCKS reply $code"
[ "$ms" -lt 1000 ] || fail "port 2828: the refusal took $ms ms"
grep -q "no exit in the consensus allows port 2828" "$CLOG" || fail "no log line for the refused port 2828"
! grep -q "building a circuit for a stream to port 2828 through" "$CLOG" || fail "a circuit was built for port 2828"
[ "$(stat_of streams_no_exit)" -gt "$noexit0" ] || fail "streams_no_exit did not count the refusal"
ok "port 2828 (no exit allows it): SOCKS 02 in $ms ms, logged, no circuit built for it (built $built0 -> $(stat_of built), pool upkeep only)"

# -- a port X's policy refuses though its summary allows it: retried on Y --
retried0=$(stat_of streams_retried)
n=0
for u in b1 b2 b3 b4 b5 b6; do
	out=$(curl -sS --max-time 60 --socks5-hostname "$SOCKS" --proxy-user "$u:pw" "http://127.0.0.1:2626/small") ||
		fail "request to 2626 as $u failed"
	[ "$out" = hello ] || fail "request to 2626: $out"
	n=$((n + 1))
	if [ "$(stat_of streams_retried)" -gt "$retried0" ]; then break; fi
done
retried=$(($(stat_of streams_retried) - retried0))
via 2626 b9
[ "$(cat "$T/exit.out")" = "$Y" ] || fail "stream to 2626 went through $(cat "$T/exit.out"), not $Y"
if [ "$retried" -gt 0 ]; then
	grep -q "stream to port 2626 refused by exit $X " "$CLOG" ||
		fail "no log line for the retry"
	ok "port 2626: $n request(s) all succeed; $retried refused by $X (END EXITPOLICY) and retried on $Y; afterwards $X is avoided for 2626"
else
	ok "port 2626: $n request(s) all succeed through $Y (none happened to land on $X first)"
fi

# -- a port every exit's policy refuses behind its summary: refused everywhere --
retried0=$(stat_of streams_retried)
read -r code ms < <(python3 "$T/socks.py" "$SOCKS" 2727)
[ "$code" = 0502 ] || fail "port 2727: SOCKS reply $code"
[ "$(($(stat_of streams_retried) - retried0))" = 1 ] || fail "port 2727: expected one retry, got $(($(stat_of streams_retried) - retried0))"
grep -q "stream to port 2727 refused by 2 exit(s) (exitpolicy), no other exit left to try" "$CLOG" ||
	fail "no log line for the refusal everywhere"
read -r code2 ms2 < <(python3 "$T/socks.py" "$SOCKS" 2727)
[ "$code2" = 0502 ] && [ "$ms2" -lt 1000 ] || fail "port 2727 again: $code2 after $ms2 ms"
grep -q "no exit in the consensus allows port 2727" "$CLOG" || fail "the second 2727 request was not refused locally"
ok "port 2727 (refused by every exit's policy, allowed by their summaries): refused by $X and $Y in turn, SOCKS 02 in $ms ms; the next request refused at once ($ms2 ms) from the refusal cache"

"$UMBRA" testnet down --dir "$NET" >"$T/down.out" || fail "testnet down: $(cat "$T/down.out")"
if grep -l "Sanitizer\|runtime error:" "$NET"/*/umbra.log >"$T/san.out" 2>/dev/null; then
	fail "sanitizer reports in $(tr '\n' ' ' <"$T/san.out")"
fi
ok "testnet down; no sanitizer report"
