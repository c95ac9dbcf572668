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
	char query[2048], *target;

	/* The request target: the path and, for the routes that read one, the query rebuilt. */
	if (ev_http_req_query(req, query, sizeof(query)) != UM_OK) {
		ev_http_resp_set_text(resp, 414, "application/json",
		                      "{\"error\":\"request target too long\"}");
		return;
	}
	target = query[0] != '\0' ? um_xasprintf("%s?%s", req->path, query) : um_xstrdup(req->path);
	control_handle(&c->ctx, req->method, target, req->body, req->body_len, resp);
	free(target);
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
