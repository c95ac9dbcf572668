/* SPDX-License-Identifier: MIT */
/*
 * The daemon's directory roles from configuration (dir_node.h). Start-up order: the shared
 * store, then the authority (it must serve before our own client asks it), then the relay
 * uploader, then the client. Key files: the authority signing key and the relay onion key
 * are created on first start (mode 0600); the operator key must exist.
 *
 * Key rotation (the authority signing key, the relay onion key) is in dir_keys.c.
 *
 * Issuer key lists ([directory] issuers): the directory layer carries them as opaque blobs
 * (it ranks below trust/), so the check an authority runs on a fetched list before storing
 * and voting on it is wired here: trust/issuer_doc.h's issuer_keys_parse_verify() against
 * the configured issuer identity. Likewise their relay-trust feeds (PROTOCOL.md 19): checked
 * here with trust/relay_trust.h, the directory gets only the signals (dir_relay_trust.h).
 *
 * Shortcuts, admitted: a relay claims all-zero scores and its advertised rate as observed
 * bandwidth until measurement exists.
 */
#include "app/dir_node.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <netinet/in.h>

#include "lib/encoding.h"
#include "lib/err.h"
#include "lib/log.h"
#include "lib/mem.h"
#include "lib/time.h"
#include "app/app.h"
#include "store/store.h"
#include "directory/authority.h"
#include "directory/dir_issuers.h"
#include "directory/dirserv.h"
#include "trust/issuer_doc.h"
#include "trust/relay_trust.h"
#include "exit/exit_policy.h"

/* The directory carries key lists as opaque blobs capped at its own constant (it ranks below
 * trust/): the two caps must agree. */
_Static_assert((size_t)DIR_ISSUER_DOC_MAX_LEN == (size_t)ISSUER_KEYS_MAX_LEN,
               "DIR_ISSUER_DOC_MAX_LEN must equal ISSUER_KEYS_MAX_LEN");
_Static_assert((size_t)DIR_RT_DOC_MAX_LEN == (size_t)RELAY_TRUST_MAX_LEN &&
                       (size_t)DIR_RT_MAX_ENTRIES == (size_t)RELAY_TRUST_MAX_ENTRIES &&
                       (int)DIR_RT_ID_LEN == (int)RELAY_TRUST_ID_LEN,
               "dir_relay_trust.h limits must equal relay_trust.h's");

enum {
	KEYS_CHECK_MAX_MS = 60 * 1000, /* onion-key rotation checks at least this often */
	DIR_URL_MAX = CONFIG_URL_MAX,
};

/* The parsed [directory] authorities. */
struct auth_list {
	size_t n;
	uint8_t ids[CONS_MAX_AUTHORITIES][AUTHCERT_ID_LEN];
	char urls[CONS_MAX_AUTHORITIES][DIR_URL_MAX];
	const char *url_ptrs[CONS_MAX_AUTHORITIES];
};

static int
auth_list_parse(const struct config *c, struct auth_list *a, char *why, size_t why_len)
{
	memset(a, 0, sizeof(*a));
	if (c->directory.authorities.n > CONS_MAX_AUTHORITIES) {
		snprintf(why, why_len, "too many [directory] authorities");
		return UM_ERR_CONFIG;
	}
	for (size_t i = 0; i < c->directory.authorities.n; i++) {
		if (config_authority_parse(c->directory.authorities.v[i], a->ids[i], a->urls[i],
		                           sizeof(a->urls[i])) != UM_OK) {
			snprintf(why, why_len, "bad [directory] authorities #%zu", i + 1);
			return UM_ERR_CONFIG;
		}
		a->url_ptrs[i] = a->urls[i];
	}
	a->n = c->directory.authorities.n;
	return UM_OK;
}

/* The parsed [directory] issuers. */
struct issuer_list {
	size_t n;
	uint8_t ids[DIR_MAX_ISSUERS][DIR_ISSUER_ID_LEN];
	char urls[DIR_MAX_ISSUERS][DIR_URL_MAX];
	const char *url_ptrs[DIR_MAX_ISSUERS];
};

static int
issuer_list_parse(const struct config *c, struct issuer_list *il, char *why, size_t why_len)
{
	memset(il, 0, sizeof(*il));
	if (c->directory.issuers.n > DIR_MAX_ISSUERS) {
		snprintf(why, why_len, "too many [directory] issuers");
		return UM_ERR_CONFIG;
	}
	for (size_t i = 0; i < c->directory.issuers.n; i++) {
		if (config_authority_parse(c->directory.issuers.v[i], il->ids[i], il->urls[i],
		                           sizeof(il->urls[i])) != UM_OK) {
			snprintf(why, why_len, "bad [directory] issuers #%zu", i + 1);
			return UM_ERR_CONFIG;
		}
		il->url_ptrs[i] = il->urls[i];
	}
	il->n = c->directory.issuers.n;
	return UM_OK;
}

/* dirserv's check of a fetched key list (dir_issuer_verify_fn): the whole check of
 * trust/issuer_doc.h against the configured identity; the newest seq is dirserv's rule. */
static int
issuer_keys_check(void *arg, const uint8_t identity[DIR_ISSUER_ID_LEN], const uint8_t *doc,
                  size_t len, uint64_t now_s, uint64_t *seq)
{
	struct issuer_keys *k = um_xcalloc(1, sizeof(*k));
	int ret;

	(void)arg;
	*seq = 0;
	if ((ret = issuer_keys_parse_verify(doc, len, identity, now_s, k)) == UM_OK)
		*seq = k->seq;
	free(k);
	return ret;
}

/* dirserv's check of a fetched relay-trust feed (dir_rt_verify_fn): the whole check of
 * trust/relay_trust.h against the configured identity, then only the signals go down. */
static int
relay_trust_check(void *arg, const uint8_t identity[DIR_RT_ID_LEN], const uint8_t *doc, size_t len,
                  uint64_t now_s, struct dir_rt_feed *out)
{
	struct relay_trust *d = um_xcalloc(1, sizeof(*d));
	int ret;

	(void)arg;
	memset(out, 0, sizeof(*out));
	if ((ret = relay_trust_parse_verify(doc, len, identity, now_s, d)) == UM_OK) {
		out->seq = d->seq;
		out->published_s = d->published_s;
		out->expires_s = d->expires_s;
		out->n = d->n;
		out->v = d->n > 0 ? um_xcalloc(d->n, sizeof(*out->v)) : NULL;
		for (size_t i = 0; i < d->n; i++) {
			memcpy(out->v[i].node_id, d->v[i].node_id, DIR_RT_ID_LEN);
			out->v[i].bond = d->v[i].bond;
			out->v[i].reputation = d->v[i].reputation;
			out->v[i].disputed = d->v[i].disputed;
			out->v[i].tier = d->v[i].tier;
		}
	}
	free(d);
	return ret;
}

/* ---- federation (dirfed.h) ---- */

static int
start_federation(struct app_dir *d, const struct config *c, const struct app_dir_env *env,
                 char *why, size_t why_len)
{
	const struct config_list *pl = &c->directory.peers;
	struct dirfed_config fcfg;
	uint8_t ids[DIRFED_MAX_SEEDS][AUTHCERT_ID_LEN];
	char urls[DIRFED_MAX_SEEDS][DIR_URL_MAX];
	const char *url_ptrs[DIRFED_MAX_SEEDS];
	int ret;

	if (pl->n > DIRFED_MAX_SEEDS) {
		snprintf(why, why_len, "too many [directory] peers");
		return UM_ERR_CONFIG;
	}
	dirfed_config_defaults(&fcfg);
	fcfg.ds = d->ds;
	memcpy(fcfg.self_id, env->id->pk, AUTHCERT_ID_LEN);
	memcpy(fcfg.operator_id, env->id->pk, AUTHCERT_ID_LEN);
	if (c->directory.operator_id[0] != '\0' &&
	    dec_base32(fcfg.operator_id, sizeof(fcfg.operator_id), c->directory.operator_id,
	               strlen(c->directory.operator_id)) != AUTHCERT_ID_LEN) {
		snprintf(why, why_len, "bad directory.operator");
		return UM_ERR_CONFIG;
	}
	for (size_t i = 0; i < pl->n; i++) {
		if (config_authority_parse(pl->v[i], ids[i], urls[i], sizeof(urls[i])) != UM_OK) {
			snprintf(why, why_len, "bad [directory] peers #%zu", i + 1);
			return UM_ERR_CONFIG;
		}
		url_ptrs[i] = urls[i];
	}
	fcfg.n_seeds = pl->n;
	fcfg.seed_ids = (const uint8_t(*)[32])ids;
	fcfg.seed_urls = url_ptrs;
	fcfg.sync_interval_s = c->directory.sync_interval_ms / 1000;
	fcfg.gossip_interval_s = c->directory.gossip_interval_ms / 1000;
	fcfg.fanout = c->directory.gossip_fanout;
	fcfg.max_hops = c->directory.max_hops;
	fcfg.discovery = c->directory.discovery;
	fcfg.min_operators = c->directory.discovery_min_operators;
	fcfg.discovery_max = c->directory.discovery_max;
	fcfg.discovery_ttl_s = UM_MAX(c->directory.discovery_ttl_ms / 1000, 1);
	if ((ret = dirfed_new(&fcfg, &d->fed, why, why_len)) != UM_OK)
		return ret;
	d->fed_io = dirfed_io_new(env->loop, d->fed);
	dirfed_io_start(d->fed_io);
	log_notice(LD_APP, "directory federation: %zu seed peers, discovery %s, max_hops %u", pl->n,
	           fcfg.discovery ? "on" : "off", (unsigned)fcfg.max_hops);
	return UM_OK;
}

/* ---- relay descriptor template ---- */

/* node.nickname with the characters a descriptor refuses dropped, cut to 19. */
static void
desc_nickname(const char *nick, char out[RELAY_DESC_NICKNAME_MAX + 1])
{
	size_t o = 0;

	for (const char *s = nick; *s != '\0' && o < RELAY_DESC_NICKNAME_MAX; s++) {
		if ((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		    (*s >= '0' && *s <= '9'))
			out[o++] = *s;
	}
	out[o] = '\0';
	if (o == 0)
		snprintf(out, RELAY_DESC_NICKNAME_MAX + 1, "Unnamed");
}

static int
addr_from_text(const char *text, struct relay_addr *a)
{
	struct sockaddr_storage ss;
	socklen_t len;

	memset(a, 0, sizeof(*a));
	if (ev_addr_parse(text, &ss, &len) != UM_OK)
		return UM_ERR_INVALID;
	if (ss.ss_family == AF_INET) {
		const struct sockaddr_in *s4 = (const struct sockaddr_in *)(const void *)&ss;

		a->type = RELAY_ADDR_IPV4;
		memcpy(a->addr, &s4->sin_addr, 4);
		a->port = ntohs(s4->sin_port);
	} else {
		const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)(const void *)&ss;

		a->type = RELAY_ADDR_IPV6;
		memcpy(a->addr, &s6->sin6_addr, 16);
		a->port = ntohs(s6->sin6_port);
	}
	return relay_addr_is_valid(a) ? UM_OK : UM_ERR_INVALID;
}

static int
desc_template(const struct app_dir *d, const struct config *c, const struct app_dir_env *env,
              struct relay_desc *t, char *why, size_t why_len)
{
	const struct config_list *al = &c->relay.address;
	struct relay_addr a;
	uint64_t burst;

	memset(t, 0, sizeof(*t));
	t->version = RELAY_DESC_VERSION;
	desc_nickname(c->node.nickname, t->nickname);
	t->roles = (uint8_t)(((c->node.roles & ROLE_ENTRY) ? RELAY_ROLE_ENTRY : 0) |
	                     ((c->node.roles & ROLE_MIDDLE) ? RELAY_ROLE_MIDDLE : 0) |
	                     ((c->node.roles & ROLE_EXIT) ? RELAY_ROLE_EXIT : 0));
	memcpy(t->onion_key, d->onion.pk, RELAY_DESC_KEY_LEN);
	if (d->onion_prev_expires_s != 0 && d->onion_prev.sk != NULL) {
		t->has_prev_onion_key = true;
		memcpy(t->prev_onion_key, d->onion_prev.pk, RELAY_DESC_KEY_LEN);
		t->prev_onion_expires_s = d->onion_prev_expires_s;
	}
	/* Addresses: [relay] address, else the bound link listeners that can be published. */
	if (al->n > 0) {
		for (size_t i = 0; i < al->n && t->n_addrs < RELAY_DESC_MAX_ADDRS; i++) {
			if (addr_from_text(al->v[i], &a) != UM_OK) {
				snprintf(why, why_len, "relay.address %s cannot be published",
				         al->v[i]);
				return UM_ERR_CONFIG;
			}
			t->addrs[t->n_addrs++] = a;
		}
	} else {
		for (size_t i = 0; env->link_listen != NULL && env->link_listen[i] != NULL &&
		                   t->n_addrs < RELAY_DESC_MAX_ADDRS;
		     i++) {
			if (addr_from_text(env->link_listen[i], &a) == UM_OK)
				t->addrs[t->n_addrs++] = a;
		}
	}
	if (t->n_addrs == 0) {
		snprintf(why, why_len,
		         "no address to publish in the relay descriptor (link.listen is "
		         "unspecified, e.g. 0.0.0.0): set relay.address");
		return UM_ERR_CONFIG;
	}
	/* Sorted and distinct, as the descriptor requires. */
	for (size_t i = 1; i < t->n_addrs; i++) {
		for (size_t j = i; j > 0 && relay_addr_cmp(&t->addrs[j - 1], &t->addrs[j]) > 0;
		     j--) {
			a = t->addrs[j];
			t->addrs[j] = t->addrs[j - 1];
			t->addrs[j - 1] = a;
		}
	}
	for (size_t i = 1; i < t->n_addrs; i++) {
		if (relay_addr_cmp(&t->addrs[i - 1], &t->addrs[i]) == 0) {
			snprintf(why, why_len, "an address is published twice");
			return UM_ERR_CONFIG;
		}
	}
	/* The exit policy's summary; a non-exit accepts nothing ("01 00" per family). */
	t->policy4.kind = t->policy6.kind = RELAY_POLICY_ACCEPT;
	t->exit_flags = 0;
	if ((c->node.roles & ROLE_EXIT) != 0) {
		struct exit_policy *ep = NULL;
		int ret;

		if ((ret = app_exit_policy(c, &ep, why, why_len)) != UM_OK)
			return ret;
		ret = exit_policy_summarize(ep, &t->policy4, &t->policy6, &t->exit_flags);
		exit_policy_free(ep);
		if (ret != UM_OK) {
			snprintf(why, why_len, "relay.exit_policy cannot be summarized: %s",
			         um_err_str(ret));
			return UM_ERR_CONFIG;
		}
	}
	burst = c->relay.bandwidth_burst != 0 ? c->relay.bandwidth_burst : c->relay.bandwidth_rate;
	t->bw.rate = (uint32_t)c->relay.bandwidth_rate;
	t->bw.burst = (uint32_t)burst;
	t->bw.observed = (uint32_t)c->relay.bandwidth_rate;
	snprintf(t->country, sizeof(t->country), "%s", c->relay.country);
	snprintf(t->region, sizeof(t->region), "%s", c->relay.region);
	t->geo_confidence = (uint8_t)c->relay.geo_confidence;
	snprintf(t->platform, sizeof(t->platform), "umbra %s", UM_VERSION);
	snprintf(t->contact, sizeof(t->contact), "%s", c->relay.contact);
	return UM_OK;
}

/* ---- keys ---- */

static int
load_ed(const char *path, bool create, const char *what, struct keys_ed25519 *k, char *why,
        size_t why_len)
{
	uint8_t secret[32];
	bool made = false;
	int ret;

	ret = app_keyfile_load(path, KEYFILE_ED25519, create, secret, &made, why, why_len);
	if (ret == UM_OK) {
		keys_ed25519_from_seed(k, secret);
		if (made)
			log_notice(LD_APP, "created %s %s", what, path);
	}
	um_memzero(secret, sizeof(secret));
	return ret;
}

/* ---- roles ---- */

static int
start_authority(struct app_dir *d, const struct config *c, const struct app_dir_env *env,
                const struct auth_list *al, char *why, size_t why_len)
{
	struct dirserv_config dcfg;
	struct dirauth_io_config acfg;
	struct issuer_list il;
	const char *peers[CONS_MAX_AUTHORITIES];
	size_t n_peers = 0;
	bool self = false;
	uint64_t now = um_wall_s();
	int ret;

	for (size_t i = 0; i < al->n; i++) {
		if (memcmp(al->ids[i], env->id->pk, AUTHCERT_ID_LEN) == 0)
			self = true;
		else
			peers[n_peers++] = al->url_ptrs[i];
	}
	if (!self) {
		char b32[53];

		app_key_b32(env->id->pk, b32);
		snprintf(why, why_len,
		         "the directory role needs this node (%s) in [directory] authorities", b32);
		return UM_ERR_CONFIG;
	}
	if ((ret = issuer_list_parse(c, &il, why, why_len)) != UM_OK)
		return ret;
	if ((ret = app_dir_signing_load(d, c, env->id, now, why, why_len)) != UM_OK)
		return ret;
	dirserv_config_defaults(&dcfg);
	dcfg.store = d->store;
	dcfg.keyring = &d->keyring;
	dcfg.signing = &d->signing;
	dcfg.n_authorities = al->n;
	dcfg.authorities = (const uint8_t(*)[AUTHCERT_ID_LEN])al->ids;
	/* RUNNING means reachable within the last few periods. */
	dcfg.running_window_s = UM_MIN(3 * c->directory.vote_interval_ms / 1000, 3600);
	dcfg.n_issuers = il.n;
	dcfg.issuers = (const uint8_t(*)[DIR_ISSUER_ID_LEN])il.ids;
	dcfg.issuer_verify = issuer_keys_check;
	dcfg.rt_verify = relay_trust_check;
	dcfg.trust_threshold = c->directory.trust_threshold;
	dcfg.bond_min = c->directory.bond_min;
	if ((ret = dir_params_set(&dcfg.params, "puzzle_max", c->directory.puzzle_max)) != UM_OK ||
	    (ret = dir_params_set(&dcfg.params, "puzzle_min", c->directory.puzzle_min)) != UM_OK) {
		snprintf(why, why_len, "cannot set the consensus parameters: %s", um_err_str(ret));
		return ret;
	}
	if ((ret = app_dir_provider_authority(d, c, il.n,
	                                      (const uint8_t(*)[DIR_ISSUER_ID_LEN])il.ids, &dcfg,
	                                      why, why_len)) != UM_OK ||
	    (ret = dirserv_new(&dcfg, &d->ds, why, why_len)) != UM_OK)
		return ret;
	memset(&acfg, 0, sizeof(acfg));
	acfg.ds = d->ds;
	acfg.links = env->links;
	acfg.listen = (const char *const *)c->directory.listen.v;
	acfg.n_listen = c->directory.listen.n;
	acfg.vote_interval_s = c->directory.vote_interval_ms / 1000;
	acfg.peer_urls = peers;
	acfg.n_peers = n_peers;
	acfg.n_issuers = il.n;
	acfg.issuer_ids = (const uint8_t(*)[DIR_ISSUER_ID_LEN])il.ids;
	acfg.issuer_urls = il.url_ptrs;
	acfg.fetch_revocations = dcfg.provider_feed != NULL;
	acfg.on_period_end = app_dir_signing_check;
	acfg.arg = d;
	if ((ret = dirauth_io_new(env->loop, &acfg, &d->auth, why, why_len)) != UM_OK)
		return ret;
	if ((ret = start_federation(d, c, env, why, why_len)) != UM_OK)
		return ret;
	for (size_t i = 0; dirauth_io_bound(d->auth, i) != NULL; i++)
		log_notice(LD_APP, "serving the directory on http://%s",
		           dirauth_io_bound(d->auth, i));
	dirauth_io_start(d->auth);
	return UM_OK;
}

/* Onion-key rotation: a new descriptor when a key changed or a previous one retired. */
static void
onion_tick(void *arg)
{
	struct app_dir *d = arg;
	struct relay_desc t;
	char why[256];

	if (!app_dir_onion_check(d, um_wall_s()))
		return;
	if (d->on_onion_keys != NULL)
		d->on_onion_keys(d->on_onion_keys_arg);
	if (d->relay == NULL)
		return;
	if (desc_template(d, d->cfg, &d->env, &t, why, sizeof(why)) != UM_OK ||
	    dirrelay_io_update(d->relay, &t, why, sizeof(why)) != UM_OK)
		log_warn(LD_APP, "cannot publish the rotated onion key: %s", why);
}

static int
start_relay(struct app_dir *d, const struct config *c, const struct app_dir_env *env,
            const struct auth_list *al, char *why, size_t why_len)
{
	struct dirrelay_io_config rcfg;
	struct relay_desc t;
	uint64_t every;
	int ret;

	if ((ret = app_dir_onion_load(d, c, um_wall_s(), why, why_len)) != UM_OK)
		return ret;
	if (c->relay.operator_key[0] != '\0' &&
	    (ret = load_ed(c->relay.operator_key, false, "operator key", &d->op, why, why_len)) !=
	            UM_OK)
		return ret;
	if (al->n == 0) {
		log_notice(LD_APP,
		           "no [directory] authorities: this relay publishes no descriptor");
		return UM_OK;
	}
	if ((ret = desc_template(d, c, env, &t, why, why_len)) != UM_OK)
		return ret;
	memset(&rcfg, 0, sizeof(rcfg));
	rcfg.tmpl = &t;
	rcfg.identity = env->id;
	rcfg.op = d->op.sk != NULL ? &d->op : NULL;
	rcfg.li = env->li;
	rcfg.urls = al->url_ptrs;
	rcfg.n_urls = al->n;
	if ((ret = app_dir_provider_relay(d, c, env->loop, &rcfg, (const uint8_t(*)[32])al->ids,
	                                  why, why_len)) != UM_OK)
		return ret;
	if ((ret = dirrelay_io_new(env->loop, &rcfg, &d->relay, why, why_len)) != UM_OK)
		return ret;
	dirrelay_io_start(d->relay);
	d->keys_timer = ev_timer_new(env->loop, onion_tick, d);
	every = UM_MIN(c->relay.onion_key_grace_ms, c->relay.onion_key_lifetime_ms) / 4;
	every = UM_MAX(UM_MIN(every, KEYS_CHECK_MAX_MS), 1000);
	ev_timer_start(d->keys_timer, every, every);
	return UM_OK;
}

static void
on_consensus(void *arg, const struct consensus *c)
{
	(void)arg;
	log_info(LD_DIR, "new consensus: %zu relays, %u signatures, valid until %llu", c->n_relays,
	         (unsigned)c->n_sigs, (unsigned long long)c->valid_until_s);
}

static int
start_client(struct app_dir *d, const struct config *c, const struct app_dir_env *env,
             const struct auth_list *al, char *why, size_t why_len)
{
	struct dirclient_config ccfg;
	int ret;

	memset(&ccfg, 0, sizeof(ccfg));
	ccfg.urls = al->url_ptrs;
	ccfg.n_urls = al->n;
	ccfg.pin_mode = c->directory.pin_mode == CONFIG_PIN_TOFU ? DIRCLIENT_PIN_TOFU
	                                                         : DIRCLIENT_PIN_STRICT;
	/* Strict: the configured ids are the pins. TOFU: the store's (`umbra dir pin`), else
	 * learned from the first verified consensus. */
	if (ccfg.pin_mode == DIRCLIENT_PIN_STRICT) {
		ccfg.pins = (const uint8_t(*)[AUTHCERT_ID_LEN])al->ids;
		ccfg.n_pins = al->n;
	}
	ccfg.threshold = c->directory.threshold;
	ccfg.min_sources = c->directory.min_sources;
	ccfg.store = d->store;
	if ((ret = dirclient_new(&ccfg, um_wall_s(), &d->dc, why, why_len)) != UM_OK)
		return ret;
	d->dc_io = dirclient_io_new(env->loop, d->dc, on_consensus, d);
	dirclient_io_start(d->dc_io);
	return UM_OK;
}

int
app_dir_start(struct app_dir *d, const struct config *c, const struct app_dir_env *env, char *why,
              size_t why_len)
{
	struct auth_list al;
	char *path;
	int ret;

	memset(d, 0, sizeof(*d));
	d->cfg = c;
	d->env = *env;
	if ((ret = auth_list_parse(c, &al, why, why_len)) != UM_OK)
		return ret;
	if (al.n == 0 && (c->node.roles & (ROLE_DIRECTORY | ROLE_RELAY_ANY)) == 0)
		return UM_OK; /* no directory at all: links only */
	path = um_xasprintf("%s/umbra.db", c->node.state_dir);
	ret = store_open(path, &dirclient_schema, &d->store, why, why_len);
	free(path);
	if (ret != UM_OK)
		return ret;
	if ((c->node.roles & ROLE_DIRECTORY) != 0 &&
	    (ret = start_authority(d, c, env, &al, why, why_len)) != UM_OK)
		return ret;
	if ((c->node.roles & ROLE_RELAY_ANY) != 0 &&
	    (ret = start_relay(d, c, env, &al, why, why_len)) != UM_OK)
		return ret;
	if (al.n > 0 && (ret = start_client(d, c, env, &al, why, why_len)) != UM_OK)
		return ret;
	return UM_OK;
}

size_t
app_dir_onion_keys(const struct app_dir *d, struct keys_x25519 out[2])
{
	size_t n = 0;

	if (d->onion.sk == NULL)
		return 0;
	out[n++] = d->onion;
	if (d->onion_prev_expires_s != 0 && d->onion_prev.sk != NULL)
		out[n++] = d->onion_prev;
	return n;
}

const char *
app_dir_listen(const struct app_dir *d, size_t i)
{
	return d->auth != NULL ? dirauth_io_bound(d->auth, i) : NULL;
}

int
app_dir_reload(struct app_dir *d, const struct config *c, const struct app_dir_env *env, char *why,
               size_t why_len)
{
	struct relay_desc t;
	int ret;

	d->cfg = c;
	if (d->relay == NULL)
		return UM_OK;
	if ((ret = desc_template(d, c, env, &t, why, why_len)) != UM_OK)
		return ret;
	return dirrelay_io_update(d->relay, &t, why, why_len);
}

void
app_dir_stop(struct app_dir *d)
{
	ev_timer_free(d->keys_timer);
	d->keys_timer = NULL;
	dirclient_io_free(d->dc_io);
	dirfed_io_free(d->fed_io);
	dirrelay_io_free(d->relay);
	dirauth_io_free(d->auth);
	app_dir_provider_clear(d);
}

void
app_dir_clear(struct app_dir *d)
{
	app_dir_stop(d);
	dirclient_free(d->dc);
	dirfed_free(d->fed);
	dirserv_free(d->ds);
	store_close(d->store);
	keys_ed25519_clear(&d->signing);
	keys_ed25519_clear(&d->op);
	keys_x25519_clear(&d->onion);
	keys_x25519_clear(&d->onion_prev);
}
