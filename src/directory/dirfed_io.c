/* SPDX-License-Identifier: MIT */
/*
 * The federation driver (dirfed_io.h): every tick, start what the core says is due; each
 * exchange holds one slot (the core never has more than DIRFED_MAX_INFLIGHT in flight), and
 * its outcome goes back to the core. Only bytes move here: the core decides and verifies.
 */
#include "directory/dirfed_io.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/err.h"
#include "lib/log.h"
#include "lib/time.h"
#include "evloop/http_client.h"

struct fed_call {
	struct dirfed_io *io;
	struct ev_http_call *call; /* NULL when the slot is free */
	enum dirfed_action_kind kind;
	uint8_t peer[32];
};

struct dirfed_io {
	struct ev_loop *loop;
	struct dirfed *fed;
	struct ev_timer *timer;
	struct fed_call calls[DIRFED_MAX_INFLIGHT];
	struct dirfed_action act; /* 2 KiB: kept here, not on the stack */
	struct log_ratelim rl;
};

static void
report(struct dirfed *fed, enum dirfed_action_kind kind, const uint8_t peer[32], int err,
       const struct ev_http_result *res)
{
	uint64_t now = um_wall_s();
	int status = res != NULL ? res->status : 0;
	const uint8_t *body = res != NULL && err == UM_OK ? res->body : NULL;
	size_t len = res != NULL && err == UM_OK ? res->body_len : 0;

	switch (kind) {
	case DIRFED_ACT_FEED:
		dirfed_feed_done(fed, peer, now, err, status, body, len);
		break;
	case DIRFED_ACT_SYNC:
		dirfed_sync_done(fed, peer, now, err, status,
		                 err == UM_OK ? ev_http_result_header(res, "ETag") : NULL, body,
		                 len);
		break;
	case DIRFED_ACT_PUSH:
		dirfed_push_done(fed, peer, now, err, status);
		break;
	}
}

static void
call_done(void *arg, const struct ev_http_result *res)
{
	struct fed_call *c = arg;

	c->call = NULL;
	report(c->io->fed, c->kind, c->peer, res->err, res);
}

static void
start_one(struct dirfed_io *io, const struct dirfed_action *a)
{
	struct ev_http_request req;
	struct ev_http_header hdr = { "If-None-Match", a->etag };
	struct fed_call *c = NULL;
	int ret;

	for (size_t i = 0; i < DIRFED_MAX_INFLIGHT && c == NULL; i++)
		if (io->calls[i].call == NULL)
			c = &io->calls[i];
	if (c == NULL) { /* cannot happen: the core caps what is in flight */
		report(io->fed, a->kind, a->peer, UM_ERR_INTERNAL, NULL);
		return;
	}
	memset(&req, 0, sizeof(req));
	req.url = a->url;
	req.method = a->kind == DIRFED_ACT_PUSH ? "POST" : "GET";
	if (a->kind == DIRFED_ACT_SYNC && a->etag[0] != '\0') {
		req.headers = &hdr;
		req.n_headers = 1;
	}
	req.body = a->body_len > 0 ? a->body : NULL;
	req.body_len = a->body_len;
	req.max_response_body = a->max_response;
	req.timeout_ms = DIRFED_IO_TIMEOUT_MS;
	c->io = io;
	c->kind = a->kind;
	memcpy(c->peer, a->peer, 32);
	if ((ret = ev_http_fetch(io->loop, &req, call_done, c, &c->call)) != UM_OK) {
		c->call = NULL;
		log_ratelim(&io->rl, UM_LOG_NOTICE, LD_DIR,
		            "federation: cannot start a request to %s: %s", a->url,
		            um_err_str(ret));
		report(io->fed, a->kind, a->peer, ret, NULL);
	}
}

static void
tick(void *arg)
{
	struct dirfed_io *io = arg;

	while (dirfed_next_action(io->fed, um_wall_s(), &io->act) == UM_OK)
		start_one(io, &io->act);
}

struct dirfed_io *
dirfed_io_new(struct ev_loop *loop, struct dirfed *fed)
{
	struct dirfed_io *io = um_xcalloc(1, sizeof(*io));

	io->loop = loop;
	io->fed = fed;
	io->rl = (struct log_ratelim)LOG_RATELIM_INIT(60000);
	return io;
}

void
dirfed_io_start(struct dirfed_io *io)
{
	ev_timer_free(io->timer);
	io->timer = ev_timer_new(io->loop, tick, io);
	ev_timer_start(io->timer, 0, DIRFED_IO_TICK_MS);
}

void
dirfed_io_free_(struct dirfed_io *io)
{
	if (io == NULL)
		return;
	for (size_t i = 0; i < DIRFED_MAX_INFLIGHT; i++)
		ev_http_call_cancel(io->calls[i].call);
	ev_timer_free(io->timer);
	free(io);
}
