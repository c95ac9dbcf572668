/* SPDX-License-Identifier: MIT */
/* The issuer's capability-token route (issuer_captokens.h). */
#include "trust/issuer_captokens.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <jansson.h>

#include "lib/encoding.h"
#include "lib/err.h"
#include "lib/log.h"
#include "crypto/crypto.h"
#include "trust/captoken.h"
#include "trust/idtoken.h"
#include "trust/issuer_admin_cap.h"
#include "trust/issuer_roles.h"

/* The request's signature by the subject's registered key: 0 or the HTTP status replied. */

/* The one audience of each role (role is valid: captoken_role_is_valid()). */
static const char *
role_aud(const char *role)
{
	if (strcmp(role, IDTOKEN_ROLE) == 0)
		return IDTOKEN_AUD_STR;
	if (strcmp(role, "admin") == 0)
		return ISSUER_ADMIN_CAP_AUD;
	return "directory"; /* provider */
}

static int
check_request(const struct issuer_captokens_ctx *c, const char *subject, const char *role,
              const char *aud, uint64_t time_s, const uint8_t pop_key[32], const char *sig_b64,
              uint64_t now_s, struct ev_http_resp *resp)
{
	uint8_t sig[CAPTOKEN_SIG_LEN + 1], pk[32], msg[CAPTOKEN_REQ_MSG_MAX];
	size_t mlen;
	int ret;

	if (dec_base64(sig, sizeof(sig), sig_b64, strlen(sig_b64)) != CAPTOKEN_SIG_LEN) {
		ev_http_resp_error(resp, 400, "sig: base64 of 64 bytes");
		return 400;
	}
	mlen = captoken_req_msg(msg, subject, role, aud, time_s, pop_key);
	ret = issuer_creds_get(c->creds, subject, pk);
	if (ret != UM_OK && ret != UM_ERR_NOT_FOUND) {
		ev_http_resp_error(resp, 503, "database error");
		return 503;
	}
	/* One answer for "no key" and "bad signature": whether a subject has a key is not for
	 * strangers. */
	if (ret == UM_ERR_NOT_FOUND || mlen == 0 ||
	    sign_ed25519_verify(pk, msg, mlen, sig) != UM_OK) {
		ev_http_resp_error(resp, 401, "the subject's signature does not verify");
		return 401;
	}
	if (time_s + ISSUER_CREDS_SKEW_S < now_s || time_s > now_s + ISSUER_CREDS_SKEW_S) {
		ev_http_resp_error(resp, 401, "time: more than 300 s from the issuer's clock");
		return 401;
	}
	/* The request's signature is the proof that the requester holds pop_key: a token bound
	 * to a key somebody else holds (a relay operator's public key, say) is never made. */
	if (memcmp(pk, pop_key, sizeof(pk)) != 0) {
		ev_http_resp_error(resp, 400, "pop_key: must be the subject's registered key");
		return 400;
	}
	return 0;
}

static void
issue(const struct issuer_captokens_ctx *c, int family, const uint8_t *addr, const uint8_t *body,
      size_t len, uint64_t now_s, uint64_t now_ms, struct ev_http_resp *resp)
{
	static const uint8_t none[16];
	const char *subject = NULL, *role = NULL, *aud = NULL, *pop_b32 = NULL, *sig_b64 = NULL;
	uint8_t pop[33], enc[CAPTOKEN_MAX_LEN];
	char b64[BASE64_LEN(CAPTOKEN_MAX_LEN)], msg[96];
	struct issuer_subject_view v;
	struct captoken t;
	struct wire_wr w;
	json_int_t time_s = -1;
	json_error_t jerr;
	bool revoked = false, has = false;
	json_t *j;
	int ret;

	if (c->is == NULL || c->creds == NULL || c->keys == NULL || c->id == NULL) {
		ev_http_resp_error(resp, 403, "this issuer does not issue capability tokens");
		return;
	}
	if (len > ISSUER_CAPTOKENS_MAX_BODY) {
		ev_http_resp_error(resp, 413, "body too large");
		return;
	}
	j = json_loadb((const char *)body, len, JSON_REJECT_DUPLICATES, &jerr);
	if (j == NULL || json_unpack_ex(j, &jerr, JSON_STRICT, "{s:s, s:s, s:s, s:s, s:I, s:s}",
	                                "subject", &subject, "role", &role, "aud", &aud, "pop_key",
	                                &pop_b32, "time", &time_s, "sig", &sig_b64) != 0) {
		json_decref(j);
		ev_http_resp_error(
		        resp, 400,
		        "want {\"subject\", \"role\", \"aud\", \"pop_key\", \"time\", \"sig\"}");
		return;
	}
	if (!issuer_id_is_valid(subject) || !captoken_role_is_valid(role) ||
	    !captoken_aud_is_valid(aud) || time_s < 0 ||
	    dec_base32(pop, sizeof(pop), pop_b32, strlen(pop_b32)) != 32) {
		json_decref(j);
		ev_http_resp_error(
		        resp, 400,
		        "subject: an issuer subject id; role: provider|access|admin; aud: 1..32 of "
		        "a-z 0-9 -; pop_key: 52 base32 characters; time: unix seconds");
		return;
	}
	/* Each role has one audience (18.3): a token is never one another party would take. */
	if (strcmp(aud, role_aud(role)) != 0) {
		char why[80];

		snprintf(why, sizeof(why), "role %s: aud must be %s", role, role_aud(role));
		json_decref(j);
		ev_http_resp_error(resp, 400, why);
		return;
	}
	/* The limit applies before any signature check. */
	if (c->limit != NULL && abuse_check(c->limit, ABUSE_ISSUE, family != 0 ? family : AF_INET,
	                                    family != 0 ? addr : none, now_ms) != ABUSE_OK) {
		json_decref(j);
		ev_http_resp_error(resp, 429, "too many requests from this address; try later");
		return;
	}
	if (check_request(c, subject, role, aud, (uint64_t)time_s, pop, sig_b64, now_s, resp) != 0)
		goto out;
	if ((ret = issuer_subject_get(c->is, subject, now_s, &v)) != UM_OK) {
		ev_http_resp_error(resp, ret == UM_ERR_NOT_FOUND ? 403 : 503,
		                   ret == UM_ERR_NOT_FOUND ? "no such subject" : "database error");
		goto out;
	}
	if (issuer_subject_is_revoked(c->is, subject, &revoked) != UM_OK ||
	    issuer_role_has(c->is, subject, role, &has) != UM_OK) {
		ev_http_resp_error(resp, 503, "database error");
		goto out;
	}
	if (revoked) {
		ev_http_resp_error(resp, 403, "the subject is revoked");
		goto out;
	}
	if (!has) {
		snprintf(msg, sizeof(msg), "the subject does not hold the %s role", role);
		ev_http_resp_error(resp, 403, msg);
		goto out;
	}
	if (strcmp(role, "provider") == 0 && v.subject.kind != ISSUER_KIND_RELAY) {
		ev_http_resp_error(resp, 403, "provider tokens are for relay subjects");
		goto out;
	}
	memset(&t, 0, sizeof(t));
	snprintf(t.sub, sizeof(t.sub), "%s", subject);
	snprintf(t.aud, sizeof(t.aud), "%s", aud);
	snprintf(t.role, sizeof(t.role), "%s", role);
	t.tier = v.effective_tier; /* a relay subject's is 1 (issuer_effective_tier()) */
	t.key_epoch = issuer_keyring_epoch(c->keys);
	t.iat_s = now_s;
	t.exp_s = now_s + (c->lifetime_s != 0 ? c->lifetime_s : ISSUER_CAPTOKEN_LIFETIME_DEFAULT_S);
	rand_bytes(t.jti, sizeof(t.jti));
	memcpy(t.pop_key, pop, sizeof(t.pop_key));
	wire_wr_init(&w, enc, sizeof(enc));
	if (captoken_sign(&t, c->id) != UM_OK || captoken_encode(&t, &w) != UM_OK ||
	    enc_base64(b64, sizeof(b64), enc, w.len) != UM_OK) {
		ev_http_resp_error(resp, 500, "internal");
		goto out;
	}
	/* No token leaves without its audit row. */
	if (issuer_captoken_audit(c->is, &t, now_s) != UM_OK) {
		ev_http_resp_error(resp, 503, "database error");
		goto out;
	}
	log_info(LD_APP, "issuer: %s capability token for a subject (tier %u, %llu s)", t.role,
	         t.tier, (unsigned long long)(t.exp_s - t.iat_s));
	ev_http_resp_json(resp, 200,
	                  json_pack("{s:s, s:i, s:I, s:I, s:I}", "token", b64, "tier", (int)t.tier,
	                            "key_epoch", (json_int_t)t.key_epoch, "iat",
	                            (json_int_t)t.iat_s, "exp", (json_int_t)t.exp_s));
out:
	json_decref(j);
}

bool
issuer_captokens_handle(const struct issuer_captokens_ctx *c, const char *method, const char *path,
                        int family, const uint8_t *addr, const uint8_t *body, size_t len,
                        uint64_t now_s, uint64_t now_ms, struct ev_http_resp *resp)
{
	if (strcmp(path, "/v1/captokens") != 0)
		return false;
	if (strcmp(method, "POST") != 0)
		ev_http_resp_error(resp, 405, "use POST");
	else
		issue(c, family, addr, body, len, now_s, now_ms, resp);
	return true;
}
