/* SPDX-License-Identifier: MIT */
/*
 * A small, strict, asynchronous HTTP/1.1 client on the loop's TCP streams, for directory
 * traffic (descriptor uploads, votes, consensus fetches with If-None-Match): one request per
 * connection ("Connection: close"), numeric addresses only ("http://1.2.3.4:80/x",
 * "http://[::1]:80/x"; no DNS, no TLS, no proxies, no redirects, no keep-alive, no content
 * codings), the whole exchange bounded by one deadline and the body by a cap.
 *
 * It is built on a sans-I/O response parser (http_response_parse.c) that takes bytes in
 * pieces of any size and gives the same answer however they are split; tests and fuzzers
 * drive it directly. Everything here runs on the loop thread.
 */
#ifndef UM_EVLOOP_HTTP_CLIENT_H
#define UM_EVLOOP_HTTP_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "lib/compiler.h"
#include "lib/mem.h"
#include "evloop/evloop.h"

enum ev_http_client_limits {
	/* Response parser (a violation is UM_ERR_TOO_LARGE). */
	HTTP_RP_LINE_MAX = 8192,              /* status or header line, CRLF included */
	HTTP_RP_HEADERS_MAX = 64,             /* header fields of one response */
	HTTP_RP_HEADER_BYTES_MAX = 64 * 1024, /* status and header lines, 1xx responses included */
	HTTP_RP_CHUNK_LINE_MAX = 1024,        /* chunk-size line with its extensions and CRLF */
	HTTP_RP_CHUNK_DIGITS_MAX = 16,        /* hex digits of a chunk size, leading zeros too */
	HTTP_RP_TRAILERS_MAX = 16,            /* trailer fields after the last chunk */
	HTTP_RP_TRAILER_BYTES_MAX = 8192,     /* trailer lines, the final CRLF included */
	/* Requests (a violation is UM_ERR_INVALID). */
	EV_HTTP_REQ_HEADERS_MAX = 32,              /* extra headers in one request */
	EV_HTTP_REQ_HEAD_MAX = 16 * 1024,          /* request line and headers as sent */
	EV_HTTP_METHOD_MAX = 16,                   /* bytes of a method token */
	EV_HTTP_BODY_CAP_MAX = 1024 * 1024 * 1024, /* largest max_response_body accepted */
};

/* ---- the response parser (sans-I/O) ---- */

struct http_response_parser;

/*
 * Return a new parser for one response whose body may hold at most max_body bytes; the
 * caller owns it and frees it with http_response_parser_free(). head_request: the request
 * was HEAD, so the response has no body whatever its headers say.
 */
struct http_response_parser *http_response_parser_new(size_t max_body, bool head_request);
void http_response_parser_free_(struct http_response_parser *p);
#define http_response_parser_free(p) UM_FREE_AND_NULL(http_response_parser_free_, p)

/*
 * Feed the next len bytes of the stream. Returns the number of bytes consumed: all of them
 * while the response is incomplete ("need more"), fewer once it is complete (the rest is not
 * part of it), 0 after completion. On error returns UM_ERR_MALFORMED (a syntax or framing
 * error: bad status line, obs-fold, duplicate or non-decimal Content-Length, Content-Length
 * with Transfer-Encoding, a coding other than chunked, bad chunk framing, 101, ...) or
 * UM_ERR_TOO_LARGE (a limit above, or the body over max_body, found before any of it is
 * stored); errors are sticky. 1xx interim responses are skipped.
 */
ssize_t http_response_parse(struct http_response_parser *p, const uint8_t *in,
                            size_t len) UM_WARN_UNUSED;
/*
 * The stream ended. UM_OK if the response is complete (an HTTP/1.0-style body without
 * Content-Length or chunking ends here), UM_ERR_TRUNCATED if it was cut short, or the
 * sticky error.
 */
int http_response_parse_eof(struct http_response_parser *p) UM_WARN_UNUSED;
bool http_response_is_done(const struct http_response_parser *p);
/* The final status (200-599) once its status line is parsed, else 0. */
int http_response_status(const struct http_response_parser *p);
/*
 * The value of the first header called name (ASCII case-insensitive), without surrounding
 * whitespace, NUL-terminated, or NULL. Valid once the headers are parsed, until the parser
 * is freed. Trailers are checked and dropped, not returned.
 */
const char *http_response_header(const struct http_response_parser *p, const char *name);
size_t http_response_n_headers(const struct http_response_parser *p);
/* Header i (0-based, in order received); UM_ERR_NOT_FOUND past the end. */
int http_response_header_at(const struct http_response_parser *p, size_t i, const char **name,
                            const char **value) UM_WARN_UNUSED;
/* The body received so far (all of it once done); *len 0 and a non-NULL pointer if empty.
 * Valid until the next parse call or the parser is freed. */
const uint8_t *http_response_body(const struct http_response_parser *p, size_t *len);

/* ---- the client ---- */

struct ev_http_header {
	const char *name;  /* a token, e.g. "If-None-Match"; not Host, Content-Length,
	                    * Transfer-Encoding or Connection (the client sets those) */
	const char *value; /* no CR, LF or other control bytes except HTAB */
};

struct ev_http_request {
	/* "http://<ipv4>:<port><path>" or "http://[<ipv6>]:<port><path>"; path "/..." with an
	 * optional "?query" (printable ASCII, no '#'), "/" if empty. Scheme case-insensitive. */
	const char *url;
	const char *method; /* a token, e.g. "GET", "POST", "HEAD"; NULL means GET */
	const struct ev_http_header *headers;
	size_t n_headers;
	const uint8_t *body; /* copied by ev_http_fetch(); Content-Length is sent when
	                      * body_len > 0 or the method is POST or PUT */
	size_t body_len;
	size_t max_response_body; /* body cap; a longer body is UM_ERR_TOO_LARGE */
	uint64_t timeout_ms;      /* deadline for the whole exchange, connect included; > 0 */
};

struct ev_http_result {
	/*
	 * UM_OK: a complete response (any status; 4xx and 5xx are not errors here).
	 * UM_ERR_TIMEOUT: the deadline passed. UM_ERR_SYS: connect, read or write failed
	 * (sys_errno says why, e.g. ECONNREFUSED). UM_ERR_CLOSED: the server closed before the
	 * response was complete. UM_ERR_MALFORMED: the response broke HTTP/1.1 or our rules.
	 * UM_ERR_TOO_LARGE: the body is over max_response_body, or the headers over their caps.
	 */
	int err;
	int sys_errno;
	int status; /* the final status once its line was parsed (also on some errors), else 0 */
	const uint8_t *body; /* UM_OK only; valid during the callback; never NULL then */
	size_t body_len;
	const struct http_response_parser *resp; /* UM_OK only, for ev_http_result_header() */
};

/* A response header (case-insensitive name) or NULL; valid during the callback. */
const char *ev_http_result_header(const struct ev_http_result *res, const char *name);

typedef void ev_http_done_fn(void *arg, const struct ev_http_result *res);

struct ev_http_call;

/*
 * Start the request req (everything in it is copied or used before the call returns) and
 * call cb exactly once, from the loop (never from inside this function), with the outcome.
 * On success *out is a handle valid until cb returns or ev_http_call_cancel() is called,
 * whichever comes first: forget it then. UM_ERR_INVALID for a URL, method, header or limit
 * this client refuses, UM_ERR_SYS if the socket cannot even be created: no callback then,
 * and *out is NULL.
 */
int ev_http_fetch(struct ev_loop *loop, const struct ev_http_request *req, ev_http_done_fn *cb,
                  void *arg, struct ev_http_call **out) UM_WARN_UNUSED;
/*
 * Abandon the call: close its connection, free it; its callback will not run. Safe from
 * anywhere on the loop thread, including another call's callback. Inside this call's own
 * callback it does nothing (the call is released when the callback returns). NULL is a
 * no-op. Calls still pending when the loop is freed are cancelled by ev_loop_free().
 */
void ev_http_call_cancel(struct ev_http_call *call);

#endif /* UM_EVLOOP_HTTP_CLIENT_H */
