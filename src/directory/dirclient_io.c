/* SPDX-License-Identifier: MIT */
/*
 * The directory client's I/O (dirclient.h): drives the sans-I/O core with the loop's HTTP
 * client (GET /v1/consensus with If-None-Match, GET /v1/authorities), a timer that follows
 * dirclient_next_wakeup_s(), and the owner's callback when a consensus is accepted. Also
 * dirclient_pin_url(), the logic behind `umbra dir pin URL`.
 *
 * Time: the core works in wall-clock seconds (um_wall_s()); the timer is armed for the
 * difference, so a clock jump only moves the next round.
 */
#include "directory/dirclient.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/encoding.h"
#include "lib/err.h"
#include "lib/log.h"
#include "lib/time.h"
#include "evloop/http_client.h"

struct io_call {
	struct dirclient_io *io;
	struct ev_http_call *call; /* NULL when idle */
	size_t src;
	enum dirclient_fetch_kind kind;
};

struct dirclient_io {
	struct ev_loop *loop;
	struct dirclient *dc;
	dirclient_accepted_fn *cb;
	void *arg;
	struct ev_timer *timer;
	bool running;
	struct io_call calls[DIRCLIENT_MAX_SOURCES];
};

static void io_run(struct dirclient_io *io);

static void
io_done(void *arg, const struct ev_http_result *res)
{
	struct io_call *c = arg;
	struct dirclient_io *io = c->io;
	struct dirclient_response r = { 0 };
	const struct consensus *cons;
	bool accepted = false;
	uint64_t now = um_wall_s();
	int ret;

	c->call = NULL;
	r.err = res->err;
	r.sys_errno = res->sys_errno;
	r.status = res->status;
	if (res->err == UM_OK) {
		r.body = res->body;
		r.body_len = res->body_len;
		r.etag = ev_http_result_header(res, "ETag");
		r.content_type = ev_http_result_header(res, "Content-Type");
	}
	ret = dirclient_handle(io->dc, c->src, c->kind, now, &r, &accepted);
	if (ret != UM_OK)
		log_info(LD_DIR, "directory fetch: %s", um_err_str(ret));
	if (accepted && io->cb != NULL && (cons = dirclient_consensus(io->dc, now, NULL, NULL)))
		io->cb(io->arg, cons);
	if (io->running)
		io_run(io);
}

static void
io_timer(void *arg)
{
	io_run(arg);
}

/* Start what is due and re-arm the timer for the next round. */
static void
io_run(struct dirclient_io *io)
{
	struct dirclient_fetch f[DIRCLIENT_MAX_SOURCES];
	struct ev_http_header h;
	struct ev_http_request req;
	uint64_t now = um_wall_s(), next;
	size_t n = dirclient_due(io->dc, now, f, DIRCLIENT_MAX_SOURCES);

	for (size_t i = 0; i < n; i++) {
		struct io_call *c = &io->calls[f[i].src];
		struct dirclient_response r = { 0 };
		bool acc;
		int ret;

		memset(&req, 0, sizeof(req));
		req.url = f[i].url;
		req.method = "GET";
		if (f[i].if_none_match != NULL) {
			h.name = "If-None-Match";
			h.value = f[i].if_none_match;
			req.headers = &h;
			req.n_headers = 1;
		}
		req.max_response_body = f[i].kind == DIRCLIENT_FETCH_CONSENSUS
		                                ? DIRCLIENT_MAX_BODY
		                                : DIRCLIENT_AUTH_MAX_BODY;
		req.timeout_ms = DIRCLIENT_FETCH_TIMEOUT_MS;
		c->io = io;
		c->src = f[i].src;
		c->kind = f[i].kind;
		ret = ev_http_fetch(io->loop, &req, io_done, c, &c->call);
		if (ret != UM_OK) {
			/* Tell the core, so the source backs off instead of staying in flight. */
			r.err = ret;
			c->call = NULL;
			if (dirclient_handle(io->dc, c->src, c->kind, now, &r, &acc) != ret)
				log_info(LD_DIR, "directory fetch refused: %s", um_err_str(ret));
		}
	}
	next = dirclient_next_wakeup_s(io->dc);
	if (next == UINT64_MAX) {
		ev_timer_stop(io->timer);
		return;
	}
	ev_timer_start(io->timer, next > now ? (next - now) * 1000 : 1000, 0);
}

struct dirclient_io *
dirclient_io_new(struct ev_loop *loop, struct dirclient *dc, dirclient_accepted_fn *cb, void *arg)
{
	struct dirclient_io *io = um_xcalloc(1, sizeof(*io));

	io->loop = loop;
	io->dc = dc;
	io->cb = cb;
	io->arg = arg;
	io->timer = ev_timer_new(loop, io_timer, io);
	return io;
}

void
dirclient_io_start(struct dirclient_io *io)
{
	io->running = true;
	io_run(io);
}

void
dirclient_io_stop(struct dirclient_io *io)
{
	io->running = false;
	ev_timer_stop(io->timer);
	for (size_t i = 0; i < DIRCLIENT_MAX_SOURCES; i++) {
		ev_http_call_cancel(io->calls[i].call);
		io->calls[i].call = NULL;
	}
}

void
dirclient_io_free_(struct dirclient_io *io)
{
	if (io == NULL)
		return;
	dirclient_io_stop(io);
	ev_timer_free(io->timer);
	free(io);
}

/* ---- umbra dir pin URL ---- */

struct pin_call {
	struct store *st;
	char url[DIRCLIENT_URL_MAX_LEN];
	dirclient_pin_done_fn *cb;
	void *arg;
};

static void
pin_done(void *arg, const struct ev_http_result *res)
{
	struct pin_call *p = arg;
	struct dirclient_pin_report *rep = um_xcalloc(1, sizeof(*rep));
	struct dirclient_authorities *a = um_xcalloc(1, sizeof(*a));
	char hex[HEX_LEN(AUTHCERT_ID_LEN)];
	size_t off;

	if (res->err != UM_OK) {
		rep->err = res->err;
		snprintf(rep->message, sizeof(rep->message), "%s: cannot fetch /v1/authorities: %s",
		         p->url, um_err_str(res->err));
	} else if (res->status != 200) {
		rep->err = UM_ERR_PROTOCOL;
		snprintf(rep->message, sizeof(rep->message), "%s: /v1/authorities answered HTTP %d",
		         p->url, res->status);
	} else if ((rep->err = dirclient_authorities_parse(res->body, res->body_len, a)) != UM_OK) {
		snprintf(rep->message, sizeof(rep->message), "%s: /v1/authorities is not valid: %s",
		         p->url, um_err_str(rep->err));
	} else if ((rep->err = dirclient_pins_save(p->st, a, p->url, um_wall_s(), &rep->n_new)) !=
	           UM_OK) {
		snprintf(rep->message, sizeof(rep->message), "cannot store the pins: %s (%s)",
		         um_err_str(rep->err), store_errmsg(p->st));
	} else {
		rep->n = a->n;
		memcpy(rep->ids, a->ids, sizeof(rep->ids));
		off = (size_t)snprintf(rep->message, sizeof(rep->message),
		                       "pinned %zu authorities from %s (%zu new):", a->n, p->url,
		                       rep->n_new);
		for (size_t i = 0; i < a->n && off < sizeof(rep->message); i++) {
			if (enc_hex(hex, sizeof(hex), a->ids[i], AUTHCERT_ID_LEN) != UM_OK)
				hex[0] = '\0';
			off += (size_t)snprintf(rep->message + off, sizeof(rep->message) - off,
			                        " %s", hex);
		}
	}
	p->cb(p->arg, rep);
	free(a);
	free(rep);
	free(p);
}

int
dirclient_pin_url(struct ev_loop *loop, struct store *st, const char *url, uint64_t timeout_ms,
                  dirclient_pin_done_fn *cb, void *arg)
{
	struct pin_call *p;
	struct ev_http_request req = { 0 };
	struct ev_http_call *call = NULL;
	char full[DIRCLIENT_URL_MAX_LEN + 32];
	size_t n = strlen(url);
	int ret;

	while (n > 0 && url[n - 1] == '/')
		n--;
	if (n == 0 || n >= DIRCLIENT_URL_MAX_LEN || cb == NULL)
		return UM_ERR_INVALID;
	p = um_xcalloc(1, sizeof(*p));
	memcpy(p->url, url, n);
	p->st = st;
	p->cb = cb;
	p->arg = arg;
	snprintf(full, sizeof(full), "%s/v1/authorities", p->url);
	req.url = full;
	req.method = "GET";
	req.max_response_body = DIRCLIENT_AUTH_MAX_BODY;
	req.timeout_ms = timeout_ms > 0 ? timeout_ms : DIRCLIENT_FETCH_TIMEOUT_MS;
	if ((ret = ev_http_fetch(loop, &req, pin_done, p, &call)) != UM_OK) {
		free(p);
		return ret;
	}
	return UM_OK;
}
