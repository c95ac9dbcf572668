#!/bin/bash
# SPDX-License-Identifier: MIT
# Streams between real daemons (issue #4, streams part): a testnet (3 authorities, 5 relays, a
# client with SOCKS and HTTP CONNECT ports) and a local HTTP origin serving a random file.
#   - curl --socks5-hostname and curl -p --proxy http:// (CONNECT) download 100 MiB each,
#     SHA-256 equal to the origin's file;
#   - 200 concurrent small streams all complete;
#   - isolation: two SOCKS user names use two circuits, two streams of one user share one
#     (stream counts per circuit from `umbra circuits --json`);
#   - refusals: closed port -> SOCKS 05 / HTTP 502; a port no exit policy allows (25) ->
#     SOCKS 02 / HTTP 403; RESOLVE (F0) answers through the exit;
#   - a malformed greeting or an oversized host name gets its error reply and only that
#     connection closes, while a download on another connection completes intact;
#   - killing the middle relay of the circuit mid-download makes curl fail (reset, not a
#     truncated file reported as success) and the next request succeeds on a new circuit;
#   - ssh through `nc -X 5` to a local sshd (skipped, with the reason, when sshd is absent).
source "$(dirname "$0")/lib.sh"

NET="$T/net"
WWW="$T/www"
SSHD_DIR="$T/sshd"
CURLS=()
on_exit() {
	local rc=$?
	set +e # cleanup must run whatever fails in here
	for p in "${CURLS[@]:-}"; do
		[ -n "$p" ] && kill "$p" 2>/dev/null
	done
	[ -f "$SSHD_DIR/sshd.pid" ] && kill "$(cat "$SSHD_DIR/sshd.pid")" 2>/dev/null
	"$UMBRA" testnet down --dir "$NET" >/dev/null 2>&1
	if [ $rc -ne 0 ]; then
		for l in "$NET"/*/umbra.log; do
			[ -f "$l" ] && { echo "== $l"; grep -iv "descriptor\|consensus\|vote" "$l" | tail -12; }
		done
	fi
	(exit $rc)
	cleanup
}
trap on_exit EXIT

"$UMBRA" testnet up --dir "$NET" --relays 5 --timeout 120 >"$T/up.out" 2>"$T/up.err" ||
	fail "testnet up: $(cat "$T/up.out" "$T/up.err")"
SOCKS=$(sed -n 's/^  socks: *\([0-9.:]*\) .*/\1/p' "$T/up.out")
HTTPP=$(sed -n 's/^  http: *\([0-9.:]*\) .*/\1/p' "$T/up.out")
[ -n "$SOCKS" ] && [ -n "$HTTPP" ] || fail "up prints no proxy ports: $(cat "$T/up.out")"
"$UMBRA" testnet status --dir "$NET" --json >"$T/st.json"
python3 - "$T/st.json" "$SOCKS" "$HTTPP" <<'PY' || fail "status has no proxy ports"
import json, sys
s = json.load(open(sys.argv[1]))
c = [n for n in s["nodes"] if n["role"] == "client"][0]
assert c["socks"] == sys.argv[2] and c["http_connect"] == sys.argv[3], c
PY
ok "testnet up: client SOCKS on $SOCKS, HTTP CONNECT on $HTTPP (also in status)"

# The origin: a random 100 MiB file and a small one, served by python's threading server.
mkdir -p "$WWW"
head -c $((100 * 1024 * 1024)) /dev/urandom >"$WWW/big"
head -c $((8 * 1024 * 1024)) /dev/urandom >"$WWW/mid"
echo hello >"$WWW/small"
WPORT=$(free_port)
(cd "$WWW" && exec python3 -m http.server "$WPORT" --bind 127.0.0.1) >"$T/www.log" 2>&1 &
PIDS+=("$!")
wait_for 10 "the origin" curl -sf -o /dev/null "http://127.0.0.1:$WPORT/small"
ORIGIN="http://127.0.0.1:$WPORT"
BIG_SHA=$(sha256sum <"$WWW/big" | cut -d' ' -f1)
MID_SHA=$(sha256sum <"$WWW/mid" | cut -d' ' -f1)

# -- bulk downloads, both front ends --
t0=$(date +%s.%N)
curl -sS --max-time 90 --socks5-hostname "$SOCKS" "$ORIGIN/big" -o "$T/big.socks" ||
	fail "SOCKS download failed"
t1=$(date +%s.%N)
[ "$(sha256sum <"$T/big.socks" | cut -d' ' -f1)" = "$BIG_SHA" ] || fail "SOCKS download differs"
curl -sS -p --max-time 90 --proxy "http://$HTTPP" "$ORIGIN/big" -o "$T/big.http" ||
	fail "HTTP CONNECT download failed"
t2=$(date +%s.%N)
[ "$(sha256sum <"$T/big.http" | cut -d' ' -f1)" = "$BIG_SHA" ] || fail "CONNECT download differs"
rm -f "$T/big.socks" "$T/big.http"
ok "100 MiB through SOCKS5 ($(python3 -c "print(round(100/($t1-$t0),1))") MiB/s) and HTTP CONNECT ($(python3 -c "print(round(100/($t2-$t1),1))") MiB/s), SHA-256 equal"

# -- 200 concurrent small streams --
mkdir -p "$T/many"
for i in $(seq 1 200); do
	curl -sS --max-time 60 --socks5-hostname "$SOCKS" "$ORIGIN/small" -o "$T/many/$i" 2>>"$T/many.err" &
	CURLS+=("$!")
done
n_fail=0
for p in "${CURLS[@]}"; do wait "$p" || n_fail=$((n_fail + 1)); done
CURLS=()
n_ok=$(cat "$T"/many/* 2>/dev/null | grep -c '^hello$' || true)
[ "$n_fail" = 0 ] && [ "$n_ok" = 200 ] || fail "200 concurrent streams: $n_ok ok, $n_fail failed: $(head -3 "$T/many.err")"
ok "200 concurrent streams all complete"

# -- isolation: alice x2 and bob, slow downloads held open --
slow() { # USER OUT: a slow SOCKS download as USER in the background
	curl -sS --limit-rate 100K --max-time 60 --socks5-hostname "$SOCKS" --proxy-user "$1:pw" \
		"$ORIGIN/big" -o "$2" 2>/dev/null &
	CURLS+=("$!")
}
slow alice "$T/a1"
slow alice "$T/a2"
slow bob "$T/b1"
iso_ok() {
	"$UMBRA" circuits -s "$NET/client/control.sock" --json >"$T/iso.json" 2>/dev/null || return 1
	python3 - "$T/iso.json" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
used = sorted((c["streams"], c["isolation"]) for c in d["circuits"] if c["streams"] > 0)
sys.exit(0 if [s for s, _ in used] == [1, 2] and used[0][1] != used[1][1] and all(i for _, i in used) else 1)
PY
}
wait_for 30 "alice's 2 streams on one circuit, bob's on another" iso_ok
for p in "${CURLS[@]}"; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
CURLS=()
ok "isolation: two SOCKS users on two circuits, one user's two streams share one"

# -- refusals and malformed requests (python speaks raw SOCKS) --
cat >"$T/socks.py" <<'PY'
import socket, struct, sys
port = int(sys.argv[1].rsplit(":", 1)[1])
def conn():
    return socket.create_connection(("127.0.0.1", port), timeout=30)
def s5(host, dport, cmd=1):
    s = conn()
    s.sendall(b"\x05\x01\x00")
    assert s.recv(2) == b"\x05\x00"
    h = host.encode()
    s.sendall(bytes([5, cmd, 0, 3, len(h)]) + h + struct.pack(">H", dport))
    r = s.recv(22)
    s.close()
    return r
def closed_after(s):
    try:
        return s.recv(1) == b""
    except ConnectionResetError:
        return True
what = sys.argv[2]
if what == "closed":
    print(s5("127.0.0.1", int(sys.argv[3]))[:2].hex())
elif what == "policy":
    print(s5("127.0.0.1", 25)[:2].hex())
elif what == "resolve":
    r = s5("localhost", 0, 0xF0)
    print(r[:2].hex(), socket.inet_ntoa(r[4:8]) if r[3] == 1 else r[4:].hex())
elif what == "badgreeting":
    s = conn(); s.sendall(b"\x05\x00")
    r = s.recv(2); print(r.hex(), closed_after(s))
elif what == "longname":
    s = conn()
    s.sendall(b"\x04\x01\x00\x50\x00\x00\x00\x01" + b"u\x00" + b"a" * 300 + b"\x00")
    r = s.recv(8); print(r[:2].hex(), closed_after(s))
PY
probe() { python3 "$T/socks.py" "$SOCKS" "$@"; }
CLOSED=$(free_port)
[ "$(probe closed "$CLOSED")" = "0505" ] || fail "closed port: SOCKS reply $(probe closed "$CLOSED")"
code=$(curl -s -o /dev/null -w '%{http_connect}' -p --max-time 30 --proxy "http://$HTTPP" "http://127.0.0.1:$CLOSED/" || true)
[ "$code" = 502 ] || fail "closed port: HTTP CONNECT status $code"
[ "$(probe policy)" = "0502" ] || fail "exit policy: SOCKS reply $(probe policy)"
code=$(curl -s -o /dev/null -w '%{http_connect}' -p --max-time 30 --proxy "http://$HTTPP" "http://127.0.0.1:25/" || true)
[ "$code" = 403 ] || fail "exit policy: HTTP CONNECT status $code"
r=$(probe resolve)
# The exit resolves with getaddrinfo: "localhost" comes from /etc/hosts, which a bare machine
# may lack (nothing may ask a DNS server here); then the answer is RESOLVEFAILED -> 04.
if awk '$1 == "127.0.0.1" { for (i = 2; i <= NF; i++) if ($i == "localhost") f = 1 } END { exit !f }' /etc/hosts; then
	[ "$r" = "0500 127.0.0.1" ] || fail "RESOLVE localhost: $r"
	resolved="RESOLVE localhost -> 127.0.0.1"
else
	[ "$r" = "0504 0.0.0.0" ] || fail "RESOLVE localhost without /etc/hosts entry: $r"
	resolved="RESOLVE localhost -> 04 (this /etc/hosts does not map localhost)"
fi
ok "closed port -> SOCKS 05 / HTTP 502; policy-refused port 25 -> SOCKS 02 / HTTP 403; $resolved"

curl -sS --limit-rate 2M --max-time 60 --socks5-hostname "$SOCKS" "$ORIGIN/mid" -o "$T/mid.out" 2>"$T/mid.err" &
MIDPID=$!
CURLS+=("$MIDPID")
sleep 0.5
[ "$(probe badgreeting)" = "05ff True" ] || fail "malformed greeting: $(probe badgreeting)"
[ "$(probe longname)" = "005b True" ] || fail "300-byte SOCKS4a host: $(probe longname)"
long=$(python3 -c 'print("a" * 300)')
code=$(curl -s -o /dev/null -w '%{http_connect}' -p --max-time 30 --proxy "http://$HTTPP" "http://$long.example:80/" || true)
[ "$code" = 400 ] || fail "300-byte CONNECT host: status $code"
wait "$MIDPID" || fail "the download beside the malformed requests failed: $(cat "$T/mid.err")"
CURLS=()
[ "$(sha256sum <"$T/mid.out" | cut -d' ' -f1)" = "$MID_SHA" ] || fail "the download beside the malformed requests differs"
ok "malformed greeting -> 05 FF and close, 300-byte host -> 00 5B / HTTP 400; a parallel download completes intact"

# -- kill the middle relay mid-download --
curl -sS --limit-rate 3M --max-time 60 --socks5-hostname "$SOCKS" "$ORIGIN/big" -o "$T/cut.out" 2>"$T/cut.err" &
CUTPID=$!
CURLS+=("$CUTPID")
mid_of_stream() {
	"$UMBRA" circuits -s "$NET/client/control.sock" --json >"$T/cut.json" 2>/dev/null || return 1
	python3 - "$T/cut.json" >"$T/cut.mid" <<'PY'
import json, sys
c = [c for c in json.load(open(sys.argv[1]))["circuits"] if c["streams"] > 0]
assert len(c) == 1 and len(c[0]["hops"]) == 3
print(c[0]["hops"][1]["nickname"])
PY
}
wait_for 20 "the download's circuit" mid_of_stream
MID=$(cat "$T/cut.mid")
MIDPID_RELAY=$(python3 -c 'import json,sys; print([n["pid"] for n in json.load(open(sys.argv[1]))["nodes"] if n["name"] == sys.argv[2]][0])' "$NET/testnet.json" "$MID")
sleep 1
kill -9 "$MIDPID_RELAY"
rc=0
wait "$CUTPID" || rc=$?
CURLS=()
[ "$rc" != 0 ] || fail "curl reported success for a download cut by a dead relay ($(stat -c %s "$T/cut.out") bytes)"
size=$(stat -c %s "$T/cut.out" 2>/dev/null || echo 0)
[ "$size" -lt $((100 * 1024 * 1024)) ] || fail "the cut download is complete?"
out=$(curl -sS --max-time 60 --socks5-hostname "$SOCKS" "$ORIGIN/small") || fail "request after the kill failed"
[ "$out" = hello ] || fail "request after the kill: $out"
ok "middle relay $MID killed mid-download: curl exits $rc ($(head -1 "$T/cut.err")) after $size bytes; the next request succeeds"

# -- ssh through the SOCKS port --
SSHD=$(command -v sshd || echo /usr/sbin/sshd)
if [ -x "$SSHD" ] && command -v ssh >/dev/null && command -v nc >/dev/null; then
	mkdir -p "$SSHD_DIR" && chmod 700 "$SSHD_DIR"
	ssh-keygen -q -t ed25519 -N '' -f "$SSHD_DIR/host_key"
	ssh-keygen -q -t ed25519 -N '' -f "$SSHD_DIR/id"
	cp "$SSHD_DIR/id.pub" "$SSHD_DIR/authorized_keys"
	SPORT=$(free_port)
	cat >"$SSHD_DIR/sshd_config" <<EOF
Port $SPORT
ListenAddress 127.0.0.1
HostKey $SSHD_DIR/host_key
AuthorizedKeysFile $SSHD_DIR/authorized_keys
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
StrictModes no
PidFile $SSHD_DIR/sshd.pid
AllowUsers $(id -un)
PermitRootLogin prohibit-password
EOF
	mkdir -p /run/sshd 2>/dev/null || true
	if "$SSHD" -f "$SSHD_DIR/sshd_config" -E "$SSHD_DIR/sshd.log" 2>"$SSHD_DIR/start.err"; then
		wait_for 10 "sshd" test -s "$SSHD_DIR/sshd.pid"
		out=$(timeout 30 ssh -F /dev/null -i "$SSHD_DIR/id" -o StrictHostKeyChecking=no \
			-o UserKnownHostsFile=/dev/null -o BatchMode=yes -o LogLevel=ERROR \
			-o ProxyCommand="nc -X 5 -x $SOCKS %h %p" -p "$SPORT" "$(id -un)@127.0.0.1" echo hello) ||
			fail "ssh through SOCKS failed: $out $(tail -5 "$SSHD_DIR/sshd.log")"
		[ "$out" = hello ] || fail "ssh through SOCKS: $out"
		ok "ssh (ProxyCommand nc -X 5) through the SOCKS port: echo hello"
	else
		echo "skip - ssh: sshd cannot run here: $(head -1 "$SSHD_DIR/start.err")"
	fi
else
	echo "skip - ssh: no sshd/ssh/nc installed (scripts/deps.sh installs openssh-server)"
fi

"$UMBRA" testnet down --dir "$NET" >"$T/down.out" || fail "testnet down: $(cat "$T/down.out")"
# Sanitizer builds: a daemon that hit an error or leaked says so in its log at exit.
if grep -l "Sanitizer\|runtime error:" "$NET"/*/umbra.log >"$T/san.out" 2>/dev/null; then
	for l in $(cat "$T/san.out"); do grep -A20 "Sanitizer\|runtime error:" "$l" | head -40; done
	fail "sanitizer reports in $(tr '\n' ' ' <"$T/san.out")"
fi
ok "testnet down; no sanitizer report in any daemon's log"
