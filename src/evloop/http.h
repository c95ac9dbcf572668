/* SPDX-License-Identifier: MIT */
/*
 * A small HTTP/1.1 server driven by the event loop: libmicrohttpd in external-select mode
 * (MHD_USE_EPOLL; its epoll fd watched by a uv_poll_t, MHD_run on readiness, MHD_get_timeout
 * driving a uv_timer_t). We create the listening socket (Unix or TCP) and hand it over with
 * MHD_OPTION_LISTEN_SOCKET. Request bodies are capped; a handler is called once per complete
 * request, on the loop thread, and fills a response.
 */
#ifndef UM_EVLOOP_HTTP_H
#define UM_EVLOOP_HTTP_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "lib/compiler.h"
#include "lib/mem.h"
#include "evloop/evloop.h"

struct ev_http;

struct ev_http_req {
	const char *method; /* "GET", "POST", ... */
	const char *path;   /* URL path without the query string, e.g. "/v1/status" */
	const uint8_t *body;
	size_t body_len;
	void *conn; /* opaque, for ev_http_req_header() / ev_http_req_arg() */
};

/* A request header (case-insensitive name) or NULL; valid during the handler call. */
const char *ev_http_req_header(const struct ev_http_req *req, const char *name);
/*
 * The client's address without the port ("192.0.2.1", "2001:db8::1"; "unix" for a Unix
 * socket peer) into out. UM_ERR_NOT_FOUND if unknown (out is then "").
 */
int ev_http_req_peer(const struct ev_http_req *req, char *out, size_t out_len) UM_WARN_UNUSED;
/* The client's socket address into *out (AF_INET or AF_INET6; UM_ERR_NOT_FOUND otherwise). */
int ev_http_req_peer_addr(const struct ev_http_req *req,
                          struct sockaddr_storage *out) UM_WARN_UNUSED;
/*
 * The query string rebuilt from the request's arguments, in order, duplicates kept, each
 * name and value percent-encoded except A-Z a-z 0-9 - . _ ~ ("" without arguments; an
 * argument without a value keeps no "="). UM_ERR_TOO_LARGE if it does not fit out_len.
 */
int ev_http_req_query(const struct ev_http_req *req, char *out, size_t out_len) UM_WARN_UNUSED;
/* A query argument or NULL; valid during the handler call. */
const char *ev_http_req_arg(const struct ev_http_req *req, const char *name);

struct ev_http_resp {
	int status;               /* HTTP status, default 500; outside 100-599 sends 500 */
	const char *content_type; /* static string, default "application/json" */
	uint8_t *body;            /* malloc'd, owned by the server after return; may be NULL */
	size_t body_len;
	char *etag; /* malloc'd or NULL: sent as the ETag header (quoted if bare) */
};

typedef void ev_http_handler_fn(void *arg, const struct ev_http_req *req,
                                struct ev_http_resp *resp);

/* Set resp->body to a copy of the NUL-terminated s (helper for handlers). */
void ev_http_resp_set_text(struct ev_http_resp *resp, int status, const char *content_type,
                           const char *s);
/* Answer status with j as compact JSON, keys sorted (the reference to j is taken; NULL or a
 * failed dump answers 500 {"error":"internal"}). A body already set is freed. */
void ev_http_resp_json(struct ev_http_resp *resp, int status, json_t *j);
/* Answer status with {"error": msg}. */
void ev_http_resp_error(struct ev_http_resp *resp, int status, const char *msg);

/*
 * Serve HTTP on listen_fd (ownership passes to the server, which closes it when freed).
 * Bodies over max_body get 413 and never reach the handler.
 * listen_fd is closed on failure too. Limits: 64 connections, 30 s idle timeout, 32 KiB of
 * MHD memory per connection (request line and headers must fit). Requests are parsed
 * strictly (an HTTP/1.1 request needs a Host header). The handler may call ev_http_free():
 * the connection it serves is then dropped unanswered.
 */
int ev_http_new(struct ev_loop *loop, int listen_fd, size_t max_body, ev_http_handler_fn *handler,
                void *arg, struct ev_http **out) UM_WARN_UNUSED;
void ev_http_free_(struct ev_http *h);
#define ev_http_free(h) UM_FREE_AND_NULL(ev_http_free_, h)

#endif /* UM_EVLOOP_HTTP_H */
