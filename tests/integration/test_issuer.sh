#!/bin/bash
# SPDX-License-Identifier: MIT
# The issuer role (issue #5) as an operator drives it: `umbra issuer` over the control socket
# (a subject, a dispute capping its tier, an appeal granted that lifts the cap, every step in
# the audit trail, in order); the remote admin API with its bearer token (401 without it; the
# token file made 0600 at the first start); and durability: the daemon killed with SIGKILL in
# the middle of a burst of admin writes over HTTP loses none that it acknowledged, audit rows
# included. An exit trusting the issuer fetches its key list and revocation feed and follows a
# rotation.
source "$(dirname "$0")/lib.sh"

iss() { "$UMBRA" issuer -s "$T/i/control.sock" "$@"; }
node i "$(free_port)" "[issuer]" "listen = 127.0.0.1:0"
sed -i 's/^roles = middle$/roles = issuer/' "$T/i.conf"
start i
wait_for 10 "the issuer API" grep -q "issuer admin API listening on" "$T/i.log"
PORT=$(grep -o "issuer admin API listening on 127.0.0.1:[0-9]*" "$T/i.log" | grep -o "[0-9]*$")
API="http://127.0.0.1:$PORT/v1/admin"

# The token file: made at the first start, 0600, one line.
[ "$(stat -c %a "$T/i/issuer_admin.token")" = 600 ] || fail "token file mode $(stat -c %a "$T/i/issuer_admin.token")"
TOKEN=$(cat "$T/i/issuer_admin.token")
[ ${#TOKEN} -ge 32 ] || fail "short token"
ok "admin token written 0600 at the first start"

# A subject, a dispute that caps it, an appeal granted that lifts the cap.
iss subject set carol --tier 3 --actor ops-1 | grep -q "tier 3, effective tier 3" || fail "set"
out=$(iss dispute open carol --cap 1 --ttl 7d --case CASE-9 --evidence ev://9 --actor ops-1)
echo "$out" | grep -q "dispute 1 opened" || fail "dispute: $out"
echo "$out" | grep -q "tier 3, effective tier 1" || fail "the cap does not apply: $out"
iss subject show carol | grep -q "capped at tier 1 by dispute 1" || fail "show: $(iss subject show carol)"
iss appeal open carol --dispute 1 --ttl 2d --actor ops-2 | grep -q "appeal 1 opened" || fail "appeal"
iss subject show carol | grep -q "effective tier 1" || fail "an open appeal lifted the cap"
out=$(iss appeal resolve carol 1 granted --reason "evidence did not hold" --actor ops-2)
echo "$out" | grep -q "tier 3, effective tier 3" || fail "granted appeal kept the cap: $out"
ok "dispute caps carol at tier 1; the granted appeal lifts it back to 3"

iss audit --json >"$T/audit.json"
python3 - "$T/audit.json" <<'PY' || fail "audit trail: $(cat "$T/audit.json")"
import json, sys
e = json.load(open(sys.argv[1]))["entries"]
acts = [(x["action"], x["actor"], x["subject"]) for x in e]
assert acts == [("subject.create", "ops-1", "carol"), ("dispute.open", "ops-1", "carol"),
                ("appeal.open", "ops-2", "carol"), ("appeal.resolve", "ops-2", "carol"),
                ("dispute.clear", "ops-2", "carol")], acts
assert e[1]["detail"]["new"]["tier_cap"] == 1 and e[1]["detail"]["new"]["case_id"] == "CASE-9", e[1]
assert e[3]["detail"]["new"]["outcome"] == "granted", e[3]
assert [x["seq"] for x in e] == sorted(x["seq"] for x in e)
PY
ok "every step is in the audit trail, in order, with its actor and values"

# The remote API: the bearer token or nothing.
code=$(curl -s -o /dev/null -w '%{http_code}' "$API/subjects/carol")
[ "$code" = 401 ] || fail "no token: HTTP $code"
code=$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer ${TOKEN}x" "$API/subjects/carol")
[ "$code" = 401 ] || fail "wrong token: HTTP $code"
curl -sf -H "Authorization: Bearer $TOKEN" "$API/subjects/carol" | grep -q '"effective_tier":3' ||
	fail "with the token"
ok "remote admin API: 401 without the token or with a wrong one, 200 with it"

# Token keys: epoch 1 made at the first start for tiers 1..3; a rotation adds epoch 2 and
# keeps epoch 1 published; min-epoch 2 retires epoch 1. The signed key list over HTTP follows.
pubkeys_len() { curl -sf "http://127.0.0.1:$PORT/v1/pubkeys" | wc -c; }
iss keys | grep -q "^key epoch 1, tokens refused below epoch 1" || fail "keys: $(iss keys)"
[ "$(iss keys --json | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["keys"]))')" = 3 ] ||
	fail "epoch 1 keys: $(iss keys)"
L1=$(pubkeys_len)
iss keys rotate | grep -q "^key epoch 2, tokens refused below epoch 1" || fail "rotate"
[ "$(iss keys --json | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["keys"]))')" = 6 ] ||
	fail "after rotate: $(iss keys)"
[ "$(pubkeys_len)" -gt "$L1" ] || fail "the published key list did not grow"
iss keys min-epoch 2 | grep -q "^key epoch 2, tokens refused below epoch 2" || fail "min-epoch"
[ "$(iss keys --json | python3 -c 'import json,sys; print(sorted({k["epoch"] for k in json.load(sys.stdin)["keys"]}))')" = "[2]" ] ||
	fail "epoch 1 still listed: $(iss keys)"
iss keys min-epoch 1 >/dev/null 2>&1 && fail "min-epoch went back"
# Key changes and credential registrations are audited like subject changes.
CAROL_KEY=$(id_of i) # any Ed25519 public key will do
iss subject key carol "$CAROL_KEY" >/dev/null || fail "subject key"
iss audit --json >"$T/audit_keys.json"
python3 - "$T/audit_keys.json" "$CAROL_KEY" <<'PY' || fail "key changes not audited: $(cat "$T/audit_keys.json")"
import json, sys
rows = json.load(open(sys.argv[1]))
keys = [(r["action"], r["detail"]) for r in rows["entries"] if r["action"].startswith("keys.")]
assert keys == [("keys.rotate", {"key_epoch": 2, "tiers": 3}),
                ("keys.min_epoch", {"min_token_epoch": 2, "was": 1})], keys
creds = [(r["subject"], r["detail"]) for r in rows["entries"] if r["action"] == "credential.set"]
assert creds == [("carol", {"key": sys.argv[2]})], creds
PY
ok "token keys: epoch 1 at first start, rotation to 2, min-epoch 2 retires epoch 1 (audited, as is a credential)"

# Tier-1 issuance over HTTP: a blinded message of the key's length gets a blind signature
# (the unit tests finalize real tokens); the per-source limit answers 429 after the burst.
python3 - "http://127.0.0.1:$PORT" <<'PY' || fail "issuance"
import base64, http.client, json, os, sys, urllib.parse
u = urllib.parse.urlparse(sys.argv[1])
def post(body):
    c = http.client.HTTPConnection(u.hostname, u.port, timeout=5)
    c.request("POST", "/v1/tokens", json.dumps(body))
    r = c.getresponse()
    return r.status, json.loads(r.read())
m = base64.b64encode(b"\x00" + os.urandom(255)).decode()
st, j = post({"tier": 1, "blinded": [m, m]})
assert st == 200 and j["epoch"] == 2 and len(j["blind_sigs"]) == 2, (st, j)
assert len(base64.b64decode(j["blind_sigs"][0])) == 256
st, j = post({"tier": 2, "blinded": [m]})
assert st == 403, (st, j)
codes = [post({"tier": 1, "blinded": [m]})[0] for _ in range(6)]
assert 429 in codes, codes
PY
ok "tier-1 issuance over HTTP: blind signatures under epoch 2; tier 2 refused without credentials; 429 past the burst"

# An exit that trusts this issuer (docs/PROTOCOL.md 17.6): it fetches the key list and the
# revocation feed at start, verified under the pinned identity, and follows a rotation at the
# next refresh; `umbra status` shows it.
node x "$(free_port)" "[relay]" "issuers = $(id_of i)@http://127.0.0.1:$PORT" \
	"issuer_refresh = 1s" "tier_policy = 0: reject *:25, reject *:465"
sed -i 's/^roles = middle$/roles = exit/' "$T/x.conf"
"$UMBRA" config validate "$T/x.conf" >/dev/null || fail "exit config: $("$UMBRA" config validate "$T/x.conf" 2>&1)"
start x
tok() { jget x "s['tokens']$1"; }
x_epoch() { [ "$(tok "['issuer_list'][0]['key_epoch']")" = "$1" ]; }
wait_for 10 "the exit to hold the issuer's key list" x_epoch 2
[ "$(tok "['issuers_ready']")" = 1 ] || fail "issuers_ready: $(tok '')"
[ "$(tok "['issuer_list'][0]['has_revocations']")" = True ] || fail "no feed: $(tok '')"
[ "$(tok "['issuer_list'][0]['min_token_epoch']")" = 2 ] || fail "min epoch: $(tok '')"
iss keys rotate >/dev/null || fail "rotate to 3"
wait_for 10 "the exit to follow the rotation" x_epoch 3
"$UMBRA" status -s "$T/x/control.sock" | grep -q "^tier tokens: 1 of 1 issuers ready; 0 accepted" ||
	fail "umbra status: $("$UMBRA" status -s "$T/x/control.sock")"
grep -q "key list taken" "$T/x.log" || fail "no log line for the key list"
stop x
ok "an exit trusting the issuer holds its key list and feed, follows a rotation (epoch 3)"

# Durability: a burst of writes over HTTP, SIGKILL in the middle; every acknowledged write
# (and its audit row) is there after a restart.
python3 - "$API" "$TOKEN" "$T/acked" >"$T/burst.out" 2>&1 <<'PY' &
import http.client, json, sys, urllib.parse
api, token, acked = sys.argv[1], sys.argv[2], sys.argv[3]
u = urllib.parse.urlparse(api)
out = open(acked, "w", buffering=1)
i = 0
while True:
    i += 1
    try:
        c = http.client.HTTPConnection(u.hostname, u.port, timeout=5)
        c.request("PUT", u.path + "/subjects/burst-%d" % i, json.dumps({"kind": "client", "tier": 2}),
                  {"Authorization": "Bearer " + token, "Content-Type": "application/json"})
        r = c.getresponse()
        r.read()
        if r.status == 201:
            out.write("burst-%d\n" % i)
    except OSError:
        break
PY
BURST=$!
PIDS+=("$BURST")
acked_50() { [ -f "$T/acked" ] && [ "$(wc -l <"$T/acked")" -ge 50 ]; }
wait_for 20 "some acknowledged writes" acked_50
kill -KILL "$PID_i"
wait "$PID_i" 2>/dev/null || true
wait "$BURST" || true
N=$(wc -l <"$T/acked")
start i
wait_for 10 "the restarted issuer to answer" iss audit --limit 1
iss audit --limit 1000 --json >"$T/audit2.json"
for s in $(cat "$T/acked"); do
	iss subject show "$s" >/dev/null || fail "acknowledged subject $s lost after SIGKILL"
done
python3 - "$T/audit2.json" "$T/acked" <<'PY' || fail "audit rows lost"
import json, sys
e = json.load(open(sys.argv[1]))["entries"]
created = {x["subject"] for x in e if x["action"] == "subject.create"}
acked = [l.strip() for l in open(sys.argv[2]) if l.strip()]
missing = [s for s in acked if s not in created]
assert not missing, missing[:5]
PY
ok "SIGKILL mid-burst: all $N acknowledged writes and their audit rows survived"
stop i
ok "the issuer exits cleanly"
