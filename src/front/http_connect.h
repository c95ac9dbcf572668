/* SPDX-License-Identifier: MIT */
/*
 * The HTTP CONNECT proxy front end, sans-I/O (docs/PROTOCOL.md section 9): a parser for one
 * request head and the replies to it. The connection layer feeds whatever bytes arrived and
 * gets back one of three events, as with SOCKS (socks.h):
 *
 *   HTTP_CONNECT_EV_NEED_MORE  every byte was consumed; feed more
 *   HTTP_CONNECT_EV_REQUEST    a complete head (http_connect_request()); the input after
 *                              step->consumed is the tunnel's first (optimistic) data; answer
 *                              later with http_connect_reply_success() or _failure()
 *   HTTP_CONNECT_EV_FAILED     write step->out (the exact error response), then close
 *
 * Accepted: "CONNECT host:port HTTP/1.0" or "HTTP/1.1" CRLF, header lines, CRLF; host is a
 * DNS name, a dotted-quad IPv4 address or a bracketed IPv6 address; the port is required.
 * "Proxy-Authorization: Basic <base64(user:pass)>" becomes the stream isolation key (any
 * credentials are accepted; nothing is checked against a password). Other methods get 405,
 * malformed heads 400, heads over the limits 431. Results do not depend on how the input is
 * split. The parser never logs.
 */
#ifndef UM_FRONT_HTTP_CONNECT_H
#define UM_FRONT_HTTP_CONNECT_H

#include <stddef.h>
#include <stdint.h>

#include "lib/compiler.h"
#include "lib/mem.h"
#include "lib/wire.h"
#include "front/front.h"

enum http_connect_limits {
	HTTP_CONNECT_HEAD_MAX = 8192,  /* request line + headers + final CRLF, CRLFs included */
	HTTP_CONNECT_HEADERS_MAX = 64, /* header lines */
	HTTP_CONNECT_METHOD_MAX = 32,  /* bytes of a method token */
	/* Proxy-Authorization credentials: user ":" password, each at most FRONT_ISO_FIELD_MAX. */
	HTTP_CONNECT_CRED_MAX = 2 * FRONT_ISO_FIELD_MAX + 1,
	HTTP_CONNECT_OUT_MAX = 512, /* the longest response we send */
};

enum http_connect_event {
	HTTP_CONNECT_EV_NEED_MORE = 0,
	HTTP_CONNECT_EV_REQUEST = 1,
	HTTP_CONNECT_EV_FAILED = 2,
};

/* What one feed produced. */
struct http_connect_step {
	uint8_t ev;      /* enum http_connect_event */
	int err;         /* FAILED: UM_ERR_MALFORMED (400, 405) or UM_ERR_TOO_LARGE (431) */
	int status;      /* FAILED: the HTTP status in out */
	size_t consumed; /* bytes of the input that were part of the head */
	size_t out_len;
	uint8_t out[HTTP_CONNECT_OUT_MAX]; /* FAILED: the response to write before closing */
};

struct http_connect;

/* http_connect.c */

/* Return a new parser for one connection; the caller owns it: http_connect_free(). */
struct http_connect *http_connect_new(void);
/* Wipe (the credentials) and free h; NULL is a no-op. */
void http_connect_free_(struct http_connect *h);
#define http_connect_free(h) UM_FREE_AND_NULL(http_connect_free_, h)
/* The request once a feed returned HTTP_CONNECT_EV_REQUEST (NULL before); lives as long as h. */
const struct front_request *http_connect_request(const struct http_connect *h);

/*
 * The HTTP status for a stream END reason: EXITPOLICY 403, RESOLVEFAILED 404, TIMEOUT 504,
 * every other reason 502.
 */
int http_connect_status_from_end_reason(int reason);
/* Append "HTTP/1.1 200 Connection established" CRLF CRLF to w. */
int http_connect_reply_success(struct wire_wr *w) UM_WARN_UNUSED;
/*
 * Append the error response for status (400, 403, 404, 405, 431, 502 or 504; anything else is
 * UM_ERR_INVALID): status line, [Allow: CONNECT for 405], Content-Type: text/plain,
 * Content-Length, Connection: close, and a one-line body (docs/PROTOCOL.md 9.3).
 */
int http_connect_reply_error(int status, struct wire_wr *w) UM_WARN_UNUSED;
/* The error response for a stream that ended with reason. */
int http_connect_reply_failure(int reason, struct wire_wr *w) UM_WARN_UNUSED;
/*
 * Client side, for tests and tools: append "CONNECT host:port HTTP/1.1" CRLF, a Host header,
 * Proxy-Authorization when req->iso is HTTP_BASIC, and CRLF. UM_ERR_INVALID if req cannot
 * be expressed.
 */
int http_connect_request_encode(const struct front_request *req, struct wire_wr *w) UM_WARN_UNUSED;

/* http_connect_parse.c */

/*
 * Feed the next len bytes. Fills *step and returns UM_OK; UM_ERR_STATE once h returned
 * REQUEST or FAILED (nothing consumed).
 */
int http_connect_feed(struct http_connect *h, const uint8_t *in, size_t len,
                      struct http_connect_step *step) UM_WARN_UNUSED;

#endif /* UM_FRONT_HTTP_CONNECT_H */
