/* SPDX-License-Identifier: MIT */
/*
 * The SOCKS and HTTP CONNECT ports (front_io.h). One struct fconn per accepted connection:
 *
 *   F_HANDSHAKE  bytes go to the parser; its replies go out; an error reply is flushed and the
 *                connection closed (F_LINGER)
 *   F_OPENING    the stream is opening; later bytes wait in `early` (bounded: reading stops)
 *   F_OPEN       bytes both ways
 *   F_LINGER     a final reply, or the last data after END both ways, is flushing: closed
 *                on a drained queue; reset (RST) after FRONT_IO_LINGER_MS without progress,
 *                or on the peer's EOF with bytes still queued (a FIN there would make a
 *                cut transfer look complete)
 *
 * Connections that end are unlinked at once and freed from the `reap` defer (never inside a
 * callback the loop returns into).
 */
#include "front/front_io.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>

#include "lib/buf.h"
#include "lib/err.h"
#include "lib/list.h"
#include "lib/log.h"
#include "lib/time.h"
#include "lib/wire.h"
#include "front/front.h"
#include "front/http_connect.h"
#include "front/socks.h"

enum fconn_kind {
	FK_SOCKS = 1,
	FK_HTTP,
};

enum fconn_state {
	F_HANDSHAKE = 1,
	F_OPENING,
	F_OPEN,
	F_LINGER,
};

struct front_io;

struct fconn {
	struct list_node node; /* f->conns, then f->dead */
	struct front_io *f;
	struct ev_tcp *tcp;
	uint8_t kind;  /* enum fconn_kind */
	uint8_t state; /* enum fconn_state */
	bool dead;
	struct socks_server *socks;
	struct http_connect *http;
	struct front_request req;
	struct circ_io_stream *st;
	struct buf early;
	bool app_eof;  /* the application sent EOF (END(DONE) sent) */
	bool exit_eof; /* the exit's END(DONE): FIN written to the application */
	uint64_t to_app, drained;
	uint64_t since_ms; /* accept, or the last progress in F_LINGER */
	size_t linger_q;   /* F_LINGER: the queue toward the application at since_ms */
};

struct front_io {
	struct front_io_env env;
	struct ev_listener *socks_l, *http_l;
	char socks_addr[EV_ADDR_STRLEN], http_addr[EV_ADDR_STRLEN];
	struct list_node conns;
	struct list_node dead;
	struct ev_defer *reap;
	struct ev_timer *tick;
	uint32_t n_conns;
	uint64_t accepted, refused, failed;
};

static const struct ev_tcp_ops fconn_ops;
static const struct circ_io_stream_ops fstream_ops;

/* ---- lifetime ---- */

static void
fconn_kill(struct fconn *c, bool reset, uint8_t reason)
{
	struct front_io *f = c->f;

	if (c->dead)
		return;
	c->dead = true;
	if (c->tcp != NULL) {
		if (reset)
			ev_tcp_abort(c->tcp);
		else
			ev_tcp_close(c->tcp);
		c->tcp = NULL;
	}
	circ_io_stream_close(c->st, reason);
	c->st = NULL;
	socks_server_free(c->socks);
	http_connect_free(c->http);
	front_request_clear(&c->req);
	buf_clear(&c->early);
	list_remove(&c->node);
	list_push_back(&f->dead, &c->node);
	f->n_conns--;
	ev_defer_schedule(f->reap);
}

static void
on_reap(void *arg)
{
	struct front_io *f = arg;

	while (!list_is_empty(&f->dead)) {
		struct fconn *c = list_entry(f->dead.next, struct fconn, node);

		list_remove(&c->node);
		free(c);
	}
}

/* Flush what was written, then close (a final reply, or an EOF both ways). */
static void
fconn_linger(struct fconn *c)
{
	if (c->dead)
		return;
	circ_io_stream_close(c->st, RELAY_END_DONE);
	c->st = NULL;
	if (c->tcp == NULL || ev_tcp_write_queue(c->tcp) == 0) {
		fconn_kill(c, false, RELAY_END_DONE);
		return;
	}
	c->state = F_LINGER;
	c->since_ms = um_mono_ms();
	c->linger_q = ev_tcp_write_queue(c->tcp);
	ev_tcp_shutdown(c->tcp);
}

static void
app_write(struct fconn *c, const uint8_t *p, size_t n)
{
	if (c->tcp != NULL && n > 0 && ev_tcp_write(c->tcp, p, n) != UM_OK)
		fconn_kill(c, true, RELAY_END_CONNRESET);
}

/* ---- replies ---- */

static void
reply_failure(struct fconn *c, uint8_t reason)
{
	uint8_t b[HTTP_CONNECT_OUT_MAX];
	struct wire_wr w = { .p = b, .cap = sizeof(b), .len = 0 };
	int ret;

	c->f->failed++;
	if (c->kind == FK_SOCKS)
		ret = socks_reply_failure(&c->req, reason, &w);
	else
		ret = http_connect_reply_failure(reason, &w);
	if (ret == UM_OK)
		app_write(c, b, w.len);
	fconn_linger(c);
}

static void
front_addr_of(const struct circ_io_stream_result *r, uint16_t port, struct front_addr *a)
{
	memset(a, 0, sizeof(*a));
	a->type = r->addr_type == RELAY_HOST_IPV6 ? FRONT_HOST_IPV6 : FRONT_HOST_IPV4;
	if (r->addr_type == RELAY_HOST_IPV4)
		memcpy(a->addr, r->addr, 4);
	else if (r->addr_type == RELAY_HOST_IPV6)
		memcpy(a->addr, r->addr, 16);
	a->port = port;
}

/* ---- the stream ---- */

static void
flush_early(struct fconn *c)
{
	size_t n = buf_len(&c->early);

	if (n == 0 || c->st == NULL)
		return;
	if (circ_io_stream_write(c->st, buf_data(&c->early), n) != UM_OK) {
		fconn_kill(c, true, RELAY_END_MISC);
		return;
	}
	buf_consume(&c->early, n);
}

static void
fs_on_open(void *arg, const struct circ_io_stream_result *res)
{
	struct fconn *c = arg;
	uint8_t b[HTTP_CONNECT_OUT_MAX];
	struct wire_wr w = { .p = b, .cap = sizeof(b), .len = 0 };
	struct front_addr a;
	int ret;

	if (c->dead)
		return;
	if (res->status != UM_OK) {
		log_info(LD_SOCKS, "stream refused: %s", front_end_reason_str(res->reason));
		reply_failure(c, res->reason != 0 ? res->reason : RELAY_END_MISC);
		return;
	}
	if (c->req.cmd == FRONT_CMD_RESOLVE) {
		front_addr_of(res, 0, &a);
		if (socks_reply_success(&c->req, &a, &w) != UM_OK) {
			reply_failure(c, RELAY_END_RESOLVEFAILED);
			return;
		}
		app_write(c, b, w.len);
		fconn_linger(c);
		return;
	}
	if (c->kind == FK_SOCKS) {
		front_addr_of(res, res->addr_type != 0 ? c->req.port : 0, &a);
		ret = socks_reply_success(&c->req, res->addr_type != 0 ? &a : NULL, &w);
	} else {
		ret = http_connect_reply_success(&w);
	}
	if (ret != UM_OK) {
		fconn_kill(c, true, RELAY_END_INTERNAL);
		return;
	}
	app_write(c, b, w.len);
	if (c->dead)
		return;
	c->state = F_OPEN;
	flush_early(c);
	if (c->dead)
		return;
	if (c->app_eof) {
		circ_io_stream_shutdown(c->st);
		return;
	}
	if (circ_io_stream_writable(c->st) && !ev_tcp_is_reading(c->tcp) &&
	    ev_tcp_read_start(c->tcp) != UM_OK)
		fconn_kill(c, true, RELAY_END_MISC);
}

static size_t
fs_on_data(void *arg, const uint8_t *p, size_t n)
{
	struct fconn *c = arg;

	if (c->dead || c->tcp == NULL)
		return 0;
	app_write(c, p, n);
	if (c->dead || c->tcp == NULL)
		return 0;
	c->to_app += n;
	return ev_tcp_write_queue(c->tcp);
}

static void
maybe_done(struct fconn *c)
{
	/* Both directions ended, and our END(DONE) left after the application's last byte. */
	if (c->app_eof && c->exit_eof && (c->st == NULL || circ_io_stream_finished(c->st)))
		fconn_linger(c);
}

static void
fs_on_end_sent(void *arg)
{
	struct fconn *c = arg;

	if (!c->dead)
		maybe_done(c);
}

static void
fs_on_end(void *arg, uint8_t reason)
{
	struct fconn *c = arg;

	if (c->dead)
		return;
	if (reason != RELAY_END_DONE) {
		/* The stream broke (error END, or the circuit died): reset the application so
		 * it cannot take a truncated transfer for a complete one. */
		log_info(LD_SOCKS, "stream aborted: %s", front_end_reason_str(reason));
		fconn_kill(c, true, reason);
		return;
	}
	c->exit_eof = true;
	if (c->tcp != NULL)
		ev_tcp_shutdown(c->tcp); /* FIN after the queued bytes */
	maybe_done(c);
}

static void
fs_on_writable(void *arg)
{
	struct fconn *c = arg;

	if (!c->dead && c->tcp != NULL && !c->app_eof && c->state == F_OPEN &&
	    !ev_tcp_is_reading(c->tcp) && ev_tcp_read_start(c->tcp) != UM_OK)
		fconn_kill(c, true, RELAY_END_MISC);
}

static uint64_t
fs_queued_since(void *arg)
{
	const struct fconn *c = arg;

	return c->dead || c->tcp == NULL ? UINT64_MAX : ev_tcp_queue_since_ms(c->tcp);
}

static const struct circ_io_stream_ops fstream_ops = {
	.on_open = fs_on_open,
	.on_data = fs_on_data,
	.on_end = fs_on_end,
	.on_writable = fs_on_writable,
	.on_end_sent = fs_on_end_sent,
	.queued_since = fs_queued_since,
};

/* ---- the request ---- */

/* The isolation key bytes: kind | ulen | user | plen | pass (equal iff front_iso_eq). */
static size_t
iso_bytes(const struct front_iso *iso, uint8_t out[3 + 2 * FRONT_ISO_FIELD_MAX])
{
	size_t o = 0;

	if (iso->kind == FRONT_ISO_NONE)
		return 0;
	out[o++] = iso->kind;
	out[o++] = iso->user_len;
	memcpy(out + o, iso->user, iso->user_len);
	o += iso->user_len;
	out[o++] = iso->pass_len;
	memcpy(out + o, iso->pass, iso->pass_len);
	o += iso->pass_len;
	return o;
}

/* Fill the relay target from the request; false if the host cannot go in a BEGIN. */
static bool
target_of(const struct front_request *r, struct relay_target *t)
{
	memset(t, 0, sizeof(*t));
	t->port = r->port;
	switch (r->host_type) {
	case FRONT_HOST_IPV4:
		t->type = RELAY_HOST_IPV4;
		memcpy(t->addr, r->addr, 4);
		return true;
	case FRONT_HOST_IPV6:
		t->type = RELAY_HOST_IPV6;
		memcpy(t->addr, r->addr, 16);
		return true;
	case FRONT_HOST_NAME: {
		const char *h = r->host;
		size_t n = strlen(h);
		char tmp[FRONT_HOST_MAX + 1];

		/* An address literal given as a name goes as the address. */
		if (inet_pton(AF_INET, h, t->addr) == 1) {
			t->type = RELAY_HOST_IPV4;
			return true;
		}
		if (n >= 2 && h[0] == '[' && h[n - 1] == ']' && n - 2 < sizeof(tmp)) {
			memcpy(tmp, h + 1, n - 2);
			tmp[n - 2] = '\0';
			h = tmp;
		}
		if (inet_pton(AF_INET6, h, t->addr) == 1) {
			t->type = RELAY_HOST_IPV6;
			return true;
		}
		t->type = RELAY_HOST_NAME;
		return relay_hostname_canon(r->host, n, t->name);
	}
	default:
		return false;
	}
}

static void
start_stream(struct fconn *c, const struct front_request *r)
{
	struct circ_io_stream_req sr;
	uint8_t iso[3 + 2 * FRONT_ISO_FIELD_MAX];
	int ret;

	c->req = *r;
	memset(&sr, 0, sizeof(sr));
	sr.cmd = r->cmd == FRONT_CMD_RESOLVE ? RELAY_RESOLVE : RELAY_BEGIN;
	if (!target_of(r, &sr.target)) {
		reply_failure(c, RELAY_END_RESOLVEFAILED);
		return;
	}
	if (sr.cmd == RELAY_RESOLVE && sr.target.type != RELAY_HOST_NAME) {
		/* RESOLVE of a literal answers itself. */
		struct circ_io_stream_result res;

		memset(&res, 0, sizeof(res));
		res.addr_type = sr.target.type;
		memcpy(res.addr, sr.target.addr, sizeof(res.addr));
		c->state = F_OPENING;
		fs_on_open(c, &res);
		return;
	}
	sr.flags = RELAY_BEGIN_F_IPV6_OK;
	sr.iso_len = iso_bytes(&r->iso, iso);
	sr.iso = iso;
	ret = circ_io_stream_open(c->f->env.circ, &sr, &fstream_ops, c, &c->st);
	/* The credentials served as the key (kept hashed by circ_io): drop our copies. */
	um_memzero(iso, sizeof(iso));
	um_memzero(&c->req.iso, sizeof(c->req.iso));
	if (ret != UM_OK) {
		log_info(LD_SOCKS, "cannot open a stream: %s", um_err_str(ret));
		reply_failure(c, RELAY_END_RESOURCELIMIT);
		return;
	}
	c->state = F_OPENING;
}

/* Handshake bytes: feed the parser; returns the bytes it did not take (optimistic data). */
static void
handshake(struct fconn *c, const uint8_t *data, size_t len)
{
	const struct front_request *r = NULL;
	size_t consumed;
	bool failed = false;

	if (c->kind == FK_SOCKS) {
		struct socks_step st;

		if (socks_server_feed(c->socks, data, len, &st) != UM_OK) {
			fconn_kill(c, true, RELAY_END_MISC);
			return;
		}
		app_write(c, st.out, st.out_len);
		consumed = st.consumed;
		if (st.ev == SOCKS_EV_FAILED)
			failed = true;
		else if (st.ev == SOCKS_EV_REQUEST)
			r = socks_server_request(c->socks);
	} else {
		struct http_connect_step st;

		if (http_connect_feed(c->http, data, len, &st) != UM_OK) {
			fconn_kill(c, true, RELAY_END_MISC);
			return;
		}
		if (st.ev == HTTP_CONNECT_EV_FAILED)
			app_write(c, st.out, st.out_len);
		consumed = st.consumed;
		if (st.ev == HTTP_CONNECT_EV_FAILED)
			failed = true;
		else if (st.ev == HTTP_CONNECT_EV_REQUEST)
			r = http_connect_request(c->http);
	}
	if (c->dead)
		return;
	if (failed) {
		/* Only this connection closes, after its error reply (if the protocol has one). */
		c->f->failed++;
		fconn_linger(c);
		return;
	}
	if (r == NULL)
		return;
	if (consumed < len && buf_append(&c->early, data + consumed, len - consumed) != UM_OK) {
		fconn_kill(c, true, RELAY_END_RESOURCELIMIT);
		return;
	}
	start_stream(c, r);
	/* The parser (and its copy of the credentials) is no longer needed. */
	socks_server_free(c->socks);
	http_connect_free(c->http);
}

/* ---- the application socket ---- */

static void
tcp_on_connect(void *arg, int status)
{
	(void)arg;
	(void)status;
}

static void
tcp_on_read(void *arg, const uint8_t *data, size_t len)
{
	struct fconn *c = arg;

	if (c->dead)
		return;
	switch (c->state) {
	case F_HANDSHAKE:
		handshake(c, data, len);
		break;
	case F_OPENING:
		if (buf_append(&c->early, data, len) != UM_OK) {
			fconn_kill(c, true, RELAY_END_RESOURCELIMIT);
			return;
		}
		if (buf_len(&c->early) >= FRONT_IO_EARLY_MAX)
			ev_tcp_read_stop(c->tcp);
		break;
	case F_OPEN:
		if (circ_io_stream_write(c->st, data, len) != UM_OK) {
			fconn_kill(c, true, RELAY_END_MISC);
			return;
		}
		if (!c->dead && c->tcp != NULL && !circ_io_stream_writable(c->st))
			ev_tcp_read_stop(c->tcp);
		break;
	default:
		break; /* F_LINGER: ignored */
	}
}

static void
tcp_on_eof(void *arg, int status, int sys_errno)
{
	struct fconn *c = arg;

	(void)sys_errno;
	if (c->dead)
		return;
	if (status != UM_OK) {
		fconn_kill(c, true, RELAY_END_CONNRESET);
		return;
	}
	switch (c->state) {
	case F_OPEN:
		c->app_eof = true;
		circ_io_stream_shutdown(c->st);
		maybe_done(c);
		break;
	case F_OPENING:
		c->app_eof = true; /* END(DONE) right after CONNECTED */
		break;
	default:
		/* Handshake or linger: nothing more will come. Bytes still queued would be lost
		 * behind a FIN that looks like a complete answer: reset then. */
		fconn_kill(c, ev_tcp_write_queue(c->tcp) > 0, RELAY_END_DONE);
		break;
	}
}

/* The application took bytes since the last report: tell the stream (XON, and what its
 * circuit holds toward applications). */
static void
note_drained(struct fconn *c)
{
	size_t q = ev_tcp_write_queue(c->tcp);
	uint64_t n;

	if (c->st == NULL || c->to_app - q <= c->drained)
		return;
	n = c->to_app - q - c->drained;
	c->drained += n;
	circ_io_stream_drained(c->st, (size_t)n, q);
}

static void
tcp_on_drain(void *arg)
{
	struct fconn *c = arg;

	if (c->dead || c->tcp == NULL)
		return;
	if (c->state == F_LINGER) {
		if (ev_tcp_write_queue(c->tcp) == 0)
			fconn_kill(c, false, RELAY_END_DONE);
		return;
	}
	note_drained(c);
}

static const struct ev_tcp_ops fconn_ops = {
	.on_connect = tcp_on_connect,
	.on_read = tcp_on_read,
	.on_eof = tcp_on_eof,
	.on_drain = tcp_on_drain,
};

static void
on_accept(struct front_io *f, struct ev_tcp *tcp, uint8_t kind)
{
	struct fconn *c;

	if (f->n_conns >= f->env.max_conns) {
		f->refused++;
		log_info(LD_SOCKS, "proxy connection refused: %u open", (unsigned)f->n_conns);
		ev_tcp_close(tcp);
		return;
	}
	c = um_xcalloc(1, sizeof(*c));
	c->f = f;
	c->tcp = tcp;
	c->kind = kind;
	c->state = F_HANDSHAKE;
	c->since_ms = um_mono_ms();
	buf_init(&c->early, FRONT_IO_EARLY_MAX + EV_TCP_CHUNK);
	if (kind == FK_SOCKS)
		c->socks = socks_server_new();
	else
		c->http = http_connect_new();
	list_push_back(&f->conns, &c->node);
	f->n_conns++;
	f->accepted++;
	ev_tcp_set_ops(tcp, &fconn_ops, c);
	ev_tcp_set_drain_threshold(tcp, 0);
	if (ev_tcp_set_nodelay(tcp, true) != UM_OK)
		log_debug(LD_SOCKS, "TCP_NODELAY not set");
	if (ev_tcp_read_start(tcp) != UM_OK)
		fconn_kill(c, true, RELAY_END_MISC);
}

static void
on_accept_socks(void *arg, struct ev_tcp *conn, const struct sockaddr_storage *peer)
{
	(void)peer;
	on_accept(arg, conn, FK_SOCKS);
}

static void
on_accept_http(void *arg, struct ev_tcp *conn, const struct sockaddr_storage *peer)
{
	(void)peer;
	on_accept(arg, conn, FK_HTTP);
}

/* One connection's upkeep: timeouts, and progress toward the application. */
static void
fconn_tick(struct fconn *c, uint64_t now)
{
	size_t q;

	if (c->dead || c->tcp == NULL)
		return;
	if (c->state == F_HANDSHAKE && now - c->since_ms > FRONT_IO_HANDSHAKE_MS) {
		fconn_kill(c, true, RELAY_END_TIMEOUT);
		return;
	}
	q = ev_tcp_write_queue(c->tcp);
	if (c->state == F_LINGER) {
		/* A slow application that keeps taking bytes gets them all; one that takes
		 * nothing for the linger time gets a reset, not a FIN after a cut. */
		if (q < c->linger_q) {
			c->linger_q = q;
			c->since_ms = now;
		} else if (now - c->since_ms > c->f->env.linger_ms) {
			log_info(LD_SOCKS, "application took nothing for %llu ms: reset",
			         (unsigned long long)(now - c->since_ms));
			fconn_kill(c, true, RELAY_END_TIMEOUT);
		}
		return;
	}
	/* on_drain only fires once the queue is empty: report partial progress too, so XON
	 * and the circuit's held-back SENDMEs (SMUX_CIRC_RECV_MAX) need not wait for that. */
	if (c->state == F_OPEN)
		note_drained(c);
}

static void
on_tick(void *arg)
{
	struct front_io *f = arg;
	struct list_node *pos;
	struct fconn **v;
	size_t n = 0, i = 0;
	uint64_t now = um_mono_ms();

	/* A snapshot: a call into a stream may end its circuit and with it other connections
	 * (unlinked to f->dead, freed only by reap, after we return). */
	list_for_each (pos, &f->conns)
		n++;
	if (n == 0)
		return;
	v = um_xcalloc(n, sizeof(*v));
	list_for_each (pos, &f->conns)
		v[i++] = list_entry(pos, struct fconn, node);
	for (i = 0; i < n; i++)
		fconn_tick(v[i], now);
	free(v);
}

static int
listen_on(struct front_io *f, const char *addr, ev_accept_fn *cb, struct ev_listener **out,
          char *bound, char *why, size_t why_len)
{
	struct sockaddr_storage ss;
	socklen_t len;
	int ret;

	if (addr == NULL || addr[0] == '\0')
		return UM_OK;
	if (ev_addr_parse(addr, &ss, &len) != UM_OK) {
		snprintf(why, why_len, "bad proxy address '%s'", addr);
		return UM_ERR_INVALID;
	}
	if ((ret = ev_tcp_listen(f->env.loop, (struct sockaddr *)&ss, 128, cb, f, out)) != UM_OK) {
		snprintf(why, why_len, "cannot listen on %s: %s", addr, um_err_str(ret));
		return ret;
	}
	if (ev_listener_addr(*out, &ss) != UM_OK ||
	    ev_addr_format((struct sockaddr *)&ss, bound, EV_ADDR_STRLEN) != UM_OK)
		snprintf(bound, EV_ADDR_STRLEN, "%s", addr);
	return UM_OK;
}

int
front_io_new(const struct front_io_env *env, struct front_io **out, char *why, size_t why_len)
{
	struct front_io *f;
	int ret;

	*out = NULL;
	if (env->loop == NULL || env->circ == NULL || env->max_conns == 0) {
		snprintf(why, why_len, "bad proxy settings");
		return UM_ERR_INVALID;
	}
	f = um_xcalloc(1, sizeof(*f));
	f->env = *env;
	f->env.socks_listen = NULL;
	f->env.http_listen = NULL;
	if (f->env.linger_ms == 0)
		f->env.linger_ms = FRONT_IO_LINGER_MS;
	list_init(&f->conns);
	list_init(&f->dead);
	f->reap = ev_defer_new(env->loop, on_reap, f);
	f->tick = ev_timer_new(env->loop, on_tick, f);
	if ((ret = listen_on(f, env->socks_listen, on_accept_socks, &f->socks_l, f->socks_addr, why,
	                     why_len)) != UM_OK ||
	    (ret = listen_on(f, env->http_listen, on_accept_http, &f->http_l, f->http_addr, why,
	                     why_len)) != UM_OK) {
		front_io_free(f);
		return ret;
	}
	ev_timer_start(f->tick, FRONT_IO_TICK_MS, FRONT_IO_TICK_MS);
	*out = f;
	return UM_OK;
}

void
front_io_free_(struct front_io *f)
{
	if (f == NULL)
		return;
	ev_listener_free(f->socks_l);
	ev_listener_free(f->http_l);
	while (!list_is_empty(&f->conns))
		fconn_kill(list_entry(f->conns.next, struct fconn, node), true, RELAY_END_MISC);
	on_reap(f);
	ev_defer_free(f->reap);
	ev_timer_free(f->tick);
	free(f);
}

const char *
front_io_socks_addr(const struct front_io *f)
{
	return f->socks_addr;
}

const char *
front_io_http_addr(const struct front_io *f)
{
	return f->http_addr;
}

void
front_io_stats(const struct front_io *f, struct front_io_stats *st)
{
	memset(st, 0, sizeof(*st));
	st->conns = f->n_conns;
	st->accepted = f->accepted;
	st->refused = f->refused;
	st->failed = f->failed;
}
