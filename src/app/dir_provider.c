/* SPDX-License-Identifier: MIT */
/*
 * Provider bindings wired into the directory roles (issue 5, PROTOCOL.md 18.4): the directory
 * layer frames upserts and stores bindings but cannot read capability tokens or revocation
 * feeds (trust/ ranks above directory/), so this file supplies its checks:
 *
 *   authority  dirserv's provider_verify / provider_check / provider_feed: the issuers'
 *              revocation feeds fetched by directory_io are verified here against the pinned
 *              [directory] issuers (the newest seq per issuer is held in memory), tokens
 *              are checked with captoken_verify() for audience "directory" and role
 *              "provider", bindings against the held feed;
 *   relay      with [relay] provider, a captoken_client asks the issuer for the operator's
 *              token and dirrelay_io uploads through captoken_client_upsert_body().
 */
#include "app/dir_node.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/err.h"
#include "lib/log.h"
#include "app/app.h"
#include "trust/captoken.h"
#include "trust/captoken_client.h"
#include "trust/issuer_doc.h"

#define PROVIDER_AUD  "directory"
#define PROVIDER_ROLE "provider"

struct app_provider {
	/* Authority: the configured issuers and the newest verified feed of each (or NULL). */
	size_t n;
	uint8_t ids[DIR_MAX_ISSUERS][DIR_ISSUER_ID_LEN];
	struct issuer_revocations *revs[DIR_MAX_ISSUERS];
	/* Relay: the operator's key and its token client. */
	struct keys_ed25519 key;
	struct captoken_client *cc;
};

static struct app_provider *
prov_get(struct app_dir *d)
{
	if (d->prov == NULL)
		d->prov = um_xcalloc(1, sizeof(*d->prov));
	return d->prov;
}

static int
find(const struct app_provider *p, const uint8_t id[DIR_ISSUER_ID_LEN])
{
	for (size_t i = 0; i < p->n; i++)
		if (memcmp(p->ids[i], id, DIR_ISSUER_ID_LEN) == 0)
			return (int)i;
	return -1;
}

/* dir_provider_feed_fn: verify against the pinned identity; a higher seq replaces the held. */
static int
feed_take(void *arg, const uint8_t identity[DIR_ISSUER_ID_LEN], const uint8_t *doc, size_t len,
          uint64_t now_s, uint64_t *seq)
{
	struct app_provider *p = arg;
	struct issuer_revocations *r;
	int i = find(p, identity), ret;

	*seq = 0;
	if (i < 0)
		return UM_ERR_NOT_FOUND;
	r = um_xcalloc(1, sizeof(*r));
	if ((ret = issuer_revocations_parse_verify(doc, len, identity, now_s, r)) != UM_OK) {
		free(r);
		return ret;
	}
	*seq = r->seq;
	if (p->revs[i] != NULL && r->seq <= p->revs[i]->seq) {
		*seq = p->revs[i]->seq;
		free(r);
		return UM_OK; /* the same (or an older) feed: keep ours */
	}
	if (p->revs[i] != NULL && r->n_subjects > p->revs[i]->n_subjects)
		log_notice(LD_DIR, "issuer revocation feed seq %llu revokes %u subjects",
		           (unsigned long long)r->seq, r->n_subjects);
	free(p->revs[i]);
	p->revs[i] = r;
	return UM_OK;
}

/* The held feed of issuer i, or NULL when none. A feed past its expiry still refuses what it
 * lists but vouches for nothing: fresh() says whether it may be used to accept. */
static const struct issuer_revocations *
feed_of(const struct app_provider *p, int i)
{
	return i >= 0 ? p->revs[i] : NULL;
}

/* Whether r may be used to accept at now_s (held and not expired: whoever blocks our fetches
 * must not keep a revoked subject in by keeping an old feed current). */
static bool
fresh(const struct issuer_revocations *r, uint64_t now_s)
{
	return r != NULL && now_s < r->expires_s;
}

/* dir_provider_verify_fn */
static int
token_verify(void *arg, const uint8_t *token, size_t len, const uint8_t audience[DIR_ISSUER_ID_LEN],
             uint64_t time_s, const uint8_t digest[32], const uint8_t pop_sig[64], uint64_t now_s,
             struct dir_provider_binding *out, const char **reason)
{
	struct app_provider *p = arg;
	struct captoken t;
	struct captoken_check chk;
	enum captoken_verdict v;
	int i;

	memset(out, 0, sizeof(*out));
	/* The issuer field sits at offset 1 (captoken_parse checks the rest). */
	if (captoken_parse(token, len, &t) != (ssize_t)len) {
		*reason = captoken_verdict_str(CAPTOKEN_MALFORMED);
		return UM_ERR_MALFORMED;
	}
	if ((i = find(p, t.issuer)) < 0) {
		*reason = "the token's issuer is not one of this directory's issuers";
		return UM_ERR_AUTH;
	}
	memset(&chk, 0, sizeof(chk));
	chk.issuer = p->ids[i];
	chk.revs = feed_of(p, i);
	chk.aud = PROVIDER_AUD;
	chk.role = PROVIDER_ROLE;
	chk.audience_id = audience;
	chk.pop_time_s = time_s;
	chk.digest = digest;
	chk.pop_sig = pop_sig;
	chk.now_s = now_s;
	v = captoken_verify(token, len, &chk, &t);
	*reason = captoken_verdict_str(v);
	if (v == CAPTOKEN_NO_FEED)
		return UM_ERR_STATE;
	if (v != CAPTOKEN_OK)
		return UM_ERR_AUTH;
	memcpy(out->issuer, t.issuer, DIR_ISSUER_ID_LEN);
	snprintf(out->subject, sizeof(out->subject), "%s", t.sub);
	out->key_epoch = t.key_epoch;
	out->expires_s = t.exp_s;
	memcpy(out->pop_key, t.pop_key, sizeof(out->pop_key));
	return UM_OK;
}

/* dir_provider_check_fn: the binding's issuer is still configured, an unexpired feed of it is
 * held, and that feed neither retires the token's epoch nor lists its subject. */
static bool
binding_check(void *arg, const struct dir_provider_binding *b, uint64_t now_s)
{
	struct app_provider *p = arg;
	const struct issuer_revocations *r = feed_of(p, find(p, b->issuer));

	return fresh(r, now_s) && b->key_epoch >= r->min_token_epoch &&
	       !issuer_revocations_refuse_subject(r, b->subject);
}

int
app_dir_provider_authority(struct app_dir *d, const struct config *c, size_t n_issuers,
                           const uint8_t (*ids)[DIR_ISSUER_ID_LEN], struct dirserv_config *dcfg,
                           char *why, size_t why_len)
{
	struct app_provider *p;

	if (c->directory.require_provider && n_issuers == 0) {
		snprintf(why, why_len, "[directory] require_provider needs [directory] issuers");
		return UM_ERR_CONFIG;
	}
	if (n_issuers == 0)
		return UM_OK;
	p = prov_get(d);
	p->n = n_issuers;
	memcpy(p->ids, ids, n_issuers * DIR_ISSUER_ID_LEN);
	dcfg->require_provider = c->directory.require_provider;
	dcfg->provider_verify = token_verify;
	dcfg->provider_check = binding_check;
	dcfg->provider_feed = feed_take;
	dcfg->provider_arg = p;
	return UM_OK;
}

char *
app_provider_key_path(const struct config *c)
{
	return c->relay.provider_key != NULL && c->relay.provider_key[0] != '\0'
	               ? um_xstrdup(c->relay.provider_key)
	               : um_xasprintf("%s/provider.key", c->node.state_dir);
}

static int
upsert_body(void *arg, const uint8_t authority[32], const uint8_t *desc, size_t len, uint64_t now_s,
            uint8_t **body, size_t *body_len)
{
	struct app_provider *p = arg;

	return captoken_client_upsert_body(p->cc, authority, desc, len, now_s, body, body_len);
}

int
app_dir_provider_relay(struct app_dir *d, const struct config *c, struct ev_loop *loop,
                       struct dirrelay_io_config *rcfg, const uint8_t (*auth_ids)[32], char *why,
                       size_t why_len)
{
	struct captoken_client_config ccfg;
	struct app_provider *p;
	uint8_t id[CONFIG_KEY_LEN], secret[32];
	char url[CONFIG_URL_MAX], *path;
	bool made = false;
	int ret;

	if (c->relay.provider == NULL || c->relay.provider[0] == '\0')
		return UM_OK;
	if (config_authority_parse(c->relay.provider, id, url, sizeof(url)) != UM_OK) {
		snprintf(why, why_len, "bad [relay] provider (want <issuer-id>@http://host:port)");
		return UM_ERR_CONFIG;
	}
	if (c->relay.provider_subject == NULL || c->relay.provider_subject[0] == '\0') {
		snprintf(why, why_len, "[relay] provider needs provider_subject");
		return UM_ERR_CONFIG;
	}
	if (d->op.sk != NULL) {
		snprintf(why, why_len,
		         "[relay] provider_key certifies the relay as its operator: leave "
		         "operator_key empty");
		return UM_ERR_CONFIG;
	}
	p = prov_get(d);
	path = app_provider_key_path(c);
	ret = app_keyfile_load(path, KEYFILE_ED25519, true, secret, &made, why, why_len);
	if (ret == UM_OK) {
		keys_ed25519_from_seed(&p->key, secret);
		if (made)
			log_notice(LD_APP, "created the provider key %s", path);
	}
	um_memzero(secret, sizeof(secret));
	free(path);
	if (ret != UM_OK)
		return ret;
	memset(&ccfg, 0, sizeof(ccfg));
	ccfg.issuer = id;
	ccfg.url = url;
	ccfg.subject = c->relay.provider_subject;
	ccfg.key = &p->key;
	ccfg.aud = PROVIDER_AUD;
	if ((ret = captoken_client_new(loop, &ccfg, &p->cc, why, why_len)) != UM_OK)
		return ret;
	/* The provider key is the relay's operator: the authority binds only relays whose
	 * operator certificate is by the token's key. */
	rcfg->op = &p->key;
	rcfg->upsert = upsert_body;
	rcfg->upsert_arg = p;
	rcfg->ids = auth_ids;
	log_notice(LD_APP, "relay: descriptors go through provider upserts (subject %s)",
	           c->relay.provider_subject);
	return UM_OK;
}

void
app_dir_provider_clear(struct app_dir *d)
{
	struct app_provider *p = d->prov;

	if (p == NULL)
		return;
	captoken_client_free(p->cc);
	keys_ed25519_clear(&p->key);
	for (size_t i = 0; i < DIR_MAX_ISSUERS; i++)
		free(p->revs[i]);
	free(p);
	d->prov = NULL;
}
