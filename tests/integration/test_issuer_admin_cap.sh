#!/bin/bash
# SPDX-License-Identifier: MIT
# Admin capability tokens on the issuer's remote admin API (issue 5, PROTOCOL.md 18.6,
# docs/ISSUER.md "Admin capability tokens"), with a real issuer on loopback. The operator
# grants the admin role to subject ops-7 and registers its key (`umbra issuer` over the control
# socket); ops-7 gets a token (POST /v1/captokens, aud "issuer-admin") and writes through
# /v1/admin/ with "Authorization: UmbraCap ...": the audit row names actor ops-7. Refused: a
# replayed header, a body other than the one signed, a stale time, another actor in the body
# (400), a withdrawn role and a revoked subject (403). The bearer token keeps working.
# tests/tools/admin_cap.c does the Ed25519 signing.
source "$(dirname "$0")/lib.sh"

TOOL=${UM_BUILD_DIR:-$(dirname "$UMBRA")}/admin_cap
[ -x "$TOOL" ] || fail "no $TOOL (build the test tools)"
iss() { "$UMBRA" issuer -s "$T/i/control.sock" "$@"; }
node i "$(free_port)" "[issuer]" "listen = 127.0.0.1:0"
sed -i 's/^roles = middle$/roles = issuer/' "$T/i.conf"
ISS_ID=$(id_of i)
start i
wait_for 10 "the issuer API" grep -q "issuer admin API listening on" "$T/i.log"
PORT=$(grep -o "issuer admin API listening on 127.0.0.1:[0-9]*" "$T/i.log" | grep -o "[0-9]*$")
BASE="http://127.0.0.1:$PORT"
TOKEN=$(cat "$T/i/issuer_admin.token")

# ops-7: an admin with its key (the request key doubles as the proof-of-possession key).
PK=$("$TOOL" pub "$T/ops7.key") || fail "admin_cap pub"
[ "$(stat -c %a "$T/ops7.key")" = 600 ] || fail "key mode"
iss subject set ops-7 --tier 1 --role admin | grep -q "roles admin" || fail "subject set ops-7"
iss subject key ops-7 "$PK" >/dev/null || fail "subject key ops-7"
iss subject set carol --tier 2 >/dev/null || fail "subject set carol"
ok "ops-7 holds the admin role and has a registered key"

# post URL FILE -> prints "CODE BODY"
captoken() {
	"$TOOL" request "$T/ops7.key" ops-7 admin issuer-admin >"$T/req.json" || fail "admin_cap request"
	curl -s -H 'Content-Type: application/json' --data-binary @"$T/req.json" \
		"$BASE/v1/captokens" >"$T/tok.json"
	python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["token"])' "$T/tok.json"
}
CAP=$(captoken) || fail "no admin token: $(cat "$T/tok.json")"
ok "ops-7 got an admin capability token (aud issuer-admin)"

# call METHOD PATH BODY [TIME] [SIGNED_BODY]: the HTTP status of an UmbraCap request; the
# header signs SIGNED_BODY (default BODY). The header is kept in $T/hdr for replays.
call() {
	local m=$1 p=$2 body=$3 t=${4:-} signed=${5-$3}
	printf '%s' "$body" >"$T/body"
	printf '%s' "$signed" >"$T/signed"
	"$TOOL" header "$T/ops7.key" "$CAP" "$ISS_ID" "$m" "$p" "$T/signed" $t >"$T/hdr" ||
		fail "admin_cap header"
	send "$m" "$p"
}
send() {
	local args=(-s -o "$T/resp" -w '%{http_code}' -X "$1" -H "Authorization: $(cat "$T/hdr")")
	[ -s "$T/body" ] && args+=(-H 'Content-Type: application/json' --data-binary @"$T/body")
	curl "${args[@]}" "$BASE$2"
}

code=$(call PUT /v1/admin/subjects/dave '{"kind":"client","tier":2}')
[ "$code" = 201 ] || fail "UmbraCap write: HTTP $code $(cat "$T/resp")"
# The same header and body again (a captured request replayed).
code=$(send PUT /v1/admin/subjects/dave)
[ "$code" = 401 ] && grep -q "replayed" "$T/resp" || fail "replay: HTTP $code $(cat "$T/resp")"
code=$(call GET /v1/admin/subjects/dave '')
[ "$code" = 200 ] && grep -q '"tier":2' "$T/resp" || fail "UmbraCap read: HTTP $code $(cat "$T/resp")"
iss audit --json --limit 1000 >"$T/audit.json"
python3 - "$T/audit.json" <<'PY' || fail "audit: $(cat "$T/audit.json")"
import json, sys
e = json.load(open(sys.argv[1]))["entries"]
rows = [x for x in e if x["subject"] == "dave"]
assert [(x["action"], x["actor"]) for x in rows] == [("subject.create", "ops-7")], rows
PY
ok "an UmbraCap write succeeds (once: its replay is 401) and its audit row names actor ops-7"

code=$(call POST /v1/admin/subjects/carol/promote '{"tier":9}' "" '{"tier":3}')
[ "$code" = 401 ] && grep -q "proof of possession" "$T/resp" || fail "other body: HTTP $code $(cat "$T/resp")"
code=$(call POST /v1/admin/subjects/carol/promote '{"tier":3}' $(($(date +%s) - 1000)))
[ "$code" = 401 ] && grep -q "time off" "$T/resp" || fail "stale time: HTTP $code $(cat "$T/resp")"
code=$(call POST /v1/admin/subjects/carol/promote '{"tier":3,"actor":"mallory"}')
[ "$code" = 400 ] && grep -q "actor" "$T/resp" || fail "other actor: HTTP $code $(cat "$T/resp")"
code=$(call POST /v1/admin/subjects/carol/promote '{"tier":3,"actor":"ops-7"}')
[ "$code" = 200 ] || fail "own actor: HTTP $code $(cat "$T/resp")"
iss subject show carol | grep -q "tier 3" || fail "carol not promoted"
ok "refused with 401: another body, a stale time; 400: another actor"

# An independent client: the Python of docs/ISSUER.md (python3-cryptography), subject ops-9.
head -c 32 /dev/urandom >"$T/ops9.seed"
PK9=$(python3 -c '
import base64, sys
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
k = Ed25519PrivateKey.from_private_bytes(open(sys.argv[1], "rb").read())
print(base64.b32encode(k.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)).decode().lower().rstrip("="))' "$T/ops9.seed")
iss subject set ops-9 --tier 1 --role admin >/dev/null || fail "subject set ops-9"
iss subject key ops-9 "$PK9" >/dev/null || fail "subject key ops-9"
python3 - "$BASE" "$ISS_ID" "$T/ops9.seed" <<'PY' || fail "the Python client"
import base64, hashlib, json, sys, time, urllib.request
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
ISSUER, iid, seed = sys.argv[1:4]
issuer_id = base64.b32decode(iid.upper() + "====")
key = Ed25519PrivateKey.from_private_bytes(open(seed, "rb").read())
pk = key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
def b64(b): return base64.b64encode(b).decode()
t = int(time.time())
msg = b"umbra-captoken-req-v1\0ops-9\0admin\0issuer-admin\0" + t.to_bytes(8, "big") + pk
req = {"subject": "ops-9", "role": "admin", "aud": "issuer-admin", "time": t,
       "pop_key": base64.b32encode(pk).decode().lower().rstrip("="), "sig": b64(key.sign(msg))}
r = urllib.request.Request(ISSUER + "/v1/captokens", json.dumps(req).encode(), method="POST")
token = base64.b64decode(json.load(urllib.request.urlopen(r))["token"])
def admin(method, target, body=b""):
    t = int(time.time())
    digest = hashlib.blake2b(f"{method} {target}\n".encode() + body, digest_size=32).digest()
    pop = key.sign(b"umbra-cap-pop-v1\0" + issuer_id + hashlib.blake2b(token, digest_size=32).digest()
                   + t.to_bytes(8, "big") + digest)
    h = f"UmbraCap {b64(token)}.{b64(pop)}.{t}"
    r = urllib.request.Request(ISSUER + target, body or None, method=method,
                               headers={"Authorization": h, "Content-Type": "application/json"})
    return json.load(urllib.request.urlopen(r))
j = admin("POST", "/v1/admin/subjects/carol/adjust", b'{"bond_delta":7,"reason":"py"}')
assert j["subject"]["bond"] == 7, j
e = admin("GET", "/v1/admin/audit?limit=1000")["entries"]
assert (e[-1]["action"], e[-1]["actor"]) == ("subject.adjust", "ops-9"), e[-1]
PY
ok "the Python client of docs/ISSUER.md: token, write, audit actor ops-9"

iss subject role ops-7 admin --withdraw >/dev/null || fail "withdraw"
code=$(call POST /v1/admin/subjects/carol/promote '{"tier":4}')
[ "$code" = 403 ] && grep -q "admin role" "$T/resp" || fail "withdrawn role: HTTP $code $(cat "$T/resp")"
iss subject role ops-7 admin >/dev/null || fail "grant again"
code=$(call POST /v1/admin/subjects/carol/promote '{"tier":4}')
[ "$code" = 200 ] || fail "granted again: HTTP $code $(cat "$T/resp")"
iss subject revoke ops-7 --reason "key lost" >/dev/null || fail "revoke"
code=$(call POST /v1/admin/subjects/carol/promote '{"tier":5}')
[ "$code" = 403 ] && grep -q "revoked" "$T/resp" || fail "revoked subject: HTTP $code $(cat "$T/resp")"
iss subject show carol | grep -q "tier 4" || fail "carol changed by a refused request"
ok "refused with 403: a withdrawn admin role, a revoked subject (the same token)"

code=$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $TOKEN" "$BASE/v1/admin/subjects/carol")
[ "$code" = 200 ] || fail "bearer: HTTP $code"
ok "the bearer token keeps working"
stop i
ok "the issuer exits cleanly"
