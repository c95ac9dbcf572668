#!/bin/bash
# SPDX-License-Identifier: MIT
# Key rotation between real daemons on loopback (issue #3): one authority (vote_interval
# 5 s, signing_key_lifetime 20 s), one relay (onion_key_lifetime 20 s, grace 12 s), one
# client.
#  1. The authority rotates its signing key at the end of a period: /v1/authorities then
#     publishes the new certificate and the previous one; the client keeps accepting new
#     consensuses (signed by the new key) without a gap.
#  2. A restart keeps the keyring (no new certificate for the same key).
#  3. The relay rotates its onion key: the consensus shows the new key, the previous one
#     is kept in <onion_key>.old during the grace, then deleted.
source "$(dirname "$0")/lib.sh"

command -v curl >/dev/null || {
	echo "skip: curl not installed"
	exit 0
}

HP=$(free_port)
URL="http://127.0.0.1:$HP"
conf() {
	local name=$1 roles=$2
	shift 2
	mkdir -p "$T/$name"
	chmod 700 "$T/$name"
	{
		echo "[node]"
		echo "state_dir = $T/$name"
		echo "nickname = $name"
		echo "roles = $roles"
		echo "[link]"
		echo "listen = 127.0.0.1:0"
		echo "[client]"
		echo "socks_listen ="
		echo "[log]"
		echo "level = info"
		for l in "$@"; do echo "$l"; done
	} >"$T/$name.conf"
	UMBRA_NODE_ROLES=client "$UMBRA" keygen -c "$T/$name.conf" >/dev/null 2>&1
}
conf a1 directory
AUTH="authorities = $(UMBRA_NODE_ROLES=client id_of a1)@$URL"
cat >>"$T/a1.conf" <<EOT
[directory]
vote_interval = 5s
listen = 127.0.0.1:$HP
signing_key_lifetime = 20s
$AUTH
EOT
conf r1 entry,middle "[relay]" "onion_key_lifetime = 20s" "onion_key_grace = 12s" \
	"[directory]" "vote_interval = 5s" "$AUTH"
conf c1 client "[directory]" "vote_interval = 5s" "$AUTH"
for n in a1 r1 c1; do start "$n"; done
ok "an authority, a relay and a client started"

n_certs() { curl -sf "$URL/v1/authorities" | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["authorities"][0]["certs"]))'; }
dget() { "$UMBRA" dir status -s "$T/c1/control.sock" --json 2>/dev/null | python3 -c "import json,sys; s=json.load(sys.stdin); print($1)"; }
onion_of_r1() {
	"$UMBRA" relays -s "$T/c1/control.sock" --json 2>/dev/null |
		python3 -c 'import json,sys; r=[x for x in json.load(sys.stdin) if x["nickname"]=="r1"]; print(r[0]["onion_key"] if r else "")'
}
has_r1() { [ -n "$(onion_of_r1)" ]; }
wait_for 60 "the client lists r1" has_r1
n0=$(n_certs)
onion0=$(onion_of_r1)
ok "first consensus accepted; $n0 signing certificate(s) published"

# 1. Signing key rotation (it may have happened once already: wait for the next one).
more_certs() { [ "$(n_certs)" -gt "$n0" ]; }
wait_for 60 "the signing key rotates" more_certs
grep -q "rotated the authority signing key" "$T/a1.log" || fail "no rotation logged"
rot_at=$(date +%s)
newer() { [ "$(dget 's["valid_after"]')" -gt "$rot_at" ]; }
wait_for 40 "a consensus after the rotation" newer
[ "$(dget 's["valid"]')" = True ] || fail "client consensus invalid after the rotation"
[ "$(dget 's["n_signed"]')" = 1 ] || fail "not signed after the rotation"
ok "the signing key rotated: $(n_certs) certificates published, the next consensus accepted"

# 2. Restart keeps the keyring: the same current certificate is served (not re-issued).
#    (Certificates live two lifetimes, 40 s here, so older ones may have expired.)
cur_cert() { curl -sf "$URL/v1/authorities" | python3 -c 'import json,sys; print(json.load(sys.stdin)["authorities"][0]["certs"][0]["cert"])'; }
c_before=$(cur_cert)
stop a1
start a1
wait_for 10 "a1 serves again" curl -sf -o /dev/null "$URL/v1/authorities"
c_after=$(cur_cert)
[ -n "$c_before" ] && [ "$c_before" = "$c_after" ] || fail "the keyring's current certificate changed across a restart"
ok "a restarted authority keeps its keyring (same current certificate)"

# 3. Onion key rotation and retirement: the previous key is kept (0600) in onion.key.old
#    during its grace, then deleted; the consensus carries the new key.
n_rot() { grep -c "rotated the onion key" "$T/r1.log"; }
r0=$(n_rot)
rotated_again() { [ "$(n_rot)" -gt "$r0" ]; }
wait_for 60 "r1 rotates its onion key" rotated_again
[ -e "$T/r1/onion.key.old" ] || fail "previous onion key not kept during its grace"
[ "$(stat -c %a "$T/r1/onion.key")" = 600 ] || fail "new onion key is not 0600"
[ "$(stat -c %a "$T/r1/onion.key.old")" = 600 ] || fail "previous onion key is not 0600"
g0=$(grep -c "grace is over" "$T/r1.log")
gone() { [ ! -e "$T/r1/onion.key.old" ] && [ "$(grep -c "grace is over" "$T/r1.log")" -gt "$g0" ]; }
wait_for 30 "the previous onion key retires" gone
rotated() { [ -n "$(onion_of_r1)" ] && [ "$(onion_of_r1)" != "$onion0" ]; }
wait_for 60 "r1's new onion key in the consensus" rotated
ok "the onion key rotated (previous kept for its grace, then deleted; new key in the consensus)"

for n in a1 r1 c1; do stop "$n"; done
ok "every daemon exits cleanly"
