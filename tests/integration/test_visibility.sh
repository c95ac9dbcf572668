#!/bin/bash
# SPDX-License-Identifier: MIT
# What each relay sees (issue #4): a testnet of 3 relays (so the path is entry -> middle ->
# exit, one relay each), its relays' links leaving from their own addresses (127.<i+1>.0.1)
# and the client's from 127.0.0.2. tcpdump captures the entry's and the exit's link ports
# while the client fetches a page and 1 MiB through SOCKS5; tests/tools/linkcap.py
# reassembles every TCP connection on those ports and parses it as an umbra link. Shown:
#   - every byte after each link handshake is whole 530-byte records, in both directions;
#   - the destination ("127.0.0.1:<port>"), the request path and the response body never
#     cross either port in the clear;
#   - the entry's links come from the client (it knows who) but it opened no exit stream
#     (its own counters): it never received the destination;
#   - no connection to the exit comes from the client's address: the circuit reached it
#     from the middle relay's address, and the exit opened the stream (its counters).
source "$(dirname "$0")/lib.sh"

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
command -v tcpdump >/dev/null || fail "tcpdump is not installed (scripts/deps.sh installs it)"
if [ "$(id -u)" -ne 0 ]; then
	echo "skip: capturing on lo needs root"
	exit 0
fi

NET="$T/net"
TCPDUMP=
ORIGIN=
on_exit() {
	local rc=$?
	set +e # cleanup must run whatever fails in here
	[ -n "$TCPDUMP" ] && kill "$TCPDUMP" 2>/dev/null && wait "$TCPDUMP" 2>/dev/null
	[ -n "$ORIGIN" ] && kill "$ORIGIN" 2>/dev/null && wait "$ORIGIN" 2>/dev/null
	"$UMBRA" testnet down --dir "$NET" >/dev/null 2>&1
	(exit $rc)
	cleanup
}
trap on_exit EXIT

# Capture from before the first link (the connections' starts are needed to parse them);
# linkcap.py keeps only the entry's and the exit's ports.
tcpdump -i lo -U -n -B 65536 -w "$T/cap.pcap" "tcp and net 127.0.0.0/8" 2>"$T/tcpdump.err" &
TCPDUMP=$!
wait_for 10 "tcpdump" grep -q "listening on" "$T/tcpdump.err"

"$UMBRA" testnet up --dir "$NET" --relays 3 --authorities 1 --timeout 120 >"$T/up.out" 2>"$T/up.err" ||
	fail "testnet up: $(cat "$T/up.out" "$T/up.err")"
SOCKS=$(sed -n 's/^  socks: *\([0-9.:]*\) .*/\1/p' "$T/up.out")
CTL="$NET/client/control.sock"
"$UMBRA" relays -s "$CTL" --json >"$T/relays.json"
"$UMBRA" circuits -s "$CTL" --json >"$T/circ.json"
# entry / middle / exit of the client's circuit: nickname, address, port
read -r ENTRY ENTRY_ADDR ENTRY_PORT MIDDLE MIDDLE_ADDR EXIT EXIT_ADDR EXIT_PORT < <(
	python3 - "$T/relays.json" "$T/circ.json" <<'PY'
import json, sys
relays = {r["id"]: r for r in json.load(open(sys.argv[1]))}
c = [c for c in json.load(open(sys.argv[2]))["circuits"] if c["state"] == "built"][0]
out = []
for i, h in enumerate(c["hops"]):
    host, port = relays[h["id"]]["addrs"][0].rsplit(":", 1)
    out += [h["nickname"], host] + ([port] if i != 1 else [])
print(" ".join(out))
PY
)
[ -n "$EXIT_PORT" ] || fail "no built 3-hop circuit: $(cat "$T/circ.json")"
ok "path $ENTRY ($ENTRY_ADDR) -> $MIDDLE ($MIDDLE_ADDR) -> $EXIT ($EXIT_ADDR); client SOCKS $SOCKS"

python3 "$ROOT/bench/origin.py" --precompute 1048576 --exit-with-parent >"$T/origin.out" &
ORIGIN=$!
wait_for 10 "the origin" grep -q listening "$T/origin.out" || fail "origin did not start"
URL=$(awk '/listening/ {print $4}' "$T/origin.out")
OPORT=${URL##*:}


MARK="visibility-$RANDOM$RANDOM"
curl -sS --max-time 30 --socks5-hostname "$SOCKS" -o /dev/null "$URL/$MARK" || true # a 404 is fine
want=$(curl -sS --max-time 30 --socks5-hostname "$SOCKS" -I "$URL/bytes/1048576" | tr -d '\r' |
	awk -F': ' 'tolower($1) == "x-body-sha256" {print $2}')
got=$(curl -sS --fail --max-time 60 --socks5-hostname "$SOCKS" "$URL/bytes/1048576" | sha256sum | cut -d' ' -f1)
[ -n "$want" ] && [ "$got" = "$want" ] || fail "1 MiB through the circuit: sha $got, want $want"
sleep 1 # let the last records reach the capture
kill -INT "$TCPDUMP"
wait "$TCPDUMP" 2>/dev/null || true
TCPDUMP=
dropped=$(sed -n 's/^\([0-9]*\) packets* dropped by kernel.*/\1/p' "$T/tcpdump.err")
[ "${dropped:-0}" -eq 0 ] || fail "tcpdump dropped $dropped packets: the capture has holes"
ok "captured the entry's and the exit's ports during a page fetch and 1 MiB"

"$UMBRA" circuits -s "$NET/$ENTRY/control.sock" --json >"$T/entry.json"
"$UMBRA" circuits -s "$NET/$EXIT/control.sock" --json >"$T/exit.json"
body_head=$(curl -sS --max-time 10 "$URL/bytes/64" | od -An -tx1 | tr -d ' \n')
python3 "$ROOT/tests/tools/linkcap.py" "$T/cap.pcap" --port "$ENTRY_PORT" --port "$EXIT_PORT" \
	--forbid "$(printf '127.0.0.1:%s' "$OPORT" | od -An -tx1 | tr -d ' \n')" \
	--forbid "$(printf '%s' "$MARK" | od -An -tx1 | tr -d ' \n')" \
	--forbid "$body_head" >"$T/cap.json" || fail "linkcap.py"
python3 - "$T/cap.json" "$T/entry.json" "$T/exit.json" "$ENTRY_ADDR:$ENTRY_PORT" \
	"$EXIT_ADDR:$EXIT_PORT" "$MIDDLE_ADDR" <<'PY' || fail "what the relays saw: $(cat "$T/cap.json")"
import json, sys
cap = json.load(open(sys.argv[1]))
entry_ctl, exit_ctl = json.load(open(sys.argv[2])), json.load(open(sys.argv[3]))
entry, exit_, middle_ip = sys.argv[4], sys.argv[5], sys.argv[6]
client_ip = "127.0.0.2"
conns = cap["connections"]
assert conns, "nothing captured"
for c in conns:
    assert c["handshake_ok"], ("not an umbra link handshake", c)
    assert c["bad_tail"] == [0, 0], ("bytes outside whole 530-byte records", c)
assert not cap["forbidden_hits"], ("destination or payload in the clear", cap["forbidden_hits"])
to_entry = [c for c in conns if c["responder"] == entry]
to_exit = [c for c in conns if c["responder"] == exit_]
# The entry knows who: the client's NK link, which carried the download (~2,000 records).
cl = [c for c in to_entry if c["initiator"].rsplit(":", 1)[0] == client_ip]
assert cl and max(c["records"][1] for c in cl) > 2000, ("no client link at the entry", to_entry)
assert all(c["pattern"] == "NK" for c in cl), cl
# ... but opened no stream: the destination never reached it.
assert entry_ctl["relay"]["exit"] == 0 and entry_ctl["relay"]["entry"] >= 1, entry_ctl["relay"]
assert entry_ctl["relay"].get("exit_streams", 0) == 0, entry_ctl["relay"]
# The exit never sees the client's address: its circuit came from the middle.
assert to_exit, "no link to the exit captured"
assert not [c for c in to_exit if c["initiator"].rsplit(":", 1)[0] == client_ip], to_exit
carried = [c for c in to_exit if c["records"][1] > 2000]
assert carried and all(c["initiator"].rsplit(":", 1)[0] == middle_ip and c["pattern"] == "XK"
                       for c in carried), ("the download did not come from the middle", to_exit)
assert exit_ctl["relay"]["exit"] >= 1, exit_ctl["relay"]
n = sum(sum(c["records"]) for c in conns)
print("%d connections, %d records of 530 bytes, no stray byte" % (len(conns), n))
PY
ok "every record 530 bytes; no destination or payload in the clear; the entry saw the client but no stream; the exit saw only the middle"
