/* SPDX-License-Identifier: MIT */
/* The client role's tier tokens (tokens_io.h). */
#include "trust/tokens_io.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/err.h"
#include "lib/log.h"
#include "lib/mem.h"
#include "lib/time.h"
#include "trust/idtoken.h"
#include "trust/issuer_creds.h"

enum {
	FETCH_TIMEOUT_MS = 20000,
	KEYS_BODY_MAX = ISSUER_KEYS_MAX_LEN,
	TOKENS_BODY_MAX = 64 * 1024,
};

static void fetch_fail(struct tokens_io *t, const char *fmt, ...) UM_PRINTF(2, 3);

static void
fetch_end(struct tokens_io *t)
{
	if (t->wait != NULL)
		ev_timer_stop(t->wait);
	tokens_req_free(t->req);
	free(t->body);
	t->body = NULL;
	free(t->keys);
	t->keys = NULL;
	free(t->keys_doc);
	t->keys_doc = NULL;
	t->call = NULL;
	t->pz_solving = false;
}

static void
fetch_fail(struct tokens_io *t, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(t->error, sizeof(t->error), fmt, ap);
	va_end(ap);
	t->state = TOKENS_FETCH_FAILED;
	log_warn(LD_APP, "token fetch failed after %zu of %zu tokens: %s", t->got, t->want,
	         t->error);
	fetch_end(t);
}

static void on_tokens(void *arg, const struct ev_http_result *res);
static void post_batch(struct tokens_io *t);

/* Ask for the next batch (at most 32) with the fetch's key list. */
static void
next_batch(struct tokens_io *t)
{
	size_t n = t->want - t->got;
	int ret;

	if (n == 0) {
		t->state = TOKENS_FETCH_DONE;
		log_notice(LD_APP, "fetched %zu tier-%u tokens (key epoch %u)", t->got,
		           (unsigned)t->tier, t->epoch);
		fetch_end(t);
		return;
	}
	if (n > TOKENS_PER_FETCH_MAX)
		n = TOKENS_PER_FETCH_MAX;
	tokens_req_free(t->req);
	free(t->body);
	t->body = NULL;
	struct tokens_subject who = { t->subject, &t->subject_key };

	if (t->tier > 1 && t->subject[0] == '\0') {
		fetch_fail(t, "tokens above tier 1 need [client] subject (and the issuer's admin "
		              "registering its key)");
		return;
	}
	if ((ret = tokens_req_new_epoch(t->keys, t->tier, t->epoch, n, t->tier > 1 ? &who : NULL,
	                                um_wall_s(), &t->req, &t->body)) != UM_OK) {
		fetch_fail(t, "%s",
		           ret == UM_ERR_NOT_FOUND ? "the issuer has no key for this tier"
		                                   : um_err_str(ret));
		return;
	}
	t->pz_tries = 0;
	post_batch(t);
}

/* POST the batch's body (t->body) to the issuer. */
static void
post_batch(struct tokens_io *t)
{
	struct ev_http_request req;
	struct ev_http_header h = { "Content-Type", "application/json" };
	char url[TOKENS_IO_URL_MAX + 16];
	int ret;

	snprintf(url, sizeof(url), "%s/v1/tokens", t->issuer_urls[0]);
	memset(&req, 0, sizeof(req));
	req.url = url;
	req.method = "POST";
	req.headers = &h;
	req.n_headers = 1;
	req.body = (const uint8_t *)t->body;
	req.body_len = strlen(t->body);
	req.max_response_body = TOKENS_BODY_MAX;
	req.timeout_ms = FETCH_TIMEOUT_MS;
	if ((ret = ev_http_fetch(t->loop, &req, on_tokens, t, &t->call)) != UM_OK)
		fetch_fail(t, "cannot reach the issuer: %s", um_err_str(ret));
}

/* Solve from the defer, TOKENS_IO_PUZZLE_STEP hashes per loop iteration; then re-send. */
static void
puzzle_step(void *arg)
{
	struct tokens_io *t = arg;
	char *body = NULL;

	if (!t->pz_solving || t->req == NULL)
		return;
	if (!puzzle_solver_run(&t->pz, TOKENS_IO_PUZZLE_STEP)) {
		ev_defer_schedule(t->pz_defer);
		return;
	}
	t->pz_solving = false;
	t->puzzles_solved++;
	t->puzzle_solve_ms += (um_mono_ns() - t->pz_start_ns) / 1000000;
	if (tokens_body_add_puzzle(t->body, t->pz_seed, t->pz.nonce, &body) != UM_OK) {
		fetch_fail(t, "cannot add the puzzle solution to the request");
		return;
	}
	free(t->body);
	t->body = body;
	post_batch(t);
}

/*
 * A 429: when it asks a puzzle within our cap (and we have not answered this batch's
 * challenges too often), start solving it and return true; else false (the refusal stands).
 */
static bool
puzzle_start(struct tokens_io *t, const struct ev_http_result *res)
{
	uint8_t bound[PUZZLE_SEED_LEN + ISSUER_CREDS_HASH_LEN];
	unsigned bits = 0, cap;

	if (t->pz_defer == NULL || t->req == NULL ||
	    tokens_puzzle_parse(res->body, res->body_len, t->pz_seed, &bits) != UM_OK)
		return false;
	cap = t->puzzle_cap != NULL ? t->puzzle_cap(t->puzzle_arg)
	                            : (unsigned)TOKENS_IO_PUZZLE_CAP_DEFAULT;
	if (bits > cap || t->pz_tries >= TOKENS_IO_PUZZLE_TRIES) {
		fetch_fail(t, "the issuer asks a %u-bit puzzle (%s)", bits,
		           bits > cap ? "over the network's cap" : "again after a solution");
		return true;
	}
	memcpy(bound, t->pz_seed, PUZZLE_SEED_LEN);
	memcpy(bound + PUZZLE_SEED_LEN, tokens_req_digest(t->req), ISSUER_CREDS_HASH_LEN);
	if (puzzle_solver_init(&t->pz, bound, sizeof(bound), bits) != UM_OK)
		return false;
	t->pz_tries++;
	t->pz_solving = true;
	t->pz_start_ns = um_mono_ns();
	log_info(LD_APP, "the issuer asks a %u-bit puzzle; solving it", bits);
	ev_defer_schedule(t->pz_defer);
	return true;
}

static void
on_tokens(void *arg, const struct ev_http_result *res)
{
	struct tokens_io *t = arg;
	size_t added = 0;
	int ret;

	t->call = NULL;
	if (res->err != UM_OK) {
		fetch_fail(t, "issuer unreachable: %s", um_err_str(res->err));
		return;
	}
	if (res->status == 429 && puzzle_start(t, res))
		return;
	if (res->status != 200) {
		char esc[4 * 100 + 1];

		fetch_fail(t, "the issuer refused (HTTP %d): %s", res->status,
		           log_escape(res->body, UM_MIN(res->body_len, (size_t)100), esc,
		                      sizeof(esc)));
		return;
	}
	ret = tokens_req_finish(t->req, res->body, res->body_len, t->w, um_wall_s(), &added);
	t->got += added;
	if (ret == UM_ERR_AUTH) {
		/* A signature that does not verify: a broken or cheating issuer. Stop. */
		fetch_fail(t, "the issuer's signatures do not verify with its published key");
		return;
	}
	if (ret != UM_OK) {
		fetch_fail(t, "bad reply from the issuer: %s", um_err_str(ret));
		return;
	}
	next_batch(t);
}

enum key_check {
	KEY_LISTED,   /* a key of the tier is in both lists, byte for byte (or the tier has none) */
	KEY_MISSING,  /* not (yet): no consensus, no copy of the issuer's list, no common key */
	KEY_CONFLICT, /* the consensus lists another key for a (tier, epoch) the issuer names */
};

/*
 * Choose the key this fetch's tokens will be signed with: the newest epoch of the tier whose
 * key the issuer's list and the consensus copy both carry, byte for byte (*epoch). Usually
 * the issuer's current epoch; right after a rotation, while the consensus does not list the
 * new key yet, the previous one, which the issuer still signs with when asked (17.4).
 */
static enum key_check
key_check(const struct tokens_io *t, uint32_t *epoch, char *why, size_t why_len)
{
	const struct consensus *c = NULL;
	struct issuer_keys theirs;
	const uint8_t *doc;
	size_t len;
	bool any = false, found = false;

	*epoch = t->keys->key_epoch;
	for (size_t i = 0; i < t->keys->n; i++)
		any = any || t->keys->keys[i].tier == t->tier;
	if (!any)
		return KEY_LISTED; /* next_batch() says the issuer has no key for the tier */
	if (t->consensus != NULL)
		c = t->consensus(t->consensus_arg, um_wall_s());
	if (c == NULL) {
		snprintf(why, why_len, "no consensus to check the issuer's key against");
		return KEY_MISSING;
	}
	if (consensus_issuer_find(c, t->issuer_ids[0], &doc, &len) != UM_OK) {
		snprintf(why, why_len, "the consensus carries no key list of the issuer");
		return KEY_MISSING;
	}
	if (issuer_keys_parse_verify(doc, len, t->issuer_ids[0], um_wall_s(), &theirs) != UM_OK) {
		snprintf(why, why_len,
		         "the consensus copy of the issuer's key list does not verify");
		return KEY_MISSING;
	}
	for (size_t i = 0; i < t->keys->n; i++) {
		const struct issuer_key_entry *mine = &t->keys->keys[i];

		if (mine->tier != t->tier || mine->epoch > t->keys->key_epoch ||
		    mine->epoch < t->keys->min_token_epoch)
			continue;
		for (size_t k = 0; k < theirs.n; k++) {
			const struct issuer_key_entry *e = &theirs.keys[k];

			if (e->tier != mine->tier || e->epoch != mine->epoch)
				continue;
			if (e->spki_len != mine->spki_len ||
			    memcmp(e->spki, mine->spki, e->spki_len) != 0) {
				snprintf(why, why_len,
				         "the issuer's key for tier %u epoch %" PRIu32
				         " is not the consensus copy's (it could tag our tokens)",
				         (unsigned)mine->tier, mine->epoch);
				return KEY_CONFLICT;
			}
			if (!found || mine->epoch > *epoch)
				*epoch = mine->epoch;
			found = true;
		}
	}
	if (found)
		return KEY_LISTED;
	snprintf(why, why_len, "no key of tier %u that the issuer lists is in the consensus yet",
	         (unsigned)t->tier);
	return KEY_MISSING;
}

/* Go on once the consensus lists the key; poll until the deadline. */
static void
on_wait(void *arg)
{
	struct tokens_io *t = arg;
	char why[TOKENS_IO_ERROR_LEN];

	switch (key_check(t, &t->epoch, why, sizeof(why))) {
	case KEY_LISTED:
		ev_timer_stop(t->wait);
		next_batch(t);
		return;
	case KEY_CONFLICT:
		fetch_fail(t, "%s", why);
		return;
	case KEY_MISSING:
		break;
	}
	if (um_mono_ms() >= t->wait_until_ms) {
		fetch_fail(t, "%s after %d s: not asking for tokens under it", why,
		           TOKENS_IO_CONSENSUS_WAIT_MS / 1000);
		return;
	}
	if (!ev_timer_is_active(t->wait))
		ev_timer_start(t->wait, TOKENS_IO_CONSENSUS_POLL_MS, TOKENS_IO_CONSENSUS_POLL_MS);
}

static void
on_keys(void *arg, const struct ev_http_result *res)
{
	struct tokens_io *t = arg;
	int ret;

	t->call = NULL;
	if (res->err != UM_OK) {
		fetch_fail(t, "issuer unreachable: %s", um_err_str(res->err));
		return;
	}
	if (res->status != 200) {
		fetch_fail(t, "the issuer's key list: HTTP %d", res->status);
		return;
	}
	t->keys_doc = um_xmalloc(res->body_len > 0 ? res->body_len : 1);
	memcpy(t->keys_doc, res->body, res->body_len);
	t->keys = um_xcalloc(1, sizeof(*t->keys));
	if ((ret = issuer_keys_parse_verify(t->keys_doc, res->body_len, t->issuer_ids[0],
	                                    um_wall_s(), t->keys)) != UM_OK) {
		fetch_fail(t, "the issuer's key list does not verify against its pinned id: %s",
		           um_err_str(ret));
		return;
	}
	if (t->wait == NULL)
		t->wait = ev_timer_new(t->loop, on_wait, t);
	t->wait_until_ms = um_mono_ms() + TOKENS_IO_CONSENSUS_WAIT_MS;
	on_wait(t);
}

int
tokens_io_fetch(struct tokens_io *t, uint8_t tier, size_t count)
{
	struct ev_http_request req;
	char url[TOKENS_IO_URL_MAX + 16];
	int ret;

	if (t->w == NULL || t->n_issuers == 0)
		return UM_ERR_NOT_FOUND;
	if (t->state == TOKENS_FETCH_RUNNING)
		return UM_ERR_STATE;
	if (tier < TOKEN_TIER_MIN || tier > TOKEN_TIER_MAX || count < 1 ||
	    count > TOKENS_IO_FETCH_MAX)
		return UM_ERR_INVALID;
	t->tier = tier;
	t->want = count;
	t->got = 0;
	t->error[0] = '\0';
	snprintf(url, sizeof(url), "%s/v1/pubkeys", t->issuer_urls[0]);
	memset(&req, 0, sizeof(req));
	req.url = url;
	req.max_response_body = KEYS_BODY_MAX;
	req.timeout_ms = FETCH_TIMEOUT_MS;
	if ((ret = ev_http_fetch(t->loop, &req, on_keys, t, &t->call)) != UM_OK)
		return ret;
	t->state = TOKENS_FETCH_RUNNING;
	return UM_OK;
}

int
tokens_io_take(struct tokens_io *t, const uint8_t exit_id[32], uint8_t *body, size_t cap,
               size_t *len)
{
	size_t n = 0;
	int ret;

	*len = 0;
	if (t->idc != NULL) {
		/* Identified (18.5): the access token, its proof bound to this circuit's exit. */
		if (cap < 32)
			return UM_ERR_INVALID;
		ret = captoken_client_idtoken(t->idc, exit_id, um_wall_s(), body + 32, cap - 32,
		                              &n);
		if (ret != UM_OK) {
			log_debug(LD_APP, "no access token held yet: the circuit gets none");
			return UM_ERR_NOT_FOUND;
		}
		memcpy(body, t->issuer_ids[0], 32);
		*len = 32 + n;
		t->identified_sent++;
		return UM_OK;
	}
	if (t->w == NULL)
		return UM_ERR_NOT_FOUND;
	if (cap < 32 + TOKEN_MIN_LEN)
		return UM_ERR_INVALID;
	ret = wallet_take(t->w, t->token_tier, 0, body, body + 32, cap - 32, &n);
	if (ret != UM_OK)
		return ret;
	*len = 32 + n;
	t->spent++;
	return UM_OK;
}

int
tokens_io_counts(struct tokens_io *t, wallet_count_fn *fn, void *arg)
{
	return t->w != NULL ? wallet_counts(t->w, fn, arg) : UM_OK;
}

int
tokens_io_start(struct tokens_io *t, const struct config *c, struct ev_loop *loop, char *why,
                size_t why_len)
{
	char *path;
	int ret;

	memset(t, 0, sizeof(*t));
	t->loop = loop;
	if ((c->node.roles & ROLE_CLIENT) == 0)
		return UM_OK;
	if (c->client.issuers.n > TOKENS_IO_MAX_ISSUERS) {
		snprintf(why, why_len, "at most %d [client] issuers", TOKENS_IO_MAX_ISSUERS);
		return UM_ERR_CONFIG;
	}
	for (size_t i = 0; i < c->client.issuers.n; i++) {
		if (config_authority_parse(c->client.issuers.v[i], t->issuer_ids[i],
		                           t->issuer_urls[i], sizeof(t->issuer_urls[i])) != UM_OK) {
			snprintf(why, why_len, "bad [client] issuers #%zu", i + 1);
			return UM_ERR_CONFIG;
		}
	}
	t->n_issuers = c->client.issuers.n;
	t->token_tier = (uint8_t)c->client.token_tier;
	if (c->client.subject[0] != '\0') {
		snprintf(t->subject, sizeof(t->subject), "%s", c->client.subject);
		ret = keys_ed25519_load(c->client.subject_key, &t->subject_key, why, why_len);
		if (ret == UM_ERR_NOT_FOUND) {
			uint8_t seed[ED25519_SEED_LEN];

			keys_ed25519_generate(&t->subject_key);
			keys_ed25519_seed(&t->subject_key, seed);
			ret = keyfile_write(c->client.subject_key, KEYFILE_ED25519, seed, why,
			                    why_len);
			um_memzero(seed, sizeof(seed));
			if (ret == UM_OK)
				log_notice(LD_APP, "made the subject key %s",
				           c->client.subject_key);
		}
		if (ret != UM_OK)
			return ret;
	}
	if (c->client.identified_token) {
		struct captoken_client_config cc = {
			.issuer = t->issuer_ids[0],
			.url = t->issuer_urls[0],
			.subject = t->subject,
			.key = &t->subject_key, /* pop_key = the subject key (18.5) */
			.aud = IDTOKEN_AUD_STR,
			.role = IDTOKEN_ROLE,
		};

		if (t->subject[0] == '\0' || t->n_issuers == 0) {
			snprintf(why, why_len,
			         "[client] identified_token needs [client] subject and issuers");
			return UM_ERR_CONFIG;
		}
		if ((ret = captoken_client_new(loop, &cc, &t->idc, why, why_len)) != UM_OK)
			return ret;
		log_notice(LD_APP, "identified tokens: each exit will learn this client's subject");
	}
	if (t->n_issuers == 0)
		return UM_OK; /* no issuer, no tokens: no wallet either */
	path = um_xasprintf("%s/wallet.db", c->node.state_dir);
	ret = store_open(path, NULL, &t->store, why, why_len);
	free(path);
	if (ret != UM_OK)
		return ret;
	if ((ret = wallet_open(t->store, &t->w, why, why_len)) != UM_OK)
		return ret;
	t->pz_defer = ev_defer_new(loop, puzzle_step, t);
	return UM_OK;
}

void
tokens_io_clear(struct tokens_io *t)
{
	captoken_client_free(t->idc); /* before the subject key it borrows */
	ev_http_call_cancel(t->call);
	fetch_end(t);
	ev_defer_free(t->pz_defer);
	wallet_free(t->w);
	store_close(t->store);
	keys_ed25519_clear(&t->subject_key);
	ev_timer_free(t->wait);
	um_memzero(t, sizeof(*t));
}
