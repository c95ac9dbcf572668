/* SPDX-License-Identifier: MIT */
/*
 * The exit's outbound side on the event loop (exit_conn.h; docs/PROTOCOL.md 10.5).
 *
 * An open is a small state machine with one timer:
 *
 *   RESOLVING   ev_resolve() in flight (its own timeout: min(resolve, open) timeout)
 *   CONNECTING  one ev_tcp_connect() in flight; the timer is min(connect timeout, time left
 *               of the open); a failure or a timeout moves to the next candidate address
 *   FAILING     the outcome is known; the timer fires at 0 ms to deliver it, so a callback
 *               never runs from inside exit_conn_open() and always from the loop
 *   DONE        the callback started; the handle is freed when it returns
 *
 * Cancel closes whatever is in flight (ev_resolve_cancel, ev_tcp_close, ev_timer_free: none
 * of them calls back afterwards) and frees the open at once. Opens and resolves in progress
 * count against cfg.pending_max; over it a request is refused before anything is allocated.
 */
#include "exit/exit_conn.h"

#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "lib/err.h"
#include "lib/list.h"
#include "lib/log.h"
#include "evloop/dns.h"

struct exit_ctx {
	struct ev_loop *loop;
	const struct exit_policy *policy;
	const struct exit_tier_policy *tiers; /* NULL: tiers ignored */
	struct token_verifier *tokens;        /* borrowed, for the circuit layer */
	struct exit_conn_config cfg;
	struct exit_stats stats;
	struct list_node conns;    /* struct exit_conn.node */
	struct list_node resolves; /* struct exit_resolve.node */
};

enum conn_state {
	CONN_RESOLVING = 1,
	CONN_CONNECTING,
	CONN_FAILING,
	CONN_DONE,
};

struct exit_conn {
	struct list_node node;
	struct exit_ctx *ctx;
	exit_conn_fn *cb;
	void *arg;
	enum conn_state state;
	uint16_t port;
	uint32_t flags;
	uint8_t tier;          /* the circuit's (exit_request.tier) */
	struct ev_resolve *rq; /* RESOLVING */
	struct ev_tcp *tcp;    /* CONNECTING */
	struct ev_timer *timer;
	uint64_t deadline_ms; /* loop time the whole open must finish by */
	struct sockaddr_storage cand[EXIT_ADDRS_MAX];
	size_t n_cand, next, tries;
	uint8_t last_reason;         /* of the last failed attempt */
	struct exit_conn_result out; /* FAILING: what to deliver */
};

struct exit_resolve {
	struct list_node node;
	struct exit_ctx *ctx;
	exit_resolve_fn *cb;
	void *arg;
	struct ev_resolve *rq;
};

/* Ops of a stream between the connect and the new owner's ev_tcp_set_ops(): no callbacks. */
static const struct ev_tcp_ops null_ops = { NULL, NULL, NULL, NULL };

/* ---- helpers ---- */

/* Names the exit never looks up: onion services (RFC 7686) and our own hidden services. */
static bool
name_is_hidden_service(const char *name)
{
	size_t len = strlen(name);
	const char *label;

	if (len > 0 && name[len - 1] == '.')
		len--;
	label = name + len;
	while (label > name && label[-1] != '.')
		label--;
	return ((size_t)(name + len - label) == 5 && strncasecmp(label, "onion", 5) == 0) ||
	       ((size_t)(name + len - label) == 4 && strncasecmp(label, "anon", 4) == 0);
}

static void
addr_to_sockaddr(uint8_t type, const uint8_t *addr, uint16_t port, struct sockaddr_storage *ss)
{
	memset(ss, 0, sizeof(*ss));
	if (type == EXIT_HOST_IPV4) {
		struct sockaddr_in sin;

		memset(&sin, 0, sizeof(sin));
		sin.sin_family = AF_INET;
		sin.sin_port = htons(port);
		memcpy(&sin.sin_addr, addr, 4);
		memcpy(ss, &sin, sizeof(sin));
	} else {
		struct sockaddr_in6 sin6;

		memset(&sin6, 0, sizeof(sin6));
		sin6.sin6_family = AF_INET6;
		sin6.sin6_port = htons(port);
		memcpy(&sin6.sin6_addr, addr, 16);
		memcpy(ss, &sin6, sizeof(sin6));
	}
}

/* The rules of tier under the context's tier policy, NULL without one. */
static const struct exit_policy *
tier_rules_of(const struct exit_ctx *ctx, uint8_t tier)
{
	return ctx->tiers != NULL ? exit_tier_rules(ctx->tiers, tier) : NULL;
}

/* A refusal decided inside exit_conn_open(): count it and describe it in *res. */
static int
open_refuse(struct exit_ctx *ctx, struct exit_conn_result *res, uint8_t reason, int status,
            const struct exit_addr *addr)
{
	memset(res, 0, sizeof(*res));
	res->status = status;
	res->reason = reason;
	if (addr != NULL && addr->family != 0) {
		res->addr = *addr;
		res->ttl = EXIT_DNS_TTL;
	}
	ctx->stats.connects_failed[reason]++;
	log_debug(LD_NET, "exit open refused: %s (END reason %u)", um_err_str(status),
	          (unsigned)reason);
	return status;
}

/* ---- opens ---- */

static void conn_timer_cb(void *arg);
static void conn_on_connect(void *arg, int status);

static const struct ev_tcp_ops conn_ops = { conn_on_connect, NULL, NULL, NULL };

static void
conn_free(struct exit_conn *c)
{
	ev_resolve_cancel(c->rq);
	c->rq = NULL;
	if (c->tcp != NULL)
		ev_tcp_close(c->tcp);
	c->tcp = NULL;
	ev_timer_free(c->timer);
	free(c);
}

/* Take c off the context's books (pending count, list). */
static void
conn_unlink(struct exit_conn *c)
{
	list_remove(&c->node);
	c->ctx->stats.pending--;
}

/* Deliver res and free c. c's callbacks are all over, c->tcp is NULL or handed over. */
static void
conn_deliver(struct exit_conn *c, const struct exit_conn_result *res)
{
	struct exit_ctx *ctx = c->ctx;

	if (res->status == UM_OK) {
		ctx->stats.connects_ok++;
	} else {
		ctx->stats.connects_failed[res->reason]++;
		log_debug(LD_NET, "exit open failed after %zu attempt(s): END reason %u", c->tries,
		          (unsigned)res->reason);
	}
	c->state = CONN_DONE;
	conn_unlink(c);
	c->cb(c->arg, res);
	conn_free(c);
}

/* The outcome is a failure: deliver it from the loop at the next timer phase. */
static void
conn_fail(struct exit_conn *c, uint8_t reason, const struct exit_addr *refused)
{
	memset(&c->out, 0, sizeof(c->out));
	c->out.reason = reason;
	c->out.status = exit_end_reason_status(reason);
	if (refused != NULL && refused->family != 0) {
		c->out.addr = *refused;
		c->out.ttl = EXIT_DNS_TTL;
	}
	c->state = CONN_FAILING;
	ev_timer_start(c->timer, 0, 0);
}

/* Start a connect to the next candidate, or fail with the last attempt's reason. */
static void
conn_connect_next(struct exit_conn *c)
{
	struct exit_ctx *ctx = c->ctx;

	while (c->next < c->n_cand && c->tries < ctx->cfg.tries_max) {
		const struct sockaddr *sa = (const struct sockaddr *)&c->cand[c->next];
		uint64_t now = ev_now_ms(ctx->loop);
		int r;

		if (now >= c->deadline_ms) {
			c->last_reason = EXIT_END_TIMEOUT;
			break;
		}
		c->next++;
		c->tries++;
		ctx->stats.connect_attempts++;
		if ((r = ev_tcp_connect(ctx->loop, sa, &conn_ops, c, &c->tcp)) == UM_OK) {
			c->state = CONN_CONNECTING;
			ev_timer_start(c->timer,
			               UM_MIN(ctx->cfg.connect_timeout_ms, c->deadline_ms - now),
			               0);
			return;
		}
		c->last_reason =
		        r == UM_ERR_SYS ? exit_end_reason_from_errno(errno) : EXIT_END_MISC;
	}
	conn_fail(c, c->last_reason != 0 ? c->last_reason : EXIT_END_MISC, NULL);
}

static void
conn_on_connect(void *arg, int status)
{
	struct exit_conn *c = arg;
	int e = errno;
	struct exit_conn_result res;

	ev_timer_stop(c->timer);
	if (status != UM_OK) {
		ev_tcp_close(c->tcp);
		c->tcp = NULL;
		c->last_reason = exit_end_reason_from_errno(e);
		conn_connect_next(c);
		return;
	}
	memset(&res, 0, sizeof(res));
	res.status = UM_OK;
	res.tcp = c->tcp;
	c->tcp = NULL;
	ev_tcp_set_ops(res.tcp, &null_ops, NULL);
	/* evloop turns it on for every stream; say so here too, since CONNECTED latency
	 * depends on it. */
	if (ev_tcp_set_nodelay(res.tcp, true) != UM_OK)
		log_debug(LD_NET, "TCP_NODELAY on an exit stream: %s", strerror(errno));
	exit_addr_from_sockaddr((const struct sockaddr *)&c->cand[c->next - 1], &res.addr);
	res.ttl = EXIT_DNS_TTL;
	conn_deliver(c, &res);
}

static void
conn_timer_cb(void *arg)
{
	struct exit_conn *c = arg;

	switch (c->state) {
	case CONN_CONNECTING:
		/* This address took too long: drop it (no callback after close), try the next. */
		ev_tcp_close(c->tcp);
		c->tcp = NULL;
		c->last_reason = EXIT_END_TIMEOUT;
		conn_connect_next(c);
		break;
	case CONN_FAILING:
		conn_deliver(c, &c->out);
		break;
	default:
		(void)UM_BUG(true);
		break;
	}
}

static void
conn_resolved(void *arg, int status, const struct ev_resolve_result *rr)
{
	struct exit_conn *c = arg;
	struct exit_addr refused;
	size_t n_family;

	c->rq = NULL; /* the handle is over once its callback starts */
	if (status != UM_OK) {
		conn_fail(c, status == UM_ERR_TIMEOUT ? EXIT_END_TIMEOUT : EXIT_END_RESOLVEFAILED,
		          NULL);
		return;
	}
	c->n_cand = exit_candidates(c->ctx->policy, tier_rules_of(c->ctx, c->tier), c->flags,
	                            c->port, rr->addrs, rr->n, c->cand, &n_family, &refused);
	if (c->n_cand == 0) {
		/* The resolver was asked for the allowed families only: n_family == 0 is an
		 * answer without a usable address. */
		if (n_family == 0)
			conn_fail(c, EXIT_END_RESOLVEFAILED, NULL);
		else
			conn_fail(c, EXIT_END_EXITPOLICY, &refused);
		return;
	}
	conn_connect_next(c);
}

static int
resolve_family(uint32_t flags)
{
	if ((flags & EXIT_F_IPV6_OK) == 0)
		return AF_INET;
	if ((flags & EXIT_F_IPV4_NOT_OK) != 0)
		return AF_INET6;
	return AF_UNSPEC;
}

int
exit_conn_open(struct exit_ctx *ctx, const struct exit_request *req, exit_conn_fn *cb, void *arg,
               struct exit_conn **out, struct exit_conn_result *res)
{
	struct sockaddr_storage lit;
	struct sockaddr_storage cand[EXIT_ADDRS_MAX];
	struct exit_addr refused;
	const struct exit_policy *tier_rules = NULL;
	size_t n_cand = 0, n_family;
	bool is_name;
	struct exit_conn *c;
	int r;

	*out = NULL;
	memset(res, 0, sizeof(*res));
	ctx->stats.opens++;
	if (cb == NULL || req->port == 0 ||
	    (req->type != EXIT_HOST_NAME && req->type != EXIT_HOST_IPV4 &&
	     req->type != EXIT_HOST_IPV6) ||
	    (req->type == EXIT_HOST_NAME && req->name == NULL))
		return open_refuse(ctx, res, EXIT_END_MISC, UM_ERR_INVALID, NULL);
	/* The circuit's tier first (17.6): require_token, then its rules before the policy. */
	if (ctx->tiers != NULL) {
		if (!exit_tier_admits(ctx->tiers, req->tier))
			return open_refuse(ctx, res, EXIT_END_EXITPOLICY, UM_ERR_PERM, NULL);
		tier_rules = tier_rules_of(ctx, req->tier);
	}
	if (ctx->stats.pending >= ctx->cfg.pending_max)
		return open_refuse(ctx, res, EXIT_END_RESOURCELIMIT, UM_ERR_RATELIMIT, NULL);

	/* A literal, sent as such or as a name, never goes to the resolver. */
	is_name = req->type == EXIT_HOST_NAME;
	if (!is_name)
		addr_to_sockaddr(req->type, req->addr, req->port, &lit);
	else if (ev_addr_from_literal(req->name, req->port, &lit) == UM_OK)
		is_name = false;
	if (is_name) {
		if (name_is_hidden_service(req->name))
			return open_refuse(ctx, res, EXIT_END_RESOLVEFAILED, UM_ERR_NOT_FOUND,
			                   NULL);
		if (exit_tier_rejects_port(tier_rules, req->port) ||
		    !exit_port_may_accept(ctx->policy, req->port))
			return open_refuse(ctx, res, EXIT_END_EXITPOLICY, UM_ERR_PERM, NULL);
	} else {
		n_cand = exit_candidates(ctx->policy, tier_rules, req->flags, req->port, &lit, 1,
		                         cand, &n_family, &refused);
		if (n_cand == 0) {
			/* Refused by the policy, or of a family the flags exclude. */
			if (refused.family == 0)
				exit_addr_from_sockaddr((const struct sockaddr *)&lit, &refused);
			return open_refuse(ctx, res, EXIT_END_EXITPOLICY, UM_ERR_PERM, &refused);
		}
	}

	c = um_xcalloc(1, sizeof(*c));
	c->ctx = ctx;
	c->cb = cb;
	c->arg = arg;
	c->port = req->port;
	c->flags = req->flags;
	c->tier = req->tier;
	c->timer = ev_timer_new(ctx->loop, conn_timer_cb, c);
	c->deadline_ms = ev_now_ms(ctx->loop) + ctx->cfg.open_timeout_ms;
	if (is_name) {
		r = ev_resolve(ctx->loop, req->name, req->port, resolve_family(req->flags),
		               UM_MIN(ctx->cfg.resolve_timeout_ms, ctx->cfg.open_timeout_ms),
		               conn_resolved, c, &c->rq);
		if (r != UM_OK) {
			conn_free(c);
			if (r == UM_ERR_INVALID)
				return open_refuse(ctx, res, EXIT_END_RESOLVEFAILED,
				                   UM_ERR_NOT_FOUND, NULL);
			return open_refuse(ctx, res, EXIT_END_MISC, r, NULL);
		}
		c->state = CONN_RESOLVING;
	}
	list_push_back(&ctx->conns, &c->node);
	ctx->stats.pending++;
	*out = c;
	if (!is_name) {
		memcpy(c->cand, cand, n_cand * sizeof(cand[0]));
		c->n_cand = n_cand;
		conn_connect_next(c);
	}
	return UM_OK;
}

#ifdef UM_UNIT_TESTS
int
exit_conn_open_addrs(struct exit_ctx *ctx, const struct sockaddr_storage *addrs, size_t n,
                     uint16_t port, uint32_t flags, exit_conn_fn *cb, void *arg,
                     struct exit_conn **out)
{
	struct ev_resolve_result rr;
	struct exit_conn *c;

	*out = NULL;
	if (n == 0 || n > EV_RESOLVE_MAX_ADDRS || port == 0 ||
	    ctx->stats.pending >= ctx->cfg.pending_max)
		return UM_ERR_INVALID;
	memset(&rr, 0, sizeof(rr));
	memcpy(rr.addrs, addrs, n * sizeof(addrs[0]));
	rr.n = n;
	ctx->stats.opens++;
	c = um_xcalloc(1, sizeof(*c));
	c->ctx = ctx;
	c->cb = cb;
	c->arg = arg;
	c->port = port;
	c->flags = flags;
	c->timer = ev_timer_new(ctx->loop, conn_timer_cb, c);
	c->deadline_ms = ev_now_ms(ctx->loop) + ctx->cfg.open_timeout_ms;
	c->state = CONN_RESOLVING;
	list_push_back(&ctx->conns, &c->node);
	ctx->stats.pending++;
	*out = c;
	conn_resolved(c, UM_OK, &rr);
	return UM_OK;
}
#endif

void
exit_conn_cancel(struct exit_conn *c)
{
	if (c == NULL || c->state == CONN_DONE)
		return;
	c->ctx->stats.opens_cancelled++;
	conn_unlink(c);
	conn_free(c);
}

/* ---- RESOLVE ---- */

static void
resolve_deliver(struct exit_resolve *q, const struct exit_resolve_result *res)
{
	struct exit_ctx *ctx = q->ctx;

	if (res->status == UM_OK)
		ctx->stats.resolves_ok++;
	else
		ctx->stats.resolves_failed++;
	list_remove(&q->node);
	ctx->stats.pending--;
	q->rq = NULL;
	q->cb(q->arg, res);
	free(q);
}

static void
resolve_done(void *arg, int status, const struct ev_resolve_result *rr)
{
	struct exit_resolve *q = arg;
	struct exit_resolve_result res;

	memset(&res, 0, sizeof(res));
	res.status = status;
	if (status == UM_OK) {
		for (size_t i = 0; i < rr->n && res.n < EXIT_ADDRS_MAX; i++) {
			struct exit_addr a;

			exit_addr_from_sockaddr((const struct sockaddr *)&rr->addrs[i], &a);
			if (!exit_answer_visible(q->ctx->policy, &a)) {
				q->ctx->stats.private_hidden++;
				continue;
			}
			res.answers[res.n++] = a;
		}
		/* Like Tor: an exit does not tell what private addresses a name has. */
		if (res.n == 0)
			res.status = UM_ERR_NOT_FOUND;
		else
			res.ttl = EXIT_DNS_TTL;
	}
	res.transient = res.status != UM_OK && res.status != UM_ERR_NOT_FOUND;
	resolve_deliver(q, &res);
}

static int
resolve_refuse(struct exit_ctx *ctx, struct exit_resolve_result *res, int status)
{
	memset(res, 0, sizeof(*res));
	res->status = status;
	res->transient = status == UM_ERR_RATELIMIT;
	ctx->stats.resolves_failed++;
	return status;
}

int
exit_resolve(struct exit_ctx *ctx, const char *name, exit_resolve_fn *cb, void *arg,
             struct exit_resolve **out, struct exit_resolve_result *res)
{
	struct exit_resolve *q;
	int r;

	*out = NULL;
	memset(res, 0, sizeof(*res));
	if (name == NULL || cb == NULL)
		return resolve_refuse(ctx, res, UM_ERR_INVALID);
	if (ctx->stats.pending >= ctx->cfg.pending_max)
		return resolve_refuse(ctx, res, UM_ERR_RATELIMIT);
	if (name_is_hidden_service(name))
		return resolve_refuse(ctx, res, UM_ERR_NOT_FOUND);
	q = um_xcalloc(1, sizeof(*q));
	q->ctx = ctx;
	q->cb = cb;
	q->arg = arg;
	r = ev_resolve(ctx->loop, name, 0, AF_UNSPEC, ctx->cfg.resolve_timeout_ms, resolve_done, q,
	               &q->rq);
	if (r != UM_OK) {
		free(q);
		return resolve_refuse(ctx, res, r);
	}
	list_push_back(&ctx->resolves, &q->node);
	ctx->stats.pending++;
	*out = q;
	return UM_OK;
}

void
exit_resolve_cancel(struct exit_resolve *q)
{
	/* q->rq is NULL only while the callback runs (the handle is freed right after it). */
	if (q == NULL || q->rq == NULL)
		return;
	ev_resolve_cancel(q->rq);
	list_remove(&q->node);
	q->ctx->stats.pending--;
	free(q);
}

/* ---- context ---- */

static bool
config_ok(const struct exit_conn_config *cfg)
{
	return cfg->connect_timeout_ms > 0 && cfg->open_timeout_ms > 0 &&
	       cfg->resolve_timeout_ms > 0 && cfg->pending_max > 0 && cfg->tries_max > 0 &&
	       cfg->tries_max <= EXIT_ADDRS_MAX;
}

int
exit_ctx_new(struct ev_loop *loop, const struct exit_policy *policy,
             const struct exit_conn_config *cfg, struct exit_ctx **out)
{
	struct exit_ctx *ctx;
	struct exit_conn_config def;

	*out = NULL;
	if (cfg == NULL) {
		exit_conn_config_init(&def);
		cfg = &def;
	}
	if (loop == NULL || policy == NULL || !config_ok(cfg))
		return UM_ERR_INVALID;
	ctx = um_xcalloc(1, sizeof(*ctx));
	ctx->loop = loop;
	ctx->policy = policy;
	ctx->cfg = *cfg;
	list_init(&ctx->conns);
	list_init(&ctx->resolves);
	*out = ctx;
	return UM_OK;
}

void
exit_ctx_free_(struct exit_ctx *ctx)
{
	struct list_node *pos, *tmp;

	if (ctx == NULL)
		return;
	list_for_each_safe (pos, tmp, &ctx->conns) {
		exit_conn_cancel(list_entry(pos, struct exit_conn, node));
	}
	list_for_each_safe (pos, tmp, &ctx->resolves) {
		exit_resolve_cancel(list_entry(pos, struct exit_resolve, node));
	}
	free(ctx);
}

void
exit_ctx_set_policy(struct exit_ctx *ctx, const struct exit_policy *policy)
{
	ctx->policy = policy;
}

void
exit_ctx_set_tiers(struct exit_ctx *ctx, const struct exit_tier_policy *tp)
{
	ctx->tiers = tp;
}

bool
exit_ctx_tier_may_resolve(const struct exit_ctx *ctx, uint8_t tier)
{
	if (ctx->tiers == NULL)
		return true;
	return exit_tier_admits(ctx->tiers, tier) &&
	       !exit_tier_rejects_all(exit_tier_rules(ctx->tiers, tier));
}

void
exit_ctx_set_tokens(struct exit_ctx *ctx, struct token_verifier *tv)
{
	ctx->tokens = tv;
}

struct token_verifier *
exit_ctx_tokens(const struct exit_ctx *ctx)
{
	return ctx->tokens;
}

void
exit_ctx_stats(const struct exit_ctx *ctx, struct exit_stats *out)
{
	*out = ctx->stats;
}

void
exit_ctx_count_bytes(struct exit_ctx *ctx, uint64_t in, uint64_t out)
{
	ctx->stats.bytes_in += in;
	ctx->stats.bytes_out += out;
}
