/* SPDX-License-Identifier: MIT */
/* The issuer's public routes (issuer_public.h). */
#include "trust/issuer_public.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <jansson.h>

#include "lib/encoding.h"
#include "lib/err.h"
#include "lib/mem.h"
#include "crypto/hash.h"
#include "crypto/puzzle.h"

static void
reply_doc(struct ev_http_resp *resp, const uint8_t *doc, size_t len)
{
	resp->status = 200;
	resp->content_type = "application/octet-stream";
	resp->body = um_xmalloc(len);
	memcpy(resp->body, doc, len);
	resp->body_len = len;
}

/* Tokens above tier 1: the subject's signed request, then its effective tier. */
static bool
identified_ok(struct issuer *is, struct issuer_creds *creds, const char *subject, json_int_t time_s,
              const char *sig_b64, uint8_t tier, const uint8_t hash[ISSUER_CREDS_HASH_LEN],
              uint64_t now_s, struct ev_http_resp *resp)
{
	struct issuer_subject_view v;
	uint8_t sig[ISSUER_CREDS_SIG_LEN + 1];
	char msg[96];
	int ret;

	if (subject == NULL || sig_b64 == NULL || time_s < 0) {
		ev_http_resp_error(resp, 403, "tokens above tier 1 need a subject, time and sig");
		return false;
	}
	if (is == NULL || creds == NULL) {
		ev_http_resp_error(resp, 403, "this issuer signs tier-1 tokens only");
		return false;
	}
	if (dec_base64(sig, sizeof(sig), sig_b64, strlen(sig_b64)) != ISSUER_CREDS_SIG_LEN) {
		ev_http_resp_error(resp, 400, "sig: base64 of 64 bytes");
		return false;
	}
	ret = issuer_creds_verify(creds, subject, tier, (uint64_t)time_s, hash, sig, now_s);
	if (ret == UM_ERR_NOT_FOUND || ret == UM_ERR_AUTH) {
		/* One answer for both: whether a subject has a key is not for strangers. */
		ev_http_resp_error(resp, 401, "the subject's signature does not verify");
		return false;
	}
	if (ret == UM_ERR_EXPIRED) {
		ev_http_resp_error(resp, 401, "time: more than 300 s from the issuer's clock");
		return false;
	}
	if (ret != UM_OK || issuer_subject_get(is, subject, now_s, &v) != UM_OK) {
		ev_http_resp_error(resp, 403, "no such subject");
		return false;
	}
	if (v.effective_tier < tier) {
		snprintf(msg, sizeof(msg), "the subject's effective tier is %u", v.effective_tier);
		ev_http_resp_error(resp, 403, msg);
		return false;
	}
	return true;
}

/* The 429 that asks a puzzle: a fresh seed and the difficulty. */
static void
reply_puzzle(const struct issuer_public_ctx *c, uint64_t now_ms, struct ev_http_resp *resp)
{
	uint8_t seed[PUZZLE_SEED_LEN];
	char b64[BASE64_LEN(PUZZLE_SEED_LEN)];

	puzzle_gate_seed(c->gate, now_ms, seed);
	if (enc_base64(b64, sizeof(b64), seed, sizeof(seed)) != UM_OK) {
		ev_http_resp_error(resp, 500, "internal");
		return;
	}
	ev_http_resp_json(resp, 429,
	                  json_pack("{s:s, s:s, s:I}", "error", "puzzle", "seed", b64, "bits",
	                            (json_int_t)c->puzzle_bits));
}

/*
 * Whether the request's puzzle solution (the "puzzle" member, may be NULL) passes, bound to
 * hash (the digest of its blinded messages). Counts the outcome.
 */
static bool
puzzle_passes(const struct issuer_public_ctx *c, json_t *pz, const uint8_t *hash, uint64_t now_ms)
{
	const char *seed_b64 = NULL, *nonce_b64 = NULL;
	uint8_t seed[PUZZLE_SEED_LEN + 1], nonce[PUZZLE_NONCE_LEN + 1];
	json_error_t jerr;
	bool ok = false;

	if (pz != NULL &&
	    json_unpack_ex(pz, &jerr, JSON_STRICT, "{s:s, s:s}", "seed", &seed_b64, "nonce",
	                   &nonce_b64) == 0 &&
	    dec_base64(seed, sizeof(seed), seed_b64, strlen(seed_b64)) == PUZZLE_SEED_LEN &&
	    dec_base64(nonce, sizeof(nonce), nonce_b64, strlen(nonce_b64)) == PUZZLE_NONCE_LEN)
		ok = puzzle_gate_check(c->gate, now_ms, seed, hash, ISSUER_CREDS_HASH_LEN, nonce,
		                       c->puzzle_bits) == UM_OK;
	if (c->pz_stats != NULL) {
		if (ok)
			c->pz_stats->passed++;
		else if (pz != NULL)
			c->pz_stats->failed++;
		else
			c->pz_stats->asked++;
	}
	return ok;
}

static void
issue(const struct issuer_public_ctx *c, int family, const uint8_t *addr, const uint8_t *body,
      size_t len, uint64_t now_s, uint64_t now_ms, struct ev_http_resp *resp)
{
	static const uint8_t none[16];
	json_error_t jerr;
	json_t *j, *blinded, *v, *pz = NULL, *out = NULL;
	json_int_t tier = 0, time_s = -1, req_epoch = 0;
	const char *subject = NULL, *sig_b64 = NULL;
	uint8_t(*msgs)[BLINDRSA_MAX_LEN] = NULL, sig[BLINDRSA_MAX_LEN];
	uint8_t hash[ISSUER_CREDS_HASH_LEN];
	size_t mlen[ISSUER_TOKENS_PER_REQUEST];
	char b64[BASE64_LEN(BLINDRSA_MAX_LEN)];
	struct hash_blake2b_state hs;
	uint32_t epoch = 0;
	size_t i, n;
	int ret;

	if (len > ISSUER_PUBLIC_MAX_BODY) {
		ev_http_resp_error(resp, 413, "body too large");
		return;
	}
	j = json_loadb((const char *)body, len, JSON_REJECT_DUPLICATES, &jerr);
	if (j == NULL ||
	    json_unpack_ex(j, &jerr, JSON_STRICT, "{s:I, s?I, s:o, s?s, s?I, s?s, s?o}", "tier",
	                   &tier, "epoch", &req_epoch, "blinded", &blinded, "subject", &subject,
	                   "time", &time_s, "sig", &sig_b64, "puzzle", &pz) != 0) {
		json_decref(j);
		ev_http_resp_error(resp, 400,
		                   "want {\"tier\": N, \"blinded\": [base64, ...]} (and for "
		                   "tiers above 1 \"subject\", \"time\", \"sig\")");
		return;
	}
	n = json_array_size(blinded);
	if (!json_is_array(blinded) || n < 1 || n > ISSUER_TOKENS_PER_REQUEST) {
		json_decref(j);
		ev_http_resp_error(resp, 400, "blinded: an array of 1..32 base64 strings");
		return;
	}
	if (tier < 1 || tier > ISSUER_KEYS_TIERS_MAX) {
		json_decref(j);
		ev_http_resp_error(resp, 400, "tier: 1..15");
		return;
	}
	if (req_epoch < 0 || req_epoch > (json_int_t)UINT32_MAX) {
		json_decref(j);
		ev_http_resp_error(resp, 400, "epoch: a key epoch the key list names");
		return;
	}
	epoch = (uint32_t)req_epoch; /* 0: the current one */
	if (tier == 1 && (subject != NULL || sig_b64 != NULL || time_s >= 0)) {
		json_decref(j);
		ev_http_resp_error(resp, 400, "tier 1 is anonymous: no subject, time or sig");
		return;
	}
	msgs = um_xcalloc(n, sizeof(*msgs));
	hash_blake2b_init(&hs, NULL, 0, ISSUER_CREDS_HASH_LEN);
	json_array_foreach(blinded, i, v)
	{
		const char *s = json_string_value(v);
		ssize_t m = s != NULL ? dec_base64(msgs[i], sizeof(msgs[i]), s, strlen(s)) : -1;

		if (m <= 0) {
			hash_blake2b_wipe(&hs);
			ev_http_resp_error(resp, 400, "blinded: not base64");
			goto out;
		}
		mlen[i] = (size_t)m;
		hash_blake2b_update(&hs, msgs[i], mlen[i]);
	}
	hash_blake2b_final(&hs, hash, sizeof(hash));
	/* The puzzle and the limit apply before any RSA work (decoding base64 and one hash is
	 * all done so far). Under load, a tier-1 request must pay for itself first. */
	if (tier == 1 && c->gate != NULL && c->puzzle_bits > 0 && c->limit != NULL &&
	    abuse_under_load(c->limit, ABUSE_ISSUE, family != 0 ? family : AF_INET,
	                     family != 0 ? addr : none, now_ms) &&
	    !puzzle_passes(c, pz, hash, now_ms)) {
		reply_puzzle(c, now_ms, resp);
		goto out;
	}
	if (c->limit != NULL && abuse_check(c->limit, ABUSE_ISSUE, family != 0 ? family : AF_INET,
	                                    family != 0 ? addr : none, now_ms) != ABUSE_OK) {
		ev_http_resp_error(resp, 429,
		                   "too many token requests from this address; try later");
		goto out;
	}
	if (tier > 1 && !identified_ok(c->is, c->creds, subject, time_s, sig_b64, (uint8_t)tier,
	                               hash, now_s, resp))
		goto out;
	if (tier > 1) {
		uint64_t used = 0;

		ret = issuer_creds_quota_take(c->creds, subject, now_s, (uint32_t)n,
		                              c->subject_quota, &used);
		if (ret == UM_ERR_RATELIMIT) {
			char why[96];

			snprintf(why, sizeof(why), "daily quota: %" PRIu64 " of %" PRIu32 " used",
			         used, c->subject_quota);
			ev_http_resp_error(resp, 429, why);
			goto out;
		}
		if (ret != UM_OK) {
			ev_http_resp_error(resp, 503, "cannot count the quota (database)");
			goto out;
		}
	}
	out = json_array();
	for (i = 0; i < n; i++) {
		size_t slen = 0;

		ret = issuer_keyring_blind_sign(c->keys, (uint8_t)tier, msgs[i], mlen[i], sig,
		                                sizeof(sig), &slen, &epoch);
		if (ret == UM_ERR_NOT_FOUND) {
			ev_http_resp_error(resp, 404, "no key for this tier and epoch");
			goto out;
		}
		if (ret != UM_OK) {
			ev_http_resp_error(resp, 400,
			                   "blinded: not a valid blinded message for this key");
			goto out;
		}
		if (enc_base64(b64, sizeof(b64), sig, slen) != UM_OK) {
			ev_http_resp_error(resp, 500, "internal");
			goto out;
		}
		json_array_append_new(out, json_string(b64));
	}
	ev_http_resp_json(resp, 200,
	                  json_pack("{s:I, s:I, s:O}", "tier", tier, "epoch", (json_int_t)epoch,
	                            "blind_sigs", out));
out:
	if (msgs != NULL)
		um_memzero(msgs, n * sizeof(*msgs));
	free(msgs);
	json_decref(out);
	json_decref(j);
}

bool
issuer_public_handle(const struct issuer_public_ctx *c, const char *method, const char *path,
                     int family, const uint8_t *addr, const uint8_t *body, size_t len,
                     uint64_t now_s, uint64_t now_ms, struct ev_http_resp *resp)
{
	struct issuer_keyring *kr = c->keys;
	bool get = strcmp(method, "GET") == 0;
	const uint8_t *doc;
	size_t dlen;

	if (strcmp(path, "/v1/pubkeys") == 0) {
		if (!get)
			ev_http_resp_error(resp, 405, "use GET");
		else if (issuer_keyring_keys_doc(kr, now_s, &doc, &dlen) != UM_OK)
			ev_http_resp_error(resp, 503, "cannot sign the key list");
		else
			reply_doc(resp, doc, dlen);
	} else if (strcmp(path, "/v1/revocations") == 0) {
		if (!get)
			ev_http_resp_error(resp, 405, "use GET");
		else if (issuer_keyring_revocations_doc(kr, now_s, &doc, &dlen) != UM_OK)
			ev_http_resp_error(resp, 503, "cannot sign the revocation feed");
		else
			reply_doc(resp, doc, dlen);
	} else if (strcmp(path, "/v1/relaytrust") == 0) {
		if (!get)
			ev_http_resp_error(resp, 405, "use GET");
		else if (c->rt == NULL)
			ev_http_resp_error(resp, 404, "this issuer publishes no relay-trust feed");
		else if (issuer_rtfeed_doc(c->rt, now_s, &doc, &dlen) != UM_OK)
			ev_http_resp_error(resp, 503, "cannot sign the relay-trust feed");
		else
			reply_doc(resp, doc, dlen);
	} else if (strcmp(path, "/v1/tokens") == 0) {
		if (strcmp(method, "POST") != 0)
			ev_http_resp_error(resp, 405, "use POST");
		else
			issue(c, family, addr, body, len, now_s, now_ms, resp);
	} else {
		return false;
	}
	return true;
}
