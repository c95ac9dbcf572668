/* SPDX-License-Identifier: MIT */
/*
 * Unit tests for the HTTP client (src/evloop/http_client.h).
 *
 * The parser part feeds tables of responses to the sans-I/O parser in one piece, byte by byte
 * and in seeded random splits (same outcome each way), checks that every strict prefix of a
 * complete response is "need more", and that every malformed or over-limit response we refuse
 * is refused with the same error however it is split. The client part runs real calls in one
 * loop against the project's own server (ev_http_new on 127.0.0.1, port 0): GET, 404, POST
 * echo, ETag and If-None-Match to 304, HEAD, an 8 MiB body at and over the cap, 50 calls at
 * once; against a bound but not listening port (refused), a listener that accepts and never
 * answers (timeout, cancel, loop teardown with a call pending); and against a fake server in a
 * thread with plain blocking sockets, for what MHD will not send on demand: chunked bodies
 * with extensions and trailers, EOF-delimited HTTP/1.0 bodies, 1xx interim responses,
 * byte-by-byte delivery, truncation and garbage. Every loop run has a watchdog.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "lib/err.h"
#include "lib/mem.h"
#include "lib/time.h"
#include "evloop/evloop.h"
#include "evloop/http.h"
#include "evloop/http_client.h"

enum {
	WATCHDOG_MS = 20 * 1000,
	SERVER_MAX_BODY = 1024 * 1024,
	BIG_LEN = 8 * 1024 * 1024,
	POST_LEN = 600 * 1024, /* under SERVER_MAX_BODY */
	N_CONCURRENT = 50,
	N_RANDOM_SPLITS = 25,
	CALL_TIMEOUT_MS = 10 * 1000,
	SHORT_TIMEOUT_MS = 200,
	FAKE_REQ_MAX = 8192,
};

/* ======================================================================================
 * The parser
 * ====================================================================================== */

/* What one run of the parser produced, in a form runs can be compared by. */
struct outcome {
	int err;         /* UM_OK, or the parse error, or the eof error */
	size_t consumed; /* bytes taken by http_response_parse() in total; 0 on error */
	bool done;
	int status;
	char *headers; /* "name=value\n" for each header, in order */
	uint8_t *body;
	size_t body_len;
};

enum { OUTCOME_HEADERS_MAX = HTTP_RP_HEADER_BYTES_MAX + 1 };

static void
outcome_clear(struct outcome *o)
{
	free(o->headers);
	free(o->body);
	memset(o, 0, sizeof(*o));
}

static void
outcome_fill(struct outcome *o, const struct http_response_parser *p)
{
	const uint8_t *b;
	const char *name, *value;
	size_t off = 0;

	o->done = http_response_is_done(p);
	o->status = http_response_status(p);
	o->headers = um_xcalloc(1, OUTCOME_HEADERS_MAX);
	for (size_t i = 0; i < http_response_n_headers(p); i++) {
		assert_int_equal(http_response_header_at(p, i, &name, &value), UM_OK);
		off += (size_t)snprintf(o->headers + off, OUTCOME_HEADERS_MAX - off, "%s=%s\n",
		                        name, value);
		assert_true(off < OUTCOME_HEADERS_MAX);
	}
	b = http_response_body(p, &o->body_len);
	assert_non_null(b);
	if (o->err != UM_OK) {
		/* What was stored before the error depends on the split: not compared. */
		o->body_len = 0;
	}
	o->body = um_xmalloc(o->body_len + 1);
	memcpy(o->body, b, o->body_len);
}

/* How to cut the input: 0 = whole, 1 = byte by byte, else a random split seeded by it. */
static size_t
next_piece(unsigned mode, unsigned *seed, size_t left)
{
	if (mode == 0)
		return left;
	if (mode == 1)
		return 1;
	return 1 + (size_t)rand_r(seed) % UM_MIN(left, (size_t)64);
}

/* Feed in[0, len) cut by mode; at the end call parse_eof if eof and not done. */
static void
run_parser(const uint8_t *in, size_t len, size_t max_body, bool head, bool eof, unsigned mode,
           struct outcome *o)
{
	struct http_response_parser *p = http_response_parser_new(max_body, head);
	unsigned seed = mode;
	size_t off = 0;

	memset(o, 0, sizeof(*o));
	while (off < len) {
		size_t n = next_piece(mode, &seed, len - off);
		ssize_t r = http_response_parse(p, in + off, n);

		if (r < 0) {
			o->err = (int)r;
			o->consumed = 0; /* depends on the split: not compared */
			/* Errors are sticky. */
			assert_int_equal(http_response_parse(p, in, len), r);
			assert_int_equal(http_response_parse_eof(p), r);
			break;
		}
		assert_true((size_t)r <= n);
		o->consumed += (size_t)r;
		off += n;
		if (http_response_is_done(p)) {
			/* A complete response takes nothing more. */
			assert_int_equal(http_response_parse(p, in, len), 0);
			break;
		}
		assert_int_equal((size_t)r, n); /* need more: everything was taken */
	}
	if (o->err == UM_OK && eof && !http_response_is_done(p))
		o->err = http_response_parse_eof(p);
	outcome_fill(o, p);
	http_response_parser_free(p);
}

static void
assert_same_outcome(const struct outcome *a, const struct outcome *b)
{
	assert_int_equal(a->err, b->err);
	assert_int_equal(a->consumed, b->consumed);
	assert_int_equal(a->done, b->done);
	assert_int_equal(a->status, b->status);
	assert_string_equal(a->headers, b->headers);
	assert_int_equal(a->body_len, b->body_len);
	assert_memory_equal(a->body, b->body, a->body_len);
}

/* Run every way of cutting in; all must agree with the whole run, returned in *whole. */
static void
run_all_splits(const uint8_t *in, size_t len, size_t max_body, bool head, bool eof,
               struct outcome *whole)
{
	struct outcome o;

	run_parser(in, len, max_body, head, eof, 0, whole);
	for (unsigned mode = 1; mode < 2 + N_RANDOM_SPLITS; mode++) {
		run_parser(in, len, max_body, head, eof, mode, &o);
		assert_same_outcome(whole, &o);
		outcome_clear(&o);
	}
}

struct good_case {
	const char *name;
	const char *in;
	size_t max_body;
	bool head;
	bool eof;        /* the body runs to EOF */
	size_t trailing; /* bytes after the response */
	int status;
	const char *body;
	const char *headers;
};

static const struct good_case good_cases[] = {
	{ "content-length", "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nETag: \"v1\"\r\n\r\nhello",
	  100, false, false, 0, 200, "hello", "Content-Length=5\nETag=\"v1\"\n" },
	{ "content-length at the cap", "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello", 5,
	  false, false, 0, 200, "hello", "Content-Length=5\n" },
	{ "content-length 0", "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", 0, false, false, 0,
	  200, "", "Content-Length=0\n" },
	{ "leading zeros in content-length",
	  "HTTP/1.1 200 OK\r\nContent-Length: 007\r\n\r\n1234567", 100, false, false, 0, 200,
	  "1234567", "Content-Length=007\n" },
	{ "no reason phrase", "HTTP/1.1 404\r\nContent-Length: 2\r\n\r\nno", 100, false, false, 0,
	  404, "no", "Content-Length=2\n" },
	{ "empty reason phrase and obs-text",
	  "HTTP/1.1 500 \r\nX-Bytes: caf\xc3\xa9\r\nContent-Length: 0\r\n\r\n", 100, false, false,
	  0, 500, "", "X-Bytes=caf\xc3\xa9\nContent-Length=0\n" },
	{ "whitespace around values",
	  "HTTP/1.1 200 OK\r\nX-A:   spaced value \t\r\nX-Empty:\r\nx-b:\tv\r\n"
	  "Content-Length: 1\r\n\r\nz",
	  100, false, false, 0, 200, "z", "X-A=spaced value\nX-Empty=\nx-b=v\nContent-Length=1\n" },
	{ "chunked with extensions and trailers",
	  "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
	  "5;name=val\r\nhello\r\n6 ; a=\"q;x\"\t\r\n world\r\nA\r\n0123456789\r\n"
	  "0;last\r\nX-Trailer: t\r\nX-Other: u\r\n\r\n",
	  100, false, false, 0, 200, "hello world0123456789", "Transfer-Encoding=chunked\n" },
	{ "chunked empty body", "HTTP/1.1 200 OK\r\nTransfer-Encoding: Chunked\r\n\r\n0\r\n\r\n", 0,
	  false, false, 0, 200, "", "Transfer-Encoding=Chunked\n" },
	{ "chunked leading zeros",
	  "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0005\r\nhello\r\n0000\r\n\r\n", 5,
	  false, false, 0, 200, "hello", "Transfer-Encoding=chunked\n" },
	{ "304 has no body",
	  "HTTP/1.1 304 Not Modified\r\nETag: \"v1\"\r\nContent-Length: 99\r\n\r\n", 0, false,
	  false, 0, 304, "", "ETag=\"v1\"\nContent-Length=99\n" },
	{ "204 has no body", "HTTP/1.1 204 No Content\r\n\r\n", 0, false, false, 0, 204, "", "" },
	{ "HEAD has no body", "HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n", 0, true, false, 0,
	  200, "", "Content-Length=1000\n" },
	{ "HTTP/1.0 body up to EOF", "HTTP/1.0 200 OK\r\nServer: fake\r\n\r\nuntil\r\nthe end", 100,
	  false, true, 0, 200, "until\r\nthe end", "Server=fake\n" },
	{ "HTTP/1.1 body up to EOF, empty", "HTTP/1.1 200 OK\r\n\r\n", 100, false, true, 0, 200, "",
	  "" },
	{ "1xx responses are skipped",
	  "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n"
	  "HTTP/1.1 201 Created\r\nContent-Length: 2\r\n\r\nok",
	  100, false, false, 0, 201, "ok", "Content-Length=2\n" },
	{ "bytes after the response are left",
	  "HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabcHTTP/1.1 200 OK\r\n", 100, false, false,
	  17, 200, "abc", "Content-Length=3\n" },
	{ "bytes after a chunked response are left",
	  "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1\r\na\r\n0\r\n\r\nxyz", 100, false,
	  false, 3, 200, "a", "Transfer-Encoding=chunked\n" },
};

static void
test_parser_good_responses_any_split(void **state)
{
	(void)state;
	for (size_t i = 0; i < UM_ARRAY_LEN(good_cases); i++) {
		const struct good_case *c = &good_cases[i];
		const uint8_t *in = (const uint8_t *)c->in;
		size_t len = strlen(c->in);
		struct outcome o;

		print_message("  %s\n", c->name);
		run_all_splits(in, len, c->max_body, c->head, c->eof, &o);
		assert_int_equal(o.err, UM_OK);
		assert_true(o.done);
		assert_int_equal(o.consumed, c->eof ? len : len - c->trailing);
		assert_int_equal(o.status, c->status);
		assert_string_equal(o.headers, c->headers);
		assert_int_equal(o.body_len, strlen(c->body));
		assert_memory_equal(o.body, c->body, o.body_len);
		outcome_clear(&o);
	}
}

static void
test_parser_every_strict_prefix_needs_more(void **state)
{
	(void)state;
	for (size_t i = 0; i < UM_ARRAY_LEN(good_cases); i++) {
		const struct good_case *c = &good_cases[i];
		size_t end = strlen(c->in) - c->trailing;

		for (size_t k = 0; k < end; k++) {
			struct http_response_parser *p =
			        http_response_parser_new(c->max_body, c->head);
			ssize_t r = http_response_parse(p, (const uint8_t *)c->in, k);

			assert_int_equal(r, (ssize_t)k);
			assert_false(http_response_is_done(p));
			/* Cut here, it is incomplete; unless only the EOF body is still open. */
			if (!c->eof)
				assert_int_equal(http_response_parse_eof(p), UM_ERR_TRUNCATED);
			http_response_parser_free(p);
		}
	}
}

static void
test_parser_header_lookup(void **state)
{
	static const char in[] = "HTTP/1.1 200 OK\r\nETag: \"abc\"\r\ncontent-type: text/plain\r\n"
	                         "X-Dup: first\r\nX-Dup: second\r\nContent-Length: 0\r\n\r\n";
	struct http_response_parser *p = http_response_parser_new(0, false);
	const char *name, *value;

	(void)state;
	/* Nothing is shown before the headers are complete. */
	assert_int_equal(http_response_parse(p, (const uint8_t *)in, 30), 30);
	assert_null(http_response_header(p, "etag"));
	assert_int_equal(http_response_n_headers(p), 0);
	assert_int_equal(http_response_parse(p, (const uint8_t *)in + 30, sizeof(in) - 1 - 30),
	                 (ssize_t)(sizeof(in) - 1 - 30));
	assert_true(http_response_is_done(p));
	assert_string_equal(http_response_header(p, "etag"), "\"abc\"");
	assert_string_equal(http_response_header(p, "ETAG"), "\"abc\"");
	assert_string_equal(http_response_header(p, "Content-Type"), "text/plain");
	assert_string_equal(http_response_header(p, "x-dup"), "first");
	assert_null(http_response_header(p, "X-Missing"));
	assert_null(http_response_header(p, "ETag:"));
	assert_int_equal(http_response_n_headers(p), 5);
	assert_int_equal(http_response_header_at(p, 3, &name, &value), UM_OK);
	assert_string_equal(name, "X-Dup");
	assert_string_equal(value, "second");
	assert_int_equal(http_response_header_at(p, 5, &name, &value), UM_ERR_NOT_FOUND);
	assert_null(name);
	assert_null(value);
	http_response_parser_free(p);
	assert_null(p);
}

struct bad_case {
	const char *name;
	const char *in;
	size_t max_body;
	int err;
};

#define H200    "HTTP/1.1 200 OK\r\n"
#define CHUNKED H200 "Transfer-Encoding: chunked\r\n\r\n"

static const struct bad_case bad_cases[] = {
	/* Status line. */
	{ "HTTP/2", "HTTP/2 200 OK\r\n\r\n", 100, UM_ERR_MALFORMED },
	{ "HTTP/1.2", "HTTP/1.2 200 OK\r\n\r\n", 100, UM_ERR_MALFORMED },
	{ "lower-case version", "http/1.1 200 OK\r\n\r\n", 100, UM_ERR_MALFORMED },
	{ "HTTP/0.9 body", "hello world\r\n", 100, UM_ERR_MALFORMED },
	{ "empty status line", "\r\nHTTP/1.1 200 OK\r\n\r\n", 100, UM_ERR_MALFORMED },
	{ "status 099", "HTTP/1.1 099 x\r\n\r\n", 100, UM_ERR_MALFORMED },
	{ "status 600", "HTTP/1.1 600 x\r\n\r\n", 100, UM_ERR_MALFORMED },
	{ "status 2000", "HTTP/1.1 2000 OK\r\n\r\n", 100, UM_ERR_MALFORMED },
	{ "status 20x", "HTTP/1.1 20x OK\r\n\r\n", 100, UM_ERR_MALFORMED },
	{ "status 20", "HTTP/1.1 20\r\n\r\n", 100, UM_ERR_MALFORMED },
	{ "two spaces", "HTTP/1.1  200 OK\r\n\r\n", 100, UM_ERR_MALFORMED },
	{ "no space after code", "HTTP/1.1 200OK\r\n\r\n", 100, UM_ERR_MALFORMED },
	{ "tab after version", "HTTP/1.1\t200 OK\r\n\r\n", 100, UM_ERR_MALFORMED },
	{ "control byte in reason", "HTTP/1.1 200 O\x01K\r\n\r\n", 100, UM_ERR_MALFORMED },
	{ "101 switching protocols", "HTTP/1.1 101 Switching Protocols\r\nUpgrade: x\r\n\r\n", 100,
	  UM_ERR_MALFORMED },
	/* Line endings. */
	{ "bare LF", "HTTP/1.1 200 OK\nContent-Length: 0\n\n", 100, UM_ERR_MALFORMED },
	{ "bare LF ending headers", H200 "Content-Length: 0\r\n\n", 100, UM_ERR_MALFORMED },
	{ "bare CR inside a value", H200 "X: a\rb\r\n\r\n", 100, UM_ERR_MALFORMED },
	{ "CR CR LF", H200 "X: a\r\r\n\r\n", 100, UM_ERR_MALFORMED },
	/* Fields. */
	{ "obs-fold", H200 "X: a\r\n b\r\nContent-Length: 0\r\n\r\n", 100, UM_ERR_MALFORMED },
	{ "obs-fold with tab", H200 "X: a\r\n\tb\r\n\r\n", 100, UM_ERR_MALFORMED },
	{ "space before colon", H200 "X : a\r\n\r\n", 100, UM_ERR_MALFORMED },
	{ "no colon", H200 "Xa\r\n\r\n", 100, UM_ERR_MALFORMED },
	{ "empty name", H200 ": a\r\n\r\n", 100, UM_ERR_MALFORMED },
	{ "separator in name", H200 "X(y): a\r\n\r\n", 100, UM_ERR_MALFORMED },
	{ "control byte in value", H200 "X: a\x01b\r\n\r\n", 100, UM_ERR_MALFORMED },
	{ "DEL in value", H200 "X: a\x7f\r\n\r\n", 100, UM_ERR_MALFORMED },
	{ "NUL in value", H200 "X: a\0b\r\n\r\n", 100, UM_ERR_MALFORMED },
	/* Content-Length. */
	{ "duplicate content-length", H200 "Content-Length: 5\r\nContent-Length: 5\r\n\r\nhello",
	  100, UM_ERR_MALFORMED },
	{ "content-length list", H200 "Content-Length: 5, 5\r\n\r\nhello", 100, UM_ERR_MALFORMED },
	{ "content-length sign", H200 "Content-Length: +5\r\n\r\nhello", 100, UM_ERR_MALFORMED },
	{ "content-length negative", H200 "Content-Length: -1\r\n\r\n", 100, UM_ERR_MALFORMED },
	{ "content-length empty", H200 "Content-Length: \r\n\r\n", 100, UM_ERR_MALFORMED },
	{ "content-length hex", H200 "Content-Length: 0x5\r\n\r\nhello", 100, UM_ERR_MALFORMED },
	{ "content-length space inside", H200 "Content-Length: 1 0\r\n\r\n", 100,
	  UM_ERR_MALFORMED },
	{ "content-length overflow", H200 "Content-Length: 18446744073709551616\r\n\r\n", 100,
	  UM_ERR_MALFORMED },
	/* Transfer-Encoding. */
	{ "gzip", H200 "Transfer-Encoding: gzip\r\n\r\n", 100, UM_ERR_MALFORMED },
	{ "gzip, chunked", H200 "Transfer-Encoding: gzip, chunked\r\n\r\n", 100, UM_ERR_MALFORMED },
	{ "chunked twice",
	  H200 "Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 100,
	  UM_ERR_MALFORMED },
	{ "identity", H200 "Transfer-Encoding: identity\r\n\r\n", 100, UM_ERR_MALFORMED },
	{ "transfer-encoding and content-length",
	  H200 "Transfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n0\r\n\r\n", 100,
	  UM_ERR_MALFORMED },
	{ "chunked in HTTP/1.0", "HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
	  100, UM_ERR_MALFORMED },
	/* Chunks. */
	{ "chunk size not hex", CHUNKED "g\r\nx\r\n0\r\n\r\n", 100, UM_ERR_MALFORMED },
	{ "chunk size missing", CHUNKED "\r\n", 100, UM_ERR_MALFORMED },
	{ "chunk size signed", CHUNKED "+5\r\nhello\r\n0\r\n\r\n", 100, UM_ERR_MALFORMED },
	{ "chunk size 0x", CHUNKED "0x5\r\nhello\r\n0\r\n\r\n", 100, UM_ERR_MALFORMED },
	{ "junk after chunk size", CHUNKED "5 x\r\nhello\r\n0\r\n\r\n", 100, UM_ERR_MALFORMED },
	{ "blank after chunk size", CHUNKED "5 \r\nhello\r\n0\r\n\r\n", 100, UM_ERR_MALFORMED },
	{ "control byte in extension", CHUNKED "5;a\x01\r\nhello\r\n0\r\n\r\n", 100,
	  UM_ERR_MALFORMED },
	{ "chunk longer than its size", CHUNKED "3\r\nhello\r\n0\r\n\r\n", 100, UM_ERR_MALFORMED },
	{ "chunk data without CRLF", CHUNKED "5\r\nhello0\r\n\r\n", 100, UM_ERR_MALFORMED },
	{ "chunk data with bare LF", CHUNKED "5\r\nhello\n0\r\n\r\n", 100, UM_ERR_MALFORMED },
	{ "bad trailer", CHUNKED "0\r\nnot a field\r\n\r\n", 100, UM_ERR_MALFORMED },
	{ "folded trailer", CHUNKED "0\r\nX: a\r\n b\r\n\r\n", 100, UM_ERR_MALFORMED },
	/* Caps on lengths, checked before any byte of the body is stored. */
	{ "content-length over the cap", H200 "Content-Length: 6\r\n\r\nhello!", 5,
	  UM_ERR_TOO_LARGE },
	{ "content-length huge", H200 "Content-Length: 99999999999999\r\n\r\n", 1 << 20,
	  UM_ERR_TOO_LARGE },
	{ "chunk over the cap", CHUNKED "6\r\nhello!\r\n0\r\n\r\n", 5, UM_ERR_TOO_LARGE },
	{ "chunks add up over the cap", CHUNKED "3\r\nhel\r\n3\r\nlo!\r\n0\r\n\r\n", 5,
	  UM_ERR_TOO_LARGE },
	{ "chunk size huge", CHUNKED "ffffffffffffffff\r\n", 1 << 20, UM_ERR_TOO_LARGE },
	{ "chunk size too many digits", CHUNKED "00000000000000001\r\nx\r\n0\r\n\r\n", 100,
	  UM_ERR_TOO_LARGE },
	{ "EOF body over the cap", "HTTP/1.0 200 OK\r\n\r\nhello!", 5, UM_ERR_TOO_LARGE },
};

/* Cases too long for a literal: built at run time. */
static char *
build_long(const char *kind, size_t *len)
{
	struct {
		char *p;
		size_t len, cap;
	} s = { NULL, 0, 0 };

#define APPEND(...)                                                      \
	do {                                                             \
		int n_ = snprintf(NULL, 0, __VA_ARGS__);                 \
		assert_true(n_ >= 0);                                    \
		if (s.len + (size_t)n_ + 1 > s.cap) {                    \
			s.cap = (s.len + (size_t)n_ + 1) * 2;            \
			s.p = um_xrealloc(s.p, s.cap);                   \
		}                                                        \
		(void)snprintf(s.p + s.len, s.cap - s.len, __VA_ARGS__); \
		s.len += (size_t)n_;                                     \
	} while (0)

	if (strcmp(kind, "line") == 0) {
		/* One header line a byte over HTTP_RP_LINE_MAX with its CRLF. */
		APPEND(H200 "X-Long: ");
		APPEND("%0*d\r\n\r\n", HTTP_RP_LINE_MAX - 8 - 2 + 1, 0);
	} else if (strcmp(kind, "line at cap") == 0) {
		APPEND(H200 "X-Long: ");
		APPEND("%0*d\r\nContent-Length: 0\r\n\r\n", HTTP_RP_LINE_MAX - 8 - 2, 0);
	} else if (strcmp(kind, "count") == 0) {
		APPEND(H200);
		for (int i = 0; i <= HTTP_RP_HEADERS_MAX; i++)
			APPEND("X-%d: v\r\n", i);
		APPEND("\r\n");
	} else if (strcmp(kind, "count at cap") == 0) {
		APPEND(H200 "Content-Length: 0\r\n");
		for (int i = 1; i < HTTP_RP_HEADERS_MAX; i++)
			APPEND("X-%d: v\r\n", i);
		APPEND("\r\n");
	} else if (strcmp(kind, "total") == 0) {
		/* Under the count and line caps, over the total. */
		APPEND(H200);
		for (int i = 0; i < 40; i++)
			APPEND("X-%d: %0*d\r\n", i, 2000, 0);
		APPEND("\r\n");
	} else if (strcmp(kind, "interim") == 0) {
		/* Endless 1xx responses: the total header cap counts them all. */
		for (int i = 0; i < 2000; i++)
			APPEND("HTTP/1.1 100 Continue\r\nX-Pad: %0100d\r\n\r\n", 0);
		APPEND(H200 "Content-Length: 0\r\n\r\n");
	} else if (strcmp(kind, "trailers") == 0) {
		APPEND(CHUNKED "0\r\n");
		for (int i = 0; i <= HTTP_RP_TRAILERS_MAX; i++)
			APPEND("T-%d: v\r\n", i);
		APPEND("\r\n");
	} else if (strcmp(kind, "trailer bytes") == 0) {
		APPEND(CHUNKED "0\r\n");
		for (int i = 0; i < 5; i++)
			APPEND("T-%d: %0*d\r\n", i, 2000, 0);
		APPEND("\r\n");
	} else if (strcmp(kind, "chunk line") == 0) {
		APPEND(CHUNKED "1;ext=%0*d\r\nx\r\n0\r\n\r\n", HTTP_RP_CHUNK_LINE_MAX, 0);
	} else {
		fail_msg("unknown kind %s", kind);
	}
#undef APPEND
	*len = s.len;
	return s.p;
}

static void
test_parser_bad_responses_any_split(void **state)
{
	(void)state;
	for (size_t i = 0; i < UM_ARRAY_LEN(bad_cases); i++) {
		const struct bad_case *c = &bad_cases[i];
		/* sizeof-based length: some cases hold a NUL. */
		size_t len = strlen(c->in);
		struct outcome o;

		if (strcmp(c->name, "NUL in value") == 0)
			len = strlen(H200 "X: a") + strlen("b\r\n\r\n") + 1;
		print_message("  %s\n", c->name);
		/* With or without a final EOF: the error is found in the bytes. */
		run_all_splits((const uint8_t *)c->in, len, c->max_body, false, true, &o);
		assert_int_equal(o.err, c->err);
		assert_false(o.done);
		outcome_clear(&o);
		run_all_splits((const uint8_t *)c->in, len, c->max_body, false, false, &o);
		assert_int_equal(o.err, c->err);
		outcome_clear(&o);
	}
}

static void
test_parser_limits(void **state)
{
	static const struct {
		const char *kind;
		int err;
	} cases[] = {
		{ "line", UM_ERR_TOO_LARGE },       { "line at cap", UM_OK },
		{ "count", UM_ERR_TOO_LARGE },      { "count at cap", UM_OK },
		{ "total", UM_ERR_TOO_LARGE },      { "interim", UM_ERR_TOO_LARGE },
		{ "trailers", UM_ERR_TOO_LARGE },   { "trailer bytes", UM_ERR_TOO_LARGE },
		{ "chunk line", UM_ERR_TOO_LARGE },
	};

	(void)state;
	for (size_t i = 0; i < UM_ARRAY_LEN(cases); i++) {
		size_t len;
		char *in = build_long(cases[i].kind, &len);
		struct outcome whole, o;

		print_message("  %s\n", cases[i].kind);
		run_parser((const uint8_t *)in, len, 100, false, false, 0, &whole);
		assert_int_equal(whole.err, cases[i].err);
		assert_int_equal(whole.done, cases[i].err == UM_OK);
		for (unsigned mode = 1; mode < 4; mode++) {
			run_parser((const uint8_t *)in, len, 100, false, false, mode, &o);
			assert_same_outcome(&whole, &o);
			outcome_clear(&o);
		}
		outcome_clear(&whole);
		free(in);
	}
}

static void
test_parser_eof_cuts_short(void **state)
{
	static const char *const cases[] = {
		"",
		"HTTP/1.1 200 OK\r\n",
		"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc",
		CHUNKED "5\r\nhel",
		CHUNKED "5\r\nhello\r\n",
		CHUNKED "0\r\n",
		CHUNKED "0\r\nX: y\r\n",
		"HTTP/1.1 100 Continue\r\n\r\n",
	};

	(void)state;
	for (size_t i = 0; i < UM_ARRAY_LEN(cases); i++) {
		struct outcome o;

		run_all_splits((const uint8_t *)cases[i], strlen(cases[i]), 100, false, true, &o);
		assert_int_equal(o.err, UM_ERR_TRUNCATED);
		assert_false(o.done);
		outcome_clear(&o);
	}
}

static void
test_parser_status_known_on_body_error(void **state)
{
	static const char in[] = H200 "Content-Length: 6\r\n\r\n";
	struct http_response_parser *p = http_response_parser_new(5, false);

	(void)state;
	assert_int_equal(http_response_parse(p, (const uint8_t *)in, sizeof(in) - 1),
	                 UM_ERR_TOO_LARGE);
	assert_int_equal(http_response_status(p), 200);
	http_response_parser_free(p);
}

/* ======================================================================================
 * The client: fixtures
 * ====================================================================================== */

/* The byte at offset i of the big body. */
static uint8_t
pattern(size_t i)
{
	uint32_t x = (uint32_t)i * 2654435761u;

	return (uint8_t)((x >> 24) ^ (uint8_t)(i >> 16));
}

struct env {
	struct ev_loop *loop;
	struct ev_http *http;
	char base[64]; /* "http://127.0.0.1:<port>" of the MHD server */
	struct ev_timer *watchdog;
	bool watchdog_fired;
	unsigned n_pending; /* callbacks still expected; the loop stops at 0 */
	/* A listener that accepts and never answers. */
	struct ev_listener *silent;
	char silent_base[64];
	struct ev_tcp *silent_conns[8];
	unsigned n_silent;
	/* What the MHD handler saw last. */
	char last_method[16];
	char last_inm[64];
	char last_ctype[64];
};

static void
handler(void *arg, const struct ev_http_req *req, struct ev_http_resp *resp)
{
	struct env *e = arg;
	const char *v;

	snprintf(e->last_method, sizeof(e->last_method), "%s", req->method);
	v = ev_http_req_header(req, "If-None-Match");
	snprintf(e->last_inm, sizeof(e->last_inm), "%s", v != NULL ? v : "");
	v = ev_http_req_header(req, "Content-Type");
	snprintf(e->last_ctype, sizeof(e->last_ctype), "%s", v != NULL ? v : "");
	if (strcmp(req->path, "/hello") == 0) {
		ev_http_resp_set_text(resp, 200, "text/plain", "hello world");
	} else if (strcmp(req->path, "/echo") == 0) {
		resp->status = 200;
		resp->content_type = "application/octet-stream";
		resp->body = um_xmalloc(req->body_len + 1);
		if (req->body_len > 0)
			memcpy(resp->body, req->body, req->body_len);
		resp->body_len = req->body_len;
	} else if (strcmp(req->path, "/etag") == 0) {
		/* A conditional GET as a consensus fetch does it (RFC 9110 13.1.2). */
		v = ev_http_req_header(req, "If-None-Match");
		if (v != NULL && strcmp(v, "\"v1\"") == 0) {
			resp->status = 304;
		} else {
			ev_http_resp_set_text(resp, 200, "text/plain", "consensus v1");
		}
		resp->etag = um_xstrdup("v1");
	} else if (strcmp(req->path, "/big") == 0) {
		resp->status = 200;
		resp->content_type = "application/octet-stream";
		resp->body = um_xmalloc(BIG_LEN);
		for (size_t i = 0; i < BIG_LEN; i++)
			resp->body[i] = pattern(i);
		resp->body_len = BIG_LEN;
	} else {
		ev_http_resp_set_text(resp, 404, "text/plain", "not found");
	}
}

static void
watchdog_cb(void *arg)
{
	struct env *e = arg;

	e->watchdog_fired = true;
	ev_loop_stop(e->loop);
}

static void
silent_accept(void *arg, struct ev_tcp *conn, const struct sockaddr_storage *peer)
{
	struct env *e = arg;

	(void)peer;
	/* Keep it open, read nothing, answer nothing. */
	if (e->n_silent == UM_ARRAY_LEN(e->silent_conns)) {
		ev_tcp_close(conn);
		return;
	}
	e->silent_conns[e->n_silent++] = conn;
}

static void
loopback(struct sockaddr_in *sin)
{
	memset(sin, 0, sizeof(*sin));
	sin->sin_family = AF_INET;
	sin->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
}

static int
setup_env(void **state)
{
	struct env *e = um_xcalloc(1, sizeof(*e));
	struct sockaddr_storage ss;
	struct sockaddr_in sin;
	socklen_t len = sizeof(sin);
	int fd;

	e->loop = ev_loop_new();
	e->watchdog = ev_timer_new(e->loop, watchdog_cb, e);
	loopback(&sin);
	assert_int_equal(ev_tcp_listen_fd((struct sockaddr *)&sin, 128, &fd), UM_OK);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&sin, &len), 0);
	snprintf(e->base, sizeof(e->base), "http://127.0.0.1:%u", (unsigned)ntohs(sin.sin_port));
	assert_int_equal(ev_http_new(e->loop, fd, SERVER_MAX_BODY, handler, e, &e->http), UM_OK);

	loopback(&sin);
	memset(&ss, 0, sizeof(ss));
	memcpy(&ss, &sin, sizeof(sin));
	assert_int_equal(
	        ev_tcp_listen(e->loop, (struct sockaddr *)&ss, 16, silent_accept, e, &e->silent),
	        UM_OK);
	assert_int_equal(ev_listener_addr(e->silent, &ss), UM_OK);
	memcpy(&sin, &ss, sizeof(sin));
	snprintf(e->silent_base, sizeof(e->silent_base), "http://127.0.0.1:%u",
	         (unsigned)ntohs(sin.sin_port));
	*state = e;
	return 0;
}

static int
teardown_env(void **state)
{
	struct env *e = *state;

	for (unsigned i = 0; i < e->n_silent; i++)
		ev_tcp_close(e->silent_conns[i]);
	ev_listener_free(e->silent);
	ev_http_free(e->http);
	ev_timer_free(e->watchdog);
	ev_loop_free(e->loop);
	free(e);
	return 0;
}

/* Run the loop until every expected callback came (or the watchdog fired). */
static void
run_until_done(struct env *e)
{
	e->watchdog_fired = false;
	ev_timer_start(e->watchdog, WATCHDOG_MS, 0);
	if (e->n_pending > 0)
		assert_int_equal(ev_loop_run(e->loop), UM_OK);
	ev_timer_stop(e->watchdog);
	assert_false(e->watchdog_fired);
	assert_int_equal(e->n_pending, 0);
}

static void
stop_cb(void *arg)
{
	ev_loop_stop(arg);
}

/* Run the loop for ms more (to show that nothing else arrives). */
static void
run_for(struct env *e, uint64_t ms)
{
	struct ev_timer *t = ev_timer_new(e->loop, stop_cb, e->loop);

	ev_timer_start(t, ms, 0);
	assert_int_equal(ev_loop_run(e->loop), UM_OK);
	ev_timer_free(t);
}

/* One call's outcome, copied out of the callback. */
struct got {
	struct env *env;
	unsigned n_calls;
	int err;
	int sys_errno;
	int status;
	uint8_t *body;
	size_t body_len;
	char etag[64];
	char ctype[64];
	bool has_etag;
	uint64_t done_ms;
	/* Optional actions from inside the callback. */
	struct ev_http_call **cancel_other;
	struct ev_http_call *self;
	bool cancel_self;
};

static void
got_clear(struct got *g)
{
	free(g->body);
	g->body = NULL;
}

static void
done_cb(void *arg, const struct ev_http_result *res)
{
	struct got *g = arg;
	const char *v;

	g->n_calls++;
	g->err = res->err;
	g->sys_errno = res->sys_errno;
	g->status = res->status;
	g->done_ms = um_mono_ms();
	if (res->err == UM_OK) {
		assert_non_null(res->body);
		g->body = um_xmalloc(res->body_len + 1);
		memcpy(g->body, res->body, res->body_len);
		g->body_len = res->body_len;
		if ((v = ev_http_result_header(res, "etag")) != NULL) {
			g->has_etag = true;
			snprintf(g->etag, sizeof(g->etag), "%s", v);
		}
		if ((v = ev_http_result_header(res, "Content-Type")) != NULL)
			snprintf(g->ctype, sizeof(g->ctype), "%s", v);
	} else {
		assert_null(res->body);
		assert_null(ev_http_result_header(res, "Content-Type"));
	}
	if (g->cancel_other != NULL) {
		ev_http_call_cancel(*g->cancel_other);
		*g->cancel_other = NULL;
	}
	if (g->cancel_self)
		ev_http_call_cancel(g->self); /* a no-op inside its own callback */
	if (--g->env->n_pending == 0)
		ev_loop_stop(g->env->loop);
}

/* Start a call that must be accepted; the test waits for its callback. */
static struct ev_http_call *
fetch(struct env *e, const struct ev_http_request *req, struct got *g)
{
	struct ev_http_call *call = NULL;

	g->env = e;
	assert_int_equal(ev_http_fetch(e->loop, req, done_cb, g, &call), UM_OK);
	assert_non_null(call);
	e->n_pending++;
	return call;
}

static char *
url_of(const char *base, const char *path)
{
	return um_xasprintf("%s%s", base, path);
}

/* ======================================================================================
 * The client against the project's server
 * ====================================================================================== */

static void
test_client_get_200(void **state)
{
	struct env *e = *state;
	char *url = url_of(e->base, "/hello");
	struct ev_http_request req = { .url = url,
		                       .max_response_body = 1024,
		                       .timeout_ms = CALL_TIMEOUT_MS };
	struct got g = { 0 };

	fetch(e, &req, &g);
	run_until_done(e);
	assert_int_equal(g.n_calls, 1);
	assert_int_equal(g.err, UM_OK);
	assert_int_equal(g.status, 200);
	assert_int_equal(g.body_len, 11);
	assert_memory_equal(g.body, "hello world", 11);
	assert_string_equal(g.ctype, "text/plain");
	assert_string_equal(e->last_method, "GET");
	got_clear(&g);
	free(url);
}

static void
test_client_get_404(void **state)
{
	struct env *e = *state;
	char *url = url_of(e->base, "/nope?x=1&y=%20");
	struct ev_http_request req = { .url = url,
		                       .method = "GET",
		                       .max_response_body = 1024,
		                       .timeout_ms = CALL_TIMEOUT_MS };
	struct got g = { 0 };

	fetch(e, &req, &g);
	run_until_done(e);
	assert_int_equal(g.err, UM_OK); /* an HTTP error is still a response */
	assert_int_equal(g.status, 404);
	assert_memory_equal(g.body, "not found", g.body_len);
	got_clear(&g);
	free(url);
}

static void
test_client_post_echo(void **state)
{
	struct env *e = *state;
	char *url = url_of(e->base, "/echo");
	static const struct ev_http_header hdrs[] = { { "Content-Type", "text/x-descriptor" } };
	/* A vote-sized body: many output chunks, queued before the connect completes. */
	uint8_t *body = um_xmalloc(POST_LEN);
	struct ev_http_request req = { .url = url,
		                       .method = "POST",
		                       .headers = hdrs,
		                       .n_headers = 1,
		                       .body = body,
		                       .body_len = POST_LEN,
		                       .max_response_body = POST_LEN,
		                       .timeout_ms = CALL_TIMEOUT_MS };
	struct got g = { 0 }, g0 = { 0 };

	for (size_t i = 0; i < POST_LEN; i++)
		body[i] = pattern(i);
	fetch(e, &req, &g);
	/* The request is copied: the caller's buffer may change at once. */
	memset(body, 0, POST_LEN);
	run_until_done(e);
	assert_int_equal(g.err, UM_OK);
	assert_int_equal(g.status, 200);
	assert_int_equal(g.body_len, POST_LEN);
	for (size_t i = 0; i < POST_LEN; i++) {
		if (g.body[i] != pattern(i))
			fail_msg("byte %zu differs", i);
	}
	assert_string_equal(e->last_method, "POST");
	assert_string_equal(e->last_ctype, "text/x-descriptor");

	/* An empty POST still says Content-Length: 0 (MHD would wait for a body otherwise). */
	req.body = NULL;
	req.body_len = 0;
	fetch(e, &req, &g0);
	run_until_done(e);
	assert_int_equal(g0.err, UM_OK);
	assert_int_equal(g0.status, 200);
	assert_int_equal(g0.body_len, 0);
	got_clear(&g);
	got_clear(&g0);
	free(body);
	free(url);
}

static void
test_client_etag_then_304(void **state)
{
	struct env *e = *state;
	char *url = url_of(e->base, "/etag");
	struct ev_http_header inm = { "If-None-Match", NULL };
	struct ev_http_request req = { .url = url,
		                       .max_response_body = 1024,
		                       .timeout_ms = CALL_TIMEOUT_MS };
	struct got g1 = { 0 }, g2 = { 0 };

	fetch(e, &req, &g1);
	run_until_done(e);
	assert_int_equal(g1.err, UM_OK);
	assert_int_equal(g1.status, 200);
	assert_memory_equal(g1.body, "consensus v1", g1.body_len);
	assert_true(g1.has_etag);
	assert_string_equal(g1.etag, "\"v1\"");
	assert_string_equal(e->last_inm, "");

	/* Ask again with the tag we got: not modified, and no body even with a cap of 0. */
	inm.value = g1.etag;
	req.headers = &inm;
	req.n_headers = 1;
	req.max_response_body = 0;
	fetch(e, &req, &g2);
	run_until_done(e);
	assert_string_equal(e->last_inm, "\"v1\"");
	assert_int_equal(g2.err, UM_OK);
	assert_int_equal(g2.status, 304);
	assert_int_equal(g2.body_len, 0);
	assert_true(g2.has_etag);
	assert_string_equal(g2.etag, "\"v1\"");
	got_clear(&g1);
	got_clear(&g2);
	free(url);
}

static void
test_client_head_has_no_body(void **state)
{
	struct env *e = *state;
	char *url = url_of(e->base, "/hello");
	struct ev_http_request req = {
		.url = url, .method = "HEAD", .max_response_body = 0, .timeout_ms = CALL_TIMEOUT_MS
	};
	struct got g = { 0 };

	fetch(e, &req, &g);
	run_until_done(e);
	assert_int_equal(g.err, UM_OK);
	assert_int_equal(g.status, 200);
	assert_int_equal(g.body_len, 0);
	assert_string_equal(e->last_method, "HEAD");
	got_clear(&g);
	free(url);
}

static void
test_client_big_body_and_cap(void **state)
{
	struct env *e = *state;
	char *url = url_of(e->base, "/big");
	struct ev_http_request req = { .url = url,
		                       .max_response_body = BIG_LEN,
		                       .timeout_ms = CALL_TIMEOUT_MS };
	struct got g = { 0 }, g2 = { 0 };

	fetch(e, &req, &g);
	run_until_done(e);
	assert_int_equal(g.err, UM_OK);
	assert_int_equal(g.status, 200);
	assert_int_equal(g.body_len, BIG_LEN);
	for (size_t i = 0; i < BIG_LEN; i++) {
		if (g.body[i] != pattern(i))
			fail_msg("byte %zu differs", i);
	}

	/* One byte less of cap: refused from the Content-Length, before the body is read. */
	req.max_response_body = BIG_LEN - 1;
	fetch(e, &req, &g2);
	run_until_done(e);
	assert_int_equal(g2.err, UM_ERR_TOO_LARGE);
	assert_int_equal(g2.status, 200);
	assert_null(g2.body);
	got_clear(&g);
	got_clear(&g2);
	free(url);
}

static void
test_client_many_concurrent_calls(void **state)
{
	struct env *e = *state;
	char *url = url_of(e->base, "/echo");
	struct got g[N_CONCURRENT];
	char bodies[N_CONCURRENT][32];

	memset(g, 0, sizeof(g));
	for (int i = 0; i < N_CONCURRENT; i++) {
		struct ev_http_request req = { .url = url,
			                       .method = "POST",
			                       .max_response_body = 64,
			                       .timeout_ms = CALL_TIMEOUT_MS };

		snprintf(bodies[i], sizeof(bodies[i]), "call number %d", i);
		req.body = (const uint8_t *)bodies[i];
		req.body_len = strlen(bodies[i]);
		fetch(e, &req, &g[i]);
	}
	assert_int_equal(e->n_pending, N_CONCURRENT);
	run_until_done(e);
	for (int i = 0; i < N_CONCURRENT; i++) {
		assert_int_equal(g[i].n_calls, 1);
		assert_int_equal(g[i].err, UM_OK);
		assert_int_equal(g[i].status, 200);
		assert_int_equal(g[i].body_len, strlen(bodies[i]));
		assert_memory_equal(g[i].body, bodies[i], g[i].body_len);
		got_clear(&g[i]);
	}
	free(url);
}

/* ======================================================================================
 * Failures, deadlines and cancellation
 * ====================================================================================== */

static void
test_client_connect_refused(void **state)
{
	struct env *e = *state;
	struct sockaddr_in sin;
	socklen_t len = sizeof(sin);
	char url[64];
	struct got g = { 0 };
	struct ev_http_request req = { .url = url,
		                       .max_response_body = 64,
		                       .timeout_ms = CALL_TIMEOUT_MS };
	int fd;

	/* Bound but not listening: the kernel answers SYN with RST. Held open meanwhile, so
	 * nobody else can take the port. */
	loopback(&sin);
	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(fd >= 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&sin, &len), 0);
	snprintf(url, sizeof(url), "http://127.0.0.1:%u/x", (unsigned)ntohs(sin.sin_port));
	fetch(e, &req, &g);
	run_until_done(e);
	assert_int_equal(g.n_calls, 1);
	assert_int_equal(g.err, UM_ERR_SYS);
	assert_int_equal(g.sys_errno, ECONNREFUSED);
	assert_int_equal(g.status, 0);
	close(fd);
}

static void
test_client_timeout_against_silent_server(void **state)
{
	struct env *e = *state;
	char *url = url_of(e->silent_base, "/x");
	struct ev_http_request req = { .url = url,
		                       .max_response_body = 64,
		                       .timeout_ms = SHORT_TIMEOUT_MS };
	struct got g = { 0 };
	uint64_t start = um_mono_ms();

	fetch(e, &req, &g);
	run_until_done(e);
	assert_int_equal(g.n_calls, 1);
	assert_int_equal(g.err, UM_ERR_TIMEOUT);
	assert_int_equal(e->n_silent, 1); /* it connected: the deadline covers the answer */
	/* Within the timeout: not before it (give or take libuv's coarse clock), not long after. */
	assert_true(g.done_ms - start + 10 >= SHORT_TIMEOUT_MS);
	assert_true(g.done_ms - start < SHORT_TIMEOUT_MS + 1000);
	free(url);
}

static void
cancel_later_cb(void *arg)
{
	struct ev_http_call **call = arg;

	ev_http_call_cancel(*call);
	*call = NULL;
}

static void
test_client_cancel_before_completion(void **state)
{
	struct env *e = *state;
	char *url = url_of(e->base, "/hello");
	char *silent = url_of(e->silent_base, "/x");
	struct ev_http_request req = { .url = url,
		                       .max_response_body = 64,
		                       .timeout_ms = SHORT_TIMEOUT_MS };
	struct got g1 = { 0 }, g2 = { 0 };
	struct ev_http_call *c1, *c2;
	struct ev_timer *t;

	/* Cancelled before the loop even ran: before the connect. */
	c1 = fetch(e, &req, &g1);
	ev_http_call_cancel(c1);
	e->n_pending--;
	/* Cancelled once connected and waiting for the answer (before its deadline). */
	req.url = silent;
	c2 = fetch(e, &req, &g2);
	e->n_pending--;
	t = ev_timer_new(e->loop, cancel_later_cb, &c2);
	ev_timer_start(t, 50, 0);
	/* Past both deadlines: nothing may arrive. */
	run_for(e, 2 * SHORT_TIMEOUT_MS);
	assert_null(c2);
	assert_int_equal(g1.n_calls, 0);
	assert_int_equal(g2.n_calls, 0);
	assert_int_equal(e->n_silent, 1);
	ev_timer_free(t);
	free(url);
	free(silent);
}

static void
test_client_cancel_from_another_callback(void **state)
{
	struct env *e = *state;
	char *url = url_of(e->base, "/hello");
	char *silent = url_of(e->silent_base, "/x");
	struct ev_http_request req = { .url = url,
		                       .max_response_body = 64,
		                       .timeout_ms = CALL_TIMEOUT_MS };
	struct ev_http_request sreq = { .url = silent,
		                        .max_response_body = 64,
		                        .timeout_ms = CALL_TIMEOUT_MS };
	struct got a = { 0 }, b = { 0 }, c = { 0 }, d = { 0 };
	struct ev_http_call *cb_call, *dd;

	/* a cancels b (still waiting on the silent server), and cancels itself (no-op). */
	a.self = fetch(e, &req, &a);
	a.cancel_self = true;
	cb_call = fetch(e, &sreq, &b);
	e->n_pending--;
	a.cancel_other = &cb_call;
	run_until_done(e);
	assert_int_equal(a.n_calls, 1);
	assert_int_equal(a.err, UM_OK);
	assert_null(cb_call);

	/* c and d race on the same server: whichever finishes first cancels the other, which
	 * may already have its answer waiting in the same loop iteration. */
	c.self = fetch(e, &req, &c);
	d.self = dd = fetch(e, &req, &d);
	c.cancel_other = &dd;
	d.cancel_other = &c.self;
	e->n_pending = 1;
	run_until_done(e);
	run_for(e, 2 * SHORT_TIMEOUT_MS);
	assert_int_equal(b.n_calls, 0);
	assert_int_equal(c.n_calls + d.n_calls, 1);
	got_clear(&a);
	got_clear(&c);
	got_clear(&d);
	free(url);
	free(silent);
}

static void
test_client_loop_free_cancels_pending_calls(void **state)
{
	struct ev_loop *loop = ev_loop_new();
	struct ev_listener *l = NULL;
	struct ev_http_call *call = NULL;
	struct sockaddr_storage ss;
	struct sockaddr_in sin;
	struct env e = { .loop = loop };
	struct got g = { .env = &e };
	char url[64];
	struct ev_http_request req = { .url = url,
		                       .max_response_body = 64,
		                       .timeout_ms = CALL_TIMEOUT_MS };

	(void)state;
	loopback(&sin);
	memset(&ss, 0, sizeof(ss));
	memcpy(&ss, &sin, sizeof(sin));
	assert_int_equal(ev_tcp_listen(loop, (struct sockaddr *)&ss, 16, silent_accept, &e, &l),
	                 UM_OK);
	assert_int_equal(ev_listener_addr(l, &ss), UM_OK);
	memcpy(&sin, &ss, sizeof(sin));
	snprintf(url, sizeof(url), "http://127.0.0.1:%u/x", (unsigned)ntohs(sin.sin_port));
	assert_int_equal(ev_http_fetch(loop, &req, done_cb, &g, &call), UM_OK);
	e.n_pending = 1;
	run_for(&e, 50);
	/* Freed with the call, the listener and the accepted stream still open: LSan checks
	 * nothing leaks, and the callback never runs. */
	ev_loop_free(loop);
	assert_int_equal(g.n_calls, 0);
}

static void
test_client_refuses_bad_requests(void **state)
{
	struct env *e = *state;
	static const char *const bad_urls[] = {
		NULL,
		"",
		"https://127.0.0.1:443/",
		"ftp://127.0.0.1:21/",
		"http://localhost:80/",
		"http://127.0.0.1/",
		"http://127.0.0.1:0/",
		"http://127.0.0.1:99999/",
		"http://127.1:80/",
		"http://::1:80/",
		"http://[::1]/",
		"http://user@127.0.0.1:80/",
		"http://127.0.0.1:80?x=1",
		"http://127.0.0.1:80/a#frag",
		"http://127.0.0.1:80/a b",
		"http://127.0.0.1:80/a\r\nX: y",
		"http://127.0.0.1:80/caf\xc3\xa9",
		"http:///x",
	};
	static const struct ev_http_header bad_headers[][1] = {
		{ { "X-Evil", "a\r\nInjected: yes" } },
		{ { "X-Evil", "a\nb" } },
		{ { "Bad Name", "v" } },
		{ { "", "v" } },
		{ { "Host", "elsewhere" } },
		{ { "content-length", "5" } },
		{ { "Transfer-Encoding", "chunked" } },
		{ { "Connection", "keep-alive" } },
		{ { "X-Nul", NULL } },
		{ { NULL, "v" } },
		{ { "X-Ctl", "a\x01" } },
	};
	static const char *const bad_methods[] = { "", "G ET", "GET\r\n", "VERYLONGMETHODNAME17",
		                                   "GE(T" };
	struct ev_http_request good = { .url = "http://127.0.0.1:9/",
		                        .max_response_body = 64,
		                        .timeout_ms = 1000 };
	struct ev_http_request req;
	struct ev_http_call *call;
	struct got g = { .env = e };
	char *long_path;
	int ret;

	(void)state;
	for (size_t i = 0; i < UM_ARRAY_LEN(bad_urls); i++) {
		req = good;
		req.url = bad_urls[i];
		call = (struct ev_http_call *)&req; /* must be set to NULL */
		assert_int_equal(ev_http_fetch(e->loop, &req, done_cb, &g, &call), UM_ERR_INVALID);
		assert_null(call);
	}
	for (size_t i = 0; i < UM_ARRAY_LEN(bad_headers); i++) {
		req = good;
		req.headers = bad_headers[i];
		req.n_headers = 1;
		assert_int_equal(ev_http_fetch(e->loop, &req, done_cb, &g, &call), UM_ERR_INVALID);
	}
	for (size_t i = 0; i < UM_ARRAY_LEN(bad_methods); i++) {
		req = good;
		req.method = bad_methods[i];
		assert_int_equal(ev_http_fetch(e->loop, &req, done_cb, &g, &call), UM_ERR_INVALID);
	}
	req = good;
	req.timeout_ms = 0;
	assert_int_equal(ev_http_fetch(e->loop, &req, done_cb, &g, &call), UM_ERR_INVALID);
	req = good;
	req.body_len = 5;
	assert_int_equal(ev_http_fetch(e->loop, &req, done_cb, &g, &call), UM_ERR_INVALID);
	req = good;
	req.n_headers = EV_HTTP_REQ_HEADERS_MAX + 1;
	assert_int_equal(ev_http_fetch(e->loop, &req, done_cb, &g, &call), UM_ERR_INVALID);
	req = good;
	req.max_response_body = (size_t)EV_HTTP_BODY_CAP_MAX + 1;
	assert_int_equal(ev_http_fetch(e->loop, &req, done_cb, &g, &call), UM_ERR_INVALID);
	assert_int_equal(ev_http_fetch(e->loop, &good, NULL, &g, &call), UM_ERR_INVALID);
	/* A head over EV_HTTP_REQ_HEAD_MAX. */
	long_path = um_xasprintf("http://127.0.0.1:9/%0*d", EV_HTTP_REQ_HEAD_MAX, 0);
	req = good;
	req.url = long_path;
	assert_int_equal(ev_http_fetch(e->loop, &req, done_cb, &g, &call), UM_ERR_INVALID);
	free(long_path);
	/* Accepted: an IPv6 literal, an upper-case scheme, an empty path. Cancelled at once. */
	req = good;
	req.url = "http://[::1]:9/x?y=1";
	ret = ev_http_fetch(e->loop, &req, done_cb, &g, &call);
	assert_true(ret == UM_OK || ret == UM_ERR_SYS); /* a host without IPv6 */
	ev_http_call_cancel(call);
	req.url = "HTTP://127.0.0.1:9";
	assert_int_equal(ev_http_fetch(e->loop, &req, done_cb, &g, &call), UM_OK);
	ev_http_call_cancel(call);
	run_for(e, 20);
	assert_int_equal(g.n_calls, 0);
}

/* ======================================================================================
 * The client against a fake server (plain blocking sockets in a thread)
 * ====================================================================================== */

struct fake {
	pthread_t th;
	int lfd;
	char base[64];
	const char *resp;
	size_t resp_len;
	size_t piece;     /* send in pieces of this size (0: all at once) */
	useconds_t pause; /* between pieces */
	char req[FAKE_REQ_MAX + 1];
	size_t req_len;
};

static void *
fake_main(void *arg)
{
	struct fake *f = arg;
	struct timeval tv = { .tv_sec = 10 };
	int one = 1;
	size_t off = 0;
	int fd;

	fd = accept(f->lfd, NULL, NULL);
	if (fd < 0)
		return NULL;
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	/* Read the request head (our tests send no body here). */
	while (f->req_len < FAKE_REQ_MAX) {
		ssize_t n = recv(fd, f->req + f->req_len, FAKE_REQ_MAX - f->req_len, 0);

		if (n <= 0)
			break;
		f->req_len += (size_t)n;
		f->req[f->req_len] = '\0';
		if (strstr(f->req, "\r\n\r\n") != NULL)
			break;
	}
	while (off < f->resp_len) {
		size_t n = f->piece > 0 ? UM_MIN(f->piece, f->resp_len - off) : f->resp_len - off;
		ssize_t w = send(fd, f->resp + off, n, MSG_NOSIGNAL);

		if (w <= 0)
			break;
		off += (size_t)w;
		if (f->pause > 0)
			usleep(f->pause);
	}
	close(fd);
	return NULL;
}

/* Serve resp once to one connection, run the call to url path, check our request. */
static void
fake_exchange(struct env *e, struct fake *f, const char *path, size_t max_body, struct got *g)
{
	struct sockaddr_in sin;
	socklen_t len = sizeof(sin);
	struct timeval tv = { .tv_sec = 10 };
	struct ev_http_header inm = { "If-None-Match", "\"tag\"" };
	char *url, *want;
	struct ev_http_request req = { .headers = &inm,
		                       .n_headers = 1,
		                       .max_response_body = max_body,
		                       .timeout_ms = CALL_TIMEOUT_MS };

	loopback(&sin);
	f->lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(f->lfd >= 0);
	assert_int_equal(bind(f->lfd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	assert_int_equal(listen(f->lfd, 4), 0);
	/* accept(2) honours it too: a client bug fails the test instead of hanging it. */
	assert_int_equal(setsockopt(f->lfd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)), 0);
	assert_int_equal(getsockname(f->lfd, (struct sockaddr *)&sin, &len), 0);
	snprintf(f->base, sizeof(f->base), "127.0.0.1:%u", (unsigned)ntohs(sin.sin_port));
	assert_int_equal(pthread_create(&f->th, NULL, fake_main, f), 0);
	url = um_xasprintf("http://%s%s", f->base, path);
	req.url = url;
	fetch(e, &req, g);
	run_until_done(e);
	assert_int_equal(pthread_join(f->th, NULL), 0);
	close(f->lfd);
	/* Exactly what we mean to send: Host, the caller's header, Connection: close. */
	want = um_xasprintf("GET %s HTTP/1.1\r\nHost: %s\r\nIf-None-Match: \"tag\"\r\n"
	                    "Connection: close\r\n\r\n",
	                    path, f->base);
	assert_string_equal(f->req, want);
	free(want);
	free(url);
}

static void
fake_case(struct env *e, const char *resp, size_t piece, size_t max_body, struct got *g)
{
	struct fake f = { .resp = resp, .resp_len = strlen(resp), .piece = piece };

	if (piece > 0)
		f.pause = 200;
	memset(g, 0, sizeof(*g));
	fake_exchange(e, &f, "/consensus?flavour=full", max_body, g);
	assert_int_equal(g->n_calls, 1);
}

static void
test_client_fake_chunked(void **state)
{
	struct env *e = *state;
	static const char resp[] = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n"
	                           "ETag: \"c1\"\r\n\r\n"
	                           "5;ext=1\r\nhello\r\n1\r\n \r\n0\r\n\r\n"
	                           "5\r\nworld\r\n0;last\r\nX-Checksum: abc\r\n\r\n";
	struct got g;

	/* A chunk of size 0 ends the body: "5...0\r\n\r\n" is one response, and the rest is
	 * not read. Then the same with a second body made of real chunks. */
	fake_case(e, resp, 0, 100, &g);
	assert_int_equal(g.err, UM_OK);
	assert_int_equal(g.status, 200);
	assert_int_equal(g.body_len, 6);
	assert_memory_equal(g.body, "hello ", 6);
	assert_string_equal(g.etag, "\"c1\"");
	got_clear(&g);

	fake_case(e,
	          "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
	          "5;ext=1\r\nhello\r\n6\r\n world\r\n0;last\r\nX-Checksum: abc\r\n\r\n",
	          0, 100, &g);
	assert_int_equal(g.err, UM_OK);
	assert_memory_equal(g.body, "hello world", 11);
	assert_int_equal(g.body_len, 11);
	got_clear(&g);
}

static void
test_client_fake_byte_by_byte(void **state)
{
	struct env *e = *state;
	struct got g;

	fake_case(e,
	          "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n"
	          "\r\n3\r\nabc\r\n2;x\r\nde\r\n0\r\nT: 1\r\n\r\n",
	          1, 100, &g);
	assert_int_equal(g.err, UM_OK);
	assert_int_equal(g.status, 200);
	assert_memory_equal(g.body, "abcde", 5);
	got_clear(&g);
}

static void
test_client_fake_eof_body(void **state)
{
	struct env *e = *state;
	struct got g;

	fake_case(e, "HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\nno length\r\nat all", 0,
	          100, &g);
	assert_int_equal(g.err, UM_OK);
	assert_int_equal(g.status, 200);
	assert_int_equal(g.body_len, strlen("no length\r\nat all"));
	assert_memory_equal(g.body, "no length\r\nat all", g.body_len);
	assert_string_equal(g.ctype, "text/plain");
	got_clear(&g);

	/* The same over the cap: refused as the bytes arrive. */
	fake_case(e, "HTTP/1.0 200 OK\r\n\r\n0123456789", 3, 5, &g);
	assert_int_equal(g.err, UM_ERR_TOO_LARGE);
	assert_int_equal(g.status, 200);
}

static void
test_client_fake_failures(void **state)
{
	struct env *e = *state;
	struct got g;

	/* Cut short: promised 100 bytes, sent 3, closed. */
	fake_case(e, "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nabc", 0, 1000, &g);
	assert_int_equal(g.err, UM_ERR_CLOSED);
	assert_int_equal(g.status, 200);
	/* Closed without a word. */
	fake_case(e, "", 0, 1000, &g);
	assert_int_equal(g.err, UM_ERR_CLOSED);
	assert_int_equal(g.status, 0);
	/* Garbage and smuggling-shaped framing. */
	fake_case(e, "SSH-2.0-OpenSSH_9.2\r\n", 0, 1000, &g);
	assert_int_equal(g.err, UM_ERR_MALFORMED);
	fake_case(e, "HTTP/1.1 200 OK\r\nX: a\r\n folded\r\nContent-Length: 0\r\n\r\n", 0, 1000,
	          &g);
	assert_int_equal(g.err, UM_ERR_MALFORMED);
	fake_case(e,
	          "HTTP/1.1 200 OK\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n"
	          "0\r\n\r\n",
	          0, 1000, &g);
	assert_int_equal(g.err, UM_ERR_MALFORMED);
	/* A chunk over the cap, refused from its size line. */
	fake_case(e, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n400\r\n", 0, 1000, &g);
	assert_int_equal(g.err, UM_ERR_TOO_LARGE);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parser_good_responses_any_split),
		cmocka_unit_test(test_parser_every_strict_prefix_needs_more),
		cmocka_unit_test(test_parser_header_lookup),
		cmocka_unit_test(test_parser_bad_responses_any_split),
		cmocka_unit_test(test_parser_limits),
		cmocka_unit_test(test_parser_eof_cuts_short),
		cmocka_unit_test(test_parser_status_known_on_body_error),
		cmocka_unit_test_setup_teardown(test_client_get_200, setup_env, teardown_env),
		cmocka_unit_test_setup_teardown(test_client_get_404, setup_env, teardown_env),
		cmocka_unit_test_setup_teardown(test_client_post_echo, setup_env, teardown_env),
		cmocka_unit_test_setup_teardown(test_client_etag_then_304, setup_env, teardown_env),
		cmocka_unit_test_setup_teardown(test_client_head_has_no_body, setup_env,
		                                teardown_env),
		cmocka_unit_test_setup_teardown(test_client_big_body_and_cap, setup_env,
		                                teardown_env),
		cmocka_unit_test_setup_teardown(test_client_many_concurrent_calls, setup_env,
		                                teardown_env),
		cmocka_unit_test_setup_teardown(test_client_connect_refused, setup_env,
		                                teardown_env),
		cmocka_unit_test_setup_teardown(test_client_timeout_against_silent_server,
		                                setup_env, teardown_env),
		cmocka_unit_test_setup_teardown(test_client_cancel_before_completion, setup_env,
		                                teardown_env),
		cmocka_unit_test_setup_teardown(test_client_cancel_from_another_callback, setup_env,
		                                teardown_env),
		cmocka_unit_test(test_client_loop_free_cancels_pending_calls),
		cmocka_unit_test_setup_teardown(test_client_refuses_bad_requests, setup_env,
		                                teardown_env),
		cmocka_unit_test_setup_teardown(test_client_fake_chunked, setup_env, teardown_env),
		cmocka_unit_test_setup_teardown(test_client_fake_byte_by_byte, setup_env,
		                                teardown_env),
		cmocka_unit_test_setup_teardown(test_client_fake_eof_body, setup_env, teardown_env),
		cmocka_unit_test_setup_teardown(test_client_fake_failures, setup_env, teardown_env),
	};

	return cmocka_run_group_tests_name("http_client", tests, NULL, NULL);
}
