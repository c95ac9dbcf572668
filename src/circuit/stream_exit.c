/* SPDX-License-Identifier: MIT */
/*
 * The exit's stream layer (stream_exit.h). One struct sx_circ per relay circuit that carried
 * a stream message (hung on the circuit with circ_set_stream_user), holding a stream_mux.h
 * mux and the exit streams: opening (exit_conn_open pending), resolving (exit_resolve
 * pending) or connected (a TCP socket and a mux stream).
 *
 * Lifetime: streams and circuit states that end are unlinked at once and freed from the
 * `reap` defer, so no callback stack (a TCP callback that sends a cell that kills the
 * circuit that closes the stream) ever touches freed memory.
 *
 * A tick (SX_TICK_MS) tells flow control what the destinations took since (on_drain only
 * fires on an empty queue), which also lets the mux send the SENDMEs it held back for the
 * circuit's budget (SMUX_CIRC_RECV_MAX); reports each circuit's bytes toward sockets to the
 * circuit core's OOM rule (ops->backlog); and resets closing streams whose destination took
 * nothing for the drain timeout.
 */
#include "circuit/stream_exit.h"

#include <stdlib.h>
#include <string.h>

#include "lib/err.h"
#include "lib/list.h"
#include "lib/log.h"
#include "lib/time.h"
#include "lib/wire.h"
#include "trust/token_verifier.h"
#include "circuit/stream_mux.h"

enum {
	SX_TICK_MS = 1000,
};

/* TOKEN_ACK carries the verifier's verdict as is. */
_Static_assert((int)RELAY_TOKEN_ACCEPTED == (int)TOKEN_VERDICT_ACCEPTED &&
                       (int)RELAY_TOKEN_UNKNOWN_ISSUER == (int)TOKEN_VERDICT_UNKNOWN_ISSUER &&
                       (int)RELAY_TOKEN_INVALID == (int)TOKEN_VERDICT_INVALID &&
                       (int)RELAY_TOKEN_REFUSED_EPOCH == (int)TOKEN_VERDICT_REFUSED_EPOCH &&
                       (int)RELAY_TOKEN_DOUBLE_SPEND == (int)TOKEN_VERDICT_DOUBLE_SPEND &&
                       (int)RELAY_TOKEN_HAS_TIER == (int)TOKEN_VERDICT_HAS_TIER &&
                       (int)RELAY_TOKEN_UNAVAILABLE == (int)TOKEN_VERDICT_UNAVAILABLE &&
                       (int)RELAY_TOKEN_REVOKED_SUBJECT == (int)TOKEN_VERDICT_REVOKED_SUBJECT &&
                       (int)RELAY_TOKEN_STATUS_MAX == (int)TOKEN_VERDICT_MAX &&
                       (int)RELAY_TIER_MAX == (int)EXIT_TIER_MAX &&
                       (int)RELAY_TOKEN_ISSUER_LEN == (int)TOKEN_VERIFIER_ID_LEN,
               "TOKEN_ACK status and tier numbers");

struct sx_circ;

enum sx_kind {
	SX_OPENING = 1,
	SX_RESOLVING,
	SX_OPEN,
};

struct sx_stream {
	struct list_node node; /* xc->streams, then sx->dead */
	struct sx_circ *xc;
	uint8_t kind; /* enum sx_kind */
	uint16_t id;
	bool dead;
	struct exit_conn *open;
	struct exit_resolve *resolve;
	struct ev_tcp *tcp;
	struct smux_stream *ms;
	bool dst_eof;      /* the destination sent EOF (our END(DONE) is queued) */
	bool peer_done;    /* the client's END(DONE): FIN sent to the destination */
	bool end_sent;     /* our END(DONE) went out */
	bool closing;      /* both directions done: close once the socket's queue drained */
	uint64_t to_dst;   /* bytes queued toward the destination */
	uint64_t drained;  /* ... of which the kernel took (reported to flow control) */
	size_t drain_q;    /* closing: the socket's queue at the last progress ... */
	uint64_t drain_ms; /* ... and when (um_mono_ms) */
};

struct sx_circ {
	struct list_node node; /* sx->circs, then sx->dead_circs */
	struct stream_exit *sx;
	struct circuit *circ; /* NULL once closed */
	struct smux *mux;
	struct list_node streams;
	size_t n_streams;
	size_t backlog;         /* bytes toward sockets, as last reported to ops->backlog */
	uint64_t backlog_since; /* ... the oldest queued at (ev_now_ms), UINT64_MAX: none */
	uint8_t tier;           /* the tier of the token accepted on the circuit, 0: none */
};

struct stream_exit {
	struct ev_loop *loop;
	struct exit_ctx *exit;
	struct stream_exit_ops ops;
	struct ev_defer *reap;
	struct ev_timer *tick;
	uint64_t drain_timeout_ms;
	struct list_node circs;
	struct list_node dead;       /* struct sx_stream */
	struct list_node dead_circs; /* struct sx_circ */
	uint64_t opened, refused, ended;
};

static const struct ev_tcp_ops sx_tcp_ops;
static const struct smux_stream_ops sx_stream_ops;

/* ---- lifetime ---- */

static void
stream_kill(struct sx_stream *st, bool reset)
{
	struct stream_exit *sx = st->xc->sx;

	if (st->dead)
		return;
	st->dead = true;
	exit_conn_cancel(st->open);
	st->open = NULL;
	exit_resolve_cancel(st->resolve);
	st->resolve = NULL;
	if (st->tcp != NULL) {
		if (reset)
			ev_tcp_abort(st->tcp);
		else
			ev_tcp_close(st->tcp);
		st->tcp = NULL;
	}
	smux_stream_free(st->ms);
	list_remove(&st->node);
	st->xc->n_streams--;
	list_push_back(&sx->dead, &st->node);
	sx->ended++;
	ev_defer_schedule(sx->reap);
}

static void
on_reap(void *arg)
{
	struct stream_exit *sx = arg;
	struct list_node *pos, *tmp;

	list_for_each_safe (pos, tmp, &sx->dead) {
		list_remove(pos);
		free(list_entry(pos, struct sx_stream, node));
	}
	list_for_each_safe (pos, tmp, &sx->dead_circs) {
		struct sx_circ *xc = list_entry(pos, struct sx_circ, node);

		list_remove(pos);
		smux_free(xc->mux);
		free(xc);
	}
}

/* ---- sending ---- */

static int
mux_send(void *arg, uint8_t cmd, uint16_t stream_id, const uint8_t *data, size_t len,
         uint8_t digest[RELAY_DIGEST_LEN])
{
	struct sx_circ *xc = arg;

	if (xc->circ == NULL)
		return UM_ERR_CLOSED;
	return xc->sx->ops.send(xc->sx->ops.arg, xc->circ, cmd, stream_id, data, len, digest);
}

static size_t
mux_queued(void *arg)
{
	struct sx_circ *xc = arg;

	return xc->circ != NULL ? circ_queue_len(xc->circ) : 0;
}

static void
mux_violation(void *arg, const char *why)
{
	struct sx_circ *xc = arg;

	log_info(LD_CIRC, "circuit %llu: stream protocol violation: %s",
	         xc->circ != NULL ? (unsigned long long)circ_serial(xc->circ) : 0ull, why);
	if (xc->circ != NULL)
		xc->sx->ops.close(xc->sx->ops.arg, xc->circ);
}

static void
send_end(struct sx_circ *xc, uint16_t id, uint8_t reason, const struct exit_addr *a, uint32_t ttl)
{
	uint8_t b[32];
	struct wire_wr w = { .p = b, .cap = sizeof(b), .len = 0 };
	struct relay_end e;

	memset(&e, 0, sizeof(e));
	e.reason = reason;
	if (reason == RELAY_END_EXITPOLICY && a != NULL && a->family != 0) {
		e.addr_type = a->family == EXIT_AF_IPV4 ? RELAY_HOST_IPV4 : RELAY_HOST_IPV6;
		memcpy(e.addr, a->addr, sizeof(e.addr));
		e.ttl = ttl;
	}
	if (relay_end_write(&w, &e) == UM_OK && xc->mux != NULL &&
	    smux_send(xc->mux, RELAY_END, id, b, w.len) != UM_OK)
		log_debug(LD_CIRC, "END not sent: the circuit is closing");
}

/*
 * A local failure on a stream the client knows about (it sent the BEGIN): END(reason) to the
 * client, else its stream would hang until it times out, then reset the destination. An
 * END after our END(DONE) still goes as the abort it is (15.3); after an abort, nothing.
 */
static void
stream_fail(struct sx_stream *st, uint8_t reason)
{
	if (st->dead)
		return;
	if (st->ms != NULL)
		smux_stream_end(st->ms, reason, um_mono_ns()); /* may close the circuit */
	else
		send_end(st->xc, st->id, reason, NULL, 0);
	stream_kill(st, true);
}

/* The reason for a socket we could not start reading: dead already, or a local error. */
static uint8_t
read_fail_reason(int ret)
{
	return ret == UM_ERR_CLOSED ? RELAY_END_CONNRESET : RELAY_END_INTERNAL;
}

/* The destination took bytes since the last report: tell flow control (XON, and what the
 * circuit's streams hold toward their sockets). May close the circuit. */
static void
note_drained(struct sx_stream *st)
{
	size_t q = ev_tcp_write_queue(st->tcp);
	uint64_t n;

	if (st->ms == NULL || st->to_dst - q <= st->drained)
		return;
	n = st->to_dst - q - st->drained;
	st->drained += n;
	smux_stream_drained(st->ms, (size_t)n, q, um_mono_ns());
}

/*
 * Tell the circuit core what xc's streams hold toward their sockets, for its OOM rule.
 * exact: find the oldest queued byte on the sockets (the tick); otherwise (after DATA) only
 * a change of the total is reported, with the age kept from the last exact look (an upper
 * bound until the next tick) or now for a backlog that was empty. May close circuits.
 */
static void
report_backlog(struct sx_circ *xc, bool exact)
{
	struct stream_exit *sx = xc->sx;
	uint64_t now = ev_now_ms(sx->loop);
	size_t bytes;

	if (xc->circ == NULL || sx->ops.backlog == NULL)
		return;
	bytes = smux_recv_queued(xc->mux);
	if (exact) {
		const struct list_node *pos;

		xc->backlog_since = UINT64_MAX;
		list_for_each (pos, &xc->streams) {
			const struct sx_stream *st = list_entry_const(pos, struct sx_stream, node);

			if (st->tcp != NULL)
				xc->backlog_since =
				        UM_MIN(xc->backlog_since, ev_tcp_queue_since_ms(st->tcp));
		}
	} else if (bytes == xc->backlog) {
		return;
	} else if (xc->backlog == 0) {
		xc->backlog_since = now; /* fresh bytes */
	}
	if (bytes == 0 || xc->backlog_since > now)
		xc->backlog_since = bytes == 0 ? UINT64_MAX : now;
	xc->backlog = bytes;
	sx->ops.backlog(sx->ops.arg, xc->circ, bytes, bytes == 0 ? 0 : now - xc->backlog_since);
}

/* ---- the destination socket ---- */

static void
tcp_on_connect(void *arg, int status)
{
	(void)arg;
	(void)status; /* exit_conn connected it before handing it over */
}

static void
tcp_on_read(void *arg, const uint8_t *data, size_t len)
{
	struct sx_stream *st = arg;

	if (st->dead || st->ms == NULL)
		return;
	exit_ctx_count_bytes(st->xc->sx->exit, len, 0);
	if (smux_stream_write(st->ms, data, len, um_mono_ns()) != UM_OK) {
		stream_fail(st, RELAY_END_INTERNAL);
		return;
	}
	if (!st->dead && st->tcp != NULL && !smux_stream_writable(st->ms))
		ev_tcp_read_stop(st->tcp);
}

static void
maybe_finish(struct sx_stream *st)
{
	if (!st->dst_eof || !st->peer_done || !st->end_sent || st->dead)
		return;
	/* Both directions ended cleanly: close once our bytes reached the kernel, or reset
	 * when the destination takes nothing for the drain timeout (the tick). */
	if (st->tcp == NULL || ev_tcp_write_queue(st->tcp) == 0) {
		stream_kill(st, false);
		return;
	}
	st->closing = true;
	st->drain_q = ev_tcp_write_queue(st->tcp);
	st->drain_ms = um_mono_ms();
}

static void
tcp_on_eof(void *arg, int status, int sys_errno)
{
	struct sx_stream *st = arg;

	(void)sys_errno;
	if (st->dead)
		return;
	if (status != UM_OK) {
		/* The destination reset or failed: abort the stream both ways. */
		stream_fail(st, RELAY_END_CONNRESET);
		return;
	}
	st->dst_eof = true;
	smux_stream_end(st->ms, RELAY_END_DONE, um_mono_ns()); /* may finish the stream */
}

static void
tcp_on_drain(void *arg)
{
	struct sx_stream *st = arg;

	if (st->dead || st->tcp == NULL)
		return;
	if (st->closing && ev_tcp_write_queue(st->tcp) == 0) {
		stream_kill(st, false);
		return;
	}
	note_drained(st);
}

static const struct ev_tcp_ops sx_tcp_ops = {
	.on_connect = tcp_on_connect,
	.on_read = tcp_on_read,
	.on_eof = tcp_on_eof,
	.on_drain = tcp_on_drain,
};

/* ---- the mux stream (client side of the exit stream) ---- */

static size_t
ms_on_data(void *arg, const uint8_t *p, size_t n)
{
	struct sx_stream *st = arg;

	if (st->dead || st->tcp == NULL || st->peer_done)
		return 0;
	if (ev_tcp_write(st->tcp, p, n) != UM_OK) {
		stream_fail(st, RELAY_END_CONNRESET);
		return 0;
	}
	st->to_dst += n;
	exit_ctx_count_bytes(st->xc->sx->exit, 0, n);
	return ev_tcp_write_queue(st->tcp);
}

static void
ms_on_end(void *arg, uint8_t reason)
{
	struct sx_stream *st = arg;

	if (st->dead)
		return;
	if (reason != RELAY_END_DONE) {
		stream_kill(st, true);
		return;
	}
	/* The client sends no more: FIN to the destination, keep reading its answer. */
	st->peer_done = true;
	if (st->tcp != NULL)
		ev_tcp_shutdown(st->tcp);
	maybe_finish(st);
}

static void
ms_on_writable(void *arg)
{
	struct sx_stream *st = arg;
	int ret;

	if (st->dead || st->tcp == NULL || st->dst_eof || ev_tcp_is_reading(st->tcp))
		return;
	/* Fails if the socket died while we were not reading (a write found it reset and its
	 * on_eof is still pending): the client must hear of it. */
	if ((ret = ev_tcp_read_start(st->tcp)) != UM_OK)
		stream_fail(st, read_fail_reason(ret));
}

static void
ms_on_end_sent(void *arg)
{
	struct sx_stream *st = arg;

	st->end_sent = true;
	maybe_finish(st);
}

static const struct smux_stream_ops sx_stream_ops = {
	.on_data = ms_on_data,
	.on_end = ms_on_end,
	.on_writable = ms_on_writable,
	.on_end_sent = ms_on_end_sent,
};

/* ---- BEGIN ---- */

static void
on_open_done(void *arg, const struct exit_conn_result *res)
{
	struct sx_stream *st = arg;
	struct sx_circ *xc = st->xc;
	uint8_t b[32];
	struct wire_wr w = { .p = b, .cap = sizeof(b), .len = 0 };
	struct relay_connected c;
	int ret;

	st->open = NULL;
	if (res->status != UM_OK || res->tcp == NULL) {
		xc->sx->refused++;
		send_end(xc, st->id, res->reason != 0 ? res->reason : RELAY_END_MISC, &res->addr,
		         res->ttl);
		stream_kill(st, false);
		return;
	}
	st->tcp = res->tcp;
	ev_tcp_set_ops(st->tcp, &sx_tcp_ops, st);
	ev_tcp_set_drain_threshold(st->tcp, 0);
	if (xc->circ == NULL || xc->mux == NULL ||
	    smux_stream_new(xc->mux, st->id, &sx_stream_ops, st, &st->ms) != UM_OK) {
		send_end(xc, st->id, RELAY_END_RESOURCELIMIT, NULL, 0);
		stream_kill(st, true);
		return;
	}
	st->kind = SX_OPEN;
	memset(&c, 0, sizeof(c));
	if (res->addr.family == EXIT_AF_IPV4 || res->addr.family == EXIT_AF_IPV6) {
		c.addr_type = res->addr.family == EXIT_AF_IPV4 ? RELAY_HOST_IPV4 : RELAY_HOST_IPV6;
		memcpy(c.addr, res->addr.addr, sizeof(c.addr));
		c.ttl = res->ttl;
		/* CONNECTED cannot carry 0.0.0.0: send it empty then. */
		if (c.addr_type == RELAY_HOST_IPV4 && c.addr[0] == 0 && c.addr[1] == 0 &&
		    c.addr[2] == 0 && c.addr[3] == 0)
			c.addr_type = 0;
	}
	xc->sx->opened++;
	if (relay_connected_write(&w, &c) != UM_OK ||
	    smux_send(xc->mux, RELAY_CONNECTED, st->id, b, w.len) != UM_OK) {
		stream_fail(st, RELAY_END_INTERNAL); /* nothing goes if the circuit is gone */
		return;
	}
	if (!st->dead && (ret = ev_tcp_read_start(st->tcp)) != UM_OK)
		stream_fail(st, read_fail_reason(ret));
}

static struct sx_stream *
stream_add(struct sx_circ *xc, uint16_t id, uint8_t kind)
{
	struct sx_stream *st = um_xcalloc(1, sizeof(*st));

	st->xc = xc;
	st->id = id;
	st->kind = kind;
	list_push_back(&xc->streams, &st->node);
	xc->n_streams++;
	return st;
}

static struct sx_stream *
stream_find(struct sx_circ *xc, uint16_t id)
{
	struct list_node *pos;

	list_for_each (pos, &xc->streams) {
		struct sx_stream *st = list_entry(pos, struct sx_stream, node);

		if (st->id == id)
			return st;
	}
	return NULL;
}

static void
on_begin(struct sx_circ *xc, uint16_t id, const uint8_t *data, size_t len)
{
	struct stream_exit *sx = xc->sx;
	struct relay_begin b;
	struct exit_request req;
	struct exit_conn_result res;
	struct sx_stream *st;
	int ret;

	if (relay_begin_parse(data, len, &b) != UM_OK) {
		mux_violation(xc, "malformed BEGIN");
		return;
	}
	if (stream_find(xc, id) != NULL) {
		mux_violation(xc, "BEGIN on a StreamID in use");
		return;
	}
	if (sx->exit == NULL) {
		sx->refused++;
		send_end(xc, id, RELAY_END_EXITPOLICY, NULL, 0);
		return;
	}
	if (xc->n_streams >= SMUX_STREAMS_MAX) {
		sx->refused++;
		send_end(xc, id, RELAY_END_RESOURCELIMIT, NULL, 0);
		return;
	}
	memset(&req, 0, sizeof(req));
	req.type = b.target.type;
	req.name = b.target.type == RELAY_HOST_NAME ? b.target.name : NULL;
	memcpy(req.addr, b.target.addr, sizeof(req.addr));
	req.port = b.target.port;
	req.flags = b.flags;
	req.tier = xc->tier;
	st = stream_add(xc, id, SX_OPENING);
	memset(&res, 0, sizeof(res));
	ret = exit_conn_open(sx->exit, &req, on_open_done, st, &st->open, &res);
	if (ret != UM_OK) {
		st->open = NULL;
		sx->refused++;
		send_end(xc, id, res.reason != 0 ? res.reason : RELAY_END_MISC, &res.addr, res.ttl);
		stream_kill(st, false);
	}
}

/* ---- RESOLVE ---- */

static void
send_resolved(struct sx_circ *xc, uint16_t id, const struct exit_resolve_result *res)
{
	struct relay_resolved r;
	uint8_t b[RELAY_DATA_MAX];
	struct wire_wr w = { .p = b, .cap = sizeof(b), .len = 0 };

	memset(&r, 0, sizeof(r));
	if (res->status == UM_OK && res->n > 0) {
		for (size_t i = 0; i < res->n && i < RELAY_RESOLVED_MAX_ANSWERS; i++) {
			struct relay_answer *a = &r.answers[r.n_answers];

			if (res->answers[i].family == EXIT_AF_IPV4) {
				a->type = RELAY_ANSWER_IPV4;
				memcpy(a->addr, res->answers[i].addr, 4);
			} else if (res->answers[i].family == EXIT_AF_IPV6) {
				a->type = RELAY_ANSWER_IPV6;
				memcpy(a->addr, res->answers[i].addr, 16);
			} else {
				continue;
			}
			a->ttl = res->ttl;
			r.n_answers++;
		}
	}
	if (r.n_answers == 0) {
		r.n_answers = 1;
		r.answers[0].type =
		        res->transient ? RELAY_ANSWER_ERR_TRANSIENT : RELAY_ANSWER_ERR_NONTRANSIENT;
	}
	if (relay_resolved_write(&w, &r) == UM_OK && xc->mux != NULL &&
	    smux_send(xc->mux, RELAY_RESOLVED, id, b, w.len) != UM_OK)
		log_debug(LD_CIRC, "RESOLVED not sent: the circuit is closing");
}

static void
on_resolve_done(void *arg, const struct exit_resolve_result *res)
{
	struct sx_stream *st = arg;

	st->resolve = NULL;
	send_resolved(st->xc, st->id, res);
	stream_kill(st, false);
}

static void
on_resolve(struct sx_circ *xc, uint16_t id, const uint8_t *data, size_t len)
{
	struct stream_exit *sx = xc->sx;
	struct relay_resolve rq;
	struct exit_resolve_result res;
	struct sx_stream *st;

	if (relay_resolve_parse(data, len, &rq) != UM_OK) {
		mux_violation(xc, "malformed RESOLVE");
		return;
	}
	if (stream_find(xc, id) != NULL) {
		mux_violation(xc, "RESOLVE on a StreamID in use");
		return;
	}
	memset(&res, 0, sizeof(res));
	if (sx->exit == NULL || xc->n_streams >= SMUX_STREAMS_MAX) {
		res.status = UM_ERR_NOT_FOUND;
		res.transient = sx->exit != NULL;
		send_resolved(xc, id, &res);
		return;
	}
	/* A tier that may open nothing gets no name service either (17.6). */
	if (!exit_ctx_tier_may_resolve(sx->exit, xc->tier)) {
		sx->refused++;
		res.status = UM_ERR_PERM;
		send_resolved(xc, id, &res);
		return;
	}
	st = stream_add(xc, id, SX_RESOLVING);
	if (exit_resolve(sx->exit, rq.name, on_resolve_done, st, &st->resolve, &res) != UM_OK) {
		st->resolve = NULL;
		send_resolved(xc, id, &res);
		stream_kill(st, false);
	}
}

/* ---- TOKEN (docs/PROTOCOL.md 17.5) ---- */

/*
 * A token spent on xc's circuit: judged by the exit's verifier (none: no issuer is trusted),
 * one per circuit; the answer is a TOKEN_ACK with the circuit's tier after it. The exit
 * handles relay messages in order, so a BEGIN after the TOKEN is judged at the new tier.
 */
static void
on_token(struct sx_circ *xc, const uint8_t *data, size_t len)
{
	struct stream_exit *sx = xc->sx;
	struct token_verifier *tv = sx->exit != NULL ? exit_ctx_tokens(sx->exit) : NULL;
	uint8_t b[RELAY_TOKEN_ACK_LEN], tier = 0;
	struct wire_wr w = { .p = b, .cap = sizeof(b), .len = 0 };
	struct relay_token_ack ack;
	struct relay_token tk;
	enum token_verdict v;

	if (relay_token_parse(data, len, &tk) != UM_OK) {
		mux_violation(xc, "malformed TOKEN");
		return;
	}
	if (xc->tier != 0) {
		v = TOKEN_VERDICT_HAS_TIER;
		if (tv != NULL)
			token_verifier_note(tv, v);
	} else if (tv == NULL) {
		v = TOKEN_VERDICT_UNKNOWN_ISSUER;
	} else {
		v = token_verifier_spend(tv, tk.issuer, tk.token.p, tk.token.len, um_wall_s(),
		                         &tier);
		if (v == TOKEN_VERDICT_ACCEPTED)
			xc->tier = tier;
	}
	log_debug(LD_CIRC, "circuit %llu: token %s",
	          xc->circ != NULL ? (unsigned long long)circ_serial(xc->circ) : 0ull,
	          token_verdict_str(v));
	ack.status = (uint8_t)v;
	ack.tier = xc->tier;
	if (relay_token_ack_write(&w, &ack) != UM_OK || xc->mux == NULL ||
	    smux_send(xc->mux, RELAY_TOKEN_ACK, 0, b, w.len) != UM_OK)
		log_debug(LD_CIRC, "TOKEN_ACK not sent: the circuit is closing");
}

/* ---- messages the mux hands up ---- */

static void
mux_on_msg(void *arg, uint8_t cmd, uint16_t stream_id, const uint8_t *data, size_t len)
{
	struct sx_circ *xc = arg;
	struct sx_stream *st;

	switch (cmd) {
	case RELAY_BEGIN:
		on_begin(xc, stream_id, data, len);
		break;
	case RELAY_BEGIN_DIR:
		/* No directory service over circuits yet: refuse like Tor does. */
		send_end(xc, stream_id, RELAY_END_NOTDIRECTORY, NULL, 0);
		break;
	case RELAY_RESOLVE:
		on_resolve(xc, stream_id, data, len);
		break;
	case RELAY_END:
		/* END for a stream still opening or resolving: the client gave up. */
		if ((st = stream_find(xc, stream_id)) != NULL)
			stream_kill(st, true);
		break;
	case RELAY_CONNECTED:
	case RELAY_RESOLVED:
		mux_violation(xc, "exit-to-client message sent to the exit");
		break;
	default:
		break; /* unknown commands are dropped (docs/PROTOCOL.md 11.3) */
	}
}

static const struct smux_ops sx_mux_ops_tmpl = {
	.send = mux_send,
	.queued = mux_queued,
	.on_msg = mux_on_msg,
	.on_violation = mux_violation,
};

/* ---- the tick ---- */

/* A snapshot of the live circuit states (the caller frees it): what runs for each may close
 * circuits, which only moves them to dead_circs (freed by reap, not before we return). */
static struct sx_circ **
circs_snapshot(struct stream_exit *sx, size_t *n)
{
	struct list_node *pos;
	struct sx_circ **v;
	size_t i = 0;

	*n = list_count(&sx->circs);
	if (*n == 0)
		return NULL;
	v = um_xcalloc(*n, sizeof(*v));
	list_for_each (pos, &sx->circs)
		v[i++] = list_entry(pos, struct sx_circ, node);
	return v;
}

static void
circ_tick(struct sx_circ *xc, uint64_t now_ms)
{
	struct stream_exit *sx = xc->sx;
	struct list_node *pos, *tmp;

	list_for_each_safe (pos, tmp, &xc->streams) {
		struct sx_stream *st = list_entry(pos, struct sx_stream, node);

		if (st->tcp == NULL)
			continue; /* opening or resolving */
		if (st->closing) {
			size_t q = ev_tcp_write_queue(st->tcp);

			/* Progress restarts the drain timeout; none for that long: give up with
			 * a reset (never a FIN that would pass the cut data off as complete). */
			if (q < st->drain_q) {
				st->drain_q = q;
				st->drain_ms = now_ms;
			} else if (now_ms - st->drain_ms >= sx->drain_timeout_ms) {
				log_info(LD_CIRC,
				         "stream: destination stalled %llu ms at the end: reset",
				         (unsigned long long)(now_ms - st->drain_ms));
				stream_kill(st, true);
				continue;
			}
		}
		note_drained(st);
		/* Sending (an XON, SENDMEs) may have closed the circuit: every stream is gone. */
		if (xc->circ == NULL)
			return;
	}
	/* Streams freed since the last call into the mux may let its held SENDMEs go. */
	smux_pump(xc->mux, um_mono_ns());
	report_backlog(xc, true);
}

static void
on_tick(void *arg)
{
	struct stream_exit *sx = arg;
	uint64_t now_ms = um_mono_ms();
	size_t n;
	struct sx_circ **v = circs_snapshot(sx, &n);

	for (size_t i = 0; i < n; i++)
		if (v[i]->circ != NULL)
			circ_tick(v[i], now_ms);
	free(v);
}

/* ---- public ---- */

struct stream_exit *
stream_exit_new(struct ev_loop *loop, struct exit_ctx *exit, const struct stream_exit_ops *ops)
{
	struct stream_exit *sx = um_xcalloc(1, sizeof(*sx));

	sx->loop = loop;
	sx->exit = exit;
	sx->ops = *ops;
	sx->drain_timeout_ms = STREAM_EXIT_DRAIN_TIMEOUT_MS;
	list_init(&sx->circs);
	list_init(&sx->dead);
	list_init(&sx->dead_circs);
	sx->reap = ev_defer_new(loop, on_reap, sx);
	sx->tick = ev_timer_new(loop, on_tick, sx);
	ev_timer_start(sx->tick, SX_TICK_MS, SX_TICK_MS);
	return sx;
}

void
stream_exit_set_drain_timeout(struct stream_exit *sx, uint64_t ms)
{
	sx->drain_timeout_ms = ms;
}

static void
circ_drop(struct sx_circ *xc)
{
	struct stream_exit *sx = xc->sx;

	if (xc->circ == NULL)
		return;
	circ_set_stream_user(xc->circ, NULL);
	xc->circ = NULL;
	smux_close(xc->mux, RELAY_END_DESTROY); /* open streams: ms_on_end -> reset */
	while (!list_is_empty(&xc->streams))
		stream_kill(list_entry(xc->streams.next, struct sx_stream, node), true);
	list_remove(&xc->node);
	list_push_back(&sx->dead_circs, &xc->node);
	ev_defer_schedule(sx->reap);
}

void
stream_exit_free_(struct stream_exit *sx)
{
	if (sx == NULL)
		return;
	while (!list_is_empty(&sx->circs))
		circ_drop(list_entry(sx->circs.next, struct sx_circ, node));
	on_reap(sx);
	ev_defer_free(sx->reap);
	ev_timer_free(sx->tick);
	free(sx);
}

/* No stream state for circ (a local failure): still answer what the client waits for. */
static void
refuse_without_mux(struct stream_exit *sx, struct circuit *circ, uint8_t cmd, uint16_t id)
{
	uint8_t b[RELAY_DATA_MAX], dg[RELAY_DIGEST_LEN];
	struct wire_wr w = { .p = b, .cap = sizeof(b), .len = 0 };
	int ret;

	if (cmd == RELAY_RESOLVE) {
		struct relay_resolved r = { .n_answers = 1 };

		r.answers[0].type = RELAY_ANSWER_ERR_TRANSIENT;
		ret = relay_resolved_write(&w, &r);
	} else if (cmd == RELAY_BEGIN || cmd == RELAY_BEGIN_DIR) {
		struct relay_end e = { .reason = RELAY_END_INTERNAL };

		ret = relay_end_write(&w, &e);
	} else {
		return;
	}
	log_warn(LD_BUG, "stream: no stream state for a circuit");
	if (ret == UM_OK &&
	    sx->ops.send(sx->ops.arg, circ, cmd == RELAY_RESOLVE ? RELAY_RESOLVED : RELAY_END, id,
	                 b, w.len, dg) != UM_OK)
		log_debug(LD_CIRC, "END not sent: the circuit is closing");
}

void
stream_exit_on_msg(struct stream_exit *sx, struct circuit *circ, uint8_t cmd, uint16_t stream_id,
                   const uint8_t *data, size_t len, const uint8_t *digest, uint64_t now_ns)
{
	static const uint8_t zero[RELAY_DIGEST_LEN];
	struct sx_circ *xc = circ_stream_user(circ);
	struct smux_ops ops = sx_mux_ops_tmpl;

	/* A token is for the exit: a relay the circuit goes on from never takes one (17.5). */
	if (cmd == RELAY_TOKEN && !circ_is_last_hop(circ))
		return;
	if (xc == NULL) {
		/* Only a message that opens something (a tier too) makes state for a circuit. */
		if (cmd != RELAY_BEGIN && cmd != RELAY_RESOLVE && cmd != RELAY_BEGIN_DIR &&
		    cmd != RELAY_DATA && cmd != RELAY_SENDME && cmd != RELAY_TOKEN)
			return;
		xc = um_xcalloc(1, sizeof(*xc));
		xc->sx = sx;
		xc->circ = circ;
		list_init(&xc->streams);
		ops.arg = xc;
		xc->backlog_since = UINT64_MAX;
		if (smux_new(FLOW_SIDE_EXIT, &ops, &xc->mux) != UM_OK) {
			free(xc);
			refuse_without_mux(sx, circ, cmd, stream_id);
			return;
		}
		list_push_back(&sx->circs, &xc->node);
		circ_set_stream_user(circ, xc);
	}
	if (cmd == RELAY_TOKEN) {
		on_token(xc, data, len); /* circuit-level: no stream, no window */
		return;
	}
	smux_on_msg(xc->mux, cmd, stream_id, data, len, digest != NULL ? digest : zero, now_ns);
	/* DATA grows what the streams hold toward their sockets (xc lives until reap). */
	if (cmd == RELAY_DATA)
		report_backlog(xc, false);
}

void
stream_exit_circ_closed(struct stream_exit *sx, struct circuit *circ)
{
	struct sx_circ *xc = circ_stream_user(circ);

	(void)sx;
	if (xc != NULL)
		circ_drop(xc);
}

void
stream_exit_pump(struct stream_exit *sx, uint64_t now_ns)
{
	size_t n;
	struct sx_circ **v = circs_snapshot(sx, &n);

	for (size_t i = 0; i < n; i++)
		if (v[i]->circ != NULL)
			smux_pump(v[i]->mux, now_ns);
	free(v);
}

void
stream_exit_stats(const struct stream_exit *sx, struct stream_exit_stats *st)
{
	const struct list_node *pos;

	memset(st, 0, sizeof(*st));
	list_for_each (pos, &sx->circs) {
		const struct sx_circ *xc = list_entry_const(pos, struct sx_circ, node);

		st->circuits++;
		st->streams += xc->n_streams;
	}
	st->opened = sx->opened;
	st->refused = sx->refused;
	st->ended = sx->ended;
}
