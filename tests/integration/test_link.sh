#!/bin/bash
# SPDX-License-Identifier: MIT
# Links between real daemons on loopback, driven through the CLI:
#  1. an XK link carries 1 GiB of records each way at once; sender and receiver SHA-256 agree;
#  2. a proxy that flips one byte in transit makes that link close (authentication failure)
#     while both daemons keep running, and the next link through the same path works;
#  3. a node dialling with the wrong link key for its peer is refused, and so is an unknown
#     node at a node that accepts only configured peers ([link] accept = known);
#  4. SIGTERM closes links cleanly and every daemon exits with status 0.
source "$(dirname "$0")/lib.sh"

BYTES=${UMBRA_TEST_BYTES:-1G}
PA=$(free_port); PB=$(free_port); PP=$(free_port); PC=$(free_port); PD=$(free_port)
PF=$(free_port); PG=$(free_port)

node a "$PA"
start a
node b "$PB" "peer = $(peer_of a)"
start b
wait_for 20 "b links to a" has_open_link b
wait_for 20 "a sees b" has_open_link a
A=$(id_of a); B=$(id_of b)
ok "XK link between two daemons"

# 1. Bulk both ways at once.
"$UMBRA" link test "$A" --bytes "$BYTES" --json -c "$T/b.conf" >"$T/b2a.json" &
tb=$!
"$UMBRA" link test "$B" --bytes "$BYTES" --json -c "$T/a.conf" >"$T/a2b.json" || fail "a->b test"
wait $tb || fail "b->a test"
for dir in b2a a2b; do
	python3 - "$T/$dir.json" <<'PY' || fail "$dir result"
import json, sys
t = json.load(open(sys.argv[1]))
assert t["done"] and t["peer_verified"], t
assert t["bytes"] >= 1 << 20, t
PY
done
# The receivers' own digests equal the senders'.
rx_a=$(jget a '[l["test_rx"]["sha256"] for l in s["link_list"] if l["test_rx"]][0]')
rx_b=$(jget b '[l["test_rx"]["sha256"] for l in s["link_list"] if l["test_rx"]][0]')
tx_b=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["sha256"])' "$T/b2a.json")
tx_a=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["sha256"])' "$T/a2b.json")
[ "$rx_a" = "$tx_b" ] || fail "b->a digests differ: sent $tx_b received $rx_a"
[ "$rx_b" = "$tx_a" ] || fail "a->b digests differ: sent $tx_a received $rx_b"
[ "$(jget a 's["links"]["auth_failures"]')" = 0 ] || fail "auth failures on a clean link"
ok "$BYTES each way, SHA-256 equal at both ends ($tx_b / $tx_a)"

# 2. One flipped byte in transit.
python3 "$(dirname "$0")/tamper_proxy.py" "$PP" "$PA" 300000 >"$T/proxy.log" 2>&1 &
PIDS+=($!)
wait_for 10 "proxy" grep -q ready "$T/proxy.log"
node c "$PC" "peer = $A/$(link_key_of a)@127.0.0.1:$PP"
start c
wait_for 20 "c links to a through the proxy" has_open_link c
if "$UMBRA" link test "$A" --bytes 16M -c "$T/c.conf" >"$T/c-test.out" 2>&1; then
	fail "a test through a corrupting proxy reported success"
fi
grep -q "flipped byte" "$T/proxy.log" || fail "the proxy did not flip a byte"
wait_for 10 "a counts the authentication failure" \
	test "$(jget a 's["links"]["auth_failures"]')" -ge 1
alive a || fail "a died"
alive c || fail "c died"
grep -q "failed authentication" "$T/a.log" || fail "a did not log the failure"
ok "corrupted record closes the link; both daemons keep running"
# c reconnects through the (now clean) proxy, and the new link carries verified data.
wait_for 30 "c reconnects" has_open_link c
"$UMBRA" link test "$A" --bytes 16M -c "$T/c.conf" >/dev/null || fail "test after reconnect"
has_open_link b || fail "the a-b link suffered"
ok "a new link through the same path works"

# 3a. Wrong link key for a: refused at the first handshake message.
failed_before=$(jget a 's["links"]["handshakes_failed"]')
node d "$PD" "peer = $A/$(link_key_of b)@127.0.0.1:$PA"
start d
wait_for 10 "a refuses d" test "$(jget a 's["links"]["handshakes_failed"]')" -gt "$failed_before"
sleep 0.5
[ "$(open_links d)" = 0 ] || fail "d has an open link with a wrong key"
alive a || fail "a died"
ok "a peer dialled with the wrong link key is refused"

# 3b. accept = known: f takes links only from configured peers.
node f "$PF" "accept = known" "peer = $(peer_of b)"
start f
wait_for 20 "f links to b" has_open_link f
node g "$PG" "peer = $(peer_of f)"
start g
wait_for 10 "f refuses g" test "$(jget f 's["links"]["handshakes_failed"]')" -ge 1
grep -q "unknown peer" "$T/f.log" || fail "f did not log the refusal"
[ "$(open_links g)" = 0 ] || fail "g got a link to f"
has_open_link f || fail "f lost its link to b"
ok "accept = known refuses an unconfigured node"

# 4. Clean shutdown everywhere.
for n in g f d c b a; do stop "$n"; done
grep -q "closed by peer\|peer closed the link" "$T/b.log" || true
ok "every daemon exits 0 on SIGTERM"
