#!/bin/bash
# SPDX-License-Identifier: MIT
# Trust tiers end to end (issue #5) on a testnet with its issuer: the client fetches tier-1
# tokens and spends one per new circuit at the exit; a tier-1 client is refused on port 25
# (SOCKS 02) while port 80 works; registered with the issuer as a tier-2 subject it fetches
# tier-2 tokens and reaches port 25; a token spent twice is refused the second time; after
# the issuer rotates its key epoch and raises min_token_epoch, the old tokens are refused
# within one refresh; and nothing in the issuer's database or log matches a redeemed token.
source "$(dirname "$0")/lib.sh"

NET="$T/net"
on_exit() {
	local rc=$?
	set +e # under set -e, a failing step here (or `(exit $rc)`) would skip cleanup
	"$UMBRA" testnet down --dir "$NET" >/dev/null 2>&1 || true
	if [ $rc -ne 0 ]; then
		for l in "$NET"/client/umbra.log "$NET"/issuer1/umbra.log "$NET"/relay*/umbra.log; do
			[ -f "$l" ] && { echo "== $l"; grep -i "token\|tier\|issuer" "$l" | tail -8; }
		done
	fi
	(exit $rc)
	cleanup
}
trap on_exit EXIT

"$UMBRA" testnet up --dir "$NET" --relays 5 --authorities 3 --timeout 120 >"$T/up.out" 2>"$T/up.err" ||
	fail "testnet up: $(cat "$T/up.out" "$T/up.err")"
SOCKS=$(awk '/socks:/ {print $2}' "$T/up.out")
CTL="$NET/client/control.sock"
ICTL="$NET/issuer1/control.sock"
cli() { "$UMBRA" "$@" -s "$CTL"; }

# Local services on 127.0.0.25: an SMTP-like banner on 25 and a web page on 80.
python3 - "$T" >"$T/svc.out" 2>&1 <<'PY' &
import socket, sys, threading, os
def serve(port, reply):
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("127.0.0.25", port))
    s.listen(16)
    open(os.path.join(sys.argv[1], "svc.%d" % port), "w").close()
    while True:
        c, _ = s.accept()
        try:
            if port == 80:
                c.recv(4096)
            c.sendall(reply)
        finally:
            c.close()
threading.Thread(target=serve, args=(25, b"220 umbra-test smtp\r\n"), daemon=True).start()
serve(80, b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello")
PY
PIDS+=($!)
wait_for 10 "local services" test -f "$T/svc.25" -a -f "$T/svc.80"

# socks5 USER PORT: SOCKS5 with username/password (an isolation key: a fresh circuit, which
# spends a fresh token) to 127.0.0.25:PORT; prints the reply code and, on success, what the
# service said first.
socks5() {
	python3 - "$SOCKS" "$1" "$2" <<'PY'
import socket, struct, sys
host, port = sys.argv[1].rsplit(":", 1)
user, dport = sys.argv[2].encode(), int(sys.argv[3])
s = socket.create_connection((host, int(port)), timeout=60)
s.sendall(b"\x05\x01\x02")
assert s.recv(2) == b"\x05\x02"
s.sendall(b"\x01" + bytes([len(user)]) + user + b"\x01x")
assert s.recv(2) == b"\x01\x00"
s.sendall(b"\x05\x01\x00\x01" + bytes([127, 0, 0, 25]) + struct.pack(">H", dport))
r = s.recv(10)
out = "%02x" % r[1]
if r[1] == 0:
    if dport == 80:
        s.sendall(b"GET / HTTP/1.0\r\n\r\n")
    data = b""
    while True:
        d = s.recv(4096)
        if not d:
            break
        data += d
    out += " " + data.decode(errors="replace").split("\r\n")[0 if dport == 25 else -1]
print(out)
PY
}
# The exit's verdict on the newest circuit that spent a token ("accepted 1", "refused 0"),
# once it has arrived.
last_token() {
	local v i
	for i in $(seq 50); do
		v=$(cli circuits --json | python3 -c 'import json,sys
c = [x for x in json.load(sys.stdin)["circuits"] if x["token"] != "none"]
print(c[-1]["token"], c[-1]["tier"]) if c else print("none 0")')
		[ "${v%% *}" = sent ] || break
		sleep 0.1
	done
	echo "$v"
}
wallet_tokens() {
	python3 - "$NET/client/wallet.db" <<'PY'
import sqlite3, sys
db = sqlite3.connect(sys.argv[1], timeout=10)
for (t,) in db.execute("SELECT hex(token) FROM wallet_tokens ORDER BY id"):
    print(t)
PY
}
wallet_sql() {
	python3 - "$NET/client/wallet.db" "$@" <<'PY'
import sqlite3, sys
db = sqlite3.connect(sys.argv[1], timeout=10)
db.execute(sys.argv[2], [bytes.fromhex(a) for a in sys.argv[3:]])
db.commit()
PY
}
# Bind the circuits built before now to other isolation keys (port 80), so the next request
# gets a circuit built with the tokens held now.
drain() {
	local i r
	for i in 1 2 3; do
		r=$(socks5 "drain$1$i" 80)
		[ "$r" = "00 hello" ] || fail "drain request: $r"
	done
}

# -- tier 1: anonymous tokens; port 80 yes, port 25 no --
cli tokens fetch --tier 1 --count 20 >/dev/null || fail "tier-1 fetch"
wallet_tokens >"$T/spent.hex"
drain a
r=$(socks5 t1web 80)
[ "$r" = "00 hello" ] || fail "tier 1, port 80: $r"
[ "$(last_token)" = "accepted 1" ] || fail "tier-1 token: $(last_token)"
r=$(socks5 t1smtp 25)
[ "${r%% *}" = 02 ] || fail "tier 1, port 25: SOCKS reply $r (want 02)"
ok "tier 1: port 80 served, port 25 refused with SOCKS 02; the exit accepted the tier-1 token"

# -- tier 2: a subject registered with the issuer --
KEY=$(cli tokens | awk '/^subject/ {print $4}' | tr -d ,)
"$UMBRA" issuer subject set client --tier 2 -s "$ICTL" >/dev/null || fail "subject set"
"$UMBRA" issuer subject key client "$KEY" -s "$ICTL" >/dev/null || fail "subject key"
cli tokens fetch --tier 2 --count 8 >/dev/null || fail "tier-2 fetch"
wallet_tokens >>"$T/spent.hex"
drain b
r=$(socks5 t2smtp 25)
[ "$r" = "00 220 umbra-test smtp" ] || fail "tier 2, port 25: $r"
[ "$(last_token)" = "accepted 2" ] || fail "tier-2 token: $(last_token)"
ok "tier 2: the registered subject's tokens reach port 25"

# -- a token spent twice: the wallet gets a spent token back and spends it again --
before=$(wallet_tokens)
cli circuits build --count 1 >/dev/null || fail "circuit build"
[ "$(last_token)" = "accepted 2" ] || fail "spending: $(last_token)"
SPENT=$(comm -23 <(echo "$before" | sort) <(wallet_tokens | sort) | head -1)
[ -n "$SPENT" ] || fail "no token left the wallet for the new circuit"
ISS=$(python3 - "$NET/client/wallet.db" <<'PY'
import sqlite3, sys
print(sqlite3.connect(sys.argv[1]).execute("SELECT hex(issuer) FROM wallet_tokens LIMIT 1").fetchone()[0])
PY
)
# The spent set is each exit's own (17.5): the same token is refused where it was spent
# and may be taken once by another exit. Spend it again until a circuit ends at the first exit.
newest_exit() {
	cli circuits --json | python3 -c 'import json,sys
c = [x for x in json.load(sys.stdin)["circuits"] if x["token"] != "none"]
print(c[-1]["hops"][-1]["id"])'
}
EXIT1=$(newest_exit)
seen_refused=0
for i in $(seq 12); do
	wallet_sql "DELETE FROM wallet_tokens"
	wallet_sql "INSERT INTO wallet_tokens (issuer, tier, epoch, token, added) VALUES (?, 2, 1, ?, 0)" "$ISS" "$SPENT"
	cli circuits build --count 1 >/dev/null || fail "circuit build"
	v=$(last_token)
	if [ "$(newest_exit)" = "$EXIT1" ]; then
		[ "$v" = "refused 0" ] || fail "the token spent twice at one exit: $v"
		seen_refused=1
		break
	fi
done
[ "$seen_refused" = 1 ] || fail "no circuit through the first exit in 12 builds"
ok "a token spent twice at an exit is refused the second time (double spend)"

# -- epoch rotation, min_token_epoch: old tokens refused within one refresh (2 s) --
cli tokens fetch --tier 1 --count 3 >/dev/null || fail "epoch-1 fetch"
wallet_tokens >>"$T/spent.hex"
"$UMBRA" issuer keys rotate -s "$ICTL" >/dev/null || fail "rotate"
# Right after a rotation issuance goes on: the client names the newest epoch the consensus
# lists (the previous one until the authorities have voted the new key).
cli tokens fetch --tier 1 --count 1 --timeout 15 >/dev/null || fail "a fetch right after the rotation"
"$UMBRA" issuer keys min-epoch 2 -s "$ICTL" >/dev/null || fail "min-epoch"
sleep 3
cli circuits build --count 1 >/dev/null || fail "circuit build"
[ "$(last_token)" = "refused 0" ] || fail "an epoch-1 token after min_token_epoch 2: $(last_token)"
wallet_sql "DELETE FROM wallet_tokens"
cli tokens fetch --tier 1 --count 3 >/dev/null || fail "epoch-2 fetch"
wallet_tokens >>"$T/spent.hex"
cli circuits build --count 1 >/dev/null || fail "circuit build"
[ "$(last_token)" = "accepted 1" ] || fail "an epoch-2 token: $(last_token)"
ok "after rotation and min_token_epoch 2: epoch-1 tokens refused within one refresh, epoch-2 accepted"

# -- unlinkability: nothing the issuer keeps matches a redeemed token --
"$UMBRA" testnet down --dir "$NET" >/dev/null 2>&1 || true
python3 - "$T/spent.hex" "$NET/issuer1" <<'PY' || fail "the issuer holds something that matches a redeemed token"
import glob, hashlib, os, sys
toks = {bytes.fromhex(l.strip()) for l in open(sys.argv[1]) if l.strip()}
assert len(toks) >= 20, len(toks)
needles = []
for t in toks:
    nonce, sig = t[38:70], t[72:]
    for x in (t, nonce, sig, hashlib.sha256(t).digest(), hashlib.blake2b(t, digest_size=32).digest()):
        needles += [x, x.hex().encode(), x.hex().upper().encode()]
files = [f for f in glob.glob(os.path.join(sys.argv[2], "*")) if os.path.isfile(f)]
assert any(f.endswith("issuer.db") for f in files), files
for f in files:
    data = open(f, "rb").read()
    for n in needles:
        assert n not in data, (f, n[:16])
print(len(toks), "tokens,", len(files), "files")
PY
ok "unlinkability: no redeemed token, nonce, signature or hash in the issuer's database, WAL or log"
