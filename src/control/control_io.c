/* SPDX-License-Identifier: MIT */
/* The control server on its Unix socket: evloop/http drives control_handle(). */
#include "control/control.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/err.h"
#include "lib/log.h"

struct control {
	struct control_ctx ctx;
	char *nickname;
	struct ev_http *http;
};

static void
on_request(void *arg, const struct ev_http_req *req, struct ev_http_resp *resp)
{
	struct control *c = arg;

	control_handle(&c->ctx, req->method, req->path, req->body, req->body_len, resp);
}

int
control_new(struct ev_loop *loop, const char *path, const struct control_ctx *ctx,
            struct control **out)
{
	struct control *c;
	int fd = -1;
	int ret;

	*out = NULL;
	if ((ret = ev_unix_listen(path, 0600, &fd)) != UM_OK)
		return ret;
	c = um_xcalloc(1, sizeof(*c));
	c->ctx = *ctx;
	/* Own the strings: the daemon's configuration they came from is replaced on reload. */
	c->nickname = um_xstrdup(ctx->nickname != NULL ? ctx->nickname : "");
	c->ctx.nickname = c->nickname;
	if ((ret = ev_http_new(loop, fd, CONTROL_MAX_BODY, on_request, c, &c->http)) != UM_OK) {
		free(c->nickname);
		free(c);
		return ret;
	}
	*out = c;
	return UM_OK;
}

void
control_free_(struct control *c)
{
	if (c == NULL)
		return;
	ev_http_free(c->http);
	free(c->nickname);
	free(c);
}
