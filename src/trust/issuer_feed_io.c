/* SPDX-License-Identifier: MIT */
/*
 * The exit's issuer feed on the event loop (issuer_feed_io.h): one timer, and per (issuer,
 * document) at most one ev_http_fetch() in flight, its answer offered to the verifier.
 */
#include "trust/issuer_feed_io.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/encoding.h"
#include "lib/err.h"
#include "lib/log.h"
#include "lib/time.h"
#include "evloop/http_client.h"

enum feed_doc {
	DOC_KEYS = 0,
	DOC_REVS = 1,
	DOC_KINDS = 2,
};

static const char *const doc_paths[DOC_KINDS] = { "/v1/pubkeys", "/v1/revocations" };
static const char *const doc_names[DOC_KINDS] = { "key list", "revocation feed" };
static const size_t doc_caps[DOC_KINDS] = { ISSUER_KEYS_MAX_LEN, ISSUER_REVS_MAX_LEN };

struct feed_issuer;

struct feed_call {
	struct feed_issuer *is;
	enum feed_doc kind;
	struct ev_http_call *call; /* in flight, else NULL */
	bool held;                 /* a document of this kind was taken once */
	uint64_t next_ms;          /* loop time of the next fetch */
};

struct feed_issuer {
	struct issuer_feed *f;
	uint8_t id[TOKEN_VERIFIER_ID_LEN];
	char id_b32[BASE32_LEN(TOKEN_VERIFIER_ID_LEN)];
	char url[ISSUER_FEED_URL_MAX];
	struct feed_call calls[DOC_KINDS];
	struct log_ratelim rl;
};

struct issuer_feed {
	struct ev_loop *loop;
	struct token_verifier *tv;
	uint64_t refresh_ms;
	struct ev_timer *timer;
	size_t n;
	struct feed_issuer issuers[TOKEN_VERIFIER_ISSUERS_MAX];
};

static uint64_t
retry_ms(const struct issuer_feed *f)
{
	return UM_MIN(f->refresh_ms, (uint64_t)ISSUER_FEED_RETRY_MS);
}

static void
call_done(void *arg, const struct ev_http_result *res)
{
	struct feed_call *c = arg;
	struct feed_issuer *is = c->is;
	struct issuer_feed *f = is->f;
	int ret;

	c->call = NULL;
	if (res->err != UM_OK) {
		log_ratelim(&is->rl, UM_LOG_NOTICE, LD_DIR,
		            "issuer %s: fetching its %s from %s: %s%s%s", is->id_b32,
		            doc_names[c->kind], is->url, um_err_str(res->err),
		            res->err == UM_ERR_SYS ? ": " : "",
		            res->err == UM_ERR_SYS ? strerror(res->sys_errno) : "");
		return;
	}
	if (res->status != 200) {
		log_ratelim(&is->rl, UM_LOG_NOTICE, LD_DIR, "issuer %s: %s%s answered HTTP %d",
		            is->id_b32, is->url, doc_paths[c->kind], res->status);
		return;
	}
	if (c->kind == DOC_KEYS)
		ret = token_verifier_offer_keys(f->tv, is->id, res->body, res->body_len,
		                                um_wall_s());
	else
		ret = token_verifier_offer_revocations(f->tv, is->id, res->body, res->body_len,
		                                       um_wall_s());
	if (ret == UM_OK) {
		if (!c->held)
			log_notice(LD_DIR, "issuer %s: %s taken; tokens %s", is->id_b32,
			           doc_names[c->kind],
			           c->kind == DOC_KEYS ? "of its tiers are accepted now"
			                               : "of its revoked epochs are refused");
		c->held = true;
		/* A document taken (newer or the first): the next one comes at the full period. */
		c->next_ms = ev_now_ms(f->loop) + f->refresh_ms;
		return;
	}
	if (ret == UM_ERR_EXISTS)
		return; /* unchanged */
	log_ratelim(&is->rl, UM_LOG_NOTICE, LD_DIR, "issuer %s: %s from %s refused: %s", is->id_b32,
	            doc_names[c->kind], is->url,
	            ret == UM_ERR_REPLAY ? "older than the one held" : um_err_str(ret));
}

static void
call_start(struct feed_call *c, uint64_t now)
{
	struct feed_issuer *is = c->is;
	struct issuer_feed *f = is->f;
	struct ev_http_request req;
	char url[ISSUER_FEED_URL_MAX + 32];
	int ret;

	c->next_ms = now + (c->held ? f->refresh_ms : retry_ms(f));
	snprintf(url, sizeof(url), "%s%s", is->url, doc_paths[c->kind]);
	memset(&req, 0, sizeof(req));
	req.url = url;
	req.method = "GET";
	req.max_response_body = doc_caps[c->kind];
	req.timeout_ms = UM_MIN(f->refresh_ms, (uint64_t)ISSUER_FEED_TIMEOUT_MS);
	if ((ret = ev_http_fetch(f->loop, &req, call_done, c, &c->call)) != UM_OK) {
		c->call = NULL;
		log_ratelim(&is->rl, UM_LOG_WARN, LD_DIR, "issuer %s: cannot fetch %s: %s",
		            is->id_b32, url, um_err_str(ret));
	}
}

static void
on_tick(void *arg)
{
	struct issuer_feed *f = arg;
	uint64_t now = ev_now_ms(f->loop);

	for (size_t i = 0; i < f->n; i++) {
		for (size_t k = 0; k < DOC_KINDS; k++) {
			struct feed_call *c = &f->issuers[i].calls[k];

			if (c->call == NULL && now >= c->next_ms)
				call_start(c, now);
		}
	}
}

struct issuer_feed *
issuer_feed_new(struct ev_loop *loop, struct token_verifier *tv, uint64_t refresh_ms)
{
	struct issuer_feed *f = um_xcalloc(1, sizeof(*f));

	f->loop = loop;
	f->tv = tv;
	f->refresh_ms = refresh_ms > 0 ? refresh_ms : 1;
	f->timer = ev_timer_new(loop, on_tick, f);
	return f;
}

void
issuer_feed_free_(struct issuer_feed *f)
{
	if (f == NULL)
		return;
	for (size_t i = 0; i < f->n; i++) {
		for (size_t k = 0; k < DOC_KINDS; k++)
			ev_http_call_cancel(f->issuers[i].calls[k].call);
	}
	ev_timer_free(f->timer);
	free(f);
}

int
issuer_feed_add(struct issuer_feed *f, const uint8_t id[TOKEN_VERIFIER_ID_LEN],
                const char *base_url)
{
	struct feed_issuer *is;
	int ret;

	if (strlen(base_url) >= ISSUER_FEED_URL_MAX)
		return UM_ERR_INVALID;
	if ((ret = token_verifier_add_issuer(f->tv, id)) != UM_OK)
		return ret;
	is = &f->issuers[f->n++];
	memset(is, 0, sizeof(*is));
	is->f = f;
	memcpy(is->id, id, sizeof(is->id));
	if (enc_base32(is->id_b32, sizeof(is->id_b32), id, TOKEN_VERIFIER_ID_LEN) != UM_OK)
		snprintf(is->id_b32, sizeof(is->id_b32), "?");
	snprintf(is->url, sizeof(is->url), "%s", base_url);
	is->rl = (struct log_ratelim)LOG_RATELIM_INIT(60000);
	for (size_t k = 0; k < DOC_KINDS; k++) {
		is->calls[k].is = is;
		is->calls[k].kind = (enum feed_doc)k;
	}
	return UM_OK;
}

void
issuer_feed_start(struct issuer_feed *f)
{
	uint64_t period = retry_ms(f);

	on_tick(f);
	ev_timer_start(f->timer, period, period);
}
