/* SPDX-License-Identifier: MIT */
/*
 * Validate pass: rules that involve more than one key, run after every value was parsed
 * (Tor's options_validate). Single values were already checked by their type in
 * config_value_parse.c. A rule is skipped when a key it reads was rejected, so one bad value
 * does not also produce errors about its neighbours. File modes and key files are checked when
 * the daemon opens them, not here: config_load reads no file other than the config itself.
 */
#include "config/config_st.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "lib/err.h"
#include "lib/log.h"
#include "lib/mem.h"

/* Return row section.key if no value for it was rejected, else NULL. */
static const struct config_var *
usable(const struct config_ctx *x, const char *section, const char *key)
{
	const struct config_var *v = config_var_find(section, key);

	UM_ASSERT(v != NULL);
	return x->origin[v - config_vars].bad ? NULL : v;
}

static void
rule_relays_listen(struct config_ctx *x)
{
	const struct config_var *roles = usable(x, "node", "roles");
	char text[128], q[CONFIG_QUOTE_LEN];

	if (roles == NULL || usable(x, "link", "listen") == NULL)
		return;
	if ((x->c->node.roles & ROLE_RELAY_ANY) == 0 || x->c->link.listen.n > 0)
		return;
	config_roles_format(x->c->node.roles, text, sizeof(text));
	config_ctx_var_error(x, roles,
	                     "%s includes a relay role (entry, middle or exit), and relays must "
	                     "listen: set link.listen",
	                     config_quote(text, q));
}

/* The duration in row a must be shorter than the one in row b. */
static void
rule_shorter(struct config_ctx *x, const char *key_a, const char *key_b)
{
	const struct config_var *a = usable(x, "link", key_a);
	const struct config_var *b = usable(x, "link", key_b);
	char ta[32], tb[32];

	if (a == NULL || b == NULL)
		return;
	if (*(const uint64_t *)config_field_const(x->c, a) <
	    *(const uint64_t *)config_field_const(x->c, b))
		return;
	config_value_format(x->c, a, ta, sizeof(ta));
	config_value_format(x->c, b, tb, sizeof(tb));
	config_ctx_var_error(x, a, "\"%s\" must be shorter than link.%s (\"%s\")", ta, key_b, tb);
}

static void
rule_pending_per_ip(struct config_ctx *x)
{
	const struct config_var *per_ip = usable(x, "link", "max_pending_per_ip");

	if (per_ip == NULL || usable(x, "link", "max_pending") == NULL)
		return;
	if (x->c->link.max_pending_per_ip <= x->c->link.max_pending)
		return;
	config_ctx_var_error(x, per_ip, "\"%u\" must not exceed link.max_pending (\"%u\")",
	                     (unsigned)x->c->link.max_pending_per_ip,
	                     (unsigned)x->c->link.max_pending);
}

static void
rule_ban_time(struct config_ctx *x)
{
	const struct config_var *max = usable(x, "relay", "ban_time_max");
	char ta[32], tb[32];

	if (max == NULL || usable(x, "relay", "ban_time") == NULL ||
	    x->c->relay.ban_time_max_ms >= x->c->relay.ban_time_ms)
		return;
	config_value_format(x->c, max, ta, sizeof(ta));
	config_value_format(x->c, usable(x, "relay", "ban_time"), tb, sizeof(tb));
	config_ctx_var_error(x, max, "\"%s\" must not be shorter than relay.ban_time (\"%s\")", ta,
	                     tb);
}

static bool
addr_equal(const struct config_addr *a, const struct config_addr *b)
{
	return a->family == b->family && a->port == b->port &&
	       memcmp(a->addr, b->addr, sizeof(a->addr)) == 0;
}

/* The same address twice (also written differently: [::1] and [0::1]) is a mistake. */
static void
rule_listen_unique(struct config_ctx *x)
{
	const struct config_var *v = usable(x, "link", "listen");
	const struct config_list *l = &x->c->link.listen;
	char q[CONFIG_QUOTE_LEN];
	struct config_addr *a;
	bool *ok;

	if (v == NULL || l->n < 2)
		return;
	/* Parsed once, compared pairwise: lists are capped at CONFIG_LIST_MAX. */
	a = um_xcalloc(l->n, sizeof(*a));
	ok = um_xcalloc(l->n, sizeof(*ok));
	for (size_t i = 0; i < l->n; i++)
		ok[i] = config_hostport_parse(l->v[i], true, &a[i]) == NULL;
	for (size_t i = 0; i < l->n; i++) {
		for (size_t j = 0; ok[i] && j < i; j++) {
			if (ok[j] && addr_equal(&a[i], &a[j])) {
				config_ctx_var_error(x, v, "%s is listed twice",
				                     config_quote(l->v[i], q));
				break;
			}
		}
	}
	free(ok);
	free(a);
}

/* Two peer lines for one node id would fight over one link. */
static void
rule_peers_unique(struct config_ctx *x)
{
	const struct config_var *v = usable(x, "link", "peer");
	const struct config_list *l = &x->c->link.peer;
	char idtext[CONFIG_KEY_B32_LEN + 1];
	uint8_t(*id)[CONFIG_KEY_LEN];
	uint8_t key[CONFIG_KEY_LEN];
	bool *ok;

	if (v == NULL || l->n < 2)
		return;
	id = um_xcalloc(l->n, sizeof(*id));
	ok = um_xcalloc(l->n, sizeof(*ok));
	for (size_t i = 0; i < l->n; i++)
		ok[i] = config_peer_parse(l->v[i], id[i], key, NULL, 0) == UM_OK;
	for (size_t i = 0; i < l->n; i++) {
		for (size_t j = 0; ok[i] && j < i; j++) {
			if (ok[j] && memcmp(id[i], id[j], CONFIG_KEY_LEN) == 0) {
				memcpy(idtext, l->v[i], CONFIG_KEY_B32_LEN);
				idtext[CONFIG_KEY_B32_LEN] = '\0';
				config_ctx_var_error(x, v, "node id %s is listed twice", idtext);
				break;
			}
		}
	}
	free(ok);
	free(id);
}

static void
rule_socket_fits(struct config_ctx *x)
{
	const struct config_var *sock = usable(x, "control", "socket");
	char q[CONFIG_QUOTE_LEN];

	if (sock == NULL || usable(x, "control", "enabled") == NULL || !x->c->control.enabled ||
	    x->c->control.socket == NULL)
		return;
	/* bind() takes at most sizeof(sun_path) - 1 bytes plus the NUL. */
	if (strlen(x->c->control.socket) < sizeof(((struct sockaddr_un *)NULL)->sun_path))
		return;
	config_ctx_var_error(x, sock, "%s is too long for a Unix socket path (at most %zu bytes)",
	                     config_quote(x->c->control.socket, q),
	                     sizeof(((struct sockaddr_un *)NULL)->sun_path) - 1);
}

/* The directory role serves HTTP and votes with the other authorities: both need config.
 * (That the list includes this node's own id is checked at start, once the key is read.) */
static void
rule_directory_role(struct config_ctx *x)
{
	const struct config_var *roles = usable(x, "node", "roles");
	char text[128], q[CONFIG_QUOTE_LEN];

	if (roles == NULL || usable(x, "directory", "listen") == NULL ||
	    usable(x, "directory", "authorities") == NULL ||
	    (x->c->node.roles & ROLE_DIRECTORY) == 0)
		return;
	config_roles_format(x->c->node.roles, text, sizeof(text));
	config_quote(text, q);
	if (x->c->directory.listen.n == 0)
		config_ctx_var_error(x, roles,
		                     "%s includes the directory role, which serves HTTP: set "
		                     "directory.listen",
		                     q);
	if (x->c->directory.authorities.n == 0)
		config_ctx_var_error(x, roles,
		                     "%s includes the directory role, which votes with the "
		                     "authorities: set directory.authorities (this node included)",
		                     q);
}

static void
rule_authorities(struct config_ctx *x)
{
	const struct config_var *v = usable(x, "directory", "authorities");
	const struct config_var *th = usable(x, "directory", "threshold");
	const struct config_var *ms = usable(x, "directory", "min_sources");
	const struct config_list *l = &x->c->directory.authorities;
	char idtext[CONFIG_KEY_B32_LEN + 1];
	uint8_t(*id)[CONFIG_KEY_LEN];
	bool *ok;

	if (v == NULL)
		return;
	if (l->n > 16) {
		config_ctx_var_error(x, v, "lists %zu authorities; at most 16", l->n);
		return;
	}
	if (th != NULL && l->n > 0 && x->c->directory.threshold > l->n)
		config_ctx_var_error(x, th, "\"%u\" is more than the %zu directory.authorities",
		                     (unsigned)x->c->directory.threshold, l->n);
	if (ms != NULL && l->n > 0 && x->c->directory.min_sources > l->n)
		config_ctx_var_error(x, ms, "\"%u\" is more than the %zu directory.authorities",
		                     (unsigned)x->c->directory.min_sources, l->n);
	if (l->n < 2)
		return;
	id = um_xcalloc(l->n, sizeof(*id));
	ok = um_xcalloc(l->n, sizeof(*ok));
	for (size_t i = 0; i < l->n; i++)
		ok[i] = config_authority_parse(l->v[i], id[i], NULL, 0) == UM_OK;
	for (size_t i = 0; i < l->n; i++) {
		for (size_t j = 0; ok[i] && j < i; j++) {
			if (ok[j] && memcmp(id[i], id[j], CONFIG_KEY_LEN) == 0) {
				memcpy(idtext, l->v[i], CONFIG_KEY_B32_LEN);
				idtext[CONFIG_KEY_B32_LEN] = '\0';
				config_ctx_var_error(x, v, "authority id %s is listed twice",
				                     idtext);
				break;
			}
		}
	}
	free(ok);
	free(id);
}

/* Federation seed peers: at most 16, each once. (Not this node: checked at start.) */
static void
rule_peers(struct config_ctx *x)
{
	const struct config_var *v = usable(x, "directory", "peers");
	const struct config_list *l = &x->c->directory.peers;
	uint8_t a[CONFIG_KEY_LEN], b[CONFIG_KEY_LEN];

	if (v == NULL)
		return;
	if (l->n > 16) {
		config_ctx_var_error(x, v, "lists %zu peers; at most 16", l->n);
		return;
	}
	for (size_t i = 0; i < l->n; i++) {
		if (config_authority_parse(l->v[i], a, NULL, 0) != UM_OK)
			continue;
		for (size_t j = 0; j < i; j++) {
			if (config_authority_parse(l->v[j], b, NULL, 0) == UM_OK &&
			    memcmp(a, b, CONFIG_KEY_LEN) == 0) {
				config_ctx_var_error(x, v, "peer #%zu is listed twice", i + 1);
				break;
			}
		}
	}
}

static void
rule_relay(struct config_ctx *x)
{
	const struct config_var *addr = usable(x, "relay", "address");
	const struct config_var *burst = usable(x, "relay", "bandwidth_burst");
	char a[32], b[32];

	if (burst != NULL && usable(x, "relay", "bandwidth_rate") != NULL &&
	    x->c->relay.bandwidth_burst != 0 &&
	    x->c->relay.bandwidth_burst < x->c->relay.bandwidth_rate) {
		config_size_format(x->c->relay.bandwidth_burst, a, sizeof(a));
		config_size_format(x->c->relay.bandwidth_rate, b, sizeof(b));
		config_ctx_var_error(x, burst, "\"%s\" is less than relay.bandwidth_rate (\"%s\")",
		                     a, b);
	}
	if (addr != NULL && x->c->relay.address.n > 4)
		config_ctx_var_error(x, addr, "lists %zu addresses; a descriptor holds at most 4",
		                     x->c->relay.address.n);
}

/* section.issuers: at most CONFIG_ISSUERS_MAX, each issuer once. */
static void
issuers_unique(struct config_ctx *x, const char *section, const struct config_list *l)
{
	const struct config_var *v = usable(x, section, "issuers");
	uint8_t a[CONFIG_KEY_LEN], b[CONFIG_KEY_LEN];

	if (v == NULL)
		return;
	if (l->n > CONFIG_ISSUERS_MAX) {
		config_ctx_var_error(x, v, "lists %zu issuers; at most %d", l->n,
		                     CONFIG_ISSUERS_MAX);
		return;
	}
	for (size_t i = 0; i < l->n; i++) {
		if (config_issuer_parse(l->v[i], a, NULL, 0) != UM_OK)
			continue;
		for (size_t j = 0; j < i; j++) {
			if (config_issuer_parse(l->v[j], b, NULL, 0) == UM_OK &&
			    memcmp(a, b, CONFIG_KEY_LEN) == 0) {
				config_ctx_var_error(x, v, "issuer #%zu is listed twice", i + 1);
				break;
			}
		}
	}
}

/* The issuer lists of the directory, the exit and the client; require_token needs one. */
static void
rule_issuers(struct config_ctx *x)
{
	const struct config_var *rt = usable(x, "relay", "require_token");
	const struct config_var *th = usable(x, "directory", "trust_threshold");

	issuers_unique(x, "directory", &x->c->directory.issuers);
	if (th != NULL && x->c->directory.trust_threshold > x->c->directory.issuers.n)
		config_ctx_var_error(x, th,
		                     "%u is more than the %zu directory.issuers: no relay could "
		                     "ever be BONDED or DISPUTED",
		                     x->c->directory.trust_threshold, x->c->directory.issuers.n);
	issuers_unique(x, "relay", &x->c->relay.issuers);
	issuers_unique(x, "client", &x->c->client.issuers);
	if (rt != NULL && x->c->relay.require_token && x->c->relay.issuers.n == 0)
		config_ctx_var_error(x, rt,
		                     "\"yes\" refuses every circuit while relay.issuers is empty "
		                     "(no token can be accepted)");
}

/* link.outbound_address: at most one address per family. */
static void
rule_outbound(struct config_ctx *x)
{
	const struct config_var *v = usable(x, "link", "outbound_address");
	int seen4 = 0, seen6 = 0;

	if (v == NULL)
		return;
	for (size_t i = 0; i < x->c->link.outbound_address.n; i++) {
		struct config_addr a;

		if (config_ip_parse(x->c->link.outbound_address.v[i], &a) != NULL)
			continue; /* the item check already said why */
		if ((a.family == AF_INET ? ++seen4 : ++seen6) > 1) {
			config_ctx_var_error(x, v,
			                     "lists two %s addresses; give at most one per family",
			                     a.family == AF_INET ? "IPv4" : "IPv6");
			return;
		}
	}
}

void
config_validate(struct config_ctx *x)
{
	rule_relays_listen(x);
	rule_shorter(x, "keepalive", "idle_timeout");
	rule_shorter(x, "handshake_timeout", "idle_timeout");
	rule_pending_per_ip(x);
	rule_ban_time(x);
	rule_listen_unique(x);
	rule_peers_unique(x);
	rule_socket_fits(x);
	rule_directory_role(x);
	rule_authorities(x);
	rule_peers(x);
	rule_relay(x);
	rule_issuers(x);
	rule_outbound(x);
}
