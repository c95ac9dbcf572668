/* SPDX-License-Identifier: MIT */
/*
 * The asynchronous HTTP/1.1 client (http_client.h): one request per TCP stream of the loop.
 *
 * ev_http_fetch() checks the request (URL, method, headers: anything that could inject a line
 * or confuse framing is refused), formats the request head into a capped lib/buf, starts the
 * connect, queues head and body (the stream holds them until the connect completes), starts
 * reading and arms one deadline for the whole exchange. Bytes read go to the sans-I/O parser
 * (http_response_parse.c); the call finishes when the parser says the response is complete,
 * or on a parse error, EOF, a socket error or the deadline, whichever comes first.
 *
 * Lifetime: a call owns a uv_timer_t (its deadline) whose handle data is the call's ev_hobj,
 * so ev_loop_free() cancels calls still pending. Finishing or cancelling closes the stream at
 * once (no stream callback after that) and closes the timer; the call's memory is freed from
 * the timer's close callback, never inside a callback the loop returns into. `dead` stops
 * every event after the first; `in_cb` makes a cancel from the call's own callback harmless.
 *
 * Not here: DNS, TLS, redirects, retries, keep-alive, content codings, request streaming.
 */
#include "evloop/http_client.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "lib/buf.h"
#include "lib/err.h"
#include "lib/log.h"
#include "evloop/evloop_st.h"

struct ev_http_call {
	struct ev_hobj hobj; /* for the timer: ev_loop_free() cancels the call */
	uv_timer_t timer;    /* the deadline; its close callback frees the call */
	struct ev_tcp *tcp;
	struct http_response_parser *resp;
	ev_http_done_fn *cb;
	void *arg;
	bool dead;     /* finished or cancelled: no more events, no callback */
	bool in_cb;    /* inside cb: cancel must not release the call */
	bool released; /* the timer is closing; only its close callback may touch the call */
};

/* ---- request checks and formatting ---- */

static bool
is_token(const char *s, size_t max)
{
	size_t n = strlen(s);

	if (n == 0 || n > max)
		return false;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      strchr("!#$%&'*+-.^_`|~", c) != NULL))
			return false;
	}
	return true;
}

/* Printable ASCII, SP and HTAB: no CR or LF, so a value cannot start a new header line. */
static bool
is_header_value(const char *s)
{
	for (; *s != '\0'; s++) {
		unsigned char c = (unsigned char)*s;

		if (c != '\t' && (c < 0x20 || c > 0x7e))
			return false;
	}
	return true;
}

/* Headers whose values the client owns: framing and connection management. */
static bool
is_reserved_header(const char *name)
{
	static const char *const reserved[] = { "host",       "content-length", "transfer-encoding",
		                                "connection", "upgrade",        "te",
		                                "keep-alive" };

	for (size_t i = 0; i < UM_ARRAY_LEN(reserved); i++) {
		if (strcasecmp(name, reserved[i]) == 0)
			return true;
	}
	return false;
}

/*
 * Split url into the server address, the authority (for Host) and the path. The address must
 * be numeric with a port (ev_addr_parse); the path printable ASCII without '#' or blanks.
 */
static int
url_parse(const char *url, struct sockaddr_storage *ss, char *authority, size_t authority_cap,
          const char **path)
{
	static const char scheme[] = "http://";
	const char *a, *p;
	socklen_t ss_len;
	size_t n;

	*path = NULL;
	authority[0] = '\0';
	if (url == NULL || strncasecmp(url, scheme, sizeof(scheme) - 1) != 0)
		return UM_ERR_INVALID;
	a = url + sizeof(scheme) - 1;
	n = strcspn(a, "/?#");
	if (a[n] == '?' || a[n] == '#' || n == 0 || n >= authority_cap)
		return UM_ERR_INVALID;
	memcpy(authority, a, n);
	authority[n] = '\0';
	/* Numeric only: a name, userinfo ("u@h") or a missing port is refused here. */
	if (ev_addr_parse(authority, ss, &ss_len) != UM_OK)
		return UM_ERR_INVALID;
	p = a + n;
	for (const char *q = p; *q != '\0'; q++) {
		unsigned char c = (unsigned char)*q;

		if (c < 0x21 || c > 0x7e || c == '#')
			return UM_ERR_INVALID;
	}
	*path = *p != '\0' ? p : "/";
	return UM_OK;
}

static int
put_str(struct buf *b, const char *s)
{
	return buf_append(b, s, strlen(s));
}

/* Format the request head into b (capped at EV_HTTP_REQ_HEAD_MAX). */
static int
format_head(struct buf *b, const struct ev_http_request *req, const char *method,
            const char *authority, const char *path)
{
	char cl[32];
	int ret = UM_OK;

	if ((ret = put_str(b, method)) != UM_OK || (ret = put_str(b, " ")) != UM_OK ||
	    (ret = put_str(b, path)) != UM_OK ||
	    (ret = put_str(b, " HTTP/1.1\r\nHost: ")) != UM_OK ||
	    (ret = put_str(b, authority)) != UM_OK || (ret = put_str(b, "\r\n")) != UM_OK)
		return ret;
	for (size_t i = 0; i < req->n_headers; i++) {
		if ((ret = put_str(b, req->headers[i].name)) != UM_OK ||
		    (ret = put_str(b, ": ")) != UM_OK ||
		    (ret = put_str(b, req->headers[i].value)) != UM_OK ||
		    (ret = put_str(b, "\r\n")) != UM_OK)
			return ret;
	}
	/* RFC 9110 8.6: a user agent sends Content-Length with a body, and for POST and PUT
	 * even when the body is empty. */
	if (req->body_len > 0 || strcmp(method, "POST") == 0 || strcmp(method, "PUT") == 0) {
		(void)snprintf(cl, sizeof(cl), "Content-Length: %zu\r\n", req->body_len);
		if ((ret = put_str(b, cl)) != UM_OK)
			return ret;
	}
	return put_str(b, "Connection: close\r\n\r\n");
}

static int
check_request(const struct ev_http_request *req, const char *method)
{
	if (!is_token(method, EV_HTTP_METHOD_MAX))
		return UM_ERR_INVALID;
	if (req->n_headers > EV_HTTP_REQ_HEADERS_MAX ||
	    (req->n_headers > 0 && req->headers == NULL))
		return UM_ERR_INVALID;
	for (size_t i = 0; i < req->n_headers; i++) {
		const struct ev_http_header *h = &req->headers[i];

		if (h->name == NULL || h->value == NULL ||
		    !is_token(h->name, EV_HTTP_REQ_HEAD_MAX) || !is_header_value(h->value) ||
		    is_reserved_header(h->name))
			return UM_ERR_INVALID;
	}
	if (req->body_len > 0 && req->body == NULL)
		return UM_ERR_INVALID;
	if (req->timeout_ms == 0 || req->max_response_body > EV_HTTP_BODY_CAP_MAX)
		return UM_ERR_INVALID;
	return UM_OK;
}

/* ---- lifetime ---- */

static void
call_close_cb(uv_handle_t *h)
{
	free(UM_CONTAINER_OF(h, struct ev_http_call, timer));
}

/* Drop everything but the memory of the call, which goes with the timer's close. */
static void
call_release(struct ev_http_call *c)
{
	c->dead = true;
	c->released = true;
	ev_tcp_close(c->tcp);
	c->tcp = NULL;
	http_response_parser_free(c->resp);
	uv_close((uv_handle_t *)&c->timer, call_close_cb);
}

static void
call_finish(struct ev_http_call *c, int err, int sys_errno)
{
	struct ev_http_result res = { .err = err, .sys_errno = sys_errno };

	if (c->dead)
		return;
	c->dead = true;
	/* No stream or timer event from here on, whatever the callback does. */
	ev_tcp_close(c->tcp);
	c->tcp = NULL;
	uv_timer_stop(&c->timer);
	res.status = http_response_status(c->resp);
	if (err == UM_OK) {
		res.body = http_response_body(c->resp, &res.body_len);
		res.resp = c->resp;
	}
	if (err != UM_OK)
		log_debug(LD_NET, "http call failed: %s", um_err_str(err));
	c->in_cb = true;
	c->cb(c->arg, &res);
	c->in_cb = false;
	call_release(c);
}

void
ev_http_call_cancel(struct ev_http_call *c)
{
	if (c == NULL || c->in_cb || c->released)
		return;
	call_release(c);
}

static void
call_force_close(struct ev_hobj *o)
{
	ev_http_call_cancel(UM_CONTAINER_OF(o, struct ev_http_call, hobj));
}

/* ---- events ---- */

static void
on_connect(void *arg, int status)
{
	struct ev_http_call *c = arg;

	if (status != UM_OK)
		call_finish(c, UM_ERR_SYS, errno);
}

static void
on_read(void *arg, const uint8_t *data, size_t len)
{
	struct ev_http_call *c = arg;
	ssize_t n = http_response_parse(c->resp, data, len);

	if (n < 0)
		call_finish(c, (int)n, 0);
	else if (http_response_is_done(c->resp))
		/* Bytes after the end of the response are not ours to read (one request per
		 * connection): they are dropped with the stream. */
		call_finish(c, UM_OK, 0);
}

static void
on_eof(void *arg, int status, int sys_errno)
{
	struct ev_http_call *c = arg;
	int ret;

	if (status != UM_OK) {
		call_finish(c, UM_ERR_SYS, sys_errno);
		return;
	}
	ret = http_response_parse_eof(c->resp);
	call_finish(c, ret == UM_ERR_TRUNCATED ? UM_ERR_CLOSED : ret, 0);
}

static void
timer_cb(uv_timer_t *t)
{
	call_finish(UM_CONTAINER_OF(t, struct ev_http_call, timer), UM_ERR_TIMEOUT, 0);
}

static const struct ev_tcp_ops call_ops = {
	.on_connect = on_connect,
	.on_read = on_read,
	.on_eof = on_eof,
};

/* ---- the entry point ---- */

const char *
ev_http_result_header(const struct ev_http_result *res, const char *name)
{
	return res->resp != NULL ? http_response_header(res->resp, name) : NULL;
}

int
ev_http_fetch(struct ev_loop *loop, const struct ev_http_request *req, ev_http_done_fn *cb,
              void *arg, struct ev_http_call **out)
{
	const char *method = req->method != NULL ? req->method : "GET";
	char authority[EV_ADDR_STRLEN];
	struct sockaddr_storage ss;
	struct ev_http_call *c = NULL;
	struct buf head;
	const char *path;
	int ret = UM_ERR_INTERNAL;

	*out = NULL;
	buf_init(&head, EV_HTTP_REQ_HEAD_MAX);
	if (cb == NULL || (ret = check_request(req, method)) != UM_OK ||
	    (ret = url_parse(req->url, &ss, authority, sizeof(authority), &path)) != UM_OK) {
		ret = UM_ERR_INVALID;
		goto out;
	}
	if (format_head(&head, req, method, authority, path) != UM_OK) {
		ret = UM_ERR_INVALID; /* over EV_HTTP_REQ_HEAD_MAX */
		goto out;
	}
	c = um_xcalloc(1, sizeof(*c));
	c->cb = cb;
	c->arg = arg;
	c->hobj.force_close = call_force_close;
	if ((ret = ev_tcp_connect(loop, (const struct sockaddr *)&ss, &call_ops, c, &c->tcp)) !=
	    UM_OK) {
		free(c);
		c = NULL;
		goto out;
	}
	c->resp = http_response_parser_new(req->max_response_body, strcmp(method, "HEAD") == 0);
	uv_timer_init(&loop->uv, &c->timer); /* cannot fail on Unix */
	c->timer.data = &c->hobj;
	/* The stream keeps the bytes until the connect completes. A fresh stream cannot
	 * refuse them: a failure here is a bug, and the call is refused (no callback). */
	if ((ret = ev_tcp_write(c->tcp, buf_data(&head), buf_len(&head))) != UM_OK ||
	    (req->body_len > 0 &&
	     (ret = ev_tcp_write(c->tcp, req->body, req->body_len)) != UM_OK) ||
	    (ret = ev_tcp_read_start(c->tcp)) != UM_OK) {
		log_warn(LD_BUG, "http: cannot queue a request: %s", um_err_str(ret));
		call_release(c);
		c = NULL;
		goto out;
	}
	/* From now, not from the loop's cached time (which may be a long callback old). */
	uv_update_time(&loop->uv);
	uv_timer_start(&c->timer, timer_cb, req->timeout_ms, 0);
	*out = c;
	ret = UM_OK;
out:
	buf_clear(&head);
	return ret;
}
