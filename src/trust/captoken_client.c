/* SPDX-License-Identifier: MIT */
/* A capability token held for presenting: provider or access (captoken_client.h). */
#include "trust/captoken_client.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <jansson.h>

#include "lib/encoding.h"
#include "lib/err.h"
#include "lib/log.h"
#include "lib/time.h"
#include "crypto/hash.h"
#include "evloop/http_client.h"
#include "directory/dir_provider.h"
#include "trust/captoken.h"
#include "trust/idtoken.h"

struct captoken_client {
	struct ev_loop *loop;
	uint8_t issuer[CAPTOKEN_ID_LEN];
	char *url;
	char subject[ISSUER_ID_MAX_LEN + 1];
	char aud[CAPTOKEN_AUD_MAX + 1];
	char role[CAPTOKEN_ROLE_MAX + 1];
	const struct keys_ed25519 *key;
	struct ev_timer *timer;
	struct ev_http_call *call;
	uint64_t next_s; /* ask (again) at */
	uint8_t token[CAPTOKEN_MAX_LEN];
	size_t token_len; /* 0: none */
	struct captoken t;
	struct log_ratelim rl;
};

static void
ask_done(void *arg, const struct ev_http_result *res)
{
	struct captoken_client *cc = arg;
	uint64_t now = um_wall_s();
	uint8_t tok[CAPTOKEN_MAX_LEN + 1];
	struct captoken t;
	json_error_t jerr;
	const char *b64 = NULL;
	json_t *j = NULL;
	ssize_t n;

	cc->call = NULL;
	cc->next_s = now + CAPTOKEN_CLIENT_RETRY_S;
	if (res->err != UM_OK) {
		log_ratelim(&cc->rl, UM_LOG_NOTICE, LD_APP, "%s token request to %s failed: %s",
		            cc->role, cc->url, um_err_str(res->err));
		return;
	}
	if (res->status != 200) {
		char esc[4 * 120 + 1];

		log_ratelim(&cc->rl, UM_LOG_WARN, LD_APP,
		            "issuer %s refused a %s token: HTTP %d %s", cc->url, cc->role,
		            res->status,
		            log_escape(res->body, UM_MIN(res->body_len, (size_t)120), esc,
		                       sizeof(esc)));
		return;
	}
	j = json_loadb((const char *)res->body, res->body_len, JSON_REJECT_DUPLICATES, &jerr);
	if (j == NULL || json_unpack(j, "{s:s}", "token", &b64) != 0 ||
	    (n = dec_base64(tok, sizeof(tok), b64, strlen(b64))) <= 0 ||
	    captoken_parse(tok, (size_t)n, &t) != n) {
		log_ratelim(&cc->rl, UM_LOG_WARN, LD_APP,
		            "issuer %s answered something that is not a token", cc->url);
		goto out;
	}
	/* Check what we were given before presenting it anywhere. */
	if (memcmp(t.issuer, cc->issuer, CAPTOKEN_ID_LEN) != 0 ||
	    memcmp(t.pop_key, cc->key->pk, CAPTOKEN_ID_LEN) != 0 ||
	    strcmp(t.sub, cc->subject) != 0 || strcmp(t.role, cc->role) != 0 ||
	    strcmp(t.aud, cc->aud) != 0 || now >= t.exp_s) {
		log_ratelim(&cc->rl, UM_LOG_WARN, LD_APP,
		            "issuer %s answered a %s token for something else", cc->url, cc->role);
		goto out;
	}
	memcpy(cc->token, tok, (size_t)n);
	cc->token_len = (size_t)n;
	cc->t = t;
	/* Renew at half its lifetime. */
	cc->next_s = t.iat_s + (t.exp_s - t.iat_s) / 2;
	if (cc->next_s < now + CAPTOKEN_CLIENT_RETRY_S)
		cc->next_s = now + CAPTOKEN_CLIENT_RETRY_S;
	log_notice(LD_APP, "%s token held (tier %u), valid until %llu", cc->role, t.tier,
	           (unsigned long long)t.exp_s);
out:
	json_decref(j);
}

static void
ask(struct captoken_client *cc, uint64_t now_s)
{
	uint8_t msg[CAPTOKEN_REQ_MSG_MAX], sig[CAPTOKEN_SIG_LEN];
	char pk[BASE32_LEN(32)], sig64[BASE64_LEN(CAPTOKEN_SIG_LEN)], url[600], *body;
	struct ev_http_request req;
	size_t mlen;
	int ret;

	cc->next_s = now_s + CAPTOKEN_CLIENT_RETRY_S;
	mlen = captoken_req_msg(msg, cc->subject, cc->role, cc->aud, now_s, cc->key->pk);
	if (mlen == 0 || enc_base32(pk, sizeof(pk), cc->key->pk, 32) != UM_OK)
		return;
	sign_ed25519(cc->key, msg, mlen, sig);
	if (enc_base64(sig64, sizeof(sig64), sig, sizeof(sig)) != UM_OK)
		return;
	body = um_xasprintf("{\"subject\":\"%s\",\"role\":\"%s\",\"aud\":\"%s\","
	                    "\"pop_key\":\"%s\",\"time\":%llu,\"sig\":\"%s\"}",
	                    cc->subject, cc->role, cc->aud, pk, (unsigned long long)now_s, sig64);
	snprintf(url, sizeof(url), "%s/v1/captokens", cc->url);
	memset(&req, 0, sizeof(req));
	req.url = url;
	req.method = "POST";
	req.body = (const uint8_t *)body;
	req.body_len = strlen(body);
	req.max_response_body = 4096;
	req.timeout_ms = CAPTOKEN_CLIENT_TIMEOUT_MS;
	if ((ret = ev_http_fetch(cc->loop, &req, ask_done, cc, &cc->call)) != UM_OK)
		log_ratelim(&cc->rl, UM_LOG_WARN, LD_APP, "cannot ask %s for a %s token: %s",
		            cc->url, cc->role, um_err_str(ret));
	free(body);
}

static void
tick(void *arg)
{
	struct captoken_client *cc = arg;
	uint64_t now = um_wall_s();

	if (cc->call == NULL && now >= cc->next_s)
		ask(cc, now);
}

int
captoken_client_new(struct ev_loop *loop, const struct captoken_client_config *cfg,
                    struct captoken_client **out, char *why, size_t why_len)
{
	struct captoken_client *cc;

	*out = NULL;
	if (cfg->issuer == NULL || cfg->url == NULL || cfg->key == NULL || cfg->subject == NULL ||
	    !issuer_id_is_valid(cfg->subject) || cfg->aud == NULL ||
	    !captoken_aud_is_valid(cfg->aud) ||
	    (cfg->role != NULL && !captoken_role_is_valid(cfg->role))) {
		snprintf(
		        why, why_len,
		        "%s token: needs the issuer, a subject id (1..64 of A-Z a-z 0-9 . _ : @ -) "
		        "and a key",
		        cfg->role != NULL ? cfg->role : "provider");
		return UM_ERR_INVALID;
	}
	cc = um_xcalloc(1, sizeof(*cc));
	cc->loop = loop;
	memcpy(cc->issuer, cfg->issuer, CAPTOKEN_ID_LEN);
	cc->url = um_xstrdup(cfg->url);
	snprintf(cc->subject, sizeof(cc->subject), "%s", cfg->subject);
	snprintf(cc->aud, sizeof(cc->aud), "%s", cfg->aud);
	snprintf(cc->role, sizeof(cc->role), "%s", cfg->role != NULL ? cfg->role : "provider");
	cc->key = cfg->key;
	cc->rl = (struct log_ratelim)LOG_RATELIM_INIT(60000);
	cc->timer = ev_timer_new(loop, tick, cc);
	ev_timer_start(cc->timer, 0, CAPTOKEN_CLIENT_TICK_MS);
	*out = cc;
	return UM_OK;
}

void
captoken_client_free_(struct captoken_client *cc)
{
	if (cc == NULL)
		return;
	ev_http_call_cancel(cc->call);
	ev_timer_free(cc->timer);
	free(cc->url);
	um_memzero(cc, sizeof(*cc));
	free(cc);
}

int
captoken_client_upsert_body(struct captoken_client *cc, const uint8_t audience[32],
                            const uint8_t *desc, size_t len, uint64_t now_s, uint8_t **body,
                            size_t *body_len)
{
	struct dir_provider_upsert u;
	uint8_t digest[CAPTOKEN_HASH_LEN];
	struct wire_wr w;
	int ret;

	*body = NULL;
	*body_len = 0;
	if (cc->token_len == 0 || now_s + CAPTOKEN_CLIENT_MIN_LEFT_S >= cc->t.exp_s)
		return UM_ERR_STATE;
	memset(&u, 0, sizeof(u));
	u.version = DIR_PROVIDER_VERSION;
	u.token = cc->token;
	u.token_len = cc->token_len;
	u.time_s = now_s;
	u.desc = desc;
	u.desc_len = len;
	hash_blake2b(digest, sizeof(digest), desc, len, NULL, 0);
	captoken_pop_sign(cc->key, cc->token, cc->token_len, audience, now_s, digest, u.pop_sig);
	*body = um_xmalloc(DIR_PROVIDER_MAX_LEN);
	wire_wr_init(&w, *body, DIR_PROVIDER_MAX_LEN);
	if ((ret = dir_provider_upsert_encode(&u, &w)) != UM_OK) {
		free(*body);
		*body = NULL;
		return ret;
	}
	*body_len = w.len;
	return UM_OK;
}

int
captoken_client_idtoken(struct captoken_client *cc, const uint8_t audience[32], uint64_t now_s,
                        uint8_t *out, size_t cap, size_t *len)
{
	uint8_t digest[CAPTOKEN_HASH_LEN], sig[CAPTOKEN_SIG_LEN];
	struct wire_wr w;
	int ret;

	*len = 0;
	if (cc->token_len == 0 || now_s + CAPTOKEN_CLIENT_MIN_LEFT_S >= cc->t.exp_s)
		return UM_ERR_STATE;
	idtoken_digest(cc->token, cc->token_len, digest);
	captoken_pop_sign(cc->key, cc->token, cc->token_len, audience, now_s, digest, sig);
	wire_wr_init(&w, out, cap);
	if ((ret = idtoken_encode(cc->token, cc->token_len, now_s, sig, &w)) != UM_OK)
		return ret;
	*len = w.len;
	return UM_OK;
}

uint8_t
captoken_client_tier(const struct captoken_client *cc)
{
	return cc->token_len != 0 ? cc->t.tier : 0;
}

uint64_t
captoken_client_expires(const struct captoken_client *cc)
{
	return cc->token_len != 0 ? cc->t.exp_s : 0;
}
