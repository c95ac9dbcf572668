/* SPDX-License-Identifier: MIT */
/* The issuer role's I/O (issuer_node.h): everything else is in trust/issuer*.c. */
#include "app/issuer_node.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "lib/encoding.h"
#include "lib/err.h"
#include "lib/log.h"
#include "lib/mem.h"
#include "lib/time.h"
#include "crypto/crypto.h"
#include "trust/issuer_admin_cap.h"
#include "trust/issuer_captokens.h"
#include "trust/issuer_public.h"
#include "trust/issuer_roles.h"

enum {
	TOKEN_BYTES = 32,
	PATH_MAX_LEN = 2048, /* issuer_http refuses longer targets (414) */
	HTTP_BACKLOG = 64,
};

/* Read the admin token, or make one at the first start. */
static int
token_load(struct app_issuer *a, const char *path, char *why, size_t why_len)
{
	uint8_t raw[TOKEN_BYTES];
	int ret;

	ret = secretfile_read(path, a->token, sizeof(a->token), why, why_len);
	if (ret != UM_ERR_NOT_FOUND)
		return ret;
	rand_bytes(raw, sizeof(raw));
	ret = enc_base32(a->token, sizeof(a->token), raw, sizeof(raw));
	um_memzero(raw, sizeof(raw));
	if (ret != UM_OK)
		return ret;
	if ((ret = secretfile_write(path, a->token, why, why_len)) != UM_OK)
		return ret;
	log_notice(LD_APP, "issuer: wrote a new admin token to %s", path);
	return UM_OK;
}

static void
on_request(void *arg, const struct ev_http_req *req, struct ev_http_resp *resp)
{
	struct app_issuer *a = arg;
	char query[PATH_MAX_LEN], *target;
	struct sockaddr_storage peer;
	const uint8_t *key = NULL;
	uint8_t addr[16] = { 0 };
	int family = 0;

	/* The client's address keys the issuance limit; it is never logged or stored. An IPv4
	 * client of a dual-stack listener ([::]) counts as its IPv4 address, not as the one /64
	 * every IPv4 client would share. */
	if (ev_http_req_peer_addr(req, &peer) == UM_OK &&
	    (key = abuse_addr_of(&peer, &family)) != NULL)
		memcpy(addr, key, family == AF_INET ? 4 : 16);
	else
		family = 0;

	/* issuer_handle() takes the request target: the path and the query rebuilt. */
	if (ev_http_req_query(req, query, sizeof(query)) != UM_OK) {
		ev_http_resp_set_text(resp, 414, "application/json",
		                      "{\"error\":\"request target too long\"}");
		return;
	}
	target = query[0] != '\0' ? um_xasprintf("%s?%s", req->path, query) : um_xstrdup(req->path);
	struct issuer_public_ctx pc = { .keys = a->keys,
		                        .limit = a->limit,
		                        .is = a->is,
		                        .creds = a->creds,
		                        .subject_quota = a->subject_quota,
		                        .gate = a->gate,
		                        .puzzle_bits = a->puzzle_bits,
		                        .pz_stats = &a->pz_stats,
		                        .rt = a->rt };
	struct issuer_captokens_ctx cc = { a->is, a->creds, a->keys, a->id, a->limit, 0 };

	if (!issuer_captokens_handle(&cc, req->method, req->path, family, addr, req->body,
	                             req->body_len, um_wall_s(), um_mono_ms(), resp) &&
	    !issuer_public_handle(&pc, req->method, req->path, family, addr, req->body,
	                          req->body_len, um_wall_s(), um_mono_ms(), resp))
		issuer_handle(a->is, req->method, target, ev_http_req_header(req, "Authorization"),
		              req->body, req->body_len, um_wall_s(), resp);
	free(target);
}

static int
listen_one(struct app_issuer *a, const char *addr, char *why, size_t why_len)
{
	struct sockaddr_storage ss, bound;
	socklen_t len = 0, blen = sizeof(bound);
	char text[EV_ADDR_STRLEN];
	int fd = -1, ret;

	if ((ret = ev_addr_parse_listen(addr, &ss, &len)) != UM_OK) {
		snprintf(why, why_len, "issuer.listen %s is not host:port", addr);
		return UM_ERR_INVALID;
	}
	if ((ret = ev_tcp_listen_fd((const struct sockaddr *)&ss, HTTP_BACKLOG, &fd)) != UM_OK) {
		snprintf(why, why_len, "cannot listen for the issuer API on %s: %s", addr,
		         um_err_str(ret));
		return ret;
	}
	if (getsockname(fd, (struct sockaddr *)&bound, &blen) != 0 ||
	    ev_addr_format((const struct sockaddr *)&bound, text, sizeof(text)) != UM_OK)
		snprintf(text, sizeof(text), "%s", addr);
	/* ev_http_new owns fd from here, on failure too. */
	if ((ret = ev_http_new(a->loop, fd, APP_ISSUER_MAX_BODY, on_request, a,
	                       &a->http[a->n_http])) != UM_OK) {
		snprintf(why, why_len, "cannot serve the issuer API on %s: %s", addr,
		         um_err_str(ret));
		return ret;
	}
	a->bound[a->n_http++] = um_xstrdup(text);
	log_notice(LD_APP, "issuer admin API listening on %s", text);
	return UM_OK;
}

/* The revocation feed's subjects: the issuer's revoked subjects (issuer_roles.h). */
static int
revoked_subjects(void *arg, char (*out)[ISSUER_ID_MAX_LEN + 1], size_t max, size_t *n)
{
	return issuer_revoked_list(arg, out, max, n);
}

int
app_issuer_start(struct app_issuer *a, const struct config *c, struct ev_loop *loop,
                 const struct keys_ed25519 *id, char *why, size_t why_len)
{
	struct issuer_keyring_config kcfg;
	struct abuse_config acfg;
	struct issuer_config icfg;
	char *path;
	int ret;

	memset(a, 0, sizeof(*a));
	a->loop = loop;
	a->id = id;
	if ((c->node.roles & ROLE_ISSUER) == 0)
		return UM_OK;
	if (c->issuer.listen.n > APP_ISSUER_MAX_LISTEN) {
		snprintf(why, why_len, "at most %d issuer.listen addresses", APP_ISSUER_MAX_LISTEN);
		return UM_ERR_CONFIG;
	}
	if ((ret = token_load(a, c->issuer.admin_token_file, why, why_len)) != UM_OK)
		return ret;
	path = um_xasprintf("%s/issuer.db", c->node.state_dir);
	ret = store_open(path, NULL, &a->store, why, why_len);
	free(path);
	if (ret != UM_OK)
		return ret;
	issuer_config_defaults(&icfg);
	icfg.admin_token = a->token;
	icfg.dispute_ttl_max_s = c->issuer.dispute_ttl_max_ms / 1000;
	icfg.appeal_ttl_max_s = c->issuer.appeal_ttl_max_ms / 1000;
	if ((ret = issuer_open(a->store, &icfg, &a->is, why, why_len)) != UM_OK)
		return ret;
	issuer_keyring_config_defaults(&kcfg);
	kcfg.tiers = c->issuer.tiers;
	if ((ret = issuer_keyring_open(a->store, id, &kcfg, um_wall_s(), &a->keys, why, why_len)) !=
	    UM_OK)
		return ret;
	issuer_keyring_set_subjects(a->keys, revoked_subjects, a->is);
	abuse_config_defaults(&acfg);
	acfg.bucket[ABUSE_ISSUE].rate_per_s = c->issuer.issue_rate;
	acfg.bucket[ABUSE_ISSUE].burst = c->issuer.issue_burst;
	a->gate = puzzle_gate_new();
	a->puzzle_bits = c->issuer.puzzle_bits;
	if ((ret = abuse_new(&acfg, &a->limit, why, why_len)) != UM_OK ||
	    (ret = issuer_creds_open(a->store, &a->creds, why, why_len)) != UM_OK)
		return ret;
	issuer_keyring_set_audit(a->keys, a->is);
	/* Admin capability tokens (aud "issuer-admin") on the admin API: only subjects the
	 * admin granted the admin role can get one. */
	a->admin_cap = issuer_admin_cap_new(id->pk, a->keys);
	issuer_set_admin_cap(a->is, a->admin_cap);
	a->subject_quota = c->issuer.subject_quota;
	issuer_creds_set_audit(a->creds, a->is);
	if ((ret = issuer_rtfeed_open(a->store, a->is, id, RELAY_TRUST_LIFETIME_DEFAULT_S,
	                              &a->rt)) != UM_OK) {
		snprintf(why, why_len, "cannot open the relay-trust feed: %s", um_err_str(ret));
		return ret;
	}
	for (size_t i = 0; i < c->issuer.listen.n; i++) {
		if ((ret = listen_one(a, c->issuer.listen.v[i], why, why_len)) != UM_OK)
			return ret;
	}
	log_notice(LD_APP, "issuer: %s",
	           c->issuer.listen.n > 0 ? "admin API ready"
	                                  : "admin API on the control socket only");
	return UM_OK;
}

void
app_issuer_clear(struct app_issuer *a)
{
	for (size_t i = 0; i < a->n_http; i++) {
		ev_http_free(a->http[i]);
		free(a->bound[i]);
	}
	issuer_rtfeed_free(a->rt);
	issuer_keyring_free(a->keys);
	issuer_creds_free(a->creds);
	abuse_free(a->limit);
	puzzle_gate_free(a->gate);
	issuer_free(a->is);
	issuer_admin_cap_free(a->admin_cap);
	store_close(a->store);
	um_memzero(a, sizeof(*a)); /* the token with it */
}
