#!/bin/bash
# SPDX-License-Identifier: MIT
# Issuer key lists through the directory consensus (issue 5, PROTOCOL.md 5.8), between real
# daemons on loopback, vote_interval 5 s. Two stand-in issuers serve GET /v1/pubkeys from
# small HTTP servers (signed key lists written by tests/tools/issuer_keylist.c):
#  1. 3 authorities fetch both lists at start; the one signed by the configured identity
#     (seq 5) reaches a client's consensus (`umbra dir status --json` and text); the one
#     signed by another key is refused by every authority and never appears;
#  2. the issuer publishes seq 7: the authorities fetch it and the consensus follows;
#  3. the issuer serves an older list (seq 6): a restarted authority keeps seq 7 (stored in
#     its database, the stale one refused) and the consensus keeps seq 7.
source "$(dirname "$0")/lib.sh"

TOOL=${UM_BUILD_DIR:-$(dirname "$UMBRA")}/issuer_keylist
[ -x "$TOOL" ] || fail "no $TOOL (built with the tests)"

IVL=5
AUTHS=(a1 a2 a3)
declare -A HPORT
for n in "${AUTHS[@]}"; do
	HPORT[$n]=$(free_port)
done
IPORT1=$(free_port)
IPORT2=$(free_port)

# Issuer 1 signs its list with its own key; "issuer 2" serves a list signed by another key
# than the identity the authorities pin for it.
mkdir -p "$T/iss1/v1" "$T/iss2/v1"
ID1=$("$TOOL" "$T/iss1.key" 5 1 "$T/iss1/v1/pubkeys") || fail "issuer_keylist"
ID2=$("$TOOL" "$T/iss2.key" 1 1 "$T/unused.bin") || fail "issuer_keylist"
"$TOOL" "$T/other.key" 9 1 "$T/iss2/v1/pubkeys" >/dev/null || fail "issuer_keylist"
publish() { # SEQ EPOCH: issuer 1 serves a new list (renamed in place: never half written)
	"$TOOL" "$T/iss1.key" "$1" "$2" "$T/iss1/next.bin" >/dev/null || fail "issuer_keylist"
	mv "$T/iss1/next.bin" "$T/iss1/v1/pubkeys"
}
for i in 1 2; do
	port=$(eval echo "\$IPORT$i")
	(cd "$T/iss$i" && exec python3 -m http.server "$port" --bind 127.0.0.1) >"$T/iss$i.log" 2>&1 &
	PIDS+=($!)
	wait_for 10 "issuer $i serves" python3 -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:$port/v1/pubkeys')"
done
ok "two stand-in issuers serve key lists (issuer 1: $ID1)"

conf() { # NAME ROLES [lines...]
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
}

for a in "${AUTHS[@]}"; do
	conf "$a" directory
	UMBRA_NODE_ROLES=client "$UMBRA" keygen -c "$T/$a.conf" >/dev/null 2>&1
done
AUTH_LINES=()
for a in "${AUTHS[@]}"; do
	AUTH_LINES+=("authorities = $(UMBRA_NODE_ROLES=client id_of "$a")@http://127.0.0.1:${HPORT[$a]}")
done
for a in "${AUTHS[@]}"; do
	{
		echo "[directory]"
		echo "vote_interval = ${IVL}s"
		echo "listen = 127.0.0.1:${HPORT[$a]}"
		for l in "${AUTH_LINES[@]}"; do echo "$l"; done
		echo "issuers = $ID1@http://127.0.0.1:$IPORT1"
		echo "issuers = $ID2@http://127.0.0.1:$IPORT2"
	} >>"$T/$a.conf"
done
conf c1 client "[directory]" "vote_interval = ${IVL}s" "${AUTH_LINES[@]}"
"$UMBRA" config validate "$T/a1.conf" >/dev/null || fail "authority config invalid"

for n in "${AUTHS[@]}" c1; do
	start "$n"
done
ok "3 authorities (each with 2 issuers) and a client started"

dir_json() { "$UMBRA" dir status -s "$T/$1/control.sock" --json 2>/dev/null || true; }
# issuer_seq NAME ID: the seq of ID's key list in NAME's consensus ("none" if absent).
issuer_seq() {
	dir_json "$1" | python3 -c '
import json, sys
try:
    s = json.load(sys.stdin)
except ValueError:
    print("none"); sys.exit()
for i in s.get("issuers", []):
    if i["identity"] == sys.argv[1]:
        print(i["seq"] if i["valid"] else "invalid"); sys.exit()
print("none")' "$2"
}
seq_is() { [ "$(issuer_seq "$1" "$2")" = "$3" ]; }

# 1. Seq 5 in the consensus; the wrongly signed list refused everywhere.
wait_for 60 "the client's consensus lists issuer 1 at seq 5" seq_is c1 "$ID1" 5
dir_json c1 >"$T/dir1.json"
python3 - "$T/dir1.json" "$ID1" "$ID2" <<'PY' || fail "issuers in dir status: $(cat "$T/dir1.json")"
import json, sys
s = json.load(open(sys.argv[1]))
iss = s["issuers"]
assert len(iss) == 1, iss
i = iss[0]
assert i["identity"] == sys.argv[2] and i["valid"] and i["seq"] == 5, i
assert i["n_keys"] == 1 and i["key_epoch"] == 1 and i["size"] > 300, i
assert all(x["identity"] != sys.argv[3] for x in iss)
PY
for a in "${AUTHS[@]}"; do
	wait_for 10 "$a refuses the wrongly signed list" grep -q "key list from issuer http://127.0.0.1:$IPORT2 refused" "$T/$a.log"
	grep -q "issuer http://127.0.0.1:$IPORT1: key list seq 5" "$T/$a.log" || fail "$a did not store seq 5"
done
"$UMBRA" dir status -s "$T/c1/control.sock" >"$T/dir1.txt" || fail "dir status: $(cat "$T/dir1.txt")"
grep -q "^issuers:" "$T/dir1.txt" || fail "no issuers in the text status: $(cat "$T/dir1.txt")"
grep -q "seq 5, 1 keys, key epoch 1" "$T/dir1.txt" || fail "text status: $(cat "$T/dir1.txt")"
ok "issuer 1's key list (seq 5) is in the consensus; the wrongly signed one is refused"

# 2. A newer list reaches the consensus within one fetch interval (30 s) and a period.
publish 7 2
wait_for 60 "the consensus follows to seq 7" seq_is c1 "$ID1" 7
ok "a newer key list (seq 7) replaces the old one in the consensus"

# 3. An older list served again: a restarted authority keeps seq 7 from its database.
publish 6 2
stop a3
start a3
wait_for 20 "a3 refuses the stale list" grep -q "served key list seq 6, older than the seq 7 we hold" "$T/a3.log"
va0=$(dir_json c1 | python3 -c 'import json,sys; print(json.load(sys.stdin)["valid_after"])')
newer() { [ "$(dir_json c1 | python3 -c 'import json,sys; print(json.load(sys.stdin)["valid_after"])')" -gt "$va0" ]; }
wait_for 30 "a newer consensus" newer
seq_is c1 "$ID1" 7 || fail "the consensus went back to seq $(issuer_seq c1 "$ID1")"
ok "a stale key list (seq 6) never replaces seq 7, across an authority restart"

for n in "${AUTHS[@]}" c1; do
	stop "$n"
done
ok "every daemon exits cleanly"
