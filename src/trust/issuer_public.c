/* SPDX-License-Identifier: MIT */
/* The issuer's public routes (issuer_public.h). */
#include "trust/issuer_public.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <jansson.h>

#include "lib/encoding.h"
#include "lib/err.h"
#include "lib/mem.h"

static void
reply_json(struct ev_http_resp *resp, int status, json_t *j)
{
	char *s = j != NULL ? json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS) : NULL;

	json_decref(j);
	if (s == NULL) {
		ev_http_resp_set_text(resp, 500, "application/json", "{\"error\":\"internal\"}");
		return;
	}
	resp->status = status;
	resp->content_type = "application/json";
	resp->body = (uint8_t *)s;
	resp->body_len = strlen(s);
}

static void
reply_error(struct ev_http_resp *resp, int status, const char *msg)
{
	reply_json(resp, status, json_pack("{s:s}", "error", msg));
}

static void
reply_doc(struct ev_http_resp *resp, const uint8_t *doc, size_t len)
{
	resp->status = 200;
	resp->content_type = "application/octet-stream";
	resp->body = um_xmalloc(len);
	memcpy(resp->body, doc, len);
	resp->body_len = len;
}

static void
issue(struct issuer_keyring *kr, struct abuse *limit, int family, const uint8_t *addr,
      const uint8_t *body, size_t len, uint64_t now_ms, struct ev_http_resp *resp)
{
	static const uint8_t none[16];
	json_error_t jerr;
	json_t *j, *blinded, *v, *out = NULL;
	json_int_t tier = 0;
	uint8_t msg[BLINDRSA_MAX_LEN], sig[BLINDRSA_MAX_LEN];
	char b64[BASE64_LEN(BLINDRSA_MAX_LEN)];
	uint32_t epoch = 0;
	size_t i, n;
	int ret;

	if (len > ISSUER_PUBLIC_MAX_BODY) {
		reply_error(resp, 413, "body too large");
		return;
	}
	j = json_loadb((const char *)body, len, JSON_REJECT_DUPLICATES, &jerr);
	if (j == NULL || json_unpack_ex(j, &jerr, JSON_STRICT, "{s:I, s:o}", "tier", &tier,
	                                "blinded", &blinded) != 0) {
		json_decref(j);
		reply_error(resp, 400, "want {\"tier\": N, \"blinded\": [base64, ...]}");
		return;
	}
	n = json_array_size(blinded);
	if (!json_is_array(blinded) || n < 1 || n > ISSUER_TOKENS_PER_REQUEST) {
		json_decref(j);
		reply_error(resp, 400, "blinded: an array of 1..32 base64 strings");
		return;
	}
	if (tier < 1 || tier > ISSUER_KEYS_TIERS_MAX) {
		json_decref(j);
		reply_error(resp, 400, "tier: 1..15");
		return;
	}
	if (tier != 1) {
		json_decref(j);
		reply_error(resp, 403, "tokens above tier 1 need a subject's credentials");
		return;
	}
	/* The limit applies before any RSA work. */
	if (limit != NULL && abuse_check(limit, ABUSE_ISSUE, family != 0 ? family : AF_INET,
	                                 family != 0 ? addr : none, now_ms) != ABUSE_OK) {
		json_decref(j);
		reply_error(resp, 429, "too many token requests from this address; try later");
		return;
	}
	out = json_array();
	json_array_foreach(blinded, i, v)
	{
		const char *s = json_string_value(v);
		ssize_t m;
		size_t slen = 0;

		if (s == NULL || (m = dec_base64(msg, sizeof(msg), s, strlen(s))) <= 0) {
			reply_error(resp, 400, "blinded: not base64");
			goto out;
		}
		ret = issuer_keyring_blind_sign(kr, (uint8_t)tier, msg, (size_t)m, sig, sizeof(sig),
		                                &slen, &epoch);
		if (ret == UM_ERR_NOT_FOUND) {
			reply_error(resp, 404, "no key for this tier");
			goto out;
		}
		if (ret != UM_OK) {
			reply_error(resp, 400, "blinded: not a valid blinded message for this key");
			goto out;
		}
		if (enc_base64(b64, sizeof(b64), sig, slen) != UM_OK) {
			reply_error(resp, 500, "internal");
			goto out;
		}
		json_array_append_new(out, json_string(b64));
	}
	reply_json(resp, 200,
	           json_pack("{s:I, s:I, s:O}", "tier", tier, "epoch", (json_int_t)epoch,
	                     "blind_sigs", out));
out:
	um_memzero(msg, sizeof(msg));
	json_decref(out);
	json_decref(j);
}

bool
issuer_public_handle(struct issuer_keyring *kr, struct abuse *limit, const char *method,
                     const char *path, int family, const uint8_t *addr, const uint8_t *body,
                     size_t len, uint64_t now_s, uint64_t now_ms, struct ev_http_resp *resp)
{
	bool get = strcmp(method, "GET") == 0;
	const uint8_t *doc;
	size_t dlen;

	if (strcmp(path, "/v1/pubkeys") == 0) {
		if (!get)
			reply_error(resp, 405, "use GET");
		else if (issuer_keyring_keys_doc(kr, now_s, &doc, &dlen) != UM_OK)
			reply_error(resp, 503, "cannot sign the key list");
		else
			reply_doc(resp, doc, dlen);
	} else if (strcmp(path, "/v1/revocations") == 0) {
		if (!get)
			reply_error(resp, 405, "use GET");
		else if (issuer_keyring_revocations_doc(kr, now_s, &doc, &dlen) != UM_OK)
			reply_error(resp, 503, "cannot sign the revocation feed");
		else
			reply_doc(resp, doc, dlen);
	} else if (strcmp(path, "/v1/tokens") == 0) {
		if (strcmp(method, "POST") != 0)
			reply_error(resp, 405, "use POST");
		else
			issue(kr, limit, family, addr, body, len, now_ms, resp);
	} else {
		return false;
	}
	return true;
}
