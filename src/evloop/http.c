/* SPDX-License-Identifier: MIT */
/*
 * The HTTP server: libmicrohttpd driven by our libuv loop, with no thread of its own.
 *
 * MHD runs with MHD_USE_EPOLL and no internal thread, on a listening socket we created and
 * hand over with MHD_OPTION_LISTEN_SOCKET (Unix or TCP). MHD's epoll fd is watched by a
 * uv_poll_t; whenever it is readable, or when the uv_timer_t set from MHD_get_timeout()
 * fires, we call MHD_run(), which never blocks, and re-arm the timer.
 *
 * Each request gets a small state (its body, capped at max_body with lib/buf) created on
 * MHD's first call and freed by MHD's completion callback. A declared Content-Length over
 * the cap is answered 413 before the body is read; a chunked body that grows over the cap is
 * discarded (up to EV_HTTP_DISCARD_MAX, then the connection is dropped) and answered 413.
 * The handler sees only complete requests within the cap.
 *
 * This file does not route, parse JSON or authenticate: the control module does.
 */
#include "evloop/http.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <unistd.h>
#include <microhttpd.h>

#include "lib/buf.h"
#include "lib/err.h"
#include "lib/log.h"
#include "evloop/evloop_st.h"

enum ev_http_limits {
	EV_HTTP_CONN_MAX = 64,               /* concurrent connections */
	EV_HTTP_TIMEOUT_S = 30,              /* idle seconds before MHD drops a connection */
	EV_HTTP_CONN_MEM = 32 * 1024,        /* MHD's per-connection pool: headers, I/O */
	EV_HTTP_DISCARD_MAX = 1024 * 1024,   /* over-cap body bytes read before hanging up */
	EV_HTTP_LOG_INTERVAL_MS = 60 * 1000, /* MHD messages are remote-triggered */
};

struct ev_http {
	struct ev_hobj hobj;
	struct MHD_Daemon *d;
	uv_poll_t poll;
	uv_timer_t timer;
	unsigned n_open; /* uv handles not yet released */
	size_t max_body;
	ev_http_handler_fn *handler;
	void *arg;
	struct log_ratelim log_rl;
	bool in_run; /* inside MHD_run(): MHD_stop_daemon() must wait */
	bool dead;   /* ev_http_free_() was called */
};

struct http_rq {
	struct buf body;
	size_t discarded;
	bool too_large;
	bool responded;
};

/* ---- requests ---- */

const char *
ev_http_req_header(const struct ev_http_req *req, const char *name)
{
	return MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND, name);
}

struct query_acc {
	char *out;
	size_t cap, len;
	bool overflow;
};

static void
query_put(struct query_acc *q, const char *s)
{
	static const char hex[] = "0123456789ABCDEF";

	for (; *s != '\0'; s++) {
		unsigned char c = (unsigned char)*s;
		bool plain = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
		             (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_' || c == '~';
		size_t need = plain ? 1 : 3;

		if (q->len + need >= q->cap) {
			q->overflow = true;
			return;
		}
		if (plain) {
			q->out[q->len++] = (char)c;
		} else {
			q->out[q->len++] = '%';
			q->out[q->len++] = hex[c >> 4];
			q->out[q->len++] = hex[c & 15];
		}
	}
}

static void
query_sep(struct query_acc *q, char c)
{
	if (q->len + 1 >= q->cap)
		q->overflow = true;
	else
		q->out[q->len++] = c;
}

static enum MHD_Result
query_arg(void *cls, enum MHD_ValueKind kind, const char *key, const char *value)
{
	struct query_acc *q = cls;

	(void)kind;
	if (q->len > 0)
		query_sep(q, '&');
	query_put(q, key);
	if (value != NULL) {
		query_sep(q, '=');
		query_put(q, value);
	}
	q->out[q->len] = '\0';
	return q->overflow ? MHD_NO : MHD_YES;
}

int
ev_http_req_query(const struct ev_http_req *req, char *out, size_t out_len)
{
	struct query_acc q = { out, out_len, 0, false };

	if (out_len == 0)
		return UM_ERR_TOO_LARGE;
	out[0] = '\0';
	(void)MHD_get_connection_values(req->conn, MHD_GET_ARGUMENT_KIND, query_arg, &q);
	if (q.overflow) {
		out[0] = '\0';
		return UM_ERR_TOO_LARGE;
	}
	return UM_OK;
}

const char *
ev_http_req_arg(const struct ev_http_req *req, const char *name)
{
	return MHD_lookup_connection_value(req->conn, MHD_GET_ARGUMENT_KIND, name);
}

int
ev_http_req_peer_addr(const struct ev_http_req *req, struct sockaddr_storage *out)
{
	const union MHD_ConnectionInfo *ci;

	memset(out, 0, sizeof(*out));
	ci = MHD_get_connection_info(req->conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	if (ci == NULL || ci->client_addr == NULL)
		return UM_ERR_NOT_FOUND;
	if (ci->client_addr->sa_family == AF_INET)
		memcpy(out, ci->client_addr, sizeof(struct sockaddr_in));
	else if (ci->client_addr->sa_family == AF_INET6)
		memcpy(out, ci->client_addr, sizeof(struct sockaddr_in6));
	else
		return UM_ERR_NOT_FOUND;
	return UM_OK;
}

int
ev_http_req_peer(const struct ev_http_req *req, char *out, size_t out_len)
{
	const union MHD_ConnectionInfo *ci;
	const struct sockaddr *sa;

	if (out_len == 0)
		return UM_ERR_INVALID;
	out[0] = '\0';
	ci = MHD_get_connection_info(req->conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	if (ci == NULL || ci->client_addr == NULL)
		return UM_ERR_NOT_FOUND;
	sa = ci->client_addr;
	if (sa->sa_family == AF_INET) {
		if (inet_ntop(AF_INET, &((const struct sockaddr_in *)(const void *)sa)->sin_addr,
		              out, (socklen_t)out_len) == NULL)
			return UM_ERR_NOT_FOUND;
	} else if (sa->sa_family == AF_INET6) {
		if (inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr,
		              out, (socklen_t)out_len) == NULL)
			return UM_ERR_NOT_FOUND;
	} else {
		snprintf(out, out_len, "unix");
	}
	return UM_OK;
}

void
ev_http_resp_set_text(struct ev_http_resp *resp, int status, const char *content_type,
                      const char *s)
{
	size_t n = strlen(s);

	free(resp->body);
	resp->status = status;
	resp->content_type = content_type;
	resp->body = um_xmalloc(n);
	memcpy(resp->body, s, n);
	resp->body_len = n;
}

void
ev_http_resp_json(struct ev_http_resp *resp, int status, json_t *j)
{
	char *s = j != NULL ? json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS) : NULL;

	json_decref(j);
	if (s == NULL) {
		ev_http_resp_set_text(resp, 500, "application/json", "{\"error\":\"internal\"}");
		return;
	}
	free(resp->body);
	resp->status = status;
	resp->content_type = "application/json";
	resp->body = (uint8_t *)s;
	resp->body_len = strlen(s);
}

void
ev_http_resp_error(struct ev_http_resp *resp, int status, const char *msg)
{
	ev_http_resp_json(resp, status, json_pack("{s:s}", "error", msg));
}

/* Queue a response made of body (malloc'd, taken over) and free the rest of resp. */
static enum MHD_Result
queue_resp(struct MHD_Connection *conn, struct ev_http_resp *resp)
{
	struct MHD_Response *r;
	enum MHD_Result ret;
	unsigned status = 500;

	if (resp->status >= 100 && resp->status <= 599)
		status = (unsigned)resp->status;
	if (resp->body_len > 0) {
		r = MHD_create_response_from_buffer(resp->body_len, resp->body,
		                                    MHD_RESPMEM_MUST_FREE);
		if (r == NULL)
			free(resp->body);
	} else {
		free(resp->body);
		r = MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
	}
	resp->body = NULL;
	if (r == NULL) {
		free(resp->etag);
		return MHD_NO;
	}
	if (MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE,
	                            resp->content_type != NULL ? resp->content_type
	                                                       : "application/json") != MHD_YES)
		log_warn(LD_BUG, "http: bad Content-Type from handler");
	if (resp->etag != NULL) {
		/* An entity tag is a quoted string (RFC 9110 8.8.3); quote a bare one. MHD
		 * refuses values with CR or LF, so a handler cannot inject headers. */
		char *tag = resp->etag[0] == '"' || strncmp(resp->etag, "W/\"", 3) == 0
		                    ? um_xstrdup(resp->etag)
		                    : um_xasprintf("\"%s\"", resp->etag);

		if (MHD_add_response_header(r, MHD_HTTP_HEADER_ETAG, tag) != MHD_YES)
			log_warn(LD_BUG, "http: bad ETag from handler");
		free(tag);
		free(resp->etag);
		resp->etag = NULL;
	}
	ret = MHD_queue_response(conn, status, r);
	MHD_destroy_response(r);
	return ret;
}

static enum MHD_Result
queue_error(struct MHD_Connection *conn, int status, const char *text)
{
	struct ev_http_resp resp = { 0 };

	ev_http_resp_set_text(&resp, status, "text/plain", text);
	return queue_resp(conn, &resp);
}

/* Whether a Content-Length value is a number above max (junk is left to MHD to refuse). */
static bool
content_length_over(const char *s, size_t max)
{
	uint64_t v = 0;

	if (*s < '0' || *s > '9')
		return false;
	for (; *s >= '0' && *s <= '9'; s++) {
		if (v > (UINT64_MAX - 9) / 10)
			return true;
		v = v * 10 + (uint64_t)(*s - '0');
	}
	return v > max;
}

static enum MHD_Result
serve(struct ev_http *h, struct MHD_Connection *conn, const char *url, const char *method,
      struct http_rq *rq)
{
	struct ev_http_resp resp = { .status = 500 };
	struct ev_http_req req = {
		.method = method,
		.path = url,
		.body = buf_data(&rq->body),
		.body_len = buf_len(&rq->body),
		.conn = conn,
	};

	if (req.body_len == 0)
		req.body = NULL; /* buf_data() of an empty buffer may be NULL + 0 */
	h->handler(h->arg, &req, &resp);
	rq->responded = true;
	if (h->dead) {
		/* The handler freed the server: drop the connection with the daemon. */
		free(resp.body);
		free(resp.etag);
		return MHD_NO;
	}
	return queue_resp(conn, &resp);
}

static enum MHD_Result
access_cb(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
          const char *version, const char *upload_data, size_t *upload_data_size, void **con_cls)
{
	struct ev_http *h = cls;
	struct http_rq *rq = *con_cls;
	const char *cl;

	(void)version;
	if (h->dead)
		return MHD_NO;
	if (rq == NULL) {
		/* First call: headers only. */
		rq = um_xcalloc(1, sizeof(*rq));
		buf_init(&rq->body, h->max_body);
		*con_cls = rq;
		cl = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
		                                 MHD_HTTP_HEADER_CONTENT_LENGTH);
		if (cl != NULL && content_length_over(cl, h->max_body)) {
			/* Answer before reading the body; MHD then closes the connection. */
			rq->too_large = true;
			rq->responded = true;
			return queue_error(conn, 413, "request body too large\n");
		}
		return MHD_YES;
	}
	if (*upload_data_size > 0) {
		if (!rq->too_large &&
		    buf_append(&rq->body, upload_data, *upload_data_size) != UM_OK) {
			rq->too_large = true;
			buf_clear(&rq->body);
		}
		if (rq->too_large) {
			rq->discarded += *upload_data_size;
			if (rq->discarded > EV_HTTP_DISCARD_MAX)
				return MHD_NO;
		}
		*upload_data_size = 0;
		return MHD_YES;
	}
	if (rq->responded)
		return MHD_YES;
	if (rq->too_large) {
		rq->responded = true;
		return queue_error(conn, 413, "request body too large\n");
	}
	return serve(h, conn, url, method, rq);
}

static void
completed_cb(void *cls, struct MHD_Connection *conn, void **con_cls,
             enum MHD_RequestTerminationCode toe)
{
	struct http_rq *rq = *con_cls;

	(void)cls;
	(void)conn;
	(void)toe;
	if (rq == NULL)
		return;
	buf_clear(&rq->body);
	free(rq);
	*con_cls = NULL;
}

static void mhd_log(void *cls, const char *fmt, va_list ap) UM_PRINTF(2, 0);

static void
mhd_log(void *cls, const char *fmt, va_list ap)
{
	struct ev_http *h = cls;
	char msg[512];
	size_t n;

	vsnprintf(msg, sizeof(msg), fmt, ap);
	n = strlen(msg);
	while (n > 0 && (msg[n - 1] == '\n' || msg[n - 1] == '\r'))
		msg[--n] = '\0';
	log_ratelim(&h->log_rl, UM_LOG_INFO, LD_NET, "http: %s", msg);
}

/* ---- driving MHD from the loop ---- */

static void timer_cb(uv_timer_t *t);

static void
http_run(struct ev_http *h)
{
	MHD_UNSIGNED_LONG_LONG to;

	h->in_run = true;
	(void)MHD_run(h->d);
	h->in_run = false;
	if (h->dead) {
		/* Freed from inside a handler: finish what ev_http_free_() could not. */
		MHD_stop_daemon(h->d);
		h->d = NULL;
		return;
	}
	if (MHD_get_timeout(h->d, &to) == MHD_YES)
		uv_timer_start(&h->timer, timer_cb, (uint64_t)to, 0);
	else
		uv_timer_stop(&h->timer);
}

static void
poll_cb(uv_poll_t *p, int status, int events)
{
	struct ev_http *h = UM_CONTAINER_OF(p, struct ev_http, poll);

	(void)events;
	if (status < 0)
		log_warn(LD_NET, "http: poll: %s", uv_strerror(status));
	http_run(h);
}

static void
timer_cb(uv_timer_t *t)
{
	http_run(UM_CONTAINER_OF(t, struct ev_http, timer));
}

static void
http_close_cb(uv_handle_t *hd)
{
	struct ev_http *h = UM_CONTAINER_OF(hd->data, struct ev_http, hobj);

	if (--h->n_open == 0)
		free(h);
}

void
ev_http_free_(struct ev_http *h)
{
	if (h == NULL || h->dead)
		return;
	h->dead = true;
	/* Stop watching MHD's epoll fd before MHD closes it. */
	uv_close((uv_handle_t *)&h->poll, http_close_cb);
	uv_close((uv_handle_t *)&h->timer, http_close_cb);
	if (!h->in_run) {
		/* Closes every connection (completed_cb frees their state) and listen_fd. */
		MHD_stop_daemon(h->d);
		h->d = NULL;
	}
}

static void
http_force_close(struct ev_hobj *o)
{
	ev_http_free_(UM_CONTAINER_OF(o, struct ev_http, hobj));
}

int
ev_http_new(struct ev_loop *loop, int listen_fd, size_t max_body, ev_http_handler_fn *handler,
            void *arg, struct ev_http **out)
{
	const union MHD_DaemonInfo *info;
	struct ev_http *h;
	int r;

	*out = NULL;
	h = um_xcalloc(1, sizeof(*h));
	h->hobj.force_close = http_force_close;
	h->max_body = max_body;
	h->handler = handler;
	h->arg = arg;
	h->log_rl = (struct log_ratelim)LOG_RATELIM_INIT(EV_HTTP_LOG_INTERVAL_MS);
	/* One option and its arguments per line. */
	/* clang-format off */
	h->d = MHD_start_daemon(MHD_USE_EPOLL | MHD_USE_ERROR_LOG, 0, NULL, NULL, access_cb, h,
		MHD_OPTION_EXTERNAL_LOGGER, mhd_log, h,
		MHD_OPTION_LISTEN_SOCKET, (MHD_socket)listen_fd,
		MHD_OPTION_CONNECTION_LIMIT, (unsigned)EV_HTTP_CONN_MAX,
		MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)EV_HTTP_TIMEOUT_S,
		MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)EV_HTTP_CONN_MEM,
		MHD_OPTION_NOTIFY_COMPLETED, completed_cb, h,
		MHD_OPTION_SIGPIPE_HANDLED_BY_APP, (int)1, /* ev_loop_new() ignores SIGPIPE */
		MHD_OPTION_STRICT_FOR_CLIENT, (int)1,
		MHD_OPTION_END);
	/* clang-format on */
	if (h->d == NULL) {
		/* MHD leaves the fd open when it fails; the fd is ours to close either way. */
		log_warn(LD_NET, "http: cannot start the server");
		close(listen_fd);
		free(h);
		return UM_ERR_SYS;
	}
	info = MHD_get_daemon_info(h->d, MHD_DAEMON_INFO_EPOLL_FD);
	if (info == NULL || (r = uv_poll_init(&loop->uv, &h->poll, info->epoll_fd)) != 0) {
		log_warn(LD_NET, "http: cannot watch the server's epoll fd");
		MHD_stop_daemon(h->d);
		free(h);
		return UM_ERR_SYS;
	}
	h->poll.data = &h->hobj;
	uv_timer_init(&loop->uv, &h->timer);
	h->timer.data = &h->hobj;
	h->n_open = 2;
	if ((r = uv_poll_start(&h->poll, UV_READABLE, poll_cb)) != 0) {
		log_warn(LD_NET, "http: poll: %s", uv_strerror(r));
		ev_http_free_(h);
		return UM_ERR_SYS;
	}
	/* Let MHD settle its timeouts before the first event. */
	http_run(h);
	*out = h;
	return UM_OK;
}
