#!/bin/bash
# SPDX-License-Identifier: MIT
# Client puzzles (issue #5) with real processes. Links (PROTOCOL.md 2.2): on a testnet whose
# relays are told to ask at least 10 bits ([relay] puzzle_bits_min, applied by `umbra
# reload`), a connection that sends msg1 without a solution gets the 19-byte challenge and
# nothing else (no Diffie-Hellman: the relay's handshake counters do not move), a made-up
# solution is challenged too, and a fresh client still builds circuits through those relays:
# it solves each relay's puzzle and redials (its "puzzles solved" and the relays' "passed"
# counters move). The consensus carries the authorities' puzzle_max / puzzle_min. Issuance
# (PROTOCOL.md 17.4): an issuer with issue_burst = 4 answers a source that used over half its
# bucket with a 429 puzzle challenge, and `umbra tokens fetch` solves it and still succeeds.
source "$(dirname "$0")/lib.sh"

NET="$T/net"
on_exit() {
	local rc=$?
	set +e
	"$UMBRA" testnet down --dir "$NET" >/dev/null 2>&1 || true
	if [ $rc -ne 0 ]; then
		for l in "$NET"/relay1/umbra.log "$T"/c2.log "$T"/i.log "$T"/c.log; do
			[ -f "$l" ] && { echo "== $l"; grep -i "puzzle\|fail\|refus" "$l" | tail -10; }
		done
	fi
	(exit $rc)
	cleanup
}
trap on_exit EXIT

"$UMBRA" testnet up --dir "$NET" --relays 3 --authorities 1 --timeout 120 >"$T/up.out" 2>"$T/up.err" ||
	fail "testnet up: $(cat "$T/up.out" "$T/up.err")"

# The consensus carries the puzzle parameters the authority voted (defaults 20 and 0).
"$UMBRA" dir status -s "$NET/client/control.sock" --json >"$T/dir.json" ||
	fail "dir status: $(cat "$T/dir.json")"
python3 - "$T/dir.json" <<'PY' || fail "consensus params: $(head -c 600 "$T/dir.json")"
import json, sys
p = json.load(open(sys.argv[1]))["params"]
assert p.get("puzzle_max") == 20 and p.get("puzzle_min") == 0, p
PY
ok "the consensus carries puzzle_max = 20 and puzzle_min = 0"

# Every relay asks at least 10 bits from now on.
PORTS=()
for r in relay1 relay2 relay3; do
	printf '[relay]\npuzzle_bits_min = 10\n' >>"$NET/$r.conf"
	"$UMBRA" reload -s "$NET/$r/control.sock" >/dev/null || fail "reload $r"
	PORTS+=("$("$UMBRA" status -s "$NET/$r/control.sock" --json |
		python3 -c 'import json,sys; print(json.load(sys.stdin)["listen"][0])')")
done
ok "relays reloaded with puzzle_bits_min = 10"

# A bare NK msg1 (no solution) gets the challenge: 0xff 'P' bits=10 seed[16], then EOF.
# A made-up solution (flag 0x81, random seed and nonce) is challenged as well.
"$UMBRA" status -s "$NET/relay1/control.sock" --json >"$T/before.json"
python3 - "${PORTS[0]}" <<'PY' || fail "challenge"
import os, socket, sys
host, port = sys.argv[1].rsplit(":", 1)
def send(first):
    s = socket.create_connection((host, int(port)), timeout=5)
    s.sendall(first + b"\x00\x30" + os.urandom(48))
    data = b""
    while True:
        d = s.recv(100)
        if not d:
            break
        data += d
    s.close()
    return data
for first in (b"\x01\x01", b"\x01\x81" + os.urandom(24)):
    c = send(first)
    assert len(c) == 19 and c[0] == 0xFF and c[1] == ord("P") and c[2] == 10, c.hex()
PY
"$UMBRA" status -s "$NET/relay1/control.sock" --json >"$T/after.json"
python3 - "$T/before.json" "$T/after.json" <<'PY' || fail "relay1 counters: $(cat "$T/after.json")"
import json, sys
b, a = (json.load(open(f)) for f in sys.argv[1:3])
assert a["abuse"]["puzzles_asked"] >= b["abuse"]["puzzles_asked"] + 1, a["abuse"]
assert a["abuse"]["puzzles_failed"] >= b["abuse"]["puzzles_failed"] + 1, a["abuse"]
assert a["puzzles"]["asked"] == a["abuse"]["puzzles_asked"], a["puzzles"]
# No handshake work: neither a success nor a failure was counted for them.
assert a["links"]["handshakes_ok"] == b["links"]["handshakes_ok"], (b["links"], a["links"])
assert a["links"]["handshakes_failed"] == b["links"]["handshakes_failed"], (b["links"], a["links"])
PY
"$UMBRA" status -s "$NET/relay1/control.sock" | grep -q "^puzzles asked: " ||
	fail "umbra status shows no puzzle line"
ok "a handshake without a (valid) solution gets the 19-byte challenge and no DH"

# A second client, new to every relay (links from 127.0.0.5): it must solve to get in.
PS=$(free_port)
PH=$(free_port)
sed -e "s#$NET/client#$T/c2#g" -e "s/^nickname = client/nickname = client2/" \
	-e "s/^outbound_address = 127.0.0.2/outbound_address = 127.0.0.5/" \
	-e "s/^socks_listen = .*/socks_listen = 127.0.0.1:$PS/" \
	-e "s/^http_connect_listen = .*/http_connect_listen = 127.0.0.1:$PH/" \
	-e "/^issuers = /d" -e "/^subject = /d" "$NET/client.conf" >"$T/c2.conf"
mkdir -p "$T/c2" && chmod 700 "$T/c2"
"$UMBRA" keygen -c "$T/c2.conf" >/dev/null 2>&1 || fail "keygen c2"
start c2
wait_for 60 "client2 builds circuits" sh -c "\"$UMBRA\" circuits build --count 10 --json -s \"$T/c2/control.sock\" >\"$T/build.json\" 2>/dev/null && python3 -c 'import json,sys; b=json.load(open(sys.argv[1])); sys.exit(0 if len(b[\"build_ms\"]) == 10 else 1)' \"$T/build.json\""
python3 - "$T/c2" "$NET" "$UMBRA" <<'PY' || fail "puzzle counters after client2's circuits"
import json, subprocess, sys
t, net, umbra = sys.argv[1:4]
st = lambda sock: json.loads(subprocess.check_output([umbra, "status", "-s", sock, "--json"]))
c = st(t + "/control.sock")["puzzles"]
assert c["solved"] >= 1 and c["refused"] == 0, c
passed = sum(st("%s/%s/control.sock" % (net, r))["abuse"]["puzzles_passed"]
             for r in ("relay1", "relay2", "relay3"))
assert passed >= c["solved"] >= 1, (passed, c)
PY
"$UMBRA" status -s "$T/c2/control.sock" | grep -q "^puzzles solved: " ||
	fail "umbra status shows no puzzles solved line for the client"
ok "a new client solves the relays' puzzles and builds 10/10 circuits ($(python3 -c 'import json,subprocess,sys; print(json.loads(subprocess.check_output([sys.argv[1],"status","-s",sys.argv[2],"--json"]))["puzzles"])' "$UMBRA" "$T/c2/control.sock"))"
stop c2

# Issuance under load: the testnet's issuer restarted with burst 4, 1 per second, 10-bit
# puzzles. Its keys stay, so the consensus still lists them (the client asks for tokens only
# under a key the consensus lists, PROTOCOL.md 5.8), and the testnet's client trusts it.
"$UMBRA" testnet status --dir "$NET" --json >"$T/tn.json" || fail "testnet status"
IPID=$(python3 -c 'import json,sys; print([n["pid"] for n in json.load(open(sys.argv[1]))["nodes"] if n["name"] == "issuer1"][0])' "$T/tn.json")
IURL=$(python3 -c 'import json,sys; print([n["url"] for n in json.load(open(sys.argv[1]))["nodes"] if n["name"] == "issuer1"][0])' "$T/tn.json")
IPORT=${IURL##*:}
kill -TERM "$IPID"
wait_for 10 "the testnet's issuer to stop" sh -c "! kill -0 $IPID 2>/dev/null"
sed -i -e 's/^issue_rate = .*/issue_rate = 1/' -e 's/^issue_burst = .*/issue_burst = 4/' \
	-e 's/^\[issuer\]$/[issuer]\npuzzle_bits = 10/' "$NET/issuer1.conf"
"$UMBRA" run -c "$NET/issuer1.conf" >>"$T/i.log" 2>&1 &
PIDS+=("$!")
PID_i=$!
mkdir -p "$T/i"
ln -sf "$NET/issuer1/control.sock" "$T/i/control.sock"
wait_for 10 "the restarted issuer's API" curl -sf "$IURL/v1/pubkeys" -o /dev/null
mkdir -p "$T/c"
ln -sf "$NET/client/control.sock" "$T/c/control.sock"
# 4 requests of 32 back to back: the fourth finds the bucket under half and must solve.
"$UMBRA" tokens fetch --tier 1 --count 128 -s "$T/c/control.sock" >"$T/fetch.out" 2>&1 ||
	fail "tokens fetch under load: $(cat "$T/fetch.out")"
"$UMBRA" tokens -s "$T/c/control.sock" --json >"$T/tokens.json"
python3 - "$T/tokens.json" "$T/i" "$UMBRA" <<'PY' || fail "issuance puzzles: $(cat "$T/tokens.json")"
import json, subprocess, sys
t = json.load(open(sys.argv[1]))
assert t["fetch"]["state"] == "done" and t["fetch"]["got"] == 128, t["fetch"]
assert t["puzzles_solved"] >= 1, t
p = json.loads(subprocess.check_output([sys.argv[3], "status", "-s", sys.argv[2] + "/control.sock",
                                        "--json"]))["puzzles"]
assert p["issuance_asked"] >= 1 and p["issuance_passed"] >= 1, p
PY
ok "tokens fetch under load: the issuer asked a puzzle, the client solved it, 128 tokens fetched"

# The challenge as a raw client sees it: a request without a solution from the same source.
python3 - "$IPORT" <<'PY' || fail "raw issuance challenge"
import base64, json, sys, urllib.request, urllib.error
body = json.dumps({"tier": 1, "blinded": [base64.b64encode(b"\x01" * 256).decode()]}).encode()
req = urllib.request.Request("http://127.0.0.1:%s/v1/tokens" % sys.argv[1], data=body,
                             headers={"Content-Type": "application/json"})
try:
    urllib.request.urlopen(req, timeout=5)
    raise SystemExit("accepted without a solution")
except urllib.error.HTTPError as e:
    j = json.loads(e.read())
    assert e.code == 429 and j["error"] == "puzzle" and j["bits"] == 10, (e.code, j)
    assert len(base64.b64decode(j["seed"])) == 16, j
PY
ok "a token request without a solution, under load, gets 429 {\"error\": \"puzzle\", ...}"
stop i
