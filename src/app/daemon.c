/* SPDX-License-Identifier: MIT */
/*
 * umbra run: the daemon. Start-up order: configuration, logging, crypto, state directory and
 * keys, event loop, link manager (listeners, peers), directory roles (authority, relay
 * descriptor uploads, client: dir_node.c), control socket, signals. SIGINT/SIGTERM stop the
 * directory, close every link cleanly and exit; SIGHUP re-reads the configuration and applies
 * what can change at run time (log level, link limits, peers, the relay descriptor's
 * reloadable fields), keeping the running configuration if the new one is invalid.
 */
#include "app/app.h"
#include "app/dir_node.h"
#include "app/issuer_node.h"

#include <arpa/inet.h>
#include <getopt.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/err.h"
#include "lib/log.h"
#include "lib/time.h"
#include "crypto/crypto.h"
#include "crypto/puzzle.h"
#include "evloop/evloop.h"
#include "link/link.h"
#include "trust/abuse.h"
#include "trust/tokens_io.h"
#include "trust/issuer_feed_io.h"
#include "trust/token_verifier.h"
#include "exit/exit_conn.h"
#include "exit/exit_policy.h"
#include "exit/exit_tier.h"
#include "circuit/circuit_io.h"
#include "front/front_io.h"
#include "control/control.h"

enum {
	CERT_LIFETIME_S = 30 * 86400,
	CERT_RENEW_MS = 86400 * 1000,
	SHUTDOWN_GRACE_MS = 3000,
};

struct daemon {
	const char *config_path;
	struct config *cfg;
	struct ev_loop *loop;
	struct keys_ed25519 id;
	struct keys_x25519 lk;
	struct link_identity li;
	struct link_mgr *links;
	struct control *control;
	struct app_dir dir;
	struct circ_io *circ;            /* relay roles and the client role, else NULL */
	struct exit_policy *exit_policy; /* the exit role */
	struct exit_ctx *exit;           /* the exit role: opens streams */
	struct exit_tier_policy *tiers;  /* the exit role: [relay] tier_policy, require_token */
	struct token_verifier *tokens;   /* the exit role: tokens spent on its circuits */
	struct issuer_feed *issuer_feed; /* the exit role: [relay] issuers' documents */
	struct front_io *front;          /* the client role: SOCKS / HTTP CONNECT ports */
	struct abuse *abuse;             /* relay roles: entry abuse control */
	struct app_issuer issuer;        /* the issuer role */
	struct tokens_io wallet;         /* the client role's tier tokens */
	struct log_ratelim rl_abuse;
	struct keys_x25519
	        onion_view[2]; /* the core's view of the onion keys (app_dir_onion_keys) */
	struct ev_signal *sig_int, *sig_term, *sig_hup;
	struct ev_timer *cert_timer, *stop_timer;
	char **listen; /* bound addresses, NULL-terminated */
	uint64_t start_ms;
	uint64_t stop_deadline_ms;
	bool stopping;
};

static int
apply_logging(const struct config *c)
{
	enum log_level level;
	int ret;

	if (log_level_parse(c->log.level, &level) != UM_OK)
		return UM_ERR_CONFIG;
	log_set_level(level);
	log_set_safe(c->log.safe_logging);
	log_set_syslog(c->log.syslog);
	if ((ret = log_set_file(c->log.file[0] != '\0' ? c->log.file : NULL)) != UM_OK) {
		log_err(LD_APP, "cannot open log file %s", c->log.file);
		return ret;
	}
	return UM_OK;
}

static void
link_cfg_from(const struct config *c, struct link_mgr_config *lc)
{
	memset(lc, 0, sizeof(*lc));
	lc->max_links = c->link.max_links;
	lc->max_pending = c->link.max_pending;
	lc->max_pending_per_ip = c->link.max_pending_per_ip;
	lc->handshake_timeout_ms = c->link.handshake_timeout_ms;
	lc->keepalive_ms = c->link.keepalive_ms;
	lc->idle_timeout_ms = c->link.idle_timeout_ms;
	lc->reconnect_ms = c->link.reconnect_ms;
	lc->write_queue_max = c->link.write_queue_max;
	lc->accept_known_only = c->link.accept == LINK_ACCEPT_KNOWN;
	lc->accept = LINK_ACCEPT_XK | LINK_ACCEPT_NK;
	for (size_t i = 0; i < c->link.outbound_address.n; i++) {
		struct sockaddr_storage ss;

		if (config_ip_sockaddr(c->link.outbound_address.v[i], &ss) == UM_OK)
			*(ss.ss_family == AF_INET ? &lc->outbound4 : &lc->outbound6) = ss;
	}
}

static int
add_peers(struct daemon *d, const struct config *c)
{
	uint8_t id[CONFIG_KEY_LEN], key[CONFIG_KEY_LEN];
	char hostport[CONFIG_HOSTPORT_MAX];
	int ret;

	for (size_t i = 0; i < c->link.peer.n; i++) {
		if ((ret = config_peer_parse(c->link.peer.v[i], id, key, hostport,
		                             sizeof(hostport))) != UM_OK ||
		    (ret = link_mgr_add_peer(d->links, id, key, hostport)) != UM_OK) {
			log_err(LD_APP, "cannot use [link] peer #%zu: %s", i + 1, um_err_str(ret));
			return ret;
		}
	}
	return UM_OK;
}

static void
dir_env(struct daemon *d, struct app_dir_env *env)
{
	memset(env, 0, sizeof(*env));
	env->loop = d->loop;
	env->id = &d->id;
	env->li = &d->li;
	env->links = d->links;
	env->link_listen = (const char *const *)d->listen;
}

static int
reload(void *arg, char *why, size_t why_len)
{
	struct daemon *d = arg;
	struct config_errors errs = { 0 };
	struct config *c = NULL;
	struct link_mgr_config lc;
	char line[1024];
	extern char **environ;

	log_notice(LD_APP, "reloading configuration %s", d->config_path ? d->config_path : "");
	if (config_load(d->config_path, environ, &c, &errs) != UM_OK) {
		for (size_t i = 0; i < errs.n; i++) {
			config_error_format(&errs.v[i], line, sizeof(line));
			log_warn(LD_CONFIG, "%s", line);
			if (i == 0 && why != NULL)
				snprintf(why, why_len, "%s%s", line,
				         errs.n > 1 ? " (and more: see the log)" : "");
		}
		log_warn(LD_CONFIG, "new configuration rejected; still running the old one");
		config_errors_clear(&errs);
		return UM_ERR_CONFIG;
	}
	{
		char cwhy[512];

		if (app_config_check(c, cwhy, sizeof(cwhy)) != UM_OK) {
			log_warn(LD_CONFIG, "%s", cwhy);
			log_warn(LD_CONFIG,
			         "new configuration rejected; still running the old one");
			if (why != NULL)
				snprintf(why, why_len, "%s", cwhy);
			config_free(c);
			return UM_ERR_CONFIG;
		}
	}
	if (apply_logging(c) != UM_OK) {
		if (why != NULL)
			snprintf(why, why_len, "cannot open log file %s", c->log.file);
		(void)apply_logging(d->cfg);
		config_free(c);
		return UM_ERR_CONFIG;
	}
	link_cfg_from(c, &lc);
	link_mgr_set_config(d->links, &lc);
	link_mgr_clear_peers(d->links);
	if (add_peers(d, c) != UM_OK)
		log_warn(LD_CONFIG, "some peers could not be applied");
	{
		struct app_dir_env env;
		char dwhy[512];

		dir_env(d, &env);
		if (app_dir_reload(&d->dir, c, &env, dwhy, sizeof(dwhy)) != UM_OK)
			log_warn(LD_CONFIG, "relay descriptor not updated: %s", dwhy);
	}
	if (strcmp(c->control.socket, d->cfg->control.socket) != 0 ||
	    c->link.listen.n != d->cfg->link.listen.n || c->node.roles != d->cfg->node.roles ||
	    c->directory.listen.n != d->cfg->directory.listen.n ||
	    c->directory.authorities.n != d->cfg->directory.authorities.n ||
	    c->relay.issuers.n != d->cfg->relay.issuers.n ||
	    c->relay.tier_policy.n != d->cfg->relay.tier_policy.n ||
	    c->relay.require_token != d->cfg->relay.require_token)
		log_notice(LD_CONFIG, "listen addresses, roles, directory settings, token issuers, "
		                      "the tier policy and the control socket change only at "
		                      "restart");
	config_free(d->cfg);
	d->cfg = c;
	log_notice(LD_APP, "configuration reloaded");
	return UM_OK;
}

static void
stop_tick(void *arg)
{
	struct daemon *d = arg;

	if (link_mgr_count(d->links) == 0 || um_mono_ms() >= d->stop_deadline_ms)
		ev_loop_stop(d->loop);
}

static void
on_signal(void *arg, int signum)
{
	struct daemon *d = arg;

	if (signum == SIGHUP) {
		(void)reload(d, NULL, 0);
		return;
	}
	if (d->stopping) {
		log_notice(LD_APP, "second signal: exiting now");
		ev_loop_stop(d->loop);
		return;
	}
	d->stopping = true;
	log_notice(LD_APP, "%s received: closing links and shutting down",
	           signum == SIGINT ? "SIGINT" : "SIGTERM");
	control_free(d->control);
	app_dir_stop(&d->dir);
	front_io_free(d->front); /* resets proxy connections: their streams go first */
	if (d->circ != NULL)
		circ_io_shutdown(d->circ);
	link_mgr_shutdown(d->links);
	d->stop_deadline_ms = um_mono_ms() + SHUTDOWN_GRACE_MS;
	ev_timer_start(d->stop_timer, 0, 100);
}

static void
cert_renew(void *arg)
{
	struct daemon *d = arg;

	/* Handshakes read the certificate through a pointer: update it in place. */
	link_identity_init(&d->li, &d->id, &d->lk, um_wall_s() + CERT_LIFETIME_S);
}

/* ---- the circuit layer (circuit_io.h) ---- */

static const char *
abuse_verdict_str(enum abuse_verdict v)
{
	return v == ABUSE_BANNED ? "source banned"
	       : v == ABUSE_BUSY ? "too many in flight"
	                         : "source over its rate";
}

static bool
abuse_admit(struct daemon *d, enum abuse_kind kind, const struct sockaddr_storage *peer)
{
	enum abuse_verdict v;
	const uint8_t *a;
	int family;

	if (d->abuse == NULL)
		return true;
	if ((a = abuse_addr_of(peer, &family)) == NULL)
		return true; /* not an IP source (a Unix socket in tests): nothing to key on */
	v = abuse_check(d->abuse, kind, family, a, um_mono_ms());
	if (v != ABUSE_OK)
		log_ratelim(&d->rl_abuse, UM_LOG_NOTICE, LD_APP, "refusing a %s: %s",
		            kind == ABUSE_CREATE ? "circuit creation" : "link handshake",
		            abuse_verdict_str(v));
	return v == ABUSE_OK;
}

static bool
on_link_admit(void *arg, const struct sockaddr_storage *peer)
{
	return abuse_admit(arg, ABUSE_HANDSHAKE, peer);
}

static void
on_link_admit_done(void *arg, const struct sockaddr_storage *peer)
{
	struct daemon *d = arg;
	const uint8_t *a;
	int family;

	if (d->abuse != NULL && (a = abuse_addr_of(peer, &family)) != NULL)
		abuse_handshake_end(d->abuse, family, a);
}

/*
 * The consensus puzzle parameters (PROTOCOL.md 5.2): puzzle_max caps what a relay asks and
 * what a client solves (LINK_PUZZLE_CAP_DEFAULT without a consensus or the parameter),
 * puzzle_min is a network-wide floor the authorities may raise under attack.
 */
static void
puzzle_params(struct daemon *d, unsigned *max, unsigned *min)
{
	const struct consensus *c =
	        d->dir.dc != NULL ? dirclient_consensus(d->dir.dc, um_wall_s(), NULL, NULL) : NULL;
	uint32_t v;

	*max = LINK_PUZZLE_CAP_DEFAULT;
	*min = 0;
	if (c != NULL && dir_params_get(&c->params, "puzzle_max", &v))
		*max = (unsigned)UM_MIN(v, (uint32_t)PUZZLE_MAX_BITS);
	if (c != NULL && dir_params_get(&c->params, "puzzle_min", &v))
		*min = (unsigned)UM_MIN(v, (uint32_t)*max);
}

/* The puzzle asked of an inbound link handshake now: relays only; the adaptive difficulty
 * (trust/abuse.h), raised to [relay] puzzle_bits_min and the consensus floor, capped at the
 * consensus puzzle_max. */
static unsigned
on_puzzle_bits(void *arg)
{
	struct daemon *d = arg;
	unsigned max, min, bits;

	if (d->abuse == NULL)
		return 0;
	puzzle_params(d, &max, &min);
	bits = abuse_puzzle_bits(d->abuse, um_mono_ms());
	bits = UM_MAX(bits, UM_MAX(min, (unsigned)d->cfg->relay.puzzle_bits_min));
	return UM_MIN(bits, max);
}

/* The most bits this node solves when a relay asks: the consensus puzzle_max. */
static unsigned
on_puzzle_cap(void *arg)
{
	unsigned max, min;

	puzzle_params(arg, &max, &min);
	return max;
}

static int
take_token(void *arg, const uint8_t exit_id[32], uint8_t *body, size_t cap, size_t *len)
{
	struct daemon *d = arg;

	return tokens_io_take(&d->wallet, exit_id, body, cap, len);
}

/* CREATE2 limits apply to clients: inbound links whose peer proved no relay identity. */
static bool
may_create(void *arg, struct link *l)
{
	uint8_t id[LINK_ID_LEN];
	struct sockaddr_storage ss;

	if (!link_is_inbound(l) || link_peer_id(l, id))
		return true;
	link_peer_addr(l, &ss);
	return abuse_admit(arg, ABUSE_CREATE, &ss);
}

static int
start_abuse(struct daemon *d, char *why, size_t why_len)
{
	const struct config *c = d->cfg;
	struct abuse_config ac;

	if ((c->node.roles & ROLE_RELAY_ANY) == 0)
		return UM_OK;
	abuse_config_defaults(&ac);
	ac.bucket[ABUSE_HANDSHAKE].rate_per_s = c->relay.handshake_rate;
	ac.bucket[ABUSE_HANDSHAKE].burst = c->relay.handshake_burst;
	ac.bucket[ABUSE_CREATE].rate_per_s = c->relay.create_rate;
	ac.bucket[ABUSE_CREATE].burst = c->relay.create_burst;
	ac.violations = c->relay.ban_after;
	ac.violation_window_ms = (uint32_t)UM_MIN(c->relay.ban_window_ms, UINT32_MAX);
	ac.ban_ms = (uint32_t)UM_MIN(c->relay.ban_time_ms, UINT32_MAX);
	ac.ban_max_ms = (uint32_t)UM_MIN(c->relay.ban_time_max_ms, UINT32_MAX);
	/* The link manager enforces these caps first; here they measure load for the puzzle. */
	ac.max_inflight = c->link.max_pending;
	ac.max_inflight_per_source = c->link.max_pending_per_ip;
	ac.v4_prefix = (uint8_t)c->relay.source_prefix_v4;
	ac.v6_prefix = (uint8_t)c->relay.source_prefix_v6;
	d->rl_abuse = (struct log_ratelim)LOG_RATELIM_INIT(10000);
	return abuse_new(&ac, &d->abuse, why, why_len);
}

static void
on_link_open(void *arg, struct link *l)
{
	struct daemon *d = arg;

	if (d->circ != NULL)
		circ_io_link_open(d->circ, l);
}

static void
on_link_cell(void *arg, struct link *l, const struct cell *c)
{
	struct daemon *d = arg;

	if (d->circ != NULL)
		circ_io_link_cell(d->circ, l, c);
}

static void
on_link_close(void *arg, struct link *l, int reason)
{
	struct daemon *d = arg;

	if (d->circ != NULL)
		circ_io_link_close(d->circ, l, reason);
}

static void
on_link_drain(void *arg, struct link *l)
{
	struct daemon *d = arg;

	if (d->circ != NULL)
		circ_io_link_drain(d->circ, l);
}

static const struct consensus *
circ_consensus(void *arg, uint64_t now_s)
{
	struct daemon *d = arg;

	return d->dir.dc != NULL ? dirclient_consensus(d->dir.dc, now_s, NULL, NULL) : NULL;
}

static void
circ_relay_keys_of(struct daemon *d, struct circ_relay_keys *k)
{
	memset(k, 0, sizeof(*k));
	k->node_id = d->id.pk;
	k->onion_keys = d->onion_view;
	k->n_onion_keys = app_dir_onion_keys(&d->dir, d->onion_view);
}

static void
on_onion_keys(void *arg)
{
	struct daemon *d = arg;
	struct circ_relay_keys k;

	if (d->circ == NULL)
		return;
	circ_relay_keys_of(d, &k);
	circ_io_set_keys(d->circ, &k);
}

/*
 * The exit's tiers (docs/PROTOCOL.md 17.5, 17.6): the tier policy judges opens, the token
 * verifier (spent set in the node's database) judges RELAY_TOKEN, and the issuer feed keeps
 * its key lists and revocation feeds fresh. The circuit layer reaches the last two through
 * the exit context (exit_ctx_tokens()).
 */
static int
start_exit_tiers(struct daemon *d, char *why, size_t why_len)
{
	const struct config *c = d->cfg;
	uint8_t id[CONFIG_KEY_LEN];
	char url[CONFIG_URL_MAX];
	int ret;

	if ((ret = app_tier_policy(c, &d->tiers, why, why_len)) != UM_OK)
		return ret;
	exit_ctx_set_tiers(d->exit, d->tiers);
	if (d->dir.store == NULL) {
		snprintf(why, why_len, "the exit needs its state database for spent tokens");
		return UM_ERR_STATE;
	}
	if ((ret = token_verifier_new(d->dir.store, &d->tokens, why, why_len)) != UM_OK)
		return ret;
	token_verifier_set_audience(d->tokens, d->id.pk); /* identified tokens' pop (18.5) */
	exit_ctx_set_tokens(d->exit, d->tokens);
	d->issuer_feed = issuer_feed_new(d->loop, d->tokens, c->relay.issuer_refresh_ms);
	for (size_t i = 0; i < c->relay.issuers.n; i++) {
		if ((ret = config_issuer_parse(c->relay.issuers.v[i], id, url, sizeof(url))) !=
		            UM_OK ||
		    (ret = issuer_feed_add(d->issuer_feed, id, url)) != UM_OK) {
			snprintf(why, why_len, "cannot use [relay] issuers #%zu: %s", i + 1,
			         um_err_str(ret));
			return ret;
		}
	}
	if (c->relay.issuers.n > 0) {
		issuer_feed_start(d->issuer_feed);
		log_notice(LD_APP, "exit: accepting tier tokens of %zu issuer(s)%s",
		           c->relay.issuers.n,
		           c->relay.require_token ? "; circuits without one are refused" : "");
	}
	return UM_OK;
}

static int
start_circuits(struct daemon *d, char *why, size_t why_len)
{
	const struct config *c = d->cfg;
	bool relay = (c->node.roles & ROLE_RELAY_ANY) != 0;
	bool client = (c->node.roles & ROLE_CLIENT) != 0;
	struct circ_io_env env;
	struct circ_relay_keys k;

	if (!relay && !client)
		return UM_OK;
	if (relay && d->dir.onion.sk == NULL) {
		snprintf(why, why_len, "a relay role needs its onion key");
		return UM_ERR_STATE;
	}
	memset(&env, 0, sizeof(env));
	env.loop = d->loop;
	env.links = d->links;
	env.node_id = relay ? d->id.pk : NULL;
	env.client = client;
	env.circuits_prebuilt = c->client.circuits_prebuilt;
	env.hops = (uint8_t)c->client.hops;
	env.prefer_bonded = c->client.prefer_bonded;
	env.max_circuits = c->relay.max_circuits;
	env.may_create = may_create;
	env.take_token = take_token;
	env.store = d->dir.store;
	env.consensus = circ_consensus;
	env.arg = d;
	if ((c->node.roles & ROLE_EXIT) != 0) {
		int ret;

		if ((ret = app_exit_policy(c, &d->exit_policy, why, why_len)) != UM_OK)
			return ret;
		if ((ret = exit_ctx_new(d->loop, d->exit_policy, NULL, &d->exit)) != UM_OK) {
			snprintf(why, why_len, "cannot start the exit: %s", um_err_str(ret));
			return ret;
		}
		if ((ret = start_exit_tiers(d, why, why_len)) != UM_OK)
			return ret;
		env.exit = d->exit;
	}
	if (relay)
		circ_relay_keys_of(d, &k);
	d->dir.on_onion_keys = on_onion_keys;
	d->dir.on_onion_keys_arg = d;
	return circ_io_new(&env, relay ? &k : NULL, &d->circ, why, why_len);
}

/* The client's proxy ports; a port that cannot be bound stops the start-up. */
static int
start_front(struct daemon *d, char *why, size_t why_len)
{
	const struct config *c = d->cfg;
	struct front_io_env env;
	int ret;

	if ((c->node.roles & ROLE_CLIENT) == 0 || d->circ == NULL ||
	    (c->client.socks_listen[0] == '\0' && c->client.http_connect_listen[0] == '\0'))
		return UM_OK;
	memset(&env, 0, sizeof(env));
	env.loop = d->loop;
	env.circ = d->circ;
	env.socks_listen = c->client.socks_listen;
	env.http_listen = c->client.http_connect_listen;
	env.max_conns = c->client.max_proxy_conns;
	if ((ret = front_io_new(&env, &d->front, why, why_len)) != UM_OK)
		return ret;
	if (front_io_socks_addr(d->front)[0] != '\0')
		log_notice(LD_APP, "SOCKS proxy listening on %s", front_io_socks_addr(d->front));
	if (front_io_http_addr(d->front)[0] != '\0')
		log_notice(LD_APP, "HTTP CONNECT proxy listening on %s",
		           front_io_http_addr(d->front));
	return UM_OK;
}

static int
start_listeners(struct daemon *d)
{
	size_t n = d->cfg->link.listen.n;
	uint16_t port;
	int ret;

	d->listen = um_xcalloc(n + 1, sizeof(char *));
	for (size_t i = 0; i < n; i++) {
		const char *addr = d->cfg->link.listen.v[i];
		const char *colon = strrchr(addr, ':');

		if ((ret = link_mgr_listen(d->links, addr, &port)) != UM_OK) {
			log_err(LD_APP, "cannot listen on %s: %s", addr, um_err_str(ret));
			return ret;
		}
		d->listen[i] = um_xasprintf("%.*s:%u", (int)(colon - addr), addr, port);
		log_notice(LD_APP, "listening for links on %s", d->listen[i]);
	}
	return UM_OK;
}

static int
daemon_start(struct daemon *d)
{
	struct link_mgr_config lc;
	struct link_callbacks lcb = { .on_open = on_link_open,
		                      .on_cell = on_link_cell,
		                      .on_close = on_link_close,
		                      .on_drain = on_link_drain,
		                      .admit = on_link_admit,
		                      .admit_done = on_link_admit_done,
		                      .puzzle_bits = on_puzzle_bits,
		                      .puzzle_cap = on_puzzle_cap,
		                      .arg = d };
	struct control_ctx cc;
	char why[512], b32[53], roles[128];
	int ret;

	if ((ret = apply_logging(d->cfg)) != UM_OK)
		return ret;
	if ((ret = um_crypto_init()) != UM_OK) {
		log_err(LD_APP, "cannot initialise libsodium");
		return ret;
	}
	if ((ret = app_ensure_state_dir(d->cfg->node.state_dir, why, sizeof(why))) != UM_OK ||
	    (ret = app_keys_load(d->cfg, true, &d->id, &d->lk, why, sizeof(why))) != UM_OK) {
		log_err(LD_APP, "%s", why);
		return ret;
	}
	link_identity_init(&d->li, &d->id, &d->lk, um_wall_s() + CERT_LIFETIME_S);
	d->loop = ev_loop_new();
	d->start_ms = um_mono_ms();
	if ((ret = start_abuse(d, why, sizeof(why))) != UM_OK) {
		log_err(LD_APP, "cannot start abuse control: %s", why);
		return ret;
	}
	link_cfg_from(d->cfg, &lc);
	d->links = link_mgr_new(d->loop, &d->li, &lc, &lcb);
	if ((ret = start_listeners(d)) != UM_OK || (ret = add_peers(d, d->cfg)) != UM_OK)
		return ret;
	{
		struct app_dir_env env;

		dir_env(d, &env);
		if ((ret = app_dir_start(&d->dir, d->cfg, &env, why, sizeof(why))) != UM_OK) {
			log_err(LD_APP, "%s", why);
			return ret;
		}
	}
	if ((ret = app_issuer_start(&d->issuer, d->cfg, d->loop, &d->id, why, sizeof(why))) !=
	    UM_OK) {
		log_err(LD_APP, "cannot start the issuer: %s", why);
		return ret;
	}
	if ((ret = tokens_io_start(&d->wallet, d->cfg, d->loop, why, sizeof(why))) != UM_OK) {
		log_err(LD_APP, "cannot open the token wallet: %s", why);
		return ret;
	}
	d->wallet.consensus = circ_consensus;
	d->wallet.consensus_arg = d;
	d->wallet.puzzle_cap = on_puzzle_cap;
	d->wallet.puzzle_arg = d;
	if ((ret = start_circuits(d, why, sizeof(why))) != UM_OK ||
	    (ret = start_front(d, why, sizeof(why))) != UM_OK) {
		log_err(LD_APP, "%s", why);
		return ret;
	}
	if (d->cfg->control.enabled) {
		memset(&cc, 0, sizeof(cc));
		cc.node_id = d->id.pk;
		cc.nickname = d->cfg->node.nickname;
		cc.roles = d->cfg->node.roles;
		cc.version = UM_VERSION;
		cc.start_ms = d->start_ms;
		cc.links = d->links;
		cc.dir = &d->dir.dc;
		cc.fed = &d->dir.fed;
		cc.circ = &d->circ;
		cc.abuse = &d->abuse;
		cc.tokens = &d->tokens;
		cc.issuer = &d->issuer.is;
		cc.issuer_token = d->issuer.token;
		cc.issuer_keys = &d->issuer.keys;
		cc.issuer_creds = &d->issuer.creds;
		cc.issuer_puzzles = &d->issuer.pz_stats;
		cc.wallet = &d->wallet;
		cc.listen = (const char *const *)d->listen;
		cc.reload = reload;
		cc.arg = d;
		if ((ret = control_new(d->loop, d->cfg->control.socket, &cc, &d->control)) !=
		    UM_OK) {
			log_err(LD_APP, "cannot open control socket %s: %s", d->cfg->control.socket,
			        um_err_str(ret));
			return ret;
		}
	}
	d->sig_int = ev_signal_new(d->loop, SIGINT, on_signal, d);
	d->sig_term = ev_signal_new(d->loop, SIGTERM, on_signal, d);
	d->sig_hup = ev_signal_new(d->loop, SIGHUP, on_signal, d);
	d->stop_timer = ev_timer_new(d->loop, stop_tick, d);
	d->cert_timer = ev_timer_new(d->loop, cert_renew, d);
	ev_timer_start(d->cert_timer, CERT_RENEW_MS, CERT_RENEW_MS);
	app_key_b32(d->id.pk, b32);
	config_roles_format(d->cfg->node.roles, roles, sizeof(roles));
	log_notice(LD_APP, "umbra %s running: node %s, roles %s, control socket %s", UM_VERSION,
	           b32, roles, d->cfg->control.enabled ? d->cfg->control.socket : "(disabled)");
	return UM_OK;
}

static void
daemon_stop(struct daemon *d)
{
	control_free(d->control);
	front_io_free(d->front); /* before the circuits its streams use */
	circ_io_free(d->circ);   /* frees every circuit silently; link callbacks stop here */
	exit_ctx_free(d->exit);
	exit_policy_free(d->exit_policy);
	issuer_feed_free(d->issuer_feed);
	token_verifier_free(d->tokens); /* before the database it keeps its spent set in */
	exit_tier_policy_free(d->tiers);
	app_dir_clear(&d->dir);
	app_issuer_clear(&d->issuer);
	tokens_io_clear(&d->wallet);
	link_mgr_free(d->links);
	abuse_free(d->abuse); /* after the links: closing ones report their handshakes */
	ev_signal_free(d->sig_int);
	ev_signal_free(d->sig_term);
	ev_signal_free(d->sig_hup);
	ev_timer_free(d->stop_timer);
	ev_timer_free(d->cert_timer);
	ev_loop_free(d->loop);
	for (size_t i = 0; d->listen != NULL && d->listen[i] != NULL; i++)
		free(d->listen[i]);
	free(d->listen);
	keys_ed25519_clear(&d->id);
	keys_x25519_clear(&d->lk);
	um_memzero(&d->li, sizeof(d->li));
	config_free(d->cfg);
}

static void
run_usage(FILE *f)
{
	fprintf(f, "Usage: umbra run [-c FILE]\n\n"
	           "Run the daemon in the foreground with the roles [node] roles names. Keys are\n"
	           "created in the state directory on first start. Logs go to stderr unless\n"
	           "[log] file or syslog says otherwise. SIGHUP reloads the configuration;\n"
	           "SIGINT/SIGTERM close every link cleanly and exit.\n");
}

int
cmd_run(int argc, char **argv)
{
	static const struct option opts[] = { { "config", required_argument, NULL, 'c' },
		                              { "help", no_argument, NULL, 'h' },
		                              { NULL, 0, NULL, 0 } };
	struct daemon d;
	const char *cfg = NULL;
	int o, ret;

	while ((o = getopt_long(argc, argv, "c:h", opts, NULL)) != -1) {
		switch (o) {
		case 'c':
			cfg = optarg;
			break;
		case 'h':
			run_usage(stdout);
			return APP_OK;
		default:
			run_usage(stderr);
			return APP_USAGE;
		}
	}
	if (optind != argc) {
		run_usage(stderr);
		return APP_USAGE;
	}
	memset(&d, 0, sizeof(d));
	d.config_path = app_config_path(cfg);
	if ((ret = app_load_config(d.config_path, &d.cfg)) != APP_OK)
		return ret;
	if (daemon_start(&d) != UM_OK) {
		daemon_stop(&d);
		return APP_FAIL;
	}
	ret = ev_loop_run(d.loop) == UM_OK ? APP_OK : APP_FAIL;
	log_notice(LD_APP, "stopped");
	daemon_stop(&d);
	return ret;
}
